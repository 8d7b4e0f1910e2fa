"""The retirement gate's "needed until" after a service re-key, through ansible-playbook on the local endpoint.

Each resource is re-keyed with its service's own call and tagged as
kms_service_rekey tags it (markers.py), so it no longer names the source
key: the gate before "needed until" found nothing and let the key go. The
endpoint's `age-rekeyed-tags` route then lets the retention pass without
waiting (fidelity/services_aging.py).
"""

import datetime
import io
import zipfile

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.markers import marker_tags, parse_time

SKEW = datetime.timedelta(minutes=5)


def _keys(aws):
    kms = aws.client("kms")
    return kms.create_key(Description="source")["KeyMetadata"], kms.create_key(Description="destination")["KeyMetadata"]


def _gate(playbook, source):
    run = playbook.run([{"name": "Gate", "kmsrotate.aws.kms_key_usage_info": dict(
        key_id=source["Arn"], for_retirement=True, services=["sqs", "logs", "secretsmanager", "lambda"])}])
    assert run.rc == 0, run
    return run.result("Gate")


def test_queues_streams_and_log_groups_hold_the_key_until_their_old_data_expires(playbook, aws):
    source, destination = _keys(aws)
    changed_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0)
    markers = marker_tags(source["Arn"], changed_at)
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"KmsMasterKeyId": source["Arn"]})["QueueUrl"]
    sqs.set_queue_attributes(QueueUrl=url, Attributes={"KmsMasterKeyId": destination["Arn"]})
    sqs.tag_queue(QueueUrl=url, Tags=markers)
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="events", ShardCount=1)
    kinesis.start_stream_encryption(StreamName="events", EncryptionType="KMS", KeyId=source["Arn"])
    kinesis.start_stream_encryption(StreamName="events", EncryptionType="KMS", KeyId=destination["Arn"])
    kinesis.add_tags_to_stream(StreamName="events", Tags=markers)
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="app", kmsKeyId=source["Arn"])
    logs.associate_kms_key(logGroupName="app", kmsKeyId=destination["Arn"])
    logs.put_retention_policy(logGroupName="app", retentionInDays=3)
    logs.tag_log_group(logGroupName="app", tags=markers)

    held = _gate(playbook, source)
    assert held["safe_to_retire"] is False
    by_service = dict((entry["service"], entry) for entry in held["holding_back"])
    assert sorted(by_service) == ["kinesis", "logs", "sqs"]
    # SQS's default retention (4 days) and data-key reuse period (300 s), plus the clocks: the latest.
    queue_until = changed_at + datetime.timedelta(days=4, seconds=300) + SKEW
    assert held["needed_until"] == by_service["sqs"]["needed_until"] == queue_until.strftime("%Y-%m-%dT%H:%M:%SZ")
    assert by_service["sqs"]["resource"] == queue and "needed until " + held["needed_until"] in by_service["sqs"]["reason"]
    assert parse_time(by_service["kinesis"]["needed_until"]) == changed_at + datetime.timedelta(hours=24) + SKEW
    assert parse_time(by_service["logs"]["needed_until"]) == changed_at + datetime.timedelta(days=3) + SKEW
    assert all(entry["kind"] == "blocking" for entry in held["holding_back"])

    # Three days later the stream's and the log group's old data is gone; the queue's is not.
    aws.control("age-rekeyed-tags", {"days": 3, "hours": 1})
    later = _gate(playbook, source)
    assert [entry["service"] for entry in later["holding_back"]] == ["sqs"]

    aws.control("age-rekeyed-tags", {"days": 2})
    through = _gate(playbook, source)
    assert through["safe_to_retire"] is True, through["holding_back"]
    assert through["needed_until"] is None


def test_what_never_ages_out_holds_the_key_until_someone_acts(playbook, aws):
    source, destination = _keys(aws)
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="audit", kmsKeyId=source["Arn"])
    logs.associate_kms_key(logGroupName="audit", kmsKeyId=destination["Arn"])
    secretsmanager = aws.client("secretsmanager")
    secretsmanager.create_secret(Name="db", SecretString="one", KmsKeyId=source["Arn"])
    for value in ("two", "three"):
        secretsmanager.put_secret_value(SecretId="db", SecretString=value)
    secretsmanager.update_secret(SecretId="db", KmsKeyId=destination["Arn"])
    # Secrets Manager dates versions to the second: the change is recorded after the versions' second.
    changed_at = datetime.datetime.now(datetime.timezone.utc).replace(microsecond=0) + datetime.timedelta(seconds=1)
    markers = marker_tags(source["Arn"], changed_at)
    logs.tag_log_group(logGroupName="audit", tags=markers)
    secretsmanager.tag_resource(SecretId="db", Tags=[{"Key": name, "Value": value} for name, value in markers.items()])
    awslambda = aws.client("lambda")
    role = aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return 1\n")
    awslambda.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="fn.handler",
                              Code={"ZipFile": code.getvalue()}, KMSKeyArn=source["Arn"],
                              Environment={"Variables": {"MODE": "test"}}, Publish=True)
    awslambda.update_function_configuration(FunctionName="fn", KMSKeyArn=destination["Arn"])

    held = _gate(playbook, source)
    assert held["safe_to_retire"] is False and held["needed_until"] == "never"
    by_service = dict((entry["service"], entry) for entry in held["holding_back"])
    assert sorted(by_service) == ["lambda", "logs", "secretsmanager"]
    assert "for ever" in by_service["logs"]["reason"]
    assert by_service["secretsmanager"]["count"] == 1
    assert by_service["lambda"]["resource"].endswith(":function:fn:1")
    # The endpoint confirms the data loss the gate prevents: the unlabelled version needs the source key.
    versions = aws.control("secret-version-keys", {"secret_id": "db"})
    assert sorted(versions.values()) == sorted([source["Arn"], destination["Arn"], destination["Arn"]])

    # Ageing does not help what never expires.
    aws.control("age-rekeyed-tags", {"days": 400})
    assert _gate(playbook, source)["needed_until"] == "never"


def test_a_queue_moved_by_kms_service_rekey_holds_the_key_until_a_later_run(playbook, aws):
    source, destination = _keys(aws)
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={
        "KmsMasterKeyId": source["Arn"], "MessageRetentionPeriod": "86400"})["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    run = playbook.run([
        {"name": "Move", "kmsrotate.aws.kms_service_rekey": {
            "source_key": source["Arn"], "destination_key": destination["Arn"], "targets": [queue]}},
        {"name": "Gate", "kmsrotate.aws.kms_key_usage_info": {"key_id": source["Arn"], "for_retirement": True,
                                                              "services": ["sqs"]}},
    ])
    assert run.rc == 0, run
    assert run.result("Move")["changed"] is True
    gate = run.result("Gate")
    [held] = gate["holding_back"]
    assert (held["resource"], held["kind"]) == (queue, "blocking")
    assert gate["needed_until"] == held["needed_until"] and "needed until " + gate["needed_until"] in held["reason"]
    changed_at = parse_time(sqs.list_queue_tags(QueueUrl=url)["Tags"]["kmsrotate:rekeyed-at"])
    assert parse_time(gate["needed_until"]) == changed_at + datetime.timedelta(seconds=86400 + 300) + SKEW

    aws.control("age-rekeyed-tags", {"days": 2})
    through = _gate(playbook, source)
    assert through["safe_to_retire"] is True and through["needed_until"] is None
