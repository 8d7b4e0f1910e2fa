"""kms_service_rekey's engine against moto in-process: the services moto models faithfully (SNS, SQS, Kinesis,
Secrets Manager's key, SSM), the markers, check mode, reruns, and per-resource errors."""

import datetime

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._services import markers
from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER


def _queue(aws_client, key, name="orders", retention=3600):
    sqs = aws_client("sqs")
    url = sqs.create_queue(QueueName=name, Attributes={
        "KmsMasterKeyId": key, "MessageRetentionPeriod": str(retention), "KmsDataKeyReusePeriodSeconds": "60"})["QueueUrl"]
    return sqs, url, sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]


def _parse(text):
    return markers.parse_time(text)


def test_sqs_moved_tagged_and_dated_then_a_rerun_changes_nothing(aws_client, keys, rekey, by_resource):
    source, destination = keys
    sqs, url, arn = _queue(aws_client, source)

    values, diff, failure = rekey([arn])
    assert failure is None and values["changed"] is True
    entry = by_resource(values)[arn]
    assert (entry["action"], entry["key_before"], entry["key_after"]) == ("moved", source, destination)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"][
        "KmsMasterKeyId"] == destination
    tags = sqs.list_queue_tags(QueueUrl=url)["Tags"]
    assert tags[markers.REKEYED_FROM] == source
    moved_at = _parse(tags[markers.REKEYED_AT])
    assert abs(moved_at - datetime.datetime.now(datetime.timezone.utc)) < datetime.timedelta(minutes=1)
    # Retention plus the data-key reuse period after the change.
    assert _parse(entry["needed_until"]) == moved_at + datetime.timedelta(seconds=3660)
    assert values["needed_until"] == entry["needed_until"]
    assert diff == {"before": {arn: source}, "after": {arn: destination}}
    assert values["requests"]["SetQueueAttributes"] == 1

    again, _diff, _failure = rekey([arn])
    rerun = by_resource(again)[arn]
    assert again["changed"] is False and rerun["action"] == "unchanged"
    # The markers are kept, and the rerun reports the same date from them.
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == tags
    assert rerun["needed_until"] == entry["needed_until"] and rerun["rekeyed_at"] == tags[markers.REKEYED_AT]
    assert "SetQueueAttributes" not in again["requests"] and "TagQueue" not in again["requests"]


def test_a_run_killed_right_after_the_change_still_leaves_its_date(
        aws_client, keys, rekey, by_resource, monkeypatch):
    """The markers are written before the change too: a rerun (and the gate) can still date what stays behind."""
    from ansible_collections.kmsrotate.aws.plugins.module_utils._services.sqs import QueueHandler

    source, destination = keys
    sqs, url, arn = _queue(aws_client, source)
    change = QueueHandler.change

    def change_then_die(self, current):
        change(self, current)
        raise KeyboardInterrupt("killed")

    monkeypatch.setattr(QueueHandler, "change", change_then_die)
    # The pool reports what its worker raised; a real kill stops the process there, before any later marker.
    killed, _diff, _failure = rekey([arn])
    assert by_resource(killed)[arn]["action"] == "unknown"
    monkeypatch.setattr(QueueHandler, "change", change)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"][
        "KmsMasterKeyId"] == destination
    assert sqs.list_queue_tags(QueueUrl=url)["Tags"][markers.REKEYED_FROM] == source

    again, _diff, _failure = rekey([arn])
    rerun = by_resource(again)[arn]
    assert rerun["action"] == "unchanged" and rerun["needed_until"] is not None and rerun["rekeyed_at"]


def test_a_resource_whose_markers_cannot_be_written_is_not_moved(
        aws_client, keys, rekey, by_resource, monkeypatch):
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError
    from ansible_collections.kmsrotate.aws.plugins.module_utils._services.sqs import QueueHandler

    source, _destination = keys
    sqs, url, arn = _queue(aws_client, source)

    def denied(self, tags):
        raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "TagQueue")

    monkeypatch.setattr(QueueHandler, "tag", denied)
    values, _diff, failure = rekey([arn])
    entry = by_resource(values)[arn]
    assert entry["action"] == "unknown" and "markers could not be written first" in entry["reason"]
    assert failure is not None and values["changed"] is False
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"][
        "KmsMasterKeyId"] == source


def test_check_mode_reports_dates_and_changes_nothing(aws_client, keys, rekey, by_resource):
    source, _destination = keys
    sqs, url, arn = _queue(aws_client, source)
    values, diff, _failure = rekey([arn], check_mode=True)
    entry = by_resource(values)[arn]
    assert values["changed"] is True and entry["action"] == "moved" and "would move" in entry["reason"]
    assert entry["needed_until"] is not None
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"][
        "KmsMasterKeyId"] == source
    assert sqs.list_queue_tags(QueueUrl=url).get("Tags", {}) == {}
    assert "SetQueueAttributes" not in values["requests"] and "TagQueue" not in values["requests"]


def test_sns_has_no_date_and_a_resource_under_another_key_is_left_alone(aws_client, keys, rekey, by_resource):
    source, destination = keys
    other = aws_client("kms").create_key()["KeyMetadata"]["Arn"]
    sns = aws_client("sns")
    ours = sns.create_topic(Name="ours", Attributes={"KmsMasterKeyId": source})["TopicArn"]
    theirs = sns.create_topic(Name="theirs", Attributes={"KmsMasterKeyId": other})["TopicArn"]
    values, _diff, _failure = rekey([ours, theirs])
    found = by_resource(values)
    assert found[ours]["action"] == "moved" and found[ours]["needed_until"] is None
    assert sns.get_topic_attributes(TopicArn=ours)["Attributes"]["KmsMasterKeyId"] == destination
    assert markers.REKEYED_FROM in dict((tag["Key"], tag["Value"]) for tag in
                                        sns.list_tags_for_resource(ResourceArn=ours)["Tags"])
    assert found[theirs]["action"] == "unchanged" and "not this rotation's" in found[theirs]["reason"]
    assert sns.get_topic_attributes(TopicArn=theirs)["Attributes"]["KmsMasterKeyId"] == other
    assert values["needed_until"] is None and values["dependents"] == []


def test_kinesis_needed_until_its_retention(aws_client, keys, rekey, by_resource):
    source, destination = keys
    kinesis = aws_client("kinesis")
    kinesis.create_stream(StreamName="clicks", ShardCount=1)
    kinesis.start_stream_encryption(StreamName="clicks", EncryptionType="KMS", KeyId=source)
    kinesis.increase_stream_retention_period(StreamName="clicks", RetentionPeriodHours=48)
    arn = kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["StreamARN"]
    values, _diff, _failure = rekey([arn])
    entry = by_resource(values)[arn]
    assert entry["action"] == "moved"
    assert kinesis.describe_stream_summary(StreamName="clicks")["StreamDescriptionSummary"]["KeyId"] == destination
    assert _parse(entry["needed_until"]) == _parse(entry["rekeyed_at"]) + datetime.timedelta(hours=48)


def test_secret_moves_and_its_unlabelled_old_version_is_a_dependent(aws_client, keys, rekey, by_resource):
    source, destination = keys
    secrets = aws_client("secretsmanager")
    arn = secrets.create_secret(Name="db", SecretString="one", KmsKeyId=source)["ARN"]
    # Three values: the first loses its labels (AWSPREVIOUS moves to the second).
    secrets.put_secret_value(SecretId=arn, SecretString="two")
    secrets.put_secret_value(SecretId=arn, SecretString="three")
    unlabelled = [version["VersionId"] for version in secrets.list_secret_version_ids(
        SecretId=arn, IncludeDeprecated=True)["Versions"] if not version.get("VersionStages")]
    assert len(unlabelled) == 1

    values, _diff, failure = rekey([arn])
    assert failure is None
    entry = by_resource(values)[arn]
    assert entry["action"] == "moved" and entry["needed_until"] == NEVER
    assert secrets.describe_secret(SecretId=arn)["KmsKeyId"] == destination
    [left] = values["dependents"]
    assert left["kind"] == "blocking" and left["count"] == 1 and left["key_arn"] == source
    assert left["examples"] == [{"version_id": unlabelled[0], "stages": []}]
    assert "AWSPREVIOUS" in left["reason"]
    assert values["needed_until"] == NEVER
    # Never a value: the engine made no GetSecretValue or PutSecretValue call.
    assert not set(values["requests"]) & {"GetSecretValue", "PutSecretValue"}

    again, _diff, _failure = rekey([arn])
    assert again["changed"] is False and by_resource(again)[arn]["action"] == "unchanged"
    assert [item["count"] for item in again["dependents"]] == [1]


def test_secret_naming_its_key_by_an_alias_of_the_destination_is_still_moved(aws_client, keys, rekey, by_resource):
    _source, destination = keys
    kms = aws_client("kms")
    kms.create_alias(AliasName="alias/orders", TargetKeyId=destination)
    secrets = aws_client("secretsmanager")
    arn = secrets.create_secret(Name="by-alias", SecretString="v", KmsKeyId="alias/orders")["ARN"]
    values, _diff, _failure = rekey([arn])
    entry = by_resource(values)[arn]
    assert entry["action"] == "moved" and entry["key_before"] == destination
    assert secrets.describe_secret(SecretId=arn)["KmsKeyId"] == destination
    assert by_resource(rekey([arn])[0])[arn]["action"] == "unchanged"


def test_ssm_blocks_with_a_plan_unless_plaintext_is_allowed(aws_client, keys, rekey, by_resource):
    source, destination = keys
    ssm = aws_client("ssm")
    ssm.put_parameter(Name="/orders/db", Value="s3cr3t-value", Type="SecureString", KeyId=source,
                      Description="db password", Tier="Standard")
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/db"

    values, _diff, _failure = rekey([arn])
    entry = by_resource(values)[arn]
    assert entry["action"] == "planned" and values["changed"] is False
    assert values["plans"][0]["resource"] == arn and "allow_plaintext_on_controller" in values["plans"][0]["steps"][0]
    assert [item["kind"] for item in values["dependents"]] == ["blocking"]
    assert ssm.describe_parameters()["Parameters"][0]["KeyId"] == source

    moved, diff, failure = rekey([arn], allow_plaintext_on_controller=True)
    assert failure is None and by_resource(moved)[arn]["action"] == "moved"
    parameter = ssm.describe_parameters()["Parameters"][0]
    assert parameter["KeyId"] == destination and parameter["Description"] == "db password"
    assert ssm.get_parameter(Name="/orders/db", WithDecryption=True)["Parameter"]["Value"] == "s3cr3t-value"
    tags = dict((tag["Key"], tag["Value"]) for tag in ssm.list_tags_for_resource(
        ResourceType="Parameter", ResourceId="/orders/db")["TagList"])
    assert tags[markers.REKEYED_FROM] == source
    # The earlier version stays under the old key: retained (it does not hold retirement back).
    assert [(item["kind"], item["count"]) for item in moved["dependents"]] == [("retained", 1)]
    assert "s3cr3t-value" not in repr((moved, diff))


def test_not_found_other_region_and_unknown_services_are_per_resource(aws_client, keys, rekey, by_resource):
    source, _destination = keys
    _sqs, _url, arn = _queue(aws_client, source)
    missing = "arn:aws:sns:us-east-1:123456789012:missing"
    elsewhere = "arn:aws:sqs:eu-west-1:123456789012:orders"
    values, _diff, failure = rekey([missing, elsewhere, arn])
    found = by_resource(values)
    assert found[missing]["action"] == "not_found"
    assert found[elsewhere]["action"] == "other_region" and "eu-west-1" in found[elsewhere]["reason"]
    assert found[arn]["action"] == "moved" and failure is None
    assert [entry["resource"] for entry in values["resources"]] == [missing, elsewhere, arn]


def test_an_arn_of_a_service_it_does_not_know_is_refused_before_any_change(aws_client, keys, rekey):
    source, _destination = keys
    sqs, url, arn = _queue(aws_client, source)
    with pytest.raises(RotationError) as excinfo:
        rekey([arn, "arn:aws:s3:::a-bucket"])
    assert "arn:aws:s3:::a-bucket" in str(excinfo.value)
    assert sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"][
        "KmsMasterKeyId"] == source


def test_discover_moves_what_discovery_finds_under_the_source_key(aws_client, keys, rekey, by_resource):
    source, destination = keys
    _sqs, _url, queue = _queue(aws_client, source)
    sns = aws_client("sns")
    topic = sns.create_topic(Name="t", Attributes={"KmsMasterKeyId": source})["TopicArn"]
    other = sns.create_topic(Name="plain")["TopicArn"]
    values, _diff, _failure = rekey(discover=True)
    found = by_resource(values)
    assert found[queue]["action"] == "moved" and found[topic]["action"] == "moved"
    assert other not in found


def test_ssm_check_mode_reads_no_value(aws_client, keys, rekey, by_resource):
    source, _destination = keys
    ssm = aws_client("ssm")
    ssm.put_parameter(Name="/orders/db", Value="v", Type="SecureString", KeyId=source)
    arn = "arn:aws:ssm:us-east-1:123456789012:parameter/orders/db"
    values, _diff, _failure = rekey([arn], check_mode=True, allow_plaintext_on_controller=True)
    assert by_resource(values)[arn]["action"] == "moved"
    assert not set(values["requests"]) & {"GetParameter", "PutParameter", "AddTagsToResource"}
    assert ssm.describe_parameters()["Parameters"][0]["KeyId"] == source
