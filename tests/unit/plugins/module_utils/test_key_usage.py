"""key_usage: discovery of what depends on a key, service by service, on moto in-process."""

import base64

import boto3
import pytest
from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper

from ansible_collections.kmsrotate.aws.plugins.module_utils import key_usage
from ansible_collections.kmsrotate.aws.plugins.module_utils.aws import aws_retry
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError

REGION = "us-east-1"


@pytest.fixture
def clients(aws_client):
    def client(service, region):
        if region in (None, REGION):
            return aws_client(service)
        return RetryingBotoClientWrapper(boto3.client(service, region_name=region), aws_retry)
    return client


@pytest.fixture
def key(clients):
    kms = clients("kms", None)
    metadata = kms.create_key(Description="app data")["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=metadata["KeyId"])
    return metadata


@pytest.fixture
def other_key(clients):
    return clients("kms", None).create_key()["KeyMetadata"]


def _ids(result, service):
    return sorted(entry["id"] for entry in result["services"][service]["resources"])


def _estate(clients, key, other_key):
    """Resources under the key (named `uses-*`) and under another key (`other-*`), key named every way."""
    s3 = clients("s3", None)
    for name, ref in (("uses-bucket", "alias/app"), ("other-bucket", other_key["Arn"])):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ref}}]})
    ec2 = clients("ec2", None)
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=key["Arn"])
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=other_key["Arn"])
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])
    clients("rds", None).create_db_instance(
        DBInstanceIdentifier="uses-db", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key["KeyId"])
    secrets = clients("secretsmanager", None)
    secrets.create_secret(Name="uses-secret", SecretString="x", KmsKeyId="alias/app")
    secrets.create_secret(Name="other-secret", SecretString="x", KmsKeyId=other_key["KeyId"])
    clients("ssm", None).put_parameter(Name="/uses/param", Value="x", Type="SecureString", KeyId=key["Arn"])
    clients("sqs", None).create_queue(QueueName="uses-queue", Attributes={"KmsMasterKeyId": key["KeyId"]})
    clients("sns", None).create_topic(Name="uses-topic", Attributes={"KmsMasterKeyId": "alias/app"})
    clients("logs", None).create_log_group(logGroupName="uses-logs", kmsKeyId=key["Arn"])
    clients("kms", None).create_grant(KeyId=key["KeyId"], GranteePrincipal="arn:aws:iam::123456789012:role/app",
                                      Operations=["Decrypt"])
    return volume["VolumeId"], snapshot["SnapshotId"]


def test_discovers_movable_and_blocking_users(clients, key, other_key):
    volume_id, snapshot_id = _estate(clients, key, other_key)
    result = key_usage.discover_key_usage(clients, "alias/app")
    assert result["key_arn"] == key["Arn"]
    assert result["changed"] is False
    assert _ids(result, "s3") == ["uses-bucket"]
    assert _ids(result, "ebs_volumes") == [volume_id]
    assert _ids(result, "rds_instances") == ["uses-db"]
    assert _ids(result, "secretsmanager") == ["uses-secret"]
    assert _ids(result, "ssm") == ["/uses/param"]
    assert _ids(result, "sqs") == ["uses-queue"]
    assert _ids(result, "sns") == ["uses-topic"]
    assert _ids(result, "logs") == ["uses-logs"]
    assert result["services"]["grants"]["resources"][0]["grantee_principal"] == "arn:aws:iam::123456789012:role/app"
    movable = sorted(entry["id"] for entry in result["movable_resources"])
    assert "uses-bucket" in movable and volume_id in movable
    blocking_types = sorted(entry["resource_type"] for entry in result["blocking_resources"])
    assert blocking_types == ["kms_grant", "logs_log_group", "rds_db_instance", "secretsmanager_secret",
                              "sns_topic", "sqs_queue", "ssm_parameter"]
    assert result["blocking"] == 7
    assert result["movable"] == len(result["movable_resources"])
    assert result["safe_to_retire"] is False
    # The snapshot inherits the volume's key on AWS (and through the EC2 fidelity layer).
    assert _ids(result, "ebs_snapshots") == [snapshot_id]


def test_unused_key_is_safe_to_retire(clients, key):
    result = key_usage.discover_key_usage(clients, key["Arn"], services=["s3", "rds_instances", "grants"])
    assert result["in_use"] == 0
    assert result["unknown_services"] == []
    assert result["safe_to_retire"] is True
    assert sorted(result["services"]) == ["grants", "rds_instances", "s3"]


def test_unreadable_service_is_unknown_never_empty(clients, key, monkeypatch):
    def denied(_ctx):
        raise boto3.client("rds", region_name=REGION).exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DescribeDBInstances")
    monkeypatch.setattr(key_usage, "FINDERS", tuple(
        (name, denied if name == "rds_instances" else finder, movable) for name, finder, movable in key_usage.FINDERS))
    result = key_usage.discover_key_usage(clients, key["KeyId"], services=["rds_instances", "s3"])
    assert result["services"]["rds_instances"]["status"] == "unknown"
    assert "access denied" in result["services"]["rds_instances"]["reasons"][0]
    assert result["unknown_services"] == ["rds_instances"]
    assert result["safe_to_retire"] is False


def test_ebs_default_key_is_movable(clients, key):
    clients("ec2", None).modify_ebs_default_kms_key_id(KmsKeyId=key["Arn"])
    result = key_usage.discover_key_usage(clients, "alias/app", services=["ebs_default_key"])
    assert [entry["id"] for entry in result["movable_resources"]] == [REGION]


def test_data_key_files_under_the_key(clients, key, other_key, tmp_path):
    kms = clients("kms", None)
    contents = {}
    for name, key_id in (("uses.key", key["KeyId"]), ("other.key", other_key["KeyId"])):
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"0" * 32)["CiphertextBlob"]
        contents[name] = base64.b64encode(blob).decode()
        (tmp_path / name).write_text(contents[name])
    result = key_usage.discover_key_usage(clients, key["Arn"], services=["s3"],
                                          data_key_paths=[str(tmp_path / "*.key")])
    assert _ids(result, "data_key_files") == [str(tmp_path / "uses.key")]
    assert result["services"]["data_key_files"]["resources"][0]["movable"] is True
    assert dict((name, (tmp_path / name).read_text()) for name in contents) == contents, "nothing is rewritten"


def test_scan_objects_counts_versions_under_the_key_with_a_cap(clients, key):
    s3 = clients("s3", None)
    s3.create_bucket(Bucket="scanned")
    s3.put_bucket_versioning(Bucket="scanned", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket="scanned", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}}]})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket="scanned", Key="object", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    s3.put_object(Bucket="scanned", Key="plain", Body=b"x", ServerSideEncryption="AES256")
    full = key_usage.discover_key_usage(clients, key["Arn"], services=["s3"], scan_objects=True)
    bucket = full["services"]["s3"]["resources"][0]
    assert (bucket["object_versions_scanned"], bucket["object_versions_under_key"], bucket["scan_truncated"]) == (
        4, 3, False)
    capped = key_usage.discover_key_usage(clients, key["Arn"], services=["s3"], scan_objects=True,
                                          object_scan_limit=2)
    assert capped["services"]["s3"]["resources"][0]["object_versions_scanned"] == 2
    assert capped["services"]["s3"]["resources"][0]["scan_truncated"] is True


def test_last_usage_is_reported(clients, key):
    clients("kms", None).encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    result = key_usage.discover_key_usage(clients, key["KeyId"], services=["s3"])
    assert result["last_usage"]["available"] is True
    assert result["last_usage"]["operation"] == "Encrypt"


def test_single_region_key_skips_other_regions(clients, key):
    result = key_usage.discover_key_usage(clients, key["KeyId"], regions=[REGION, "eu-west-1"], services=["s3"])
    assert result["regions"] == [REGION]
    assert result["regions_skipped"] == ["eu-west-1"]


def test_multi_region_key_found_through_its_replica(clients):
    primary = clients("kms", None).create_key(MultiRegion=True)["KeyMetadata"]
    replica = clients("kms", None).replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")["ReplicaKeyMetadata"]
    clients("secretsmanager", "eu-west-1").create_secret(Name="replica-secret", SecretString="x",
                                                         KmsKeyId=replica["Arn"])
    result = key_usage.discover_key_usage(clients, primary["Arn"], regions=[REGION, "eu-west-1"],
                                          services=["secretsmanager"])
    assert [(entry["id"], entry["region"]) for entry in result["blocking_resources"]] == [
        ("replica-secret", "eu-west-1")]


def test_unknown_service_name_is_refused(clients, key):
    with pytest.raises(RotationError):
        key_usage.discover_key_usage(clients, key["KeyId"], services=["s4"])
