"""ebs_kms_migrate through ansible-playbook: the paths that used to lose data, and the lease between two runs."""

import datetime

from test_ebs_kms_migrate import Estate, _by_volume, _task

import pytest

LEASE_TAG = "kmsrotate:lease"


@pytest.fixture
def estate(aws):
    return Estate(aws)


def _tags(resource):
    return dict((tag["Key"], tag["Value"]) for tag in resource.get("Tags", []))


def _lease(expires):
    return "run=other-run;expires={0}".format(expires.strftime("%Y-%m-%dT%H:%M:%SZ"))


def test_writes_made_between_an_interrupted_run_and_its_rerun_are_not_lost(playbook, aws, estate):
    volume_id = estate.gp3_volume()
    # The first run builds the replacement and removes its snapshot, then is interrupted before deleting the source.
    aws.set_faults([{"kind": "error", "service": "ec2", "action": "DeleteVolume", "count": 1, "status": 400,
                     "code": "UnauthorizedOperation", "message": "injected interruption"}])
    first = playbook.run(_task(volume_ids=[volume_id], source_volume="delete"))
    assert first.rc != 0, first
    aws.clear_faults()
    stale = estate.ec2.describe_volumes(Filters=[{"Name": "tag:kmsrotate:source-volume", "Values": [volume_id]}])[
        "Volumes"]
    assert len(stale) == 1
    # Then the source is attached to an instance and written to; the instance is stopped again.
    instance_id, _root, _data = estate.instance_with_data_volume(stopped=True)
    estate.ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdg")

    rerun = playbook.run(_task(volume_ids=[volume_id], source_volume="delete"))
    assert rerun.rc == 0, rerun
    new_id = rerun.result("migrate")["volumes"][0]["new_volume_id"]
    assert new_id != stale[0]["VolumeId"]
    assert estate.devices(instance_id)["/dev/sdg"]["VolumeId"] == new_id
    remaining = set(volume["VolumeId"] for volume in estate.ec2.describe_volumes()["Volumes"])
    assert volume_id not in remaining and stale[0]["VolumeId"] not in remaining


def test_an_instance_with_an_instance_store_is_stopped_only_when_its_loss_is_allowed(playbook, estate):
    instance_id, root_id, data_id = estate.instance_with_data_volume(instance_type="m5d.large")
    before = estate.counts()
    refused = playbook.run(_task(volume_ids=[root_id, data_id], allow_stop=True))
    assert refused.rc != 0, refused
    result = refused.result("migrate")
    for entry in result["volumes"]:
        assert entry["action"] == "failed" and instance_id in entry["reason"] and "m5d.large" in entry["reason"]
        assert "allow_instance_store_loss: true" in entry["fix"]
    assert estate.counts() == before and estate.instance(instance_id)["State"]["Name"] == "running"

    allowed = playbook.run(_task(volume_ids=[root_id, data_id], allow_stop=True, allow_instance_store_loss=True))
    assert allowed.rc == 0, allowed
    assert allowed.result("migrate")["counts"]["volumes"]["migrated"] == 2
    assert allowed.result("migrate")["instances_stopped"] == [instance_id]


def test_a_snapshot_copy_is_shared_like_its_source(playbook, estate):
    volume_id = estate.gp3_volume()
    snapshot_id = estate.ec2.create_snapshot(VolumeId=volume_id, Description="shared backup")["SnapshotId"]
    estate.ec2.modify_snapshot_attribute(SnapshotId=snapshot_id, Attribute="createVolumePermission",
                                         OperationType="add", UserIds=["111122223333"])
    run = playbook.run(_task(snapshot_ids=[snapshot_id], source_snapshot="delete"))
    assert run.rc == 0, run
    copy_id = run.result("migrate")["snapshots"][0]["new_snapshot_id"]
    shared = estate.ec2.describe_snapshot_attribute(SnapshotId=copy_id, Attribute="createVolumePermission")
    assert shared["CreateVolumePermissions"] == [{"UserId": "111122223333"}]
    assert estate.ec2.describe_snapshots(SnapshotIds=[copy_id])["Snapshots"][0]["Description"] == "shared backup"


def test_the_recheck_reports_a_replaced_volume_in_use_again_as_blocking(playbook, estate):
    volume_id = estate.gp3_volume()
    first = playbook.run(_task(volume_ids=[volume_id]))
    assert first.rc == 0, first
    new_id = first.result("migrate")["volumes"][0]["new_volume_id"]
    instance_id, _root, _data = estate.instance_with_data_volume(stopped=True)
    estate.ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdg")

    recheck = playbook.run(_task(volume_ids=[volume_id]), check=True)
    assert recheck.rc == 0, recheck
    result = recheck.result("migrate")
    assert _by_volume(result)[volume_id]["action"] == "reattached" and result["blocking"] == 1
    (dependent,) = result["dependents"]
    assert dependent["kind"] == "blocking" and dependent["reason"].startswith(
        "replaced by {0} in an earlier run but attached again to {1}".format(new_id, instance_id))


def test_a_live_lease_of_another_run_is_waited_for_and_an_expired_one_taken_over(playbook, estate):
    instance_id, root_id, data_id = estate.instance_with_data_volume()
    now = datetime.datetime.now(datetime.timezone.utc)
    estate.ec2.create_tags(Resources=[instance_id], Tags=[
        {"Key": LEASE_TAG, "Value": _lease(now + datetime.timedelta(hours=2))}])
    before = estate.counts()
    waited = playbook.run(_task(volume_ids=[root_id, data_id], allow_stop=True, wait_timeout=2))
    assert waited.rc != 0, waited
    for entry in waited.result("migrate")["volumes"]:
        assert entry["action"] == "failed" and "being swapped by another run" in entry["reason"]
    assert estate.counts() == before and estate.instance(instance_id)["State"]["Name"] == "running"
    assert _tags(estate.instance(instance_id))[LEASE_TAG].startswith("run=other-run;")

    # That run died: once its lease has expired, the next run takes the instance over.
    estate.ec2.create_tags(Resources=[instance_id], Tags=[
        {"Key": LEASE_TAG, "Value": _lease(now - datetime.timedelta(minutes=1))}])
    taken = playbook.run(_task(volume_ids=[root_id, data_id], allow_stop=True))
    assert taken.rc == 0, taken
    assert taken.result("migrate")["counts"]["volumes"]["migrated"] == 2
    assert LEASE_TAG not in _tags(estate.instance(instance_id))
    assert estate.devices(instance_id)["/dev/sdf"]["VolumeId"] == _by_volume(taken.result("migrate"))[data_id][
        "new_volume_id"]
