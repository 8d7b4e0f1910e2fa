"""kms_service_rekey through ansible-playbook on the local endpoint (with the services' fidelity patches).

One estate covers every service that changes its key in place, so few playbook runs cover check mode, the move,
the markers, the dependents each service leaves, and a rerun with changed=false.
"""

import io
import zipfile

import pytest

REKEYED_FROM = "kmsrotate:rekeyed-from"
REKEYED_AT = "kmsrotate:rekeyed-at"
ACCOUNT = "123456789012"


def rekey(name, source, destination, targets, **options):
    return {"name": name, "kmsrotate.aws.kms_service_rekey": dict(
        source_key=source, destination_key=destination, targets=targets, **options)}


def _function(aws, key):
    role = aws.client("iam").create_role(RoleName="orders", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return 1\n")
    awslambda = aws.client("lambda")
    awslambda.create_function(
        FunctionName="orders", Runtime="python3.12", Role=role, Handler="fn.handler", Code={"ZipFile": code.getvalue()},
        KMSKeyArn=key, Environment={"Variables": {"MODE": "test"}}, Publish=True)
    return awslambda.get_function_configuration(FunctionName="orders")["FunctionArn"]


@pytest.fixture
def estate(aws):
    """Keys and one resource of each service under the source key; returns (source, destination, {name: ARN})."""
    kms = aws.client("kms")
    source = kms.create_key(Description="old")["KeyMetadata"]["Arn"]
    destination = kms.create_key(Description="new")["KeyMetadata"]["Arn"]
    arns = {}
    secrets = aws.client("secretsmanager")
    arns["secret"] = secrets.create_secret(Name="orders/db", SecretString="one", KmsKeyId=source)["ARN"]
    # Three values: the first keeps no label, so UpdateSecret does not re-encrypt it.
    secrets.put_secret_value(SecretId=arns["secret"], SecretString="two")
    secrets.put_secret_value(SecretId=arns["secret"], SecretString="three")
    arns["table"] = aws.client("dynamodb").create_table(
        TableName="orders", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
        AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}], BillingMode="PAY_PER_REQUEST",
        SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": source})["TableDescription"]["TableArn"]
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="orders", Attributes={"KmsMasterKeyId": source,
                                                           "MessageRetentionPeriod": "3600"})["QueueUrl"]
    arns["queue"] = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    arns["topic"] = aws.client("sns").create_topic(Name="orders", Attributes={"KmsMasterKeyId": source})["TopicArn"]
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/orders/api", kmsKeyId=source)
    logs.put_retention_policy(logGroupName="/orders/api", retentionInDays=7)
    logs.create_log_group(logGroupName="/orders/audit", kmsKeyId=source)
    for name in ("/orders/api", "/orders/audit"):
        arns[name] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"][0]["arn"]
    arns["function"] = _function(aws, source)
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="orders", ShardCount=1)
    kinesis.start_stream_encryption(StreamName="orders", EncryptionType="KMS", KeyId=source)
    arns["stream"] = kinesis.describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["StreamARN"]
    aws.client("ssm").put_parameter(Name="/orders/token", Value="t0ken-value", Type="SecureString", KeyId=source)
    arns["parameter"] = "arn:aws:ssm:us-east-1:{0}:parameter/orders/token".format(ACCOUNT)
    return source, destination, arns


def _succeeded(run, task):
    """The task's result, after asserting the run succeeded (with the module's message if not)."""
    assert run.rc == 0, (run.results(task) or [{}])[0].get("msg") or run
    return run.result(task)


def _keys(aws, arns):
    """Each resource's key as its service tells it now."""
    sqs = aws.client("sqs")
    url = sqs.get_queue_url(QueueName="orders")["QueueUrl"]
    logs = dict((group["logGroupName"], group.get("kmsKeyId"))
                for group in aws.client("logs").describe_log_groups(logGroupNamePrefix="/orders/")["logGroups"])
    return {
        "secret": aws.client("secretsmanager").describe_secret(SecretId=arns["secret"]).get("KmsKeyId"),
        "table": aws.client("dynamodb").describe_table(TableName="orders")["Table"]["SSEDescription"]["KMSMasterKeyArn"],
        "queue": sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"]["KmsMasterKeyId"],
        "topic": aws.client("sns").get_topic_attributes(TopicArn=arns["topic"])["Attributes"]["KmsMasterKeyId"],
        "/orders/api": logs["/orders/api"],
        "/orders/audit": logs["/orders/audit"],
        "function": aws.client("lambda").get_function_configuration(FunctionName="orders")["KMSKeyArn"],
        "stream": aws.client("kinesis").describe_stream_summary(StreamName="orders")["StreamDescriptionSummary"]["KeyId"],
        "parameter": aws.client("ssm").describe_parameters()["Parameters"][0]["KeyId"],
    }


def _marker_tags(aws, arns):
    sqs = aws.client("sqs")
    tags = {
        "secret": dict((tag["Key"], tag["Value"]) for tag in aws.client("secretsmanager").describe_secret(
            SecretId=arns["secret"]).get("Tags", [])),
        "table": dict((tag["Key"], tag["Value"]) for tag in aws.client("dynamodb").list_tags_of_resource(
            ResourceArn=arns["table"])["Tags"]),
        "queue": sqs.list_queue_tags(QueueUrl=sqs.get_queue_url(QueueName="orders")["QueueUrl"]).get("Tags", {}),
        "function": aws.client("lambda").list_tags(Resource=arns["function"])["Tags"],
        "stream": dict((tag["Key"], tag["Value"]) for tag in aws.client("kinesis").list_tags_for_stream(
            StreamName="orders")["Tags"]),
    }
    return dict((name, dict((key, value) for key, value in found.items() if key.startswith("kmsrotate:")))
                for name, found in tags.items())


def test_every_service_moves_once_with_check_mode_diff_markers_and_dependents(playbook, aws, estate):
    source, destination, arns = estate
    targets = list(arns.values())
    task = [rekey("Rekey", source, destination, targets)]

    planned = playbook.run(task, check=True, diff=True)
    result = _succeeded(planned, "Rekey")
    assert result["changed"] is True
    actions = dict((entry["resource"], entry["action"]) for entry in result["resources"])
    assert actions == dict((arn, "planned" if name == "parameter" else "moved") for name, arn in arns.items())
    assert result["diff"]["after"][arns["queue"]] == destination and result["diff"]["before"][arns["queue"]] == source
    assert set(_keys(aws, arns).values()) == {source}
    assert all(not tags for tags in _marker_tags(aws, arns).values())

    done = playbook.run(task, diff=True)
    result = _succeeded(done, "Rekey")
    keys = _keys(aws, arns)
    assert keys.pop("parameter") == source
    assert set(keys.values()) == {destination}
    for name, tags in _marker_tags(aws, arns).items():
        assert tags[REKEYED_FROM] == source, name
        assert tags[REKEYED_AT].endswith("Z") and len(tags[REKEYED_AT]) == 20, name
    by_arn = dict((entry["resource"], entry) for entry in result["resources"])
    assert by_arn[arns["/orders/api"]]["needed_until"] > by_arn[arns["/orders/api"]]["rekeyed_at"]
    assert by_arn[arns["/orders/audit"]]["needed_until"] == "never"
    assert result["needed_until"] == "never"
    dependents = dict(((entry["service"], entry["resource"]), entry) for entry in result["dependents"])
    # The secret's unlabelled first version, the audit log without retention, Lambda's version 1, the SSM plan.
    assert dependents[("secretsmanager", arns["secret"])]["kind"] == "blocking"
    assert dependents[("secretsmanager", arns["secret"])]["count"] == 1
    assert "retention" in dependents[("logs", arns["/orders/audit"])]["reason"]
    assert dependents[("lambda", arns["function"] + ":1")]["kind"] == "blocking"
    assert dependents[("ssm", arns["parameter"])]["kind"] == "blocking"
    assert [plan["resource"] for plan in result["plans"]] == [arns["parameter"]]
    assert "t0ken-value" not in done.stdout

    again = playbook.run(task)
    assert again.rc == 0 and again.changed == 0, again
    rerun = again.result("Rekey")
    assert set(entry["action"] for entry in rerun["resources"]) == {"unchanged", "planned"}
    assert dict((entry["resource"], entry["needed_until"]) for entry in rerun["resources"]) == dict(
        (entry["resource"], entry["needed_until"]) for entry in result["resources"])


def test_ssm_moves_only_with_plaintext_allowed_and_never_shows_the_value(playbook, aws, estate):
    source, destination, arns = estate
    run = playbook.run([rekey("Rekey SSM", source, destination, [arns["parameter"]],
                              allow_plaintext_on_controller=True)], extra_args=["-vvv"])
    result = _succeeded(run, "Rekey SSM")
    assert result["resources"][0]["action"] == "moved"
    assert any("plaintext" in warning for warning in result.get("warnings", []))
    ssm = aws.client("ssm")
    assert ssm.describe_parameters()["Parameters"][0]["KeyId"] == destination
    assert ssm.get_parameter(Name="/orders/token", WithDecryption=True)["Parameter"]["Value"] == "t0ken-value"
    assert "t0ken-value" not in run.stdout + run.stderr


def test_missing_other_region_and_access_denied_are_per_resource(playbook, aws, estate):
    source, destination, arns = estate
    missing = "arn:aws:sns:us-east-1:{0}:gone".format(ACCOUNT)
    elsewhere = "arn:aws:sqs:eu-west-1:{0}:orders".format(ACCOUNT)
    aws.set_faults([{"kind": "error", "service": "secretsmanager", "action": "DescribeSecret", "status": 400,
                     "code": "AccessDeniedException", "message": "not authorized to DescribeSecret"}])
    run = playbook.run([dict(rekey("Rekey", source, destination, [missing, elsewhere, arns["secret"], arns["topic"]]),
                             ignore_errors=True)])
    result = run.result("Rekey")
    assert result["failed"] is True and arns["secret"] in result["msg"]
    by_arn = dict((entry["resource"], entry) for entry in result["resources"])
    assert by_arn[missing]["action"] == "not_found"
    assert by_arn[elsewhere]["action"] == "other_region" and "eu-west-1" in by_arn[elsewhere]["reason"]
    denied = by_arn[arns["secret"]]
    assert denied["action"] == "unknown" and "DescribeSecret" in denied["reason"]
    assert [(entry["resource"], entry["kind"]) for entry in result["dependents"]] == [(arns["secret"], "unknown")]
    # The others were still dealt with.
    assert by_arn[arns["topic"]]["action"] == "moved"
    aws.clear_faults()
    assert aws.client("secretsmanager").describe_secret(SecretId=arns["secret"])["KmsKeyId"] == source


def test_rotation_role_services_phase_moves_records_and_reports(playbook, aws, tmp_path):
    import json
    import pathlib

    import yaml

    kms = aws.client("kms")
    source = kms.create_key(Description="orders")["KeyMetadata"]["Arn"]
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="role-orders", Attributes={"KmsMasterKeyId": source})["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="/role/audit", kmsKeyId=source)
    group = logs.describe_log_groups(logGroupNamePrefix="/role/audit")["logGroups"][0]["arn"]
    inventory = tmp_path / "inventory.yml"
    inventory.write_text(yaml.safe_dump({"kms_rotation": {"hosts": {"orders": {
        "kms_rotation_source_key": source, "kms_rotation_services": [queue, group], "kms_rotation_retire": "none"}}}}))
    reports = tmp_path / "reports"
    rotate = pathlib.Path(__file__).resolve().parents[2] / "playbooks" / "rotate.yml"
    extra = {"kms_rotation_report_dir": str(reports), "kms_rotation_poll_interval": 1}

    run = playbook.run(playbook=rotate, inventory=inventory, extra_vars=extra, tags=["preflight", "key", "services"])
    assert run.rc == 0, run
    destination = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["KmsMasterKeyId"])["Attributes"][
        "KmsMasterKeyId"]
    assert destination != source and sqs.list_queue_tags(QueueUrl=url)["Tags"][REKEYED_FROM] == source
    [record] = sorted(reports.glob("rotation-orders-*.json"))
    services = json.loads(record.read_text())["phases"]["services"]
    assert dict((entry["resource"], entry["action"]) for entry in services["resources"]) == {
        queue: "moved", group: "moved"}
    assert services["needed_until"] == "never"
    [markdown] = sorted(reports.glob("rotation-orders-*.md"))
    text = markdown.read_text()
    assert "## Other services" in text and "| `{0}` | sqs | moved |".format(queue) in text

    again = playbook.run(playbook=rotate, inventory=inventory, extra_vars=extra, tags=["services"])
    assert again.rc == 0 and again.changed == 0, again
