"""Object Lock as HeadObject reports it: what holds a version, and what a copy of it carries."""

import datetime

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.listing import ListedVersion
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.object_lock import is_locked, lock_fields_for_copy
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import MIN_PART_SIZE, CopyBackend
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import UpdateBackend

NOW = datetime.datetime(2026, 6, 1, tzinfo=datetime.timezone.utc)
PAST = NOW - datetime.timedelta(days=1)
FUTURE = NOW + datetime.timedelta(days=1)
ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
EVENT_HOLD = {"ObjectLockEventHold": "ON", "ObjectLockEventHoldDurationDays": 30}


@pytest.mark.parametrize("head, locked", [
    ({"ObjectLockLegalHoldStatus": "ON"}, True),
    (EVENT_HOLD, True),
    ({"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": FUTURE}, True),
    ({"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": PAST}, False),
    ({"ObjectLockLegalHoldStatus": "OFF", "ObjectLockEventHold": "OFF"}, False),
    ({}, False),
])
def test_what_holds_a_version(head, locked):
    assert is_locked(head, NOW) is locked


def test_a_copy_carries_the_holds_and_a_running_retention_only():
    expired = {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": PAST, "ObjectLockLegalHoldStatus": "ON"}
    assert lock_fields_for_copy(expired, NOW) == {"ObjectLockLegalHoldStatus": "ON"}
    running = {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": FUTURE, "ObjectLockLegalHoldStatus": "OFF"}
    assert lock_fields_for_copy(running, NOW) == {"ObjectLockMode": "COMPLIANCE", "ObjectLockRetainUntilDate": FUTURE}
    assert lock_fields_for_copy(dict(EVENT_HOLD, ObjectLockEventHoldDurationYears=None), NOW) == EVENT_HOLD


def test_copy_fields_never_send_a_past_retain_until_date_and_carry_an_event_hold():
    backend = CopyBackend(None, "b", 1, MIN_PART_SIZE, False, "Enabled")
    head = dict(EVENT_HOLD, ObjectLockMode="GOVERNANCE",
                ObjectLockRetainUntilDate=datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1))
    fields = backend._preserved_fields(ListedVersion("k", "v1", True, '"e"'), head, ARN, False)  # pylint: disable=protected-access
    assert "ObjectLockRetainUntilDate" not in fields and "ObjectLockMode" not in fields
    assert (fields["ObjectLockEventHold"], fields["ObjectLockEventHoldDurationDays"]) == ("ON", 30)


def test_update_treats_an_event_hold_as_a_lock():
    backend = UpdateBackend(None, "b")
    item = ListedVersion("k", "v1", False, '"e"')
    assert backend.unsupported_reason(item, EVENT_HOLD) == "locked"
    assert backend.unsupported_reason(item, {"ObjectLockMode": "GOVERNANCE", "ObjectLockRetainUntilDate": PAST}) is None
