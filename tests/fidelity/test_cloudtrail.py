"""The CloudTrail fidelity layer: KMS calls recorded as AWS records them, LookupEvents, GetKeyLastUsage, and the
kms:TrailingDaysWithoutKeyUsage key policy condition, checked over HTTP."""

import datetime
import json

import boto3
import pytest
from botocore.exceptions import ClientError

from local_endpoint import ACCOUNT_ID, REGION

HOUR_AGO = datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(hours=1)


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def cloudtrail(aws):
    return aws.client("cloudtrail")


def _records(cloudtrail, key_arn, **params):
    answer = cloudtrail.lookup_events(
        LookupAttributes=[{"AttributeKey": "ResourceName", "AttributeValue": key_arn}], **params)
    return [json.loads(entry["CloudTrailEvent"]) for entry in answer["Events"]], answer


def _client_as(aws, service, **credentials):
    return boto3.client(service, region_name=REGION, endpoint_url=aws.url, **credentials)


def _user_client(aws, name, service="kms"):
    """(a client of a new IAM user of the account, its access key id)"""
    iam = aws.client("iam")
    iam.create_user(UserName=name)
    access = iam.create_access_key(UserName=name)["AccessKey"]
    client = _client_as(aws, service, aws_access_key_id=access["AccessKeyId"],
                        aws_secret_access_key=access["SecretAccessKey"])
    return client, access["AccessKeyId"]


def _deny_while_used(kms, key, days, actions):
    policy = json.loads(kms.get_key_policy(KeyId=key["KeyId"], PolicyName="default")["Policy"])
    policy["Statement"].append({"Sid": "guard", "Effect": "Deny", "Principal": "*", "Action": actions, "Resource": "*",
                                "Condition": {"NumericLessThan": {"kms:TrailingDaysWithoutKeyUsage": str(days)}}})
    kms.put_key_policy(KeyId=key["KeyId"], PolicyName="default", Policy=json.dumps(policy))


def test_kms_calls_are_recorded_with_caller_time_address_and_outcome(aws, kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    kms.disable_key(KeyId=key["Arn"])
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob)
    assert _code(excinfo) == "DisabledException"

    records, answer = _records(cloudtrail, key["Arn"])
    assert [record["eventName"] for record in records] == ["Decrypt", "DisableKey", "Encrypt", "CreateKey"]
    refusal, disable = records[0], records[1]
    assert refusal["errorCode"] == "DisabledException" and key["Arn"] in refusal["errorMessage"]
    assert "errorCode" not in disable
    caller = aws.client("sts").get_caller_identity()
    assert refusal["userIdentity"]["arn"] == caller["Arn"] and refusal["userIdentity"]["principalId"] == caller["UserId"]
    assert refusal["sourceIPAddress"] == "127.0.0.1" and refusal["userAgent"].startswith("Boto3/")
    assert refusal["eventSource"] == "kms.amazonaws.com" and refusal["awsRegion"] == REGION
    assert refusal["resources"] == [{"accountId": ACCOUNT_ID, "type": "AWS::KMS::Key", "ARN": key["Arn"]}]
    assert refusal["readOnly"] is True and disable["readOnly"] is False
    assert refusal["eventType"] == "AwsApiCall" and refusal["recipientAccountId"] == ACCOUNT_ID
    # Neither plaintext nor ciphertext is ever logged.
    assert "plaintext" not in json.dumps(records[2]["requestParameters"]).lower()
    assert "ciphertextBlob" not in (refusal["requestParameters"] or {})
    when = datetime.datetime.strptime(refusal["eventTime"], "%Y-%m-%dT%H:%M:%SZ").replace(tzinfo=datetime.timezone.utc)
    assert abs(datetime.datetime.now(datetime.timezone.utc) - when) < datetime.timedelta(minutes=1)
    entry = answer["Events"][0]
    assert entry["EventId"] == refusal["eventID"] and entry["EventName"] == "Decrypt"
    assert entry["EventSource"] == "kms.amazonaws.com" and entry["ReadOnly"] == "true"
    assert entry["Resources"] == [{"ResourceType": "AWS::KMS::Key", "ResourceName": key["Arn"]}]
    assert entry["EventTime"].replace(microsecond=0) == when


def test_pending_deletion_refusals_and_aliases_and_both_keys_of_re_encrypt(kms, cloudtrail):
    source = kms.create_key()["KeyMetadata"]
    destination = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/dest", TargetKeyId=destination["KeyId"])
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId="alias/dest")
    kms.schedule_key_deletion(KeyId=source["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as excinfo:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["Arn"])
    assert _code(excinfo) == "KMSInvalidStateException"

    records, _answer = _records(cloudtrail, destination["Arn"])
    assert [record["eventName"] for record in records] == ["ReEncrypt", "ReEncrypt", "CreateAlias", "CreateKey"]
    assert records[0]["errorCode"] == "KMSInvalidStateException"
    assert {resource["ARN"] for resource in records[1]["resources"]} == {source["Arn"], destination["Arn"]}
    source_records, _answer = _records(cloudtrail, source["Arn"])
    assert source_records[0]["eventName"] == "ReEncrypt" and source_records[0]["errorCode"] == "KMSInvalidStateException"


def test_the_caller_is_the_access_keys_identity(aws, cloudtrail):
    app, access_key = _user_client(aws, "billing-app")
    key = app.create_key()["KeyMetadata"]
    records, answer = _records(cloudtrail, key["Arn"])
    identity = records[0]["userIdentity"]
    assert identity["type"] == "IAMUser" and identity["userName"] == "billing-app"
    assert identity["arn"] == "arn:aws:iam::{0}:user/billing-app".format(ACCOUNT_ID)
    assert identity["accessKeyId"] == access_key and answer["Events"][0]["AccessKeyId"] == access_key
    assert answer["Events"][0]["Username"] == "billing-app"


def test_an_assumed_roles_session_is_logged_with_its_issuer(aws, cloudtrail):
    trust = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                     "Principal": {"AWS": "arn:aws:iam::{0}:root".format(ACCOUNT_ID)}}]}
    role = aws.client("iam").create_role(RoleName="rotation", Path="/ops/",
                                         AssumeRolePolicyDocument=json.dumps(trust))["Role"]
    credentials = aws.client("sts").assume_role(RoleArn=role["Arn"], RoleSessionName="run-1")["Credentials"]
    session = dict(aws_access_key_id=credentials["AccessKeyId"], aws_secret_access_key=credentials["SecretAccessKey"],
                   aws_session_token=credentials["SessionToken"])
    caller = _client_as(aws, "sts", **session).get_caller_identity()
    key = _client_as(aws, "kms", **session).create_key()["KeyMetadata"]
    identity = _records(cloudtrail, key["Arn"])[0][0]["userIdentity"]
    assert identity["type"] == "AssumedRole" and identity["arn"] == caller["Arn"]
    assert identity["principalId"] == caller["UserId"]
    assert identity["sessionContext"]["sessionIssuer"]["arn"] == role["Arn"]


def test_lookup_events_window_pages_and_refusals(kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    for _call in range(4):
        kms.describe_key(KeyId=key["KeyId"])
    _records_all, answer = _records(cloudtrail, key["Arn"], MaxResults=2)
    first_ids = [entry["EventId"] for entry in answer["Events"]]
    assert len(first_ids) == 2 and answer["NextToken"]
    pages = [first_ids]
    while answer.get("NextToken"):
        answer = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "ResourceName",
                                                            "AttributeValue": key["Arn"]}],
                                          MaxResults=2, NextToken=answer["NextToken"])
        pages.append([entry["EventId"] for entry in answer["Events"]])
    assert [len(page) for page in pages] == [2, 2, 1]
    assert len({event_id for page in pages for event_id in page}) == 5

    future = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(minutes=5)
    assert _records(cloudtrail, key["Arn"], StartTime=future)[0] == []
    assert _records(cloudtrail, key["Arn"], EndTime=HOUR_AGO)[0] == []
    assert len(_records(cloudtrail, key["Arn"], StartTime=HOUR_AGO, EndTime=future)[0]) == 5
    by_name = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "CreateKey"}])
    assert [entry["EventName"] for entry in by_name["Events"]] == ["CreateKey"]
    by_id = cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventId", "AttributeValue": first_ids[1]}])
    assert [entry["EventId"] for entry in by_id["Events"]] == [first_ids[1]]

    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(LookupAttributes=[{"AttributeKey": "EventName", "AttributeValue": "Decrypt"},
                                                   {"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}])
    assert _code(excinfo) == "InvalidLookupAttributesException"
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(StartTime=future, EndTime=HOUR_AGO)
    assert _code(excinfo) == "InvalidTimeRangeException"
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(NextToken="not-a-token")
    assert _code(excinfo) == "InvalidNextTokenException"


def test_max_results_above_fifty_is_refused(cloudtrail):
    # botocore checks the documented minimum itself; the maximum only the service checks.
    with pytest.raises(ClientError) as excinfo:
        cloudtrail.lookup_events(MaxResults=51)
    assert _code(excinfo) == "InvalidMaxResultsException"


def test_key_last_usage_is_the_newest_successful_cryptographic_event(kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    assert kms.get_key_last_usage(KeyId=key["Arn"])["KeyLastUsage"] == {}
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    kms.describe_key(KeyId=key["KeyId"])
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob)
    usage = kms.get_key_last_usage(KeyId=key["KeyId"])
    encrypt = next(entry for entry in cloudtrail.lookup_events(LookupAttributes=[
        {"AttributeKey": "ResourceName", "AttributeValue": key["Arn"]}])["Events"] if entry["EventName"] == "Encrypt")
    assert usage["KeyLastUsage"]["Operation"] == "Encrypt"
    assert usage["KeyLastUsage"]["CloudTrailEventId"] == encrypt["EventId"]
    assert usage["KeyLastUsage"]["Timestamp"] == encrypt["EventTime"]
    assert usage["TrackingStartDate"] == usage["KeyCreationDate"]


def test_passing_days_moves_events_and_creation_dates_back(aws, kms, cloudtrail):
    key = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")
    before = cloudtrail.lookup_events()["Events"][0]["EventTime"]
    created = kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CreationDate"]
    moved = aws.control("kms-pass-days", {"days": 15})
    assert moved["events"] >= 2 and moved["keys"] >= 1
    assert _records(cloudtrail, key["Arn"], StartTime=HOUR_AGO)[0] == []
    after = _records(cloudtrail, key["Arn"], EndTime=HOUR_AGO)[1]["Events"]
    assert [entry["EventName"] for entry in after] == ["DescribeKey", "Encrypt", "CreateKey"]
    assert before - after[1]["EventTime"] == datetime.timedelta(days=15)
    assert created - kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["CreationDate"] == datetime.timedelta(days=15)
    assert kms.get_key_last_usage(KeyId=key["KeyId"])["KeyLastUsage"]["Timestamp"] == after[1]["EventTime"]


def test_reset_forgets_the_log(aws, cloudtrail, kms):
    kms.create_key()
    aws.reset()
    assert cloudtrail.lookup_events()["Events"] == []


@pytest.mark.parametrize("operation", ["ScheduleKeyDeletion", "DisableKey"])
def test_deny_while_trailing_days_without_use_below_n(aws, kms, operation):
    key = kms.create_key()["KeyMetadata"]
    kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")
    _deny_while_used(kms, key, 10, ["kms:" + operation])
    calls = {"ScheduleKeyDeletion": lambda: kms.schedule_key_deletion(KeyId=key["Arn"], PendingWindowInDays=7),
             "DisableKey": lambda: kms.disable_key(KeyId=key["Arn"])}
    other = "DisableKey" if operation == "ScheduleKeyDeletion" else "ScheduleKeyDeletion"
    with pytest.raises(ClientError) as excinfo:
        calls[operation]()
    assert _code(excinfo) == "AccessDeniedException"
    assert "kms:{0}".format(operation) in excinfo.value.response["Error"]["Message"]
    assert "explicit deny" in excinfo.value.response["Error"]["Message"]
    aws.control("kms-pass-days", {"days": 9})
    with pytest.raises(ClientError):
        calls[operation]()  # 9 days without use: still below 10
    aws.control("kms-pass-days", {"days": 1})
    calls[operation]()
    # The denial was recorded like any other answer.
    records = _records(aws.client("cloudtrail"), key["Arn"], EndTime=datetime.datetime.now(datetime.timezone.utc))[0]
    assert [record.get("errorCode") for record in records if record["eventName"] == operation] == [
        None, "AccessDeniedException", "AccessDeniedException"]
    assert other not in [record["eventName"] for record in records]


def test_a_never_used_key_counts_its_days_from_creation(aws, kms):
    key = kms.create_key()["KeyMetadata"]
    _deny_while_used(kms, key, 3, "kms:ScheduleKeyDeletion")
    with pytest.raises(ClientError) as excinfo:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    assert _code(excinfo) == "AccessDeniedException"
    aws.control("kms-pass-days", {"days": 3})
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)


def test_failed_uses_do_not_reset_the_trailing_days(aws, kms):
    key = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    kms.disable_key(KeyId=key["KeyId"])
    _deny_while_used(kms, key, 5, "kms:ScheduleKeyDeletion")
    aws.control("kms-pass-days", {"days": 6})
    with pytest.raises(ClientError):
        kms.decrypt(CiphertextBlob=blob)  # refused: not a use
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
