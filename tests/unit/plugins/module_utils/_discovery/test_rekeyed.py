"""The gate's "needed until" for resources kms_service_rekey moved away from the key (rekeyed.py), on moto in-process.

Each resource here is already under another key, as after a re-key, so the
gate before rekeyed.py found nothing and said safe_to_retire: every test
that holds the key fails on that code.
"""

import datetime
import io
import zipfile

import pytest
from botocore.exceptions import ClientError

from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import UsageSpec
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import REKEYED_AT, REKEYED_FROM
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import format_time, parse_time

SKEW = datetime.timedelta(minutes=5)
NOW = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)


def _gate(engine, key, check_mode=False, **options):
    return engine.run(UsageSpec(key_id=key["KeyId"], for_retirement=True, **options), check_mode=check_mode).values


def _marker(key, ago):
    return {REKEYED_FROM: key["Arn"], REKEYED_AT: format_time(NOW - ago)}


def _held(result):
    return [(entry["resource"], entry["kind"]) for entry in result["holding_back"]]


def _queue(clients, key, other_key, ago, retention=None):
    attributes = {"KmsMasterKeyId": other_key["Arn"]}
    if retention:
        attributes["MessageRetentionPeriod"] = str(retention)
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName="orders", Attributes=attributes, tags=_marker(key, ago))["QueueUrl"]
    return sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


# SQS ------------------------------------------------------------------------------------------------------------


def test_a_queue_holds_the_key_until_its_old_messages_have_expired(engine, clients, key, other_key):
    arn = _queue(clients, key, other_key, datetime.timedelta(days=1), retention=86400 * 4)
    result = _gate(engine, key, services=["sqs"])
    assert _held(result) == [(arn, "blocking")]
    # The change, plus MessageRetentionPeriod, plus the default data-key reuse period (300 s), plus the clocks.
    until = NOW - datetime.timedelta(days=1) + datetime.timedelta(days=4, seconds=300) + SKEW
    [held] = result["holding_back"]
    assert held["needed_until"] == result["needed_until"] == format_time(until)
    assert arn in held["reason"] and "needed until {0}: messages sent before the key change expire then".format(
        format_time(until)) in held["reason"]
    assert not result["safe_to_retire"]


def test_a_queue_whose_retention_has_passed_since_the_change_lets_the_key_through(engine, clients, key, other_key):
    _queue(clients, key, other_key, datetime.timedelta(days=5), retention=86400 * 4)
    result = _gate(engine, key, services=["sqs"])
    assert result["safe_to_retire"] and result["needed_until"] is None


def test_a_queue_moved_away_from_another_key_does_not_hold_this_one(engine, clients, key, other_key):
    _queue(clients, other_key, other_key, datetime.timedelta(hours=1))
    result = _gate(engine, key, services=["sqs"])
    assert result["safe_to_retire"] and result["needed_until"] is None


def test_the_hold_is_kept_in_check_mode_and_ignore_services_drops_it(engine, clients, key, other_key):
    _queue(clients, key, other_key, datetime.timedelta(hours=1))
    assert not _gate(engine, key, check_mode=True, services=["sqs"])["safe_to_retire"]
    ignored = _gate(engine, key, services=["sqs"], ignore_services=["sqs"])
    assert ignored["safe_to_retire"] and ignored["needed_until"] is None


def test_a_rekeyed_at_that_is_not_a_time_is_unknown(engine, clients, key, other_key):
    sqs = clients("sqs")
    sqs.create_queue(QueueName="orders", Attributes={"KmsMasterKeyId": other_key["Arn"]},
                     tags={REKEYED_FROM: key["Arn"], REKEYED_AT: "yesterday"})
    [held] = _gate(engine, key, services=["sqs"])["holding_back"]
    assert held["kind"] == "unknown" and "'yesterday'" in held["reason"]


def _deny(client, operation):
    def refuse(**_kwargs):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "not authorized"}}, operation)
    client.client.meta.events.register("before-call.{0}.{1}".format(
        client.client.meta.service_model.service_id.hyphenize(), operation), refuse)


def test_tags_that_cannot_be_read_make_the_queue_unknown(engine, clients, key, other_key):
    arn = _queue(clients, key, other_key, datetime.timedelta(days=30))
    _deny(clients("sqs"), "ListQueueTags")
    [held] = _gate(engine, key, services=["sqs"])["holding_back"]
    assert (held["resource"], held["kind"]) == (arn, "unknown")
    assert "access denied" in held["reason"]


def test_queues_that_cannot_be_listed_make_the_look_unknown(engine, clients, key):
    _deny(clients("sqs"), "ListQueues")
    result = _gate(engine, key, services=["ebs_volumes"])
    assert ("sqs", "unknown") in _held(result)


# CloudWatch Logs ------------------------------------------------------------------------------------------------


def _group(clients, key, other_key, ago, retention_days=None):
    logs = clients("logs")
    logs.create_log_group(logGroupName="app", kmsKeyId=other_key["Arn"], tags=_marker(key, ago))
    if retention_days:
        logs.put_retention_policy(logGroupName="app", retentionInDays=retention_days)
    return logs.describe_log_groups(logGroupNamePrefix="app")["logGroups"][0]["arn"]


def test_a_log_group_without_retention_holds_the_key_for_ever(engine, clients, key, other_key):
    _group(clients, key, other_key, datetime.timedelta(days=400))
    result = _gate(engine, key, services=["logs"])
    [held] = result["holding_back"]
    assert held["kind"] == "blocking" and held["service"] == "logs"
    assert "for ever" in held["reason"] and "put-retention-policy" in held["reason"]
    assert result["needed_until"] == "never"


@pytest.mark.parametrize("ago, held", [(datetime.timedelta(days=6), True), (datetime.timedelta(days=8), False)])
def test_a_log_group_holds_the_key_for_its_retention_after_the_change(engine, clients, key, other_key, ago, held):
    _group(clients, key, other_key, ago, retention_days=7)
    result = _gate(engine, key, services=["logs"])
    assert result["safe_to_retire"] is not held
    if held:
        assert result["needed_until"] == format_time(NOW - ago + datetime.timedelta(days=7) + SKEW)
        assert "events written before the key change expire then" in result["holding_back"][0]["reason"]
    else:
        assert result["needed_until"] is None


# Kinesis --------------------------------------------------------------------------------------------------------


@pytest.mark.parametrize("ago, held", [(datetime.timedelta(hours=23), True), (datetime.timedelta(hours=25), False)])
def test_a_stream_holds_the_key_for_its_retention_after_the_change(engine, clients, key, other_key, ago, held):
    kinesis = clients("kinesis")
    kinesis.create_stream(StreamName="events", ShardCount=1)
    kinesis.start_stream_encryption(StreamName="events", EncryptionType="KMS", KeyId=other_key["Arn"])
    kinesis.add_tags_to_stream(StreamName="events", Tags=_marker(key, ago))
    result = _gate(engine, key, services=["sqs"])
    assert result["safe_to_retire"] is not held
    if held:
        assert result["holding_back"][0]["resource"].endswith(":stream/events")
        assert result["needed_until"] == format_time(NOW - ago + datetime.timedelta(hours=24) + SKEW)
    else:
        assert result["needed_until"] is None


# Secrets Manager ------------------------------------------------------------------------------------------------


def test_secret_versions_the_change_did_not_re_encrypt_hold_the_key(engine, clients, key, other_key):
    secretsmanager = clients("secretsmanager")
    arn = secretsmanager.create_secret(Name="db", SecretString="one", KmsKeyId=key["Arn"])["ARN"]
    for value in ("two", "three"):
        secretsmanager.put_secret_value(SecretId="db", SecretString=value)
    secretsmanager.update_secret(SecretId="db", KmsKeyId=other_key["Arn"])
    # The change came after the three versions: the oldest, now unlabelled, was not re-encrypted.
    secretsmanager.tag_resource(SecretId="db", Tags=[{"Key": name, "Value": value} for name, value in {
        REKEYED_FROM: key["Arn"], REKEYED_AT: format_time(NOW + datetime.timedelta(minutes=1))}.items()])
    result = _gate(engine, key, services=["secretsmanager"])
    [held] = result["holding_back"]
    assert (held["resource"], held["kind"], held["count"]) == (arn, "blocking", 1)
    assert "AWSCURRENT, AWSPENDING or AWSPREVIOUS" in held["reason"]
    assert result["needed_until"] == "never"


# Lambda ---------------------------------------------------------------------------------------------------------


def test_published_versions_under_the_key_hold_it_tagged_or_not(engine, clients, key, other_key):
    role = clients("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return 1\n")
    awslambda = clients("lambda")
    awslambda.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="fn.handler",
                              Code={"ZipFile": code.getvalue()}, KMSKeyArn=key["Arn"],
                              Environment={"Variables": {"MODE": "test"}}, Publish=True)
    awslambda.update_function_configuration(FunctionName="fn", KMSKeyArn=other_key["Arn"])
    result = _gate(engine, key, services=["lambda"])
    [held] = result["holding_back"]
    assert held["resource"].endswith(":function:fn:1") and held["kind"] == "blocking"
    assert "published versions are immutable" in held["reason"]
    [version] = [entry for entry in result["resources"] if entry["resource_type"] == "lambda_function_version"]
    assert version["version"] == "1"


# Everything together --------------------------------------------------------------------------------------------


def test_needed_until_is_the_latest_date_of_the_holds(engine, clients, key, other_key):
    _queue(clients, key, other_key, datetime.timedelta(days=1), retention=86400)
    _group(clients, key, other_key, datetime.timedelta(days=1), retention_days=3)
    result = _gate(engine, key, services=["sqs", "logs"])
    assert sorted(entry["service"] for entry in result["holding_back"]) == ["logs", "sqs"]
    dates = sorted(parse_time(entry["needed_until"]) for entry in result["holding_back"])
    assert result["needed_until"] == format_time(dates[-1])
    assert dates[-1] == NOW + datetime.timedelta(days=2) + SKEW


# DynamoDB -------------------------------------------------------------------------------------------------------


def test_a_table_with_point_in_time_recovery_holds_the_key_for_its_recovery_window(engine, clients, key, other_key):
    dynamodb = clients("dynamodb")
    arn = dynamodb.create_table(
        TableName="orders", BillingMode="PAY_PER_REQUEST", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": other_key["Arn"]},
        Tags=[{"Key": name, "Value": value} for name, value in _marker(key, datetime.timedelta(days=1)).items()],
    )["TableDescription"]["TableArn"]
    dynamodb.update_continuous_backups(TableName="orders", PointInTimeRecoverySpecification={
        "PointInTimeRecoveryEnabled": True})
    result = _gate(engine, key, services=["dynamodb"])
    assert _held(result) == [(arn, "blocking")]
    # AWS's default recovery window: 35 days.
    assert result["needed_until"] == format_time(NOW + datetime.timedelta(days=34) + SKEW)
    assert "point-in-time recovery" in result["holding_back"][0]["reason"]
