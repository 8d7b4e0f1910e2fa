"""kms_key_retire through ansible-playbook on the local endpoint: disable, watch, then delete."""

import datetime

import boto3
import pytest
from botocore.exceptions import ClientError

from local_endpoint import REGION

DISABLED_AT_TAG = "kmsrotate:disabled-at"
TAG_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


def retire(key_arn, name, **options):
    return {"name": name, "kmsrotate.aws.kms_key_retire": dict(key_id=key_arn, **options)}


def may_fail(task):
    return dict(task, ignore_errors=True)


def state(aws, key):
    return aws.client("kms").describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]


def pass_days(aws, key, days):
    """As if `days` had gone by: the endpoint's records and the watch's start (its tag) move into the past."""
    aws.control("kms-pass-days", {"days": days})
    kms = aws.client("kms")
    tags = dict((tag["TagKey"], tag["TagValue"]) for tag in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"])
    moved = datetime.datetime.strptime(tags[DISABLED_AT_TAG], TAG_FORMAT) - datetime.timedelta(days=days)
    kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": DISABLED_AT_TAG, "TagValue": moved.strftime(TAG_FORMAT)}])


def other_callers_kms(aws):
    """KMS as another IAM user of the account sees it: CloudTrail names that user."""
    iam = aws.client("iam")
    iam.create_user(UserName="billing-app")
    access = iam.create_access_key(UserName="billing-app")["AccessKey"]
    return boto3.client("kms", region_name=REGION, endpoint_url=aws.url, aws_access_key_id=access["AccessKeyId"],
                        aws_secret_access_key=access["SecretAccessKey"])


def test_deletion_too_early_is_refused_with_the_days_left_in_check_mode_too(playbook, aws):
    key = aws.client("kms").create_key()["KeyMetadata"]
    disabled = playbook.run([retire(key["Arn"], "Disable")])
    assert disabled.rc == 0, disabled
    watch = disabled.result("Disable")["watch"]
    assert watch["days_left"] == 14 and watch["disabled_since"]

    for check in (True, False):
        run = playbook.run([retire(key["Arn"], "Delete", state="pending_deletion")], check=check)
        assert run.rc != 0, run
        refused = run.result("Delete")
        assert refused["failed"] is True and refused["resource"] == key["Arn"]
        assert "14 day(s) left" in refused["msg"] and refused["watch"]["eligible_at"] in refused["msg"]
        assert refused["watch"]["deletion_allowed"] is False
    assert state(aws, key) == "Disabled"


def test_deletion_of_a_key_never_disabled_says_when_it_could_be(playbook, aws):
    key = aws.client("kms").create_key()["KeyMetadata"]
    run = playbook.run([retire(key["Arn"], "Delete", state="pending_deletion")])
    assert run.rc != 0, run
    refused = run.result("Delete")
    assert "The key is Enabled" in refused["msg"] and "disable it first" in refused["fix"]
    assert refused["watch"]["eligible_at"] in refused["fix"]
    assert state(aws, key) == "Enabled"


@pytest.mark.parametrize("watch_days, complaint", [
    (-1, "watch_days is -1; this module accepts at least 0"),
    ("two", "argument 'watch_days' is of type str and we were unable to convert to int"),
    (1.5, "argument 'watch_days' is of type float and we were unable to convert to int"),
])
def test_a_bad_watch_is_refused_before_any_change(playbook, aws, watch_days, complaint):
    key = aws.client("kms").create_key()["KeyMetadata"]
    run = playbook.run([retire(key["Arn"], "Disable", watch_days=watch_days)])
    assert run.rc != 0, run
    assert complaint in run.result("Disable")["msg"]
    assert state(aws, key) == "Enabled"


def test_a_refused_use_is_listed_and_reenable_on_refused_use_enables_the_key(playbook, aws):
    app = other_callers_kms(aws)
    key = app.create_key()["KeyMetadata"]
    blob = app.encrypt(KeyId=key["KeyId"], Plaintext=b"invoice 42")["CiphertextBlob"]
    assert playbook.run([retire(key["Arn"], "Disable")]).rc == 0
    with pytest.raises(ClientError) as excinfo:
        app.decrypt(CiphertextBlob=blob)
    assert excinfo.value.response["Error"]["Code"] == "DisabledException"
    pass_days(aws, key, 15)

    run = playbook.run([
        may_fail(retire(key["Arn"], "Delete", state="pending_deletion")),
        may_fail(retire(key["Arn"], "Delete and re-enable", state="pending_deletion", reenable_on_refused_use=True)),
    ])
    held = run.result("Delete")
    assert held["failed"] is True and held["key_state"] == "Disabled"
    assert [(use["principal"], use["operation"]) for use in held["watch"]["refused_uses"]] == [
        ("arn:aws:iam::123456789012:user/billing-app", "Decrypt")]
    assert held["watch"]["refused_uses"][0]["source_address"] == "127.0.0.1"
    assert "arn:aws:iam::123456789012:user/billing-app Decrypt at" in held["msg"]
    reenabled = run.result("Delete and re-enable")
    assert reenabled["failed"] is True and reenabled["changed"] is True and reenabled["key_state"] == "Enabled"
    assert "was re-enabled" in reenabled["fix"]
    assert state(aws, key) == "Enabled"
    assert app.decrypt(CiphertextBlob=blob)["Plaintext"] == b"invoice 42"


def test_deletion_is_scheduled_after_the_watch_idempotently(playbook, aws):
    key = aws.client("kms").create_key()["KeyMetadata"]
    assert playbook.run([retire(key["Arn"], "Disable")]).rc == 0
    pass_days(aws, key, 15)
    task = [retire(key["Arn"], "Delete", state="pending_deletion", pending_window_days=7)]

    planned = playbook.run(task, check=True, diff=True)
    assert planned.rc == 0, planned
    assert planned.result("Delete")["changed"] is True
    assert planned.result("Delete")["diff"]["after"] == {"key_state": "PendingDeletion"}
    assert state(aws, key) == "Disabled"

    done = playbook.run(task)
    assert done.rc == 0, done
    deleted = done.result("Delete")
    assert deleted["key_state"] == "PendingDeletion" and deleted["forced"] is False
    assert deleted["watch"]["deletion_allowed"] is True and deleted["watch"]["refused_uses"] == []
    assert state(aws, key) == "PendingDeletion"
    again = playbook.run(task)
    assert again.rc == 0 and again.changed == 0, again


def test_force_schedules_too_early_loudly(playbook, aws):
    key = aws.client("kms").create_key()["KeyMetadata"]
    run = playbook.run([retire(key["Arn"], "Disable"),
                        retire(key["Arn"], "Delete anyway", state="pending_deletion", force=True)])
    assert run.rc == 0, run
    forced = run.result("Delete anyway")
    assert forced["forced"] is True and "14 day(s) left" in forced["forced_reasons"][0]
    assert any("force: true" in warning for warning in forced["warnings"]), forced
    assert state(aws, key) == "PendingDeletion"
