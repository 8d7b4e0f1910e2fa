"""key_retire: disable, watch, then schedule deletion; idempotent, check mode, refusals and their override."""

import datetime

import boto3
import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import key_retire
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_retire import DISABLED_AT_TAG, KeyRetire
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_retire import KeyRetireSpec
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.policy_guard import PolicyGuard, PolicyGuardSpec
from local_endpoint.fidelity import cloudtrail as trail

REGION = "us-east-1"
TAG_FORMAT = "%Y-%m-%dT%H:%M:%SZ"


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def run(make_clients):
    """Run the engine as the module would: the values, with the diff under `diff` as --diff returns it."""
    def run(key_id, check_mode=False, connect=None, **options):
        clients, limit = make_clients(connect=connect)
        result = KeyRetire(clients, limit).run(KeyRetireSpec(key_id=key_id, **options), check_mode=check_mode)
        return result.for_module(diff_wanted=True)
    return run


@pytest.fixture
def warnings(monkeypatch):
    seen = []
    monkeypatch.setattr(key_retire, "warn", seen.append)
    return seen


def state(kms, key):
    return kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyState"]


def tags(kms, key):
    return dict((tag["TagKey"], tag["TagValue"]) for tag in kms.list_resource_tags(KeyId=key["KeyId"])["Tags"])


def pass_days(kms, key, days):
    """As if `days` had gone by: the endpoint's records and the watch's start (its tag) move into the past."""
    trail.pass_days("POST", {"days": days})
    tagged = tags(kms, key).get(DISABLED_AT_TAG)
    if tagged:
        moved = datetime.datetime.strptime(tagged, TAG_FORMAT) - datetime.timedelta(days=days)
        kms.tag_resource(KeyId=key["KeyId"], Tags=[{"TagKey": DISABLED_AT_TAG, "TagValue": moved.strftime(TAG_FORMAT)}])


def other_caller(service):
    """A client of another IAM user of the account: CloudTrail names it as the caller."""
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName="billing-app")
    access = iam.create_access_key(UserName="billing-app")["AccessKey"]
    return boto3.client(service, region_name=REGION, aws_access_key_id=access["AccessKeyId"],
                        aws_secret_access_key=access["SecretAccessKey"])


def refused(call):
    with pytest.raises(Exception) as excinfo:
        call()
    assert excinfo.value.response["Error"]["Code"] == "DisabledException"


def answering(aws_client, lookup_events):
    """A connect() whose CloudTrail answers LookupEvents with lookup_events(), a (status, parsed answer)."""
    class _Answer(object):
        def __init__(self, status):
            self.status_code = status
            self.headers = {}

    def connect(service, region=None, config=None):
        client = aws_client(service, region, config)
        if service == "cloudtrail":
            status, parsed = lookup_events()
            client.client.meta.events.register("before-call.cloudtrail.LookupEvents",
                                               lambda **kwargs: (_Answer(status), parsed))
        return client
    return connect


def test_disable_tags_the_start_of_the_watch_idempotent_and_check_mode_changes_nothing(run, kms):
    key = kms.create_key()["KeyMetadata"]
    planned = run(key["Arn"], check_mode=True)
    assert planned["changed"] and planned["key_state"] == "Disabled"
    assert state(kms, key) == "Enabled" and DISABLED_AT_TAG not in tags(kms, key)

    done = run(key["Arn"])
    assert done["changed"] and done["key_state_before"] == "Enabled" and done["key_state"] == "Disabled"
    assert "enable-key" in done["msg"]
    assert state(kms, key) == "Disabled"
    disabled_at = tags(kms, key)[DISABLED_AT_TAG]
    watch = done["watch"]
    assert watch["disabled_since"] == disabled_at and watch["days_left"] == 14
    since = datetime.datetime.strptime(disabled_at, TAG_FORMAT)
    assert watch["eligible_at"] == (since + datetime.timedelta(days=14, minutes=15)).strftime(TAG_FORMAT)
    assert watch["refused_uses"] is None and watch["deletion_allowed"] is None
    assert watch["eligible_at"] in done["msg"]

    again = run(key["Arn"])
    assert not again["changed"] and again["key_state"] == "Disabled"
    assert again["watch"]["disabled_since"] == disabled_at


def test_schedule_deletion_after_the_watch_reports_date_and_how_to_cancel(run, kms):
    key = kms.create_key()["KeyMetadata"]
    run(key["KeyId"])
    pass_days(kms, key, 15)
    planned = run(key["KeyId"], state="pending_deletion", pending_window_days=7, check_mode=True)
    assert planned["changed"] and planned["key_state"] == "PendingDeletion"
    assert state(kms, key) == "Disabled"

    done = run(key["KeyId"], state="pending_deletion", pending_window_days=7)
    assert done["changed"] and done["key_state"] == "PendingDeletion"
    assert done["deletion_date"] and "cancel-key-deletion" in done["cancel_deletion"]
    assert done["watch"]["deletion_allowed"] is True and done["watch"]["refused_uses"] == []
    assert done["watch"]["days_left"] == 0 and done["forced"] is False and done["forced_reasons"] == []
    assert state(kms, key) == "PendingDeletion"

    again = run(key["KeyId"], state="pending_deletion", pending_window_days=30)
    assert not again["changed"] and again["deletion_date"] == done["deletion_date"]
    # A key pending deletion already satisfies `disabled`; its deletion is never cancelled here.
    assert not run(key["KeyId"], state="disabled")["changed"]
    assert state(kms, key) == "PendingDeletion"


def test_refuses_aws_managed_key_bad_window_and_negative_watch(run, kms):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(RotationError, match="KMS accepts 7 to 30"):
        run(key["Arn"], state="pending_deletion", pending_window_days=3)
    with pytest.raises(RotationError, match="watch_days is -1; this module accepts at least 0"):
        run(key["Arn"], state="pending_deletion", watch_days=-1)
    aws_managed = next(a for a in kms.list_aliases()["Aliases"] if a["AliasName"] == "alias/aws/s3")
    with pytest.raises(RotationError, match="managed by AWS"):
        run(aws_managed["AliasName"])
    assert state(kms, key) == "Enabled"


@pytest.mark.parametrize("check_mode", [True, False])
def test_deletion_of_an_enabled_key_is_refused_with_the_date_it_could_be(run, kms, check_mode):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"], state="pending_deletion", check_mode=check_mode)
    error = excinfo.value
    watch = error.details["watch"]
    assert "The key is Enabled" in error.message and "disable it first" in error.fix
    assert watch["eligible_at"] in error.fix and watch["disabled_since"] is None and watch["days_left"] == 14
    assert error.resource == key["Arn"] and error.details["changed"] is False
    assert state(kms, key) == "Enabled" and DISABLED_AT_TAG not in tags(kms, key)


@pytest.mark.parametrize("check_mode", [True, False])
def test_deletion_too_early_says_how_many_days_are_left(run, kms, check_mode):
    key = kms.create_key()["KeyMetadata"]
    run(key["Arn"])
    pass_days(kms, key, 10)
    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"], state="pending_deletion", check_mode=check_mode)
    watch = excinfo.value.details["watch"]
    assert watch["days_left"] == 4 and watch["deletion_allowed"] is False
    assert "4 day(s) left" in excinfo.value.message and watch["eligible_at"] in excinfo.value.fix
    assert state(kms, key) == "Disabled"


def test_the_newest_disable_in_cloudtrail_restarts_the_watch(run, kms):
    key = kms.create_key()["KeyMetadata"]
    run(key["Arn"])
    pass_days(kms, key, 20)
    kms.enable_key(KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"], state="pending_deletion")
    assert "(CloudTrail DisableKey)" in excinfo.value.message
    assert excinfo.value.details["watch"]["days_left"] == 14


@pytest.mark.parametrize("watch_days, refused_again", [(14, True), (0, False)])
def test_a_key_disabled_with_no_record_starts_its_watch_now(run, kms, watch_days, refused_again):
    key = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=key["KeyId"])
    pass_days(kms, key, 30)  # disabled by hand a month ago: CloudTrail's window of the watch shows nothing

    with pytest.raises(RotationError) as planned:
        run(key["Arn"], state="pending_deletion", check_mode=True)
    assert "no earlier record: the watch starts now" in planned.value.message
    assert DISABLED_AT_TAG not in tags(kms, key)

    if refused_again:
        with pytest.raises(RotationError) as excinfo:
            run(key["Arn"], state="pending_deletion")
        assert excinfo.value.details["changed"] is True
        assert tags(kms, key)[DISABLED_AT_TAG] == excinfo.value.details["watch"]["disabled_since"]
        assert excinfo.value.details["watch"]["eligible_at"] in excinfo.value.fix
        assert state(kms, key) == "Disabled"
    else:
        done = run(key["Arn"], state="pending_deletion", watch_days=watch_days)
        assert done["key_state"] == "PendingDeletion" and DISABLED_AT_TAG in tags(kms, key)


def test_refused_uses_are_listed_and_hold_the_deletion(run, kms):
    key = kms.create_key()["KeyMetadata"]
    app = other_caller("kms")
    blob = app.encrypt(KeyId=key["KeyId"], Plaintext=b"invoice")["CiphertextBlob"]
    run(key["Arn"])
    refused(lambda: app.decrypt(CiphertextBlob=blob))
    pass_days(kms, key, 15)

    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"], state="pending_deletion")
    error = excinfo.value
    uses = error.details["watch"]["refused_uses"]
    assert [(use["principal"], use["operation"]) for use in uses] == [
        ("arn:aws:iam::123456789012:user/billing-app", "Decrypt")]
    assert uses[0]["source_address"] and uses[0]["event_id"] and uses[0]["time"]
    assert "1 use(s) of the key were refused" in error.message
    assert "arn:aws:iam::123456789012:user/billing-app Decrypt at " in error.message
    assert error.details["watch"]["deletion_allowed"] is False and error.details["key_state"] == "Disabled"
    assert state(kms, key) == "Disabled"


@pytest.mark.parametrize("check_mode", [True, False])
def test_reenable_on_refused_use_enables_the_key_again_in_a_real_run(run, kms, check_mode):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"invoice")["CiphertextBlob"]
    run(key["Arn"])
    refused(lambda: kms.decrypt(CiphertextBlob=blob))
    pass_days(kms, key, 15)

    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"], state="pending_deletion", reenable_on_refused_use=True, check_mode=check_mode)
    error = excinfo.value
    assert error.details["changed"] is True and error.details["key_state"] == "Enabled"
    assert ("would be re-enabled" if check_mode else "was re-enabled") in error.fix
    assert state(kms, key) == ("Disabled" if check_mode else "Enabled")


def test_a_use_last_usage_reports_after_the_disable_holds_the_deletion(run, kms, aws_client):
    key = kms.create_key()["KeyMetadata"]
    run(key["Arn"])
    pass_days(kms, key, 15)
    # Enabled, used and disabled again by hand, and CloudTrail does not show it yet.
    kms.enable_key(KeyId=key["KeyId"])
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"late")
    kms.disable_key(KeyId=key["KeyId"])
    silent = answering(aws_client, lambda: (200, {"Events": []}))

    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"], state="pending_deletion", connect=silent)
    assert "GetKeyLastUsage shows a successful Encrypt" in excinfo.value.message
    assert excinfo.value.details["watch"]["last_usage"]["operation"] == "Encrypt"
    assert state(kms, key) == "Disabled"


def test_unreadable_cloudtrail_refuses_the_deletion(run, kms, aws_client):
    key = kms.create_key()["KeyMetadata"]
    run(key["Arn"])
    pass_days(kms, key, 15)
    denied = answering(aws_client, lambda: (400, {
        "Error": {"Code": "AccessDeniedException", "Message": "not authorized to perform: cloudtrail:LookupEvents"},
        "ResponseMetadata": {"HTTPStatusCode": 400}}))

    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"], state="pending_deletion", connect=denied)
    assert "permission cloudtrail:LookupEvents" in excinfo.value.message
    assert "allow cloudtrail:LookupEvents" in excinfo.value.fix and "force: true" in excinfo.value.fix
    assert state(kms, key) == "Disabled"


def test_force_overrides_every_refusal_loudly(run, kms, aws_client, warnings):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"invoice")["CiphertextBlob"]
    run(key["Arn"])
    refused(lambda: kms.decrypt(CiphertextBlob=blob))

    done = run(key["Arn"], state="pending_deletion", force=True, reenable_on_refused_use=True)
    assert done["changed"] and done["key_state"] == "PendingDeletion" and done["forced"] is True
    reasons = " ".join(done["forced_reasons"])
    assert "day(s) left" in reasons and "use(s) of the key were refused" in reasons
    assert done["watch"]["deletion_allowed"] is False
    assert done["msg"].startswith("FORCED")
    assert len(warnings) == 1 and key["Arn"] in warnings[0] and "force: true" in warnings[0]
    assert state(kms, key) == "PendingDeletion"


def test_force_schedules_without_readable_cloudtrail(run, kms, aws_client, warnings):
    key = kms.create_key()["KeyMetadata"]
    run(key["Arn"])
    pass_days(kms, key, 15)
    denied = answering(aws_client, lambda: (400, {
        "Error": {"Code": "AccessDeniedException", "Message": "denied"}, "ResponseMetadata": {"HTTPStatusCode": 400}}))
    done = run(key["Arn"], state="pending_deletion", force=True, connect=denied)
    assert done["forced"] is True and "CloudTrail event history could not be read" in done["forced_reasons"][0]
    assert state(kms, key) == "PendingDeletion" and warnings


def test_a_retirement_guard_denying_the_disable_is_named(run, kms, make_clients):
    key = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"in use")
    clients, limit = make_clients()
    PolicyGuard(clients, limit).run(PolicyGuardSpec(key_id=key["Arn"], days=30,
                                                    actions=["kms:ScheduleKeyDeletion", "kms:DisableKey"]))
    with pytest.raises(RotationError) as excinfo:
        run(key["Arn"])
    assert "retirement guard (Sid kmsrotate-retirement-guard) denies DisableKey" in excinfo.value.message
    assert "30 day(s)" in excinfo.value.message and "state: absent" in excinfo.value.fix
    assert state(kms, key) == "Enabled"
