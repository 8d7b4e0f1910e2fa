"""The EC2/EBS fidelity layer: each behaviour AWS documents, checked over HTTP."""

import pytest
from botocore.exceptions import ClientError

AZ = "us-east-1a"


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def key(kms):
    metadata = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/fidelity", TargetKeyId=metadata["KeyId"])
    return metadata


@pytest.fixture
def encrypted_volume(ec2, key):
    return ec2.create_volume(AvailabilityZone=AZ, Size=2, Encrypted=True, KmsKeyId=key["KeyId"])


@pytest.fixture
def instance(ec2, key):
    reservation = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": AZ},
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1",
                              "Ebs": {"VolumeSize": 8, "Encrypted": True, "KmsKeyId": key["Arn"],
                                      "DeleteOnTermination": True}}])
    return reservation["Instances"][0]


def _root_volume_id(instance):
    return instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]


def test_volume_key_is_reported_as_its_arn(ec2, key):
    volume = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId="alias/fidelity")
    described = ec2.describe_volumes(VolumeIds=[volume["VolumeId"]])["Volumes"][0]
    assert described["KmsKeyId"] == key["Arn"]


def test_snapshot_inherits_volume_key(ec2, key, encrypted_volume):
    snapshot_id = ec2.create_snapshot(VolumeId=encrypted_volume["VolumeId"])["SnapshotId"]
    snapshot = ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]
    assert snapshot["Encrypted"] is True
    assert snapshot["KmsKeyId"] == key["Arn"]


def test_volume_from_snapshot_inherits_snapshot_key(ec2, key, encrypted_volume):
    snapshot_id = ec2.create_snapshot(VolumeId=encrypted_volume["VolumeId"])["SnapshotId"]
    volume = ec2.create_volume(AvailabilityZone=AZ, SnapshotId=snapshot_id)
    assert volume["Encrypted"] is True
    assert volume["KmsKeyId"] == key["Arn"]


@pytest.mark.parametrize("operation", ["create_volume", "copy_snapshot"])
def test_missing_key_is_refused(ec2, encrypted_volume, operation):
    snapshot_id = ec2.create_snapshot(VolumeId=encrypted_volume["VolumeId"])["SnapshotId"]
    calls = {
        "create_volume": lambda: ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True,
                                                   KmsKeyId="alias/does-not-exist"),
        "copy_snapshot": lambda: ec2.copy_snapshot(SourceSnapshotId=snapshot_id, SourceRegion="us-east-1",
                                                   Encrypted=True, KmsKeyId="alias/does-not-exist"),
    }
    with pytest.raises(ClientError) as excinfo:
        calls[operation]()
    assert _code(excinfo) == "InvalidKMSKey.NotFound"


@pytest.mark.parametrize("operation", ["create_volume", "copy_snapshot"])
def test_disabled_key_is_refused(ec2, kms, encrypted_volume, operation):
    snapshot_id = ec2.create_snapshot(VolumeId=encrypted_volume["VolumeId"])["SnapshotId"]
    disabled = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=disabled["KeyId"])
    calls = {
        "create_volume": lambda: ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True,
                                                   KmsKeyId=disabled["Arn"]),
        "copy_snapshot": lambda: ec2.copy_snapshot(SourceSnapshotId=snapshot_id, SourceRegion="us-east-1",
                                                   Encrypted=True, KmsKeyId=disabled["Arn"]),
    }
    with pytest.raises(ClientError) as excinfo:
        calls[operation]()
    assert _code(excinfo) == "InvalidKMSKey.InvalidState"


def test_volume_from_snapshot_with_disabled_key_is_refused(ec2, kms, key, encrypted_volume):
    snapshot_id = ec2.create_snapshot(VolumeId=encrypted_volume["VolumeId"])["SnapshotId"]
    kms.disable_key(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as excinfo:
        ec2.create_volume(AvailabilityZone=AZ, SnapshotId=snapshot_id)
    assert _code(excinfo) == "InvalidKMSKey.InvalidState"


def test_attaching_a_volume_in_use_is_volume_in_use(ec2, instance):
    with pytest.raises(ClientError) as excinfo:
        ec2.attach_volume(VolumeId=_root_volume_id(instance), InstanceId=instance["InstanceId"], Device="/dev/sdz")
    assert _code(excinfo) == "VolumeInUse"
    mappings = ec2.describe_instances(InstanceIds=[instance["InstanceId"]])["Reservations"][0]["Instances"][0][
        "BlockDeviceMappings"]
    assert [mapping["DeviceName"] for mapping in mappings] == ["/dev/sda1"]


def test_root_volume_of_running_instance_cannot_be_detached(ec2, instance):
    with pytest.raises(ClientError) as excinfo:
        ec2.detach_volume(VolumeId=_root_volume_id(instance))
    assert _code(excinfo) == "IncorrectState"
    ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
    ec2.detach_volume(VolumeId=_root_volume_id(instance), InstanceId=instance["InstanceId"])
    assert ec2.describe_volumes(VolumeIds=[_root_volume_id(instance)])["Volumes"][0]["State"] == "available"


def test_detach_without_instance_id_detaches_from_its_instance(ec2, instance, encrypted_volume):
    ec2.attach_volume(VolumeId=encrypted_volume["VolumeId"], InstanceId=instance["InstanceId"], Device="/dev/sdf")
    ec2.detach_volume(VolumeId=encrypted_volume["VolumeId"])
    assert ec2.describe_volumes(VolumeIds=[encrypted_volume["VolumeId"]])["Volumes"][0]["Attachments"] == []


def test_attachments_report_delete_on_termination(ec2, instance, encrypted_volume):
    ec2.attach_volume(VolumeId=encrypted_volume["VolumeId"], InstanceId=instance["InstanceId"], Device="/dev/sdf")
    volumes = ec2.describe_volumes(VolumeIds=[_root_volume_id(instance), encrypted_volume["VolumeId"]])["Volumes"]
    flags = {volume["VolumeId"]: volume["Attachments"][0]["DeleteOnTermination"] for volume in volumes}
    assert flags == {_root_volume_id(instance): True, encrypted_volume["VolumeId"]: False}
