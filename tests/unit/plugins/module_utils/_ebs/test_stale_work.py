"""What an interrupted run left is used again only while it holds all the volume's data; replaced volumes in use again."""

import datetime
import time

from test_migrate import AZ, CrashingClient, _attach_data_volume, _dependents, _migrate, _run_instance, _snapshots
from test_migrate import _tags, _volume

from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.volume_swap import unwritten_since

T0 = datetime.datetime(2026, 1, 1, 12, 0, 0, tzinfo=datetime.timezone.utc)
BEFORE, AFTER = T0 - datetime.timedelta(minutes=5), T0 + datetime.timedelta(minutes=5)


def _attached(attach_time=BEFORE, instance_id="i-1"):
    attachment = {"InstanceId": instance_id, "Device": "/dev/sdf"}
    if attach_time is not None:
        attachment["AttachTime"] = attach_time
    return {"VolumeId": "vol-1", "Attachments": [attachment]}


def _instance_state(state="stopped", launch_time=BEFORE, instance_id="i-1"):
    instance = {"InstanceId": instance_id, "State": {"Name": state}}
    if launch_time is not None:
        instance["LaunchTime"] = launch_time
    return instance


def test_a_final_snapshot_holds_the_volume_only_if_nothing_wrote_since():
    # Unattached: nothing can write to it (an attach and detach between runs leaves no trace to see).
    assert unwritten_since({"VolumeId": "vol-1", "Attachments": []}, None, T0)
    # Attached before the snapshot, to an instance stopped since before it: the snapshot holds everything.
    assert unwritten_since(_attached(), _instance_state(), T0)
    # Attached since, launched since (started and stopped again), or running now: it may have been written.
    assert not unwritten_since(_attached(attach_time=AFTER), _instance_state(), T0)
    assert not unwritten_since(_attached(), _instance_state(launch_time=AFTER), T0)
    assert not unwritten_since(_attached(), _instance_state(state="running"), T0)
    # An attachment or launch at the same instant, or one that cannot be dated, counts as newer.
    assert not unwritten_since(_attached(attach_time=T0), _instance_state(), T0)
    assert not unwritten_since(_attached(attach_time=None), _instance_state(), T0)
    assert not unwritten_since(_attached(), _instance_state(launch_time=None), T0)
    # The snapshot is gone (None), or the instance described is not the one it is attached to.
    assert not unwritten_since(_attached(), _instance_state(), None)
    assert not unwritten_since(_attached(), _instance_state(instance_id="i-2"), T0)


def _interrupted(ec2, kms, volume_id, crash_at, **options):
    """Run the engine on one volume until its crash_at-th mutating call 'kills the process'."""
    _migrate(CrashingClient(ec2, crash_at), kms, volume_ids=[volume_id], concurrency=1, **options)


def _replacements_of(ec2, volume_id):
    return ec2.describe_volumes(Filters=[{"Name": "tag:kmsrotate:source-volume", "Values": [volume_id]}])["Volumes"]


def test_a_replacement_is_rebuilt_when_its_source_was_attached_since_and_reused_when_not(estate, lease_time):
    ec2, kms, source, _destination = estate
    kept_id, used_id = [ec2.create_volume(AvailabilityZone=AZ, Size=2, Encrypted=True,
                                          KmsKeyId=source["Arn"])["VolumeId"] for _index in range(2)]
    for volume_id in (kept_id, used_id):
        # Mutations of an unattached volume: CreateSnapshot, CreateVolume, DeleteSnapshot (killed), CreateTags.
        _interrupted(ec2, kms, volume_id, crash_at=3)
    (kept_replacement,), (stale_replacement,) = _replacements_of(ec2, kept_id), _replacements_of(ec2, used_id)
    stale_snapshot = stale_replacement["SnapshotId"]
    # Between the runs the user attaches one source to an instance (and writes to it), then stops the instance.
    instance_id, _root = _run_instance(ec2, source["Arn"])
    ec2.attach_volume(VolumeId=used_id, InstanceId=instance_id, Device="/dev/sdf")
    ec2.stop_instances(InstanceIds=[instance_id])

    result = _migrate(ec2, kms, volume_ids=[kept_id, used_id], source_volume="delete", allow_stop=True)
    by_id = dict((entry["volume_id"], entry) for entry in result["volumes"])
    assert [by_id[volume_id]["action"] for volume_id in (kept_id, used_id)] == ["migrated", "migrated"]
    assert by_id[kept_id]["new_volume_id"] == kept_replacement["VolumeId"]
    new_id = by_id[used_id]["new_volume_id"]
    assert new_id != stale_replacement["VolumeId"]
    # The stale copy and its snapshot are gone; the new one comes from a snapshot taken after the attachment.
    volume_ids = set(volume["VolumeId"] for volume in ec2.describe_volumes()["Volumes"])
    assert stale_replacement["VolumeId"] not in volume_ids and used_id not in volume_ids
    assert _volume(ec2, new_id)["SnapshotId"] != stale_snapshot
    assert stale_snapshot not in set(snapshot["SnapshotId"] for snapshot in _snapshots(ec2))
    devices = dict((m["DeviceName"], m["Ebs"]["VolumeId"]) for m in ec2.describe_instances(
        InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]["BlockDeviceMappings"])
    assert devices["/dev/sdf"] == new_id


def test_a_final_snapshot_is_not_reused_once_its_instance_was_started_again(estate, lease_time):
    ec2, kms, source, _destination = estate
    left_alone, restarted = [_run_instance(ec2, source["Arn"]) for _index in range(2)]
    data = dict((instance_id, _attach_data_volume(ec2, source["Arn"], instance_id))
                for instance_id, _root in (left_alone, restarted))
    time.sleep(1.1)  # moto dates to the second: the snapshots must start after the attachments
    for instance_id, volume_id in data.items():
        # Lease, swap tag, live snapshot, stop, final snapshot, then killed at CreateVolume.
        _interrupted(ec2, kms, volume_id, crash_at=6, allow_stop=True)
    finals = dict((_tags(snapshot)["kmsrotate:source-volume"], snapshot["SnapshotId"])
                  for snapshot in _snapshots(ec2) if _tags(snapshot).get("kmsrotate:snapshot-phase") == "final")
    assert sorted(finals) == sorted(data.values())
    time.sleep(1.1)
    # The user starts one instance again (it writes), then stops it; both are stopped for the rerun.
    ec2.start_instances(InstanceIds=[restarted[0]])
    ec2.stop_instances(InstanceIds=[restarted[0]])
    lease_time.shift(3600 * 2)  # the killed runs' leases have expired

    result = _migrate(ec2, kms, volume_ids=list(data.values()), allow_stop=True)
    built_from = dict((entry["volume_id"], _volume(ec2, entry["new_volume_id"])["SnapshotId"])
                      for entry in result["volumes"])
    assert built_from[data[left_alone[0]]] == finals[data[left_alone[0]]]
    assert built_from[data[restarted[0]]] != finals[data[restarted[0]]]


def test_a_replaced_volume_attached_again_blocks_and_names_its_instance(estate):
    ec2, kms, source, _destination = estate
    reused_id, idle_id = [ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True,
                                            KmsKeyId=source["Arn"])["VolumeId"] for _index in range(2)]
    first = _migrate(ec2, kms, volume_ids=[reused_id, idle_id])
    replacement = dict((entry["volume_id"], entry["new_volume_id"]) for entry in first["volumes"])
    instance_id, _root = _run_instance(ec2, source["Arn"])
    ec2.attach_volume(VolumeId=reused_id, InstanceId=instance_id, Device="/dev/sdg")

    recheck = _migrate(ec2, kms, check_mode=True, volume_ids=[reused_id, idle_id])
    dependents = _dependents(recheck)
    assert dependents[reused_id]["kind"] == "blocking"
    assert dependents[reused_id]["reason"].startswith("replaced by {0} in an earlier run but attached again to {1}".format(
        replacement[reused_id], instance_id))
    assert dependents[idle_id]["kind"] == "retained"
    assert recheck["blocking_resources"] == [reused_id] and recheck["counts"]["volumes"]["reattached"] == 1
