"""ebs_kms_migrate's engine against moto in-process, with the EC2 fidelity layer."""

import pytest
from botocore.exceptions import ClientError

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs import lease
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import LEASE_TAG, SWAP_TAG
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.migrate import EbsMigration, MigrationSpec

AZ = "us-east-1a"
MUTATING = ("create_snapshot", "create_volume", "copy_snapshot", "attach_volume", "detach_volume", "stop_instances",
            "start_instances", "modify_instance_attribute", "modify_snapshot_attribute", "create_tags", "delete_tags",
            "delete_snapshot", "delete_volume")


class Crash(BaseException):
    """Stands for the process dying: no rollback code gets to run."""


class CrashingClient(object):
    """Passes calls through until the n-th mutating call, which 'kills the process' before it is sent."""

    def __init__(self, client, crash_at):
        self._client = client
        self._crash_at = crash_at
        self.mutations = 0

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name not in MUTATING:
            return attribute

        def call(*args, **kwargs):
            self.mutations += 1
            if self.mutations == self._crash_at:
                raise Crash(name)
            return attribute(*args, **kwargs)
        return call


class RefusingClient(object):
    """Answers the first call of `operation` whose arguments include `match` with an AWS error `code`."""

    def __init__(self, client, operation, code, **match):
        self._client = client
        self._operation = operation
        self._code = code
        self._match = match
        self.refused = False

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if name != self._operation:
            return attribute

        def call(*args, **kwargs):
            if not self.refused and all(kwargs.get(key) == value for key, value in self._match.items()):
                self.refused = True
                raise ClientError({"Error": {"Code": self._code, "Message": "refused by the test"}}, name)
            return attribute(*args, **kwargs)
        return call


def _snapshots(ec2):
    return ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]


def _run(ec2, kms, check_mode=False, concurrency=4, **options):
    """The engine's Result, with these two clients (either may be a test's wrapper)."""
    options.setdefault("destination_key_id", "alias/new")
    limit = AdaptiveLimit(concurrency)
    by_service = {"ec2": ec2, "kms": kms}
    clients = Clients(lambda service, region, config: by_service[service], limit, region="us-east-1")
    return EbsMigration(clients, limit).run(MigrationSpec(**options), check_mode=check_mode)


def _migrate(ec2, kms, **options):
    return _run(ec2, kms, **options).values


def _volume(ec2, volume_id):
    return ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]


def _instance(ec2, instance_id):
    return ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]


def _run_instance(ec2, key_arn, stopped=False, instance_type="t3.micro"):
    """A running (or stopped) instance with an encrypted root; t3.micro has no instance store."""
    instance = ec2.run_instances(
        ImageId="ami-12c6146b", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": AZ}, InstanceType=instance_type,
        BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {
            "VolumeSize": 8, "Encrypted": True, "KmsKeyId": key_arn, "DeleteOnTermination": True}}],
    )["Instances"][0]
    if stopped:
        ec2.stop_instances(InstanceIds=[instance["InstanceId"]])
    return instance["InstanceId"], instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"]


def _attach_data_volume(ec2, key_arn, instance_id, delete_on_termination=True):
    volume_id = ec2.create_volume(AvailabilityZone=AZ, Size=4, VolumeType="gp3", Iops=4000, Throughput=250,
                                  Encrypted=True, KmsKeyId=key_arn,
                                  TagSpecifications=[{"ResourceType": "volume",
                                                      "Tags": [{"Key": "env", "Value": "prod"}]}])["VolumeId"]
    ec2.attach_volume(VolumeId=volume_id, InstanceId=instance_id, Device="/dev/sdf")
    if delete_on_termination:
        ec2.modify_instance_attribute(InstanceId=instance_id, BlockDeviceMappings=[
            {"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": True}}])
    return volume_id


def _tags(resource):
    return dict((tag["Key"], tag["Value"]) for tag in resource.get("Tags", []))


def _counts(ec2):
    return (len(ec2.describe_volumes()["Volumes"]), len(_snapshots(ec2)))


def test_unattached_volume_keeps_its_settings_under_the_new_key(estate):
    ec2, kms, source, destination = estate
    volume_id = ec2.create_volume(AvailabilityZone=AZ, Size=5, VolumeType="gp3", Iops=5000, Throughput=300,
                                  Encrypted=True, KmsKeyId=source["Arn"],
                                  TagSpecifications=[{"ResourceType": "volume",
                                                      "Tags": [{"Key": "Name", "Value": "data"}]}])["VolumeId"]
    result = _migrate(ec2, kms, volume_ids=[volume_id])
    entry = result["volumes"][0]
    assert (entry["action"], entry["attachment"], result["changed"], result["blocking"]) == ("migrated", "none", True, 0)
    new = _volume(ec2, entry["new_volume_id"])
    assert (new["KmsKeyId"], new["Size"], new["VolumeType"], new["Iops"], new["Throughput"], new["AvailabilityZone"]) == (
        destination["Arn"], 5, "gp3", 5000, 300, AZ)
    assert {"Key": "Name", "Value": "data"} in new["Tags"]
    old_tags = dict((tag["Key"], tag["Value"]) for tag in _volume(ec2, volume_id)["Tags"])
    assert old_tags["kmsrotate:replaced-by"] == entry["new_volume_id"]
    assert _snapshots(ec2) == []  # temporary snapshot removed


def test_attached_volumes_are_swapped_in_one_stop_and_the_instance_runs_again(estate):
    ec2, kms, source, destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    data_id = _attach_data_volume(ec2, source["Arn"], instance_id)
    result = _migrate(ec2, kms, volume_ids=[root_id, data_id], allow_stop=True)
    by_id = dict((entry["volume_id"], entry) for entry in result["volumes"])
    assert by_id[root_id]["attachment"] == "root" and by_id[data_id]["attachment"] == "data"
    assert result["instances_stopped"] == [instance_id]
    instance = _instance(ec2, instance_id)
    assert instance["State"]["Name"] == "running"
    mappings = dict((m["DeviceName"], m["Ebs"]) for m in instance["BlockDeviceMappings"])
    assert mappings["/dev/sda1"]["VolumeId"] == by_id[root_id]["new_volume_id"]
    assert mappings["/dev/sdf"]["VolumeId"] == by_id[data_id]["new_volume_id"]
    assert mappings["/dev/sda1"]["DeleteOnTermination"] is True and mappings["/dev/sdf"]["DeleteOnTermination"] is True
    new_data = _volume(ec2, by_id[data_id]["new_volume_id"])
    assert (new_data["KmsKeyId"], new_data["Iops"], new_data["Throughput"]) == (destination["Arn"], 4000, 250)
    assert _volume(ec2, data_id)["State"] == "available"


def test_stopped_instance_stays_stopped(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"], stopped=True)
    result = _migrate(ec2, kms, volume_ids=[root_id])
    assert result["volumes"][0]["action"] == "migrated"
    assert result["instances_stopped"] == []
    assert _instance(ec2, instance_id)["State"]["Name"] == "stopped"


def test_without_allow_stop_attached_volumes_are_reported_and_block(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    before = _counts(ec2)
    run = _run(ec2, kms, volume_ids=[root_id])
    result = run.values
    assert result["volumes"][0]["action"] == "needs_stop"
    assert (result["changed"], result["blocking"], result["blocking_resources"]) == (False, 1, [root_id])
    assert run.failure is None
    assert _counts(ec2) == before and _instance(ec2, instance_id)["State"]["Name"] == "running"


def test_snapshots_are_copied_under_the_new_key_with_description_and_tags(estate):
    ec2, kms, source, destination = estate
    volume_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=volume_id, Description="nightly", TagSpecifications=[
        {"ResourceType": "snapshot", "Tags": [{"Key": "backup", "Value": "nightly"}]}])["SnapshotId"]
    result = _migrate(ec2, kms, snapshot_filters={"tag:backup": "nightly"}, source_snapshot="delete")
    entry = result["snapshots"][0]
    assert (entry["snapshot_id"], entry["action"]) == (snapshot_id, "rekeyed")
    copy = ec2.describe_snapshots(SnapshotIds=[entry["new_snapshot_id"]])["Snapshots"][0]
    assert (copy["KmsKeyId"], copy["Description"]) == (destination["Arn"], "nightly")
    assert {"Key": "backup", "Value": "nightly"} in copy["Tags"]
    assert [s["SnapshotId"] for s in _snapshots(ec2)] == [entry["new_snapshot_id"]]


def test_check_mode_plans_and_changes_nothing(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    loose_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    before = _counts(ec2)
    result = _migrate(ec2, kms, check_mode=True, volume_ids=[root_id, loose_id], allow_stop=True)
    assert result["counts"]["volumes"]["migrated"] == 2 and result["blocking"] == 2
    assert result["instances_stopped"] == [instance_id]
    assert _counts(ec2) == before and _instance(ec2, instance_id)["State"]["Name"] == "running"


def test_second_run_changes_nothing(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    loose_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    first = _migrate(ec2, kms, volume_ids=[root_id, loose_id], allow_stop=True)
    new_ids = [entry["new_volume_id"] for entry in first["volumes"]]
    again = _migrate(ec2, kms, volume_ids=[root_id, loose_id] + new_ids, allow_stop=True)
    assert again["changed"] is False and again["blocking"] == 0
    assert sorted(entry["action"] for entry in again["volumes"]) == ["retained", "retained", "unchanged", "unchanged"]
    assert _instance(ec2, instance_id)["State"]["Name"] == "running"


def _dependents(result):
    return dict((entry["resource"], entry) for entry in result["dependents"])


def test_check_mode_lists_what_a_run_would_move_as_to_move(estate):
    ec2, kms, source, _destination = estate
    running_id, running_root = _run_instance(ec2, source["Arn"])
    stopped_id, stopped_root = _run_instance(ec2, source["Arn"], stopped=True)
    loose_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=loose_id)["SnapshotId"]
    result = _migrate(ec2, kms, check_mode=True, volume_ids=[running_root, stopped_root, loose_id],
                      snapshot_ids=[snapshot_id], allow_stop=True)
    dependents = _dependents(result)
    assert sorted(dependents) == sorted([running_root, stopped_root, loose_id, snapshot_id])
    assert all(entry["kind"] == "to_move" and entry["key_arn"] == source["Arn"] and entry["count"] == 1
               for entry in dependents.values())
    assert [dependents[volume_id]["service"] for volume_id in (running_root, stopped_root, loose_id)] == ["ebs_volumes"] * 3
    assert dependents[snapshot_id]["service"] == "ebs_snapshots"
    assert running_id in dependents[running_root]["reason"] and "stops" in dependents[running_root]["reason"]
    assert stopped_id in dependents[stopped_root]["reason"] and "no stop" in dependents[stopped_root]["reason"]
    assert "a run" in dependents[loose_id]["reason"] and "a run" in dependents[snapshot_id]["reason"]


def test_what_a_real_run_moved_is_no_dependent(estate):
    ec2, kms, source, _destination = estate
    loose_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=loose_id)["SnapshotId"]
    result = _migrate(ec2, kms, volume_ids=[loose_id], snapshot_ids=[snapshot_id], source_volume="delete",
                      source_snapshot="delete")
    assert (result["counts"]["volumes"]["migrated"], result["counts"]["snapshots"]["rekeyed"]) == (1, 1)
    assert result["dependents"] == []


def test_needs_stop_and_failed_are_blocking_with_their_fix(estate):
    ec2, kms, source, _destination = estate
    stuck_id, stuck_root = _run_instance(ec2, source["Arn"])
    failing_id, failing_root = _run_instance(ec2, source["Arn"], stopped=True)
    loose_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    refusing = RefusingClient(ec2, "attach_volume", "IncorrectState")
    run = _run(refusing, kms, volume_ids=[stuck_root, failing_root, loose_id])
    result = run.values
    by_id = dict((entry["volume_id"], entry) for entry in result["volumes"])
    assert [by_id[volume_id]["action"] for volume_id in (stuck_root, failing_root, loose_id)] == [
        "needs_stop", "failed", "migrated"]
    assert run.failure
    dependents = _dependents(result)
    assert sorted(dependents) == sorted([stuck_root, failing_root]) == sorted(result["blocking_resources"])
    assert all((entry["kind"], entry["service"], entry["key_arn"]) == ("blocking", "ebs_volumes", source["Arn"])
               for entry in dependents.values())
    assert dependents[stuck_root]["reason"] == "{0}. Fix: {1}".format(by_id[stuck_root]["reason"], by_id[stuck_root]["fix"])
    assert stuck_id in dependents[stuck_root]["reason"] and "allow_stop: true" in dependents[stuck_root]["reason"]
    assert failing_id in dependents[failing_root]["reason"] and "rolled back" in dependents[failing_root]["reason"]
    assert dependents[failing_root]["reason"].endswith("Fix: fix the cause and run the task again.")


def test_a_key_that_cannot_be_read_fails_its_volume_with_one_fix(estate):
    ec2, kms, source, _destination = estate
    volume_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    refusing = RefusingClient(kms, "describe_key", "NotFoundException", KeyId=source["Arn"])
    result = _migrate(ec2, refusing, volume_ids=[volume_id])
    entry, dependent = result["volumes"][0], result["dependents"][0]
    assert (entry["action"], dependent["kind"], dependent["key_arn"]) == ("failed", "blocking", source["Arn"])
    # The planner's reason already carries the fix: it is not repeated.
    assert dependent["reason"] == entry["reason"] and dependent["reason"].count("Fix:") == 1


def test_kept_sources_are_retained_and_unchanged_copies_no_dependents(estate):
    ec2, kms, source, _destination = estate
    loose_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=loose_id)["SnapshotId"]
    plain_id = ec2.create_volume(AvailabilityZone=AZ, Size=1)["VolumeId"]
    first = _migrate(ec2, kms, volume_ids=[loose_id], snapshot_ids=[snapshot_id])
    new_volume_id, copy_id = first["volumes"][0]["new_volume_id"], first["snapshots"][0]["new_snapshot_id"]
    again = _migrate(ec2, kms, volume_ids=[loose_id, new_volume_id, plain_id], snapshot_ids=[snapshot_id, copy_id])
    assert sorted(entry["action"] for entry in again["volumes"]) == ["retained", "skipped", "unchanged"]
    dependents = _dependents(again)
    assert sorted(dependents) == sorted([loose_id, snapshot_id])
    assert dependents[loose_id] == {
        "resource": loose_id, "service": "ebs_volumes", "kind": "retained", "key_arn": source["Arn"], "count": 1,
        "reason": "replaced by {0}; kept as asked (source_volume=keep)".format(new_volume_id)}
    assert (dependents[snapshot_id]["kind"], dependents[snapshot_id]["service"]) == ("retained", "ebs_snapshots")
    assert dependents[snapshot_id]["reason"] == "replaced by {0}; kept as asked (source_snapshot=keep)".format(copy_id)


def test_unknown_volume_and_disabled_destination_are_clear_errors(estate):
    ec2, kms, _source, destination = estate
    with pytest.raises(RotationError, match="not found"):
        _migrate(ec2, kms, volume_ids=["vol-0123456789abcdef0"])
    kms.disable_key(KeyId=destination["KeyId"])
    with pytest.raises(RotationError, match="Disabled"):
        _migrate(ec2, kms, volume_ids=["vol-0123456789abcdef0"])


def _attached_estate(ec2, source):
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    data_id = _attach_data_volume(ec2, source["Arn"], instance_id)
    loose_id = ec2.create_volume(AvailabilityZone=AZ, Size=1, Encrypted=True, KmsKeyId=source["Arn"])["VolumeId"]
    snapshot_id = ec2.create_snapshot(VolumeId=loose_id, Description="backup")["SnapshotId"]
    return instance_id, [root_id, data_id, loose_id], snapshot_id


CRASH_POINTS = range(1, 32)


def test_crash_points_cover_every_mutating_call_of_a_clean_run(estate):
    ec2, kms, source, _destination = estate
    _instance_id, volume_ids, snapshot_id = _attached_estate(ec2, source)
    counting = CrashingClient(ec2, crash_at=0)
    _migrate(counting, kms, volume_ids=volume_ids, snapshot_ids=[snapshot_id], allow_stop=True, concurrency=1)
    assert counting.mutations <= CRASH_POINTS[-1], counting.mutations


@pytest.mark.slow
@pytest.mark.parametrize("crash_at", CRASH_POINTS)
def test_a_run_killed_at_any_step_resumes_without_duplicates(estate, lease_time, crash_at):
    ec2, kms, source, destination = estate
    instance_id, volume_ids, snapshot_id = _attached_estate(ec2, source)
    crashing = CrashingClient(ec2, crash_at)
    try:
        _migrate(crashing, kms, volume_ids=volume_ids, snapshot_ids=[snapshot_id], allow_stop=True, concurrency=1)
    except Crash:
        pass
    # A killed run leaves its lease on the instance: the rerun takes it over once it has expired.
    lease_time.shift(3600 + lease.LEASE_MARGIN + 1)
    run = _run(ec2, kms, volume_ids=volume_ids, snapshot_ids=[snapshot_id], allow_stop=True)
    result = run.values
    assert run.failure is None, result["failures"]
    assert result["blocking"] == 0
    # Sources kept, one replacement each, one snapshot copy, no temporary snapshot left.
    volumes = ec2.describe_volumes()["Volumes"]
    assert len(volumes) == 6
    assert sorted(v["KmsKeyId"] == destination["Arn"] for v in volumes) == [False, False, False, True, True, True]
    snapshots = _snapshots(ec2)
    assert sorted(s["KmsKeyId"] == destination["Arn"] for s in snapshots) == [False, True]
    instance = _instance(ec2, instance_id)
    assert instance["State"]["Name"] == "running"
    assert all(not any(tag["Key"] == SWAP_TAG for tag in v.get("Tags", [])) for v in volumes)
    # No live lease is left to hold up a later run (a crash at the release leaves the dead run's, expired).
    left = _tags(instance).get(LEASE_TAG)
    assert left is None or lease.Holder(left).expired(lease_time.clock())
    replaced = dict((entry["volume_id"], entry) for entry in _migrate(ec2, kms, volume_ids=volume_ids)["volumes"])
    assert all(entry["action"] == "retained" for entry in replaced.values())
