"""kms_key_usage_info through ansible-playbook on the local endpoint."""


def _seed(aws):
    kms = aws.client("kms")
    key = kms.create_key(Description="in use")["KeyMetadata"]
    kms.create_alias(AliasName="alias/in-use", TargetKeyId=key["KeyId"])
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="defaulted")
    s3.put_bucket_encryption(Bucket="defaulted", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}}]})
    ec2 = aws.client("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=key["Arn"])["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    aws.client("rds").create_db_instance(
        DBInstanceIdentifier="orders", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key["Arn"])
    aws.client("secretsmanager").create_secret(Name="db-password", SecretString="x", KmsKeyId="alias/in-use")
    aws.client("ssm").put_parameter(Name="/app/token", Value="x", Type="SecureString", KeyId=key["KeyId"])
    return key, volume, snapshot


def test_finds_movable_and_blocking_users(playbook, aws):
    key, volume, snapshot = _seed(aws)
    run = playbook.run([{"name": "Usage", "kmsrotate.aws.kms_key_usage_info": {"key_id": "alias/in-use"}}], check=True)
    assert run.rc == 0, run
    usage = run.result("Usage")
    assert usage["changed"] is False
    movable = sorted((entry["resource_type"], entry["id"]) for entry in usage["movable_resources"])
    assert movable == sorted([("s3_bucket_default_encryption", "defaulted"), ("ebs_volume", volume),
                              ("ebs_snapshot", snapshot)])
    blocking = sorted((entry["resource_type"], entry["id"]) for entry in usage["blocking_resources"])
    assert blocking == [("rds_db_instance", "orders"), ("secretsmanager_secret", "db-password"),
                        ("ssm_parameter", "/app/token")]
    assert usage["blocking"] == 3
    assert usage["unknown_services"] == []
    assert usage["safe_to_retire"] is False
    assert usage["services"]["rds_instances"]["status"] == "ok"
    assert usage["last_usage"]["available"] is True
    dependents = sorted((entry["kind"], entry["service"], entry["resource"]) for entry in usage["dependents"])
    rds_arn = usage["services"]["rds_instances"]["resources"][0]["arn"]
    assert [entry for entry in dependents if entry[0] == "to_move"] == sorted([
        ("to_move", "s3", "s3://defaulted"), ("to_move", "ebs_volumes", volume), ("to_move", "ebs_snapshots", snapshot)])
    assert ("blocking", "rds_instances", rds_arn) in dependents
    assert len(dependents) == 6


def test_service_denying_access_is_unknown_not_empty(playbook, aws):
    _seed(aws)
    aws.set_faults([{"kind": "error", "service": "rds", "status": 403, "code": "AccessDenied",
                     "message": "User is not authorized to perform: rds:DescribeDBInstances"}])
    run = playbook.run([{"name": "Usage", "kmsrotate.aws.kms_key_usage_info": {
        "key_id": "alias/in-use", "services": ["rds_instances", "rds_clusters", "secretsmanager"]}}])
    assert run.rc == 0, run
    usage = run.result("Usage")
    assert usage["unknown_services"] == ["rds_clusters", "rds_instances"]
    assert usage["services"]["rds_instances"]["status"] == "unknown"
    assert "access denied" in usage["services"]["rds_instances"]["reasons"][0]
    assert "rds:DescribeDBInstances" in usage["services"]["rds_instances"]["reasons"][0]
    assert [entry["id"] for entry in usage["blocking_resources"]] == ["db-password"]
    assert usage["safe_to_retire"] is False
    assert sorted((entry["kind"], entry["resource"]) for entry in usage["dependents"] if entry["kind"] == "unknown") == [
        ("unknown", "rds_clusters"), ("unknown", "rds_instances")]
