"""The engine of kms_key_usage_info: discovery of what depends on a key, across services, on moto in-process."""

import boto3
import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery import context, usage

REGION = "us-east-1"


def _ids(result, service):
    return sorted(entry["id"] for entry in result["services"][service]["resources"])


def _estate(clients, key, other_key):
    """Resources under the key (named `uses-*`) and under another key (`other-*`), key named every way."""
    s3 = clients("s3")
    for name, ref in (("uses-bucket", "alias/app"), ("other-bucket", other_key["Arn"])):
        s3.create_bucket(Bucket=name)
        s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
            {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": ref}}]})
    ec2 = clients("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=key["Arn"])
    ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=other_key["Arn"])
    snapshot = ec2.create_snapshot(VolumeId=volume["VolumeId"])
    clients("rds").create_db_instance(
        DBInstanceIdentifier="uses-db", DBInstanceClass="db.t3.micro", Engine="postgres", AllocatedStorage=20,
        MasterUsername="admin", MasterUserPassword="not-a-real-password", StorageEncrypted=True, KmsKeyId=key["KeyId"])
    secrets = clients("secretsmanager")
    secrets.create_secret(Name="uses-secret", SecretString="x", KmsKeyId="alias/app")
    secrets.create_secret(Name="other-secret", SecretString="x", KmsKeyId=other_key["KeyId"])
    clients("ssm").put_parameter(Name="/uses/param", Value="x", Type="SecureString", KeyId=key["Arn"])
    clients("sqs").create_queue(QueueName="uses-queue", Attributes={"KmsMasterKeyId": key["KeyId"]})
    clients("sns").create_topic(Name="uses-topic", Attributes={"KmsMasterKeyId": "alias/app"})
    clients("logs").create_log_group(logGroupName="uses-logs", kmsKeyId=key["Arn"])
    grant = clients("kms").create_grant(KeyId=key["KeyId"], GranteePrincipal="arn:aws:iam::123456789012:role/app",
                                        Operations=["Decrypt"])
    return volume["VolumeId"], snapshot["SnapshotId"], grant["GrantId"]


def test_discovers_movable_and_blocking_users(clients, discover, key, other_key):
    volume_id, snapshot_id, _grant_id = _estate(clients, key, other_key)
    result = discover("alias/app")
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


def test_dependents_name_each_resource_found_once(clients, discover, key, other_key):
    volume_id, snapshot_id, grant_id = _estate(clients, key, other_key)
    result = discover("alias/app")
    by_resource = dict((entry["resource"], entry) for entry in result["dependents"])
    assert len(by_resource) == len(result["dependents"]) == len(result["resources"])
    resource_arns = dict((entry["resource_type"], entry["arn"]) for entry in result["resources"])
    assert sorted(by_resource) == sorted([
        "s3://uses-bucket", volume_id, snapshot_id, resource_arns["rds_db_instance"], resource_arns["secretsmanager_secret"],
        # moto's DescribeParameters gives no ARN: the name stands in.
        resource_arns["ssm_parameter"] or "/uses/param", resource_arns["sqs_queue"], resource_arns["sns_topic"],
        resource_arns["logs_log_group"], grant_id])
    assert by_resource["s3://uses-bucket"]["kind"] == "to_move"
    assert by_resource["s3://uses-bucket"]["service"] == "s3"
    assert by_resource["s3://uses-bucket"]["reason"].startswith("s3 s3_bucket_default_encryption uses the key; ")
    assert by_resource[volume_id]["kind"] == by_resource[snapshot_id]["kind"] == "to_move"
    rds = by_resource[resource_arns["rds_db_instance"]]
    assert (rds["kind"], rds["service"]) == ("blocking", "rds_instances")
    assert rds["reason"].startswith("rds_instances rds_db_instance uses the key; ")
    assert by_resource[grant_id]["service"] == "grants"
    assert set(entry["key_arn"] for entry in result["dependents"]) == {key["Arn"]}
    assert set(entry["count"] for entry in result["dependents"]) == {1}


@pytest.mark.parametrize("resource_type, service", [
    ("ami", "ami"), ("ebs_volume", "ebs_volumes"), ("ebs_snapshot", "ebs_snapshots")])
def test_dependents_name_ec2_resources_by_id_even_with_an_arn(discover, key, monkeypatch, resource_type, service):
    def finder(ctx):
        yield context.Found(resource_type, "res-1", "arn:aws:ec2:us-east-1:123456789012:thing/res-1", ctx.key_arn, {})
    monkeypatch.setattr(usage, "FINDERS", tuple(
        (name, finder if name == service else found, movable) for name, found, movable in usage.FINDERS))
    result = discover(key["KeyId"], services=[service])
    assert [entry["resource"] for entry in result["dependents"]] == ["res-1"]


def test_unused_key_is_safe_to_retire(discover, key):
    result = discover(key["Arn"], services=["s3", "rds_instances", "grants"])
    assert result["in_use"] == 0
    assert result["unknown_services"] == []
    assert result["safe_to_retire"] is True
    assert sorted(result["services"]) == ["grants", "rds_instances", "s3"]
    assert result["dependents"] == []


def test_unreadable_service_is_unknown_never_empty(discover, key, monkeypatch):
    def denied(_ctx):
        raise boto3.client("rds", region_name=REGION).exceptions.ClientError(
            {"Error": {"Code": "AccessDenied", "Message": "not allowed"}}, "DescribeDBInstances")
    monkeypatch.setattr(usage, "FINDERS", tuple(
        (name, denied if name == "rds_instances" else finder, movable) for name, finder, movable in usage.FINDERS))
    result = discover(key["KeyId"], services=["rds_instances", "s3"])
    assert result["services"]["rds_instances"]["status"] == "unknown"
    assert "access denied" in result["services"]["rds_instances"]["reasons"][0]
    assert result["unknown_services"] == ["rds_instances"]
    assert result["safe_to_retire"] is False
    reason = "could not be read: us-east-1: access denied: AccessDenied: not allowed"
    assert result["dependents"] == [{
        "resource": "rds_instances", "service": "rds_instances", "kind": "unknown", "key_arn": key["Arn"], "count": 1,
        "reason": reason, "planned": False, "line": "[unknown] rds_instances: 1 - " + reason}]
    assert result["holding_back"] == result["dependents"]


def test_single_region_key_skips_other_regions(discover, key):
    result = discover(key["KeyId"], regions=[REGION, "eu-west-1"], services=["s3"])
    assert result["regions"] == [REGION]
    assert result["regions_skipped"] == ["eu-west-1"]


def test_multi_region_key_found_through_its_replica(clients, discover):
    primary = clients("kms").create_key(MultiRegion=True)["KeyMetadata"]
    replica = clients("kms").replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")["ReplicaKeyMetadata"]
    clients("secretsmanager", "eu-west-1").create_secret(Name="replica-secret", SecretString="x",
                                                         KmsKeyId=replica["Arn"])
    result = discover(primary["Arn"], regions=[REGION, "eu-west-1"], services=["secretsmanager"])
    assert [(entry["id"], entry["region"]) for entry in result["blocking_resources"]] == [
        ("replica-secret", "eu-west-1")]
    assert [entry["key_arn"] for entry in result["dependents"]] == [replica["Arn"]]


def test_every_finder_shares_the_engines_one_limit(engine, discover, key, monkeypatch):
    limits = []

    def recording(listed, work, limit):
        limits.append(limit)
        return run_bounded(listed, work, limit)
    monkeypatch.setattr(context, "run_bounded", recording)
    clients = engine.clients
    clients("s3").create_bucket(Bucket="one")
    clients("dynamodb").create_table(TableName="one", KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                                     AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                                     BillingMode="PAY_PER_REQUEST")
    clients("sqs").create_queue(QueueName="one")
    clients("sns").create_topic(Name="one")
    discover(key["KeyId"], services=["s3", "dynamodb", "sqs", "sns"])
    assert len(limits) == 4
    assert all(limit is engine.limit for limit in limits)


@pytest.mark.parametrize("option", ["concurrency", "object_scan_limit"])
def test_counts_below_one_are_refused(option):
    with pytest.raises(RotationError, match=option):
        usage.UsageSpec(key_id="alias/app", **{option: 0})
