"""key_events: a key's CloudTrail events, who made them, and which are refusals or other callers' uses."""

import datetime
import json

import boto3
import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import KeyEvent, caller_principals
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import describe_event, event_by_id
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import foreign_uses, key_event
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_events import key_events, refused_uses

REGION = "us-east-1"
ACCOUNT = "123456789012"
HOUR_AGO = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def cloudtrail(aws_client):
    return aws_client("cloudtrail")


def user_client(service, name):
    iam = boto3.client("iam", region_name=REGION)
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    return boto3.client(service, region_name=REGION, aws_access_key_id=access["AccessKeyId"],
                        aws_secret_access_key=access["SecretAccessKey"])


def role_session(aws_client, name="rotation", session="run-1"):
    """(kms, sts) clients of an assumed role's session, wrapped like the modules' own."""
    from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry

    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": "arn:aws:iam::{0}:root".format(ACCOUNT)}}]}
    role = aws_client("iam").create_role(RoleName=name, AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    credentials = aws_client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName=session)["Credentials"]
    session_config = dict(region_name=REGION, aws_access_key_id=credentials["AccessKeyId"],
                          aws_secret_access_key=credentials["SecretAccessKey"],
                          aws_session_token=credentials["SessionToken"])
    return (boto3.client("kms", **session_config),
            RetryingBotoClientWrapper(boto3.client("sts", **session_config), aws_retry), role)


def test_events_of_the_key_newest_first_with_who_when_and_the_refusals(kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    other = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    kms.encrypt(KeyId=other["KeyId"], Plaintext=b"x")
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(Exception):
        kms.decrypt(CiphertextBlob=blob)

    found = list(key_events(cloudtrail, key["Arn"], HOUR_AGO))
    assert [event.event_name for event in found] == ["Decrypt", "DisableKey", "Encrypt", "CreateKey"]
    refusal = found[0]
    assert refusal.error_code == "DisabledException" and found[1].error_code is None
    assert refusal.principal == "arn:aws:sts::{0}:user/moto".format(ACCOUNT)
    assert refusal.event_time.tzinfo is not None and refusal.event_time.utcoffset() == datetime.timedelta(0)
    assert abs(refusal.event_time - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=1)
    assert refusal.source_address and refusal.user_agent.startswith("Boto3")
    assert refused_uses(found) == [refusal]
    assert event_by_id(cloudtrail, found[2].event_id) == found[2]


def test_the_window_and_every_page_are_read(kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    for _call in range(60):
        kms.describe_key(KeyId=key["KeyId"])
    assert len(list(key_events(cloudtrail, key["Arn"], HOUR_AGO))) == 61
    later = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    assert list(key_events(cloudtrail, key["Arn"], later)) == []
    assert list(key_events(cloudtrail, key["Arn"], HOUR_AGO - datetime.timedelta(hours=1), end_time=HOUR_AGO)) == []


def test_only_kms_events_are_read(aws_client, kms):
    key = kms.create_key()["KeyMetadata"]
    record = {"eventID": "e1", "eventName": "PutObject", "eventTime": "2026-01-01T00:00:00Z", "userIdentity": {}}
    entries = [{"EventId": "e1", "EventName": "PutObject", "EventSource": "s3.amazonaws.com",
                "EventTime": datetime.datetime(2026, 1, 1), "CloudTrailEvent": json.dumps(record)}]
    cloudtrail = aws_client("cloudtrail")

    class _Answer(object):
        status_code = 200
        headers = {}

    cloudtrail.client.meta.events.register("before-call.cloudtrail.LookupEvents",
                                           lambda **kwargs: (_Answer(), {"Events": entries}))
    assert list(key_events(cloudtrail, key["Arn"], HOUR_AGO)) == []


@pytest.mark.parametrize("identity, principal", [
    ({"type": "IAMUser", "arn": "arn:aws:iam::1:user/a", "principalId": "AIDA1"}, "arn:aws:iam::1:user/a"),
    ({"type": "AWSAccount", "principalId": "AIDA2"}, "AIDA2"),
    ({"type": "AWSService", "invokedBy": "s3.amazonaws.com"}, "s3.amazonaws.com"),
    ({"type": "AWSService"}, "AWSService"),
])
def test_the_principal_is_the_arn_else_the_principal_id_else_the_service(identity, principal):
    record = {"eventID": "e", "eventName": "Decrypt", "eventTime": "2026-03-04T05:06:07Z", "userIdentity": identity,
              "sourceIPAddress": "s3.amazonaws.com"}
    event = key_event({"CloudTrailEvent": json.dumps(record), "EventTime": datetime.datetime(2026, 1, 1)})
    assert event.principal == principal
    assert event.event_time == datetime.datetime(2026, 3, 4, 5, 6, 7, tzinfo=datetime.timezone.utc)


def test_foreign_uses_are_other_callers_successful_cryptographic_calls(aws_client, kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    own = caller_principals(aws_client("sts"))
    assert "arn:aws:sts::{0}:user/moto".format(ACCOUNT) in own
    app = user_client("kms", "billing-app")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")["CiphertextBlob"]
    app.decrypt(CiphertextBlob=blob)
    app.describe_key(KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(Exception):
        app.decrypt(CiphertextBlob=blob)

    found = list(key_events(cloudtrail, key["Arn"], HOUR_AGO))
    foreign = foreign_uses(found, own)
    assert [(event.principal, event.event_name, event.error_code) for event in foreign] == [
        ("arn:aws:iam::{0}:user/billing-app".format(ACCOUNT), "Decrypt", None)]


def test_an_assumed_role_counts_as_own_by_its_session_and_its_role(aws_client, kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    session_kms, session_sts, role = role_session(aws_client)
    own = caller_principals(session_sts)
    assert role["Arn"] in own
    assert any(":assumed-role/rotation/run-1" in principal for principal in own)
    session_kms.encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    found = list(key_events(cloudtrail, key["Arn"], HOUR_AGO))
    assert found[0].event_name == "Encrypt" and found[0].principal in own
    assert foreign_uses(found, own) == []
    # The same use is someone else's to another identity.
    assert foreign_uses(found, caller_principals(aws_client("sts"))) == [found[0]]


def test_describe_event_names_who_what_when_and_where():
    moment = datetime.datetime(2026, 5, 6, 7, 8, 9, tzinfo=datetime.timezone.utc)
    event = KeyEvent("id", "Decrypt", moment, None, "arn:aws:iam::1:user/a", "192.0.2.1", "aws-cli")
    assert describe_event(event) == "arn:aws:iam::1:user/a Decrypt at 2026-05-06T07:08:09Z from 192.0.2.1"
    refused = event._replace(error_code="DisabledException", source_address=None)
    assert describe_event(refused) == "arn:aws:iam::1:user/a Decrypt at 2026-05-06T07:08:09Z (refused: DisabledException)"
