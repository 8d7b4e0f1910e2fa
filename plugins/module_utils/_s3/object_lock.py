# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The Object Lock of one object version, as HeadObject reports it: is it held, and what must a copy carry.

S3 holds a version three ways: retention (a mode and a retain-until date),
a legal hold, and an event hold (with the retention it starts once
released). A retention whose date has passed holds nothing, and S3 refuses
a write that names a retain-until date in the past, so a copy never sends
one. HeadObject reports these fields only to a caller allowed
s3:GetObjectRetention and s3:GetObjectLegalHold.
"""

import datetime

_RETENTION_FIELDS = ("ObjectLockMode", "ObjectLockRetainUntilDate")
_EVENT_HOLD_DURATION_FIELDS = ("ObjectLockEventHoldDurationDays", "ObjectLockEventHoldDurationYears")
HELD = "ON"


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def retention_active(head, now=None):
    """Whether the version's retention still runs (a mode and a retain-until date still to come)."""
    until = head.get("ObjectLockRetainUntilDate")
    return bool(head.get("ObjectLockMode")) and until is not None and until > (now or _now())


def is_locked(head, now=None):
    """Whether S3 protects the version: a legal hold, an event hold, or a retention that still runs."""
    return (head.get("ObjectLockLegalHoldStatus") == HELD or head.get("ObjectLockEventHold") == HELD
            or retention_active(head, now))


def lock_fields_for_copy(head, now=None):
    """The Object Lock arguments of a copy that holds the new version as the listed one is held."""
    fields = {}
    if retention_active(head, now):
        fields.update((name, head[name]) for name in _RETENTION_FIELDS)
    if head.get("ObjectLockLegalHoldStatus") == HELD:
        fields["ObjectLockLegalHoldStatus"] = HELD
    if head.get("ObjectLockEventHold") == HELD:
        fields["ObjectLockEventHold"] = HELD
        fields.update((name, head[name]) for name in _EVENT_HOLD_DURATION_FIELDS if head.get(name))
    return fields
