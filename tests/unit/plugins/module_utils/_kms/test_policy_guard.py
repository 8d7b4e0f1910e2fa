"""policy_guard: one Deny statement in the key policy, idempotent on parsed JSON, check mode, diff, refusals."""

import json

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import GUARD_SID, PolicyGuard
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import PolicyGuardSpec
from local_endpoint.fidelity import cloudtrail as trail


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def guard(make_clients):
    def guard(key_id, check_mode=False, **options):
        clients, limit = make_clients()
        result = PolicyGuard(clients, limit).run(PolicyGuardSpec(key_id=key_id, **options), check_mode=check_mode)
        return result.for_module(diff_wanted=True)
    return guard


def policy(kms, key):
    return json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])


def sids(document):
    return [statement.get("Sid") for statement in document["Statement"]]


def code_of(call):
    with pytest.raises(Exception) as excinfo:
        call()
    return excinfo.value.response["Error"]["Code"]


def test_present_adds_one_deny_statement_and_keeps_the_others(guard, kms):
    key = kms.create_key()["KeyMetadata"]
    original = policy(kms, key)
    done = guard(key["Arn"], days=30)
    assert done["changed"] is True
    assert done["statement"] == {
        "Sid": GUARD_SID, "Effect": "Deny", "Principal": "*", "Action": "kms:ScheduleKeyDeletion", "Resource": "*",
        "Condition": {"NumericLessThan": {"kms:TrailingDaysWithoutKeyUsage": "30"}}}
    stored = policy(kms, key)
    assert stored["Statement"] == original["Statement"] + [done["statement"]]
    assert done["policy"] == stored
    assert done["diff"]["before"] == original and done["diff"]["after"] == stored
    assert "state: absent removes it" in done["msg"]


def test_present_is_idempotent_whatever_the_stored_text(guard, kms):
    key = kms.create_key()["KeyMetadata"]
    guard(key["Arn"], days=14, actions=["kms:DisableKey", "kms:ScheduleKeyDeletion"])
    # Same meaning, other text: reformatted, actions reordered, the number unquoted.
    document = policy(kms, key)
    document["Statement"][-1]["Action"] = ["kms:DisableKey", "kms:ScheduleKeyDeletion"]
    document["Statement"][-1]["Condition"]["NumericLessThan"]["kms:TrailingDaysWithoutKeyUsage"] = 14
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(document, indent=7))
    again = guard(key["Arn"], days=14, actions=["kms:ScheduleKeyDeletion", "kms:DisableKey"])
    assert again["changed"] is False and "already in place" in again["msg"]
    assert again["diff"]["before"] == again["diff"]["after"]


def test_present_updates_days_and_actions_in_place(guard, kms):
    key = kms.create_key()["KeyMetadata"]
    guard(key["Arn"], days=14)
    changed = guard(key["Arn"], days=30, actions=["kms:ScheduleKeyDeletion", "kms:DisableKey"])
    assert changed["changed"] is True
    statements = [entry for entry in policy(kms, key)["Statement"] if entry.get("Sid") == GUARD_SID]
    assert len(statements) == 1
    assert statements[0]["Action"] == ["kms:ScheduleKeyDeletion", "kms:DisableKey"]
    assert statements[0]["Condition"]["NumericLessThan"]["kms:TrailingDaysWithoutKeyUsage"] == "30"


def test_check_mode_changes_nothing_and_shows_the_diff(guard, kms):
    key = kms.create_key()["KeyMetadata"]
    original = policy(kms, key)
    planned = guard(key["Arn"], days=7, check_mode=True)
    assert planned["changed"] is True and "would be set" in planned["msg"]
    assert GUARD_SID in sids(planned["diff"]["after"]) and GUARD_SID not in sids(planned["diff"]["before"])
    assert policy(kms, key) == original


def test_absent_removes_only_the_guard_and_is_idempotent(guard, kms):
    key = kms.create_key()["KeyMetadata"]
    original = policy(kms, key)
    guard(key["Arn"], days=7)
    planned = guard(key["Arn"], state="absent", check_mode=True)
    assert planned["changed"] is True and GUARD_SID in sids(policy(kms, key))
    removed = guard(key["Arn"], state="absent")
    assert removed["changed"] is True and removed["statement"] is None
    assert policy(kms, key) == original
    assert guard(key["Arn"], state="absent")["changed"] is False


def test_the_guard_denies_retirement_by_hand_while_the_key_is_used(guard, kms):
    key = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"in use")
    guard(key["Arn"], days=10, actions=["kms:ScheduleKeyDeletion", "kms:DisableKey"])
    assert code_of(lambda: kms.disable_key(KeyId=key["KeyId"])) == "AccessDeniedException"
    assert code_of(lambda: kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)) == \
        "AccessDeniedException"
    trail.pass_days("POST", {"days": 11})
    kms.disable_key(KeyId=key["KeyId"])
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


def test_refuses_an_aws_managed_key_and_days_below_one(guard, kms):
    with pytest.raises(RotationError, match="managed by AWS"):
        guard("alias/aws/ebs", days=30)
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(RotationError, match="days is 0; this module accepts at least 1"):
        guard(key["Arn"], days=0)
    with pytest.raises(RotationError, match="No action to deny"):
        guard(key["Arn"], days=3, actions=[])
    assert GUARD_SID not in sids(policy(kms, key))
