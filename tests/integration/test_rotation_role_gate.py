"""The seven ways the retirement gate was fooled, through the rotation role: each ends with the key Enabled.

Each case is its own inventory host (its own source key), so two runs of
playbooks/rotate.yml cover them all: the first rotates everything (the cases
that need an earlier run retire nothing yet), then the estate is changed by
hand as a user would, and the second run must still refuse to retire. The
refusal must name what holds the key. (The seventh way, a boolean given as a
string, is test_rotation_role_booleans.py.)
"""

import boto3
import pytest

from test_rotation_role import ROLE, key_state, rotate, write_inventory

REFUSAL = ROLE + "Retire | refuse while something still needs the source key"


def _kms_object(s3, bucket, key, source, body=b"data"):
    return s3.put_object(Bucket=bucket, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=source)


def _key(kms, alias=None):
    arn = kms.create_key()["KeyMetadata"]["Arn"]
    if alias:
        kms.create_alias(AliasName=alias, TargetKeyId=arn)
    return arn


def _refusal(run, host):
    return run.result(REFUSAL, host=host)["msg"]


@pytest.mark.slow
def test_every_way_the_gate_was_fooled_ends_with_the_source_key_enabled(aws, playbook, tmp_path):
    kms, s3, ec2 = aws.client("kms"), aws.client("s3"), aws.client("ec2")
    keys = {}
    hosts = {}

    # 1. A narrowed bucket target: objects outside the prefix, and noncurrent versions, stay under the source key.
    keys["narrowed_prefix"] = _key(kms)
    s3.create_bucket(Bucket="gate-prefix")
    _kms_object(s3, "gate-prefix", "in/moved.txt", keys["narrowed_prefix"])
    _kms_object(s3, "gate-prefix", "out/left.txt", keys["narrowed_prefix"])
    hosts["narrowed_prefix"] = {"kms_rotation_s3_buckets": [{"name": "gate-prefix", "prefix": "in/"}]}
    keys["narrowed_versions"] = _key(kms)
    s3.create_bucket(Bucket="gate-versions")
    s3.put_bucket_versioning(Bucket="gate-versions", VersioningConfiguration={"Status": "Enabled"})
    _kms_object(s3, "gate-versions", "report.csv", keys["narrowed_versions"], b"old")
    _kms_object(s3, "gate-versions", "report.csv", keys["narrowed_versions"], b"new")
    hosts["narrowed_versions"] = {"kms_rotation_s3_buckets": [{"name": "gate-versions", "versions": "current"}]}

    # 2. References through an alias the key phase moves.
    keys["through_alias"] = _key(kms, alias="alias/gate-app")
    secret = aws.client("secretsmanager").create_secret(Name="gate-db", SecretString="pw", KmsKeyId="alias/gate-app")
    aws.client("ssm").put_parameter(Name="/gate/token", Value="t0ken", Type="SecureString", KeyId="alias/gate-app")
    aws.client("sqs").create_queue(QueueName="gate-jobs", Attributes={"KmsMasterKeyId": "alias/gate-app"})
    hosts["through_alias"] = {}

    # 3. A snapshot as the only EBS target: its volume, under the same key, is not a target.
    keys["snapshot_only"] = _key(kms)
    zone = ec2.describe_availability_zones()["AvailabilityZones"][0]["ZoneName"]
    snapshot_volume = ec2.create_volume(AvailabilityZone=zone, Size=1, Encrypted=True,
                                        KmsKeyId=keys["snapshot_only"])["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=snapshot_volume)["SnapshotId"]
    hosts["snapshot_only"] = {"kms_rotation_ebs_snapshot_ids": [snapshot]}

    # 4. A volume replaced in the first run, attached again by hand before the second.
    keys["reattached"] = _key(kms)
    replaced = ec2.create_volume(AvailabilityZone=zone, Size=1, Encrypted=True, KmsKeyId=keys["reattached"])["VolumeId"]
    hosts["reattached"] = {"kms_rotation_ebs_volume_ids": [replaced], "kms_rotation_retire": "none",
                           "kms_rotation_ebs_options": {"source_volume": "keep"}}

    # 7. A use of the source key by another caller after the rotation began (between the two runs).
    keys["used_by_another"] = _key(kms)
    blob = kms.encrypt(KeyId=keys["used_by_another"], Plaintext=b"a data key")["CiphertextBlob"]
    data_key = tmp_path / "used-by-another.key"
    data_key.write_bytes(kms.encrypt(KeyId=keys["used_by_another"], Plaintext=b"rotated")["CiphertextBlob"])
    hosts["used_by_another"] = {"kms_rotation_data_key_paths": [str(data_key)], "kms_rotation_retire": "none"}

    inventory = write_inventory(tmp_path / "inventory.yml", dict(
        (name, dict({"kms_rotation_source_key": keys[name]}, **options)) for name, options in hosts.items()))
    first = rotate(playbook, inventory, tmp_path, extra_args=["--forks", "6"])
    assert "out/left.txt" in _refusal(first, "narrowed_prefix") and "s3://gate-prefix" in _refusal(first, "narrowed_prefix")
    assert "s3://gate-versions" in _refusal(first, "narrowed_versions")
    aliased = _refusal(first, "through_alias")
    assert secret["ARN"] in aliased and "/gate/token" in aliased and "gate-jobs" in aliased
    assert "references alias/gate-app, which pointed at the source key until" in aliased, aliased
    assert snapshot_volume in _refusal(first, "snapshot_only")
    for name in ("reattached", "used_by_another"):
        assert first.stats(name)["failures"] == 0, (name, first)

    # Between the runs: the replaced volume goes back into use, and another caller uses the key.
    instance = ec2.run_instances(ImageId="ami-12c6146b", InstanceType="t3.micro", MinCount=1, MaxCount=1,
                                 Placement={"AvailabilityZone": zone})["Instances"][0]["InstanceId"]
    ec2.attach_volume(VolumeId=replaced, InstanceId=instance, Device="/dev/sdf")
    iam = aws.client("iam")
    iam.create_user(UserName="gate-batch-job")
    access_key = iam.create_access_key(UserName="gate-batch-job")["AccessKey"]
    other_caller = iam.get_user(UserName="gate-batch-job")["User"]["Arn"]
    boto3.client("kms", region_name="us-east-1", endpoint_url=aws.url, aws_access_key_id=access_key["AccessKeyId"],
                 aws_secret_access_key=access_key["SecretAccessKey"]).decrypt(CiphertextBlob=blob)

    # 5. An object whose encryption cannot be read: HeadObject answers a bare 400 that is not SSE-C.
    keys["unreadable"] = _key(kms)
    s3.create_bucket(Bucket="gate-unreadable")
    _kms_object(s3, "gate-unreadable", "blob.bin", keys["unreadable"])

    second_hosts = {
        "reattached": {"kms_rotation_ebs_volume_ids": [replaced], "kms_rotation_ebs_options": {"source_volume": "keep"}},
        "used_by_another": {"kms_rotation_data_key_paths": [str(data_key)]},
        "unreadable": {"kms_rotation_s3_buckets": ["gate-unreadable"]},
    }
    inventory = write_inventory(tmp_path / "inventory-second.yml", dict(
        (name, dict({"kms_rotation_source_key": keys[name]}, **options)) for name, options in second_hosts.items()))
    aws.set_faults([{"kind": "error", "service": "s3", "action": "HeadObject", "status": 400, "code": "400",
                     "message": "Bad Request"}])
    second = rotate(playbook, inventory, tmp_path, extra_args=["--forks", "3"])
    aws.clear_faults()
    reattached = _refusal(second, "reattached")
    assert replaced in reattached and instance in reattached, reattached
    used = _refusal(second, "used_by_another")
    assert other_caller in used and "Decrypt" in used, used
    unreadable = _refusal(second, "unreadable")
    assert "s3://gate-unreadable" in unreadable and "[unknown]" in unreadable, unreadable

    for name, arn in keys.items():
        assert key_state(kms, arn) == "Enabled", name
