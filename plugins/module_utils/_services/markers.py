# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The tag contract between kms_service_rekey and the retirement gate.

Every resource whose key kms_service_rekey changes gets two tags, through
its service's own tagging API, right after the change:

- REKEYED_FROM: the source key's ARN;
- REKEYED_AT: when the change was made, ISO 8601 UTC to the second
  (2026-12-01T14:00:00Z).

A rerun that changes nothing keeps them. The gate (and kms_service_rekey's
own rerun) computes how long the old key is still needed from them and the
resource's retention as it is then, so a later change of retention counts.
"""

import datetime

REKEYED_FROM = "kmsrotate:rekeyed-from"
REKEYED_AT = "kmsrotate:rekeyed-at"
TIME_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def format_time(moment):
    """A datetime as the marker writes it (UTC, to the second)."""
    return moment.astimezone(datetime.timezone.utc).strftime(TIME_FORMAT)


def parse_time(text):
    """The datetime of a REKEYED_AT value, or None when it is not one."""
    try:
        return datetime.datetime.strptime(text, TIME_FORMAT).replace(tzinfo=datetime.timezone.utc)
    except (TypeError, ValueError):
        return None


def marker_tags(source_key_arn, moment):
    """The two tags of a change away from source_key_arn made at `moment`."""
    return {REKEYED_FROM: source_key_arn, REKEYED_AT: format_time(moment)}


def read_marker(tags, source_key_arn):
    """When a resource's tags say it was moved away from source_key_arn, or None (no marker, or another key's)."""
    if tags.get(REKEYED_FROM) != source_key_arn:
        return None
    return parse_time(tags.get(REKEYED_AT))
