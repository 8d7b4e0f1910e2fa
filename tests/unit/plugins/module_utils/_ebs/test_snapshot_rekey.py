"""Snapshot copies: shared like their source, and a copy under another key is never taken for this run's."""

from test_migrate import AZ, _migrate, _snapshots

ACCOUNTS = ["111122223333", "444455556666"]


def _permissions(ec2, snapshot_id):
    answer = ec2.describe_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission")
    return sorted(entry.get("UserId") or entry.get("Group") for entry in answer["CreateVolumePermissions"])


def _source_snapshot(ec2, source, description="nightly"):
    volume_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    return ec2.create_snapshot(VolumeId=volume_id, Description=description)["SnapshotId"]


def test_a_copy_is_shared_with_the_accounts_its_source_is_shared_with_before_the_source_goes(estate):
    ec2, kms, source, destination = estate
    shared_id = _source_snapshot(ec2, source)
    ec2.modify_snapshot_attribute(SnapshotId=shared_id, Attribute="createVolumePermission", OperationType="add",
                                  UserIds=ACCOUNTS)
    private_id = _source_snapshot(ec2, source, description="private")
    result = _migrate(ec2, kms, snapshot_ids=[shared_id, private_id], source_snapshot="delete")
    copies = dict((entry["snapshot_id"], entry["new_snapshot_id"]) for entry in result["snapshots"])
    assert _permissions(ec2, copies[shared_id]) == ACCOUNTS
    assert _permissions(ec2, copies[private_id]) == []
    described = dict((snapshot["SnapshotId"], snapshot) for snapshot in _snapshots(ec2))
    assert sorted(described) == sorted(copies.values())  # the sources are deleted
    assert [(described[copies[snapshot_id]]["KmsKeyId"], described[copies[snapshot_id]]["Description"])
            for snapshot_id in (shared_id, private_id)] == [(destination["Arn"], "nightly"), (destination["Arn"], "private")]


def test_a_tagged_copy_under_another_key_is_not_reused(estate):
    ec2, kms, source, destination = estate
    snapshot_id = _source_snapshot(ec2, source)
    # An interrupted run towards another destination left its copy, tagged with the source.
    other = kms.create_key()["KeyMetadata"]
    stray_id = ec2.copy_snapshot(
        SourceSnapshotId=snapshot_id, SourceRegion="us-east-1", Encrypted=True, KmsKeyId=other["Arn"],
        TagSpecifications=[{"ResourceType": "snapshot",
                            "Tags": [{"Key": "kmsrotate:source-snapshot", "Value": snapshot_id}]}])["SnapshotId"]
    entry = _migrate(ec2, kms, snapshot_ids=[snapshot_id])["snapshots"][0]
    assert entry["action"] == "rekeyed" and entry["new_snapshot_id"] != stray_id
    copy = ec2.describe_snapshots(SnapshotIds=[entry["new_snapshot_id"]])["Snapshots"][0]
    assert copy["KmsKeyId"] == destination["Arn"]
    tags = dict((tag["Key"], tag["Value"]) for tag in ec2.describe_snapshots(SnapshotIds=[snapshot_id])["Snapshots"][0]["Tags"])
    assert tags["kmsrotate:replaced-by"] == entry["new_snapshot_id"]
