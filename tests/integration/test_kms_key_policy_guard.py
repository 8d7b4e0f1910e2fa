"""kms_key_policy_guard through ansible-playbook on the local endpoint."""

import json

import pytest
from botocore.exceptions import ClientError

SID = "kmsrotate-retirement-guard"


def guard(key_ref, name, **options):
    # endpoint_url and region given here too: module_defaults reach the module through the
    # collection's action group, which lists it once meta/runtime.yml does.
    return {"name": name, "kmsrotate.aws.kms_key_policy_guard": dict(
        key_id=key_ref, endpoint_url="{{ aws_endpoint_url }}", region="us-east-1", **options)}


def sids(document):
    return [statement.get("Sid") for statement in document["Statement"]]


def stored_policy(kms, key):
    return json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])


def test_guard_present_and_absent_idempotent_with_diff_and_enforced(playbook, aws):
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"still used")
    original = stored_policy(kms, key)
    present = [guard(key["Arn"], "Guard", days=30, actions=["kms:ScheduleKeyDeletion", "kms:DisableKey"])]

    planned = playbook.run(present, check=True, diff=True)
    assert planned.rc == 0, planned
    result = planned.result("Guard")
    assert result["changed"] is True
    assert result["diff"]["before"] == original and SID in sids(result["diff"]["after"])
    assert stored_policy(kms, key) == original

    done = playbook.run(present, diff=True)
    assert done.rc == 0, done
    statement = done.result("Guard")["statement"]
    assert statement["Effect"] == "Deny" and statement["Principal"] == "*"
    assert statement["Condition"] == {"NumericLessThan": {"kms:TrailingDaysWithoutKeyUsage": "30"}}
    assert SID in sids(stored_policy(kms, key))
    again = playbook.run(present, diff=True)
    assert again.rc == 0 and again.changed == 0, again

    for by_hand in (lambda: kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7),
                    lambda: kms.disable_key(KeyId=key["KeyId"])):
        with pytest.raises(ClientError) as excinfo:
            by_hand()
        assert excinfo.value.response["Error"]["Code"] == "AccessDeniedException"
    assert kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"

    absent = [guard(key["Arn"], "Unguard", state="absent")]
    removed = playbook.run(absent, diff=True)
    assert removed.rc == 0, removed
    assert removed.result("Unguard")["changed"] is True and stored_policy(kms, key) == original
    assert playbook.run(absent).changed == 0
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_guard_refuses_an_aws_managed_key_and_needs_days(playbook, aws):
    run = playbook.run([dict(guard("alias/aws/ebs", "Guard AWS key", days=30), ignore_errors=True),
                        dict(guard("alias/aws/ebs", "Guard without days"), ignore_errors=True)])
    assert "managed by AWS" in run.result("Guard AWS key")["msg"]
    assert "days" in run.result("Guard without days")["msg"]
    assert run.changed == 0
