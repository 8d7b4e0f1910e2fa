"""kms_key_usage_info as the retirement gate (for_retirement), through ansible-playbook on the local endpoint."""

import datetime

import boto3


def _now():
    return datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%dT%H:%M:%SZ")


def _keys(aws):
    kms = aws.client("kms")
    source = kms.create_key(Description="source")["KeyMetadata"]
    destination = kms.create_key(Description="destination")["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=source["KeyId"])
    return kms, source, destination


def _gate(playbook, source, **options):
    run = playbook.run([{"name": "Gate", "kmsrotate.aws.kms_key_usage_info": dict(
        key_id=source["Arn"], for_retirement=True, **options)}])
    assert run.rc == 0, run
    return run.result("Gate")


def test_resources_given_the_alias_before_it_moved_hold_the_source_key(playbook, aws):
    kms, source, destination = _keys(aws)
    secret = aws.client("secretsmanager").create_secret(Name="db", SecretString="s3cr3t", KmsKeyId="alias/app")["ARN"]
    aws.client("ssm").put_parameter(Name="/app/token", Value="t0ken", Type="SecureString", KeyId="alias/app")
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"KmsMasterKeyId": "alias/app"})["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    # The key phase moves the alias; the role recorded the history before.
    kms.update_alias(AliasName="alias/app", TargetKeyId=destination["KeyId"])
    moved_at = _now()
    services = ["secretsmanager", "ssm", "sqs"]
    assert _gate(playbook, source, services=services)["safe_to_retire"] is True
    gate = _gate(playbook, source, services=services, alias_history=[{"alias_name": "alias/app", "until": moved_at}])
    assert gate["safe_to_retire"] is False
    held = dict((entry["service"], entry) for entry in gate["holding_back"])
    assert sorted(held) == sorted(services)
    assert held["secretsmanager"]["resource"] == secret and held["sqs"]["resource"] == queue
    for entry in held.values():
        assert "references alias/app, which pointed at the source key until " + moved_at in entry["reason"]
    assert "labelled AWSCURRENT were created before then" in held["secretsmanager"]["reason"]


def test_a_decrypt_by_another_user_after_the_rotation_started_holds_the_source_key(playbook, aws):
    kms, source, _destination = _keys(aws)
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"data key")["CiphertextBlob"]
    iam = aws.client("iam")
    iam.create_user(UserName="batch-job")
    access_key = iam.create_access_key(UserName="batch-job")["AccessKey"]
    user = iam.get_user(UserName="batch-job")["User"]["Arn"]
    started = _now()
    # The rotation's own use of the key (the playbook's identity) holds nothing.
    kms.decrypt(CiphertextBlob=blob)
    own = _gate(playbook, source, services=["grants"], rotation_started_at=started)
    assert own["safe_to_retire"] is True, own["holding_back"]
    assert own["last_usage"]["cloudtrail_read"] is True and own["last_usage"]["foreign_uses"] == 0
    # An unknown caller with its own access key uses the source key after the rotation began.
    boto3.client("kms", region_name="us-east-1", endpoint_url=aws.url, aws_access_key_id=access_key["AccessKeyId"],
                 aws_secret_access_key=access_key["SecretAccessKey"]).decrypt(CiphertextBlob=blob)
    gate = _gate(playbook, source, services=["grants"], rotation_started_at=started)
    assert gate["safe_to_retire"] is False
    assert [(entry["service"], entry["resource"], entry["kind"]) for entry in gate["holding_back"]] == [
        ("last_usage", user, "blocking")]
    assert "{0} Decrypt at ".format(user) in gate["holding_back"][0]["reason"]
    assert gate["last_usage"]["operation"] == "Decrypt" and gate["last_usage"]["foreign_uses"] == 1
