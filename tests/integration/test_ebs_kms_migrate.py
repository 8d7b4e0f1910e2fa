"""ebs_kms_migrate through ansible-playbook against the local endpoint."""

import pytest

AZ = "us-east-1a"


class Estate(object):
    """EC2 and KMS fixtures on the endpoint, and what the module must leave behind."""

    def __init__(self, aws):
        self.ec2 = aws.client("ec2")
        self.kms = aws.client("kms")
        self.source = self.kms.create_key(Description="old")["KeyMetadata"]
        self.destination = self.kms.create_key(Description="new")["KeyMetadata"]
        self.kms.create_alias(AliasName="alias/ebs-new", TargetKeyId=self.destination["KeyId"])
        # moto owns a snapshot per built-in AMI: only snapshots made after this count.
        self._baseline = set(s["SnapshotId"] for s in self.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"])

    def volume(self, volume_id):
        return self.ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]

    def instance(self, instance_id):
        return self.ec2.describe_instances(InstanceIds=[instance_id])["Reservations"][0]["Instances"][0]

    def devices(self, instance_id):
        return dict((m["DeviceName"], m["Ebs"]) for m in self.instance(instance_id)["BlockDeviceMappings"])

    def snapshots(self):
        return [s for s in self.ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"] if s["SnapshotId"] not in self._baseline]

    def counts(self):
        """Volumes and snapshots per key ARN ('none' for unencrypted)."""
        counts = {}
        for kind, items in (("volumes", self.ec2.describe_volumes()["Volumes"]), ("snapshots", self.snapshots())):
            for item in items:
                key = (kind, item.get("KmsKeyId") or "none")
                counts[key] = counts.get(key, 0) + 1
        return counts

    def gp3_volume(self, **tags):
        tags = tags or {"Name": "data"}
        return self.ec2.create_volume(
            AvailabilityZone=AZ, Size=6, VolumeType="gp3", Iops=6000, Throughput=400, Encrypted=True,
            KmsKeyId=self.source["Arn"],
            TagSpecifications=[{"ResourceType": "volume", "Tags": [{"Key": k, "Value": v} for k, v in tags.items()]}],
        )["VolumeId"]

    def instance_with_data_volume(self, stopped=False, instance_type="t3.micro"):
        """A running (or stopped) instance with an encrypted root and a data volume, both DeleteOnTermination.

        t3.micro has no instance store, so the module may stop it without allow_instance_store_loss.
        """
        instance = self.ec2.run_instances(
            ImageId="ami-12c6146b", MinCount=1, MaxCount=1, Placement={"AvailabilityZone": AZ}, InstanceType=instance_type,
            BlockDeviceMappings=[{"DeviceName": "/dev/sda1", "Ebs": {
                "VolumeSize": 8, "Encrypted": True, "KmsKeyId": self.source["Arn"], "DeleteOnTermination": True}}],
        )["Instances"][0]
        instance_id = instance["InstanceId"]
        data_id = self.gp3_volume(env="prod", role="data")
        self.ec2.attach_volume(VolumeId=data_id, InstanceId=instance_id, Device="/dev/sdf")
        self.ec2.modify_instance_attribute(InstanceId=instance_id, BlockDeviceMappings=[
            {"DeviceName": "/dev/sdf", "Ebs": {"DeleteOnTermination": True}}])
        if stopped:
            self.ec2.stop_instances(InstanceIds=[instance_id])
        return instance_id, instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"], data_id


@pytest.fixture
def estate(aws):
    return Estate(aws)


def _task(**options):
    options.setdefault("destination_key_id", "alias/ebs-new")
    options.setdefault("wait_timeout", 60)
    return [{"name": "migrate", "kmsrotate.aws.ebs_kms_migrate": options}]


def _by_volume(result):
    return dict((entry["volume_id"], entry) for entry in result["volumes"])


def test_unattached_gp3_volume_check_mode_migration_and_idempotent_rerun(playbook, estate):
    volume_id = estate.gp3_volume(Name="reports", env="prod")
    before = estate.counts()

    plan = playbook.run(_task(filters={"tag:env": "prod"}), check=True)
    assert plan.rc == 0, plan
    planned = plan.result("migrate")
    assert planned["changed"] is True and planned["volumes"][0]["action"] == "migrated"
    assert planned["blocking"] == 1 and planned["volumes"][0]["new_volume_id"] is None
    assert estate.counts() == before

    run = playbook.run(_task(filters={"tag:env": "prod"}))
    assert run.rc == 0, run
    entry = run.result("migrate")["volumes"][0]
    assert (entry["action"], entry["attachment"], run.result("migrate")["blocking"]) == ("migrated", "none", 0)
    assert entry["source_key_arn"] == estate.source["Arn"] and entry["destination_key_arn"] == estate.destination["Arn"]
    new = estate.volume(entry["new_volume_id"])
    assert (new["KmsKeyId"], new["VolumeType"], new["Size"], new["Iops"], new["Throughput"], new["AvailabilityZone"]) == (
        estate.destination["Arn"], "gp3", 6, 6000, 400, AZ)
    assert {"Key": "Name", "Value": "reports"} in new["Tags"] and {"Key": "env", "Value": "prod"} in new["Tags"]
    old = estate.volume(volume_id)
    assert {"Key": "kmsrotate:replaced-by", "Value": entry["new_volume_id"]} in old["Tags"]
    assert estate.snapshots() == []

    again = playbook.run(_task(filters={"tag:env": "prod"}))
    assert again.rc == 0 and again.changed == 0, again
    assert sorted(e["action"] for e in again.result("migrate")["volumes"]) == ["retained", "unchanged"]
    assert again.result("migrate")["blocking"] == 0


def test_running_instance_root_and_data_volumes_are_swapped(playbook, estate):
    instance_id, root_id, data_id = estate.instance_with_data_volume()
    run = playbook.run(_task(volume_ids=[root_id, data_id], allow_stop=True, source_volume="delete"))
    assert run.rc == 0, run
    result = run.result("migrate")
    volumes = _by_volume(result)
    assert (volumes[root_id]["attachment"], volumes[data_id]["attachment"]) == ("root", "data")
    assert volumes[data_id]["delete_on_termination"] is True and volumes[data_id]["instance_stopped"] is True
    assert result["instances_stopped"] == [instance_id]
    assert estate.instance(instance_id)["State"]["Name"] == "running"
    devices = estate.devices(instance_id)
    assert devices["/dev/sda1"]["VolumeId"] == volumes[root_id]["new_volume_id"]
    assert devices["/dev/sdf"]["VolumeId"] == volumes[data_id]["new_volume_id"]
    assert devices["/dev/sda1"]["DeleteOnTermination"] is True and devices["/dev/sdf"]["DeleteOnTermination"] is True
    assert estate.volume(volumes[data_id]["new_volume_id"])["KmsKeyId"] == estate.destination["Arn"]
    # source_volume=delete: the old volumes are gone, nothing else is left.
    assert estate.counts() == {("volumes", estate.destination["Arn"]): 2}


def test_stopped_instance_stays_stopped(playbook, estate):
    instance_id, root_id, data_id = estate.instance_with_data_volume(stopped=True)
    run = playbook.run(_task(volume_ids=[root_id, data_id]))
    assert run.rc == 0, run
    result = run.result("migrate")
    assert result["counts"]["volumes"]["migrated"] == 2 and result["instances_stopped"] == []
    assert estate.instance(instance_id)["State"]["Name"] == "stopped"
    assert estate.devices(instance_id)["/dev/sdf"]["VolumeId"] == _by_volume(result)[data_id]["new_volume_id"]


def test_without_allow_stop_attached_volumes_are_reported_and_untouched(playbook, estate):
    instance_id, root_id, data_id = estate.instance_with_data_volume()
    before = estate.counts()
    run = playbook.run(_task(volume_ids=[root_id, data_id]))
    assert run.rc == 0, run
    result = run.result("migrate")
    assert result["changed"] is False and result["counts"]["volumes"]["needs_stop"] == 2
    assert result["blocking"] == 2 and sorted(result["blocking_resources"]) == sorted([root_id, data_id])
    assert "allow_stop" in _by_volume(result)[data_id]["fix"]
    assert estate.counts() == before
    assert estate.devices(instance_id)["/dev/sdf"]["VolumeId"] == data_id


def test_snapshots_are_rekeyed(playbook, estate):
    volume_id = estate.gp3_volume()
    snapshot_id = estate.ec2.create_snapshot(VolumeId=volume_id, Description="nightly backup", TagSpecifications=[
        {"ResourceType": "snapshot", "Tags": [{"Key": "backup", "Value": "nightly"}]}])["SnapshotId"]
    run = playbook.run(_task(snapshot_filters={"tag:backup": "nightly"}))
    assert run.rc == 0, run
    entry = run.result("migrate")["snapshots"][0]
    assert (entry["snapshot_id"], entry["action"]) == (snapshot_id, "rekeyed")
    copy = estate.ec2.describe_snapshots(SnapshotIds=[entry["new_snapshot_id"]])["Snapshots"][0]
    assert (copy["KmsKeyId"], copy["Description"]) == (estate.destination["Arn"], "nightly backup")
    assert {"Key": "backup", "Value": "nightly"} in copy["Tags"]
    again = playbook.run(_task(snapshot_filters={"tag:backup": "nightly"}))
    assert again.rc == 0 and again.changed == 0, again
    assert sorted(e["action"] for e in again.result("migrate")["snapshots"]) == ["retained", "unchanged"]


def test_failure_at_attach_rolls_back_and_a_rerun_converges(playbook, aws, estate):
    instance_id, root_id, data_id = estate.instance_with_data_volume()
    before = estate.counts()
    aws.set_faults([{"kind": "error", "service": "ec2", "action": "AttachVolume", "count": 1, "status": 400,
                     "code": "IncorrectState", "message": "injected attach failure"}])
    run = playbook.run(_task(volume_ids=[data_id], allow_stop=True))
    assert run.rc != 0, run
    result = run.result("migrate")
    assert result["volumes"][0]["action"] == "failed" and "rolled back" in result["volumes"][0]["reason"]
    assert result["blocking"] == 1
    assert estate.devices(instance_id)["/dev/sdf"]["VolumeId"] == data_id
    assert estate.devices(instance_id)["/dev/sdf"]["DeleteOnTermination"] is True
    assert estate.instance(instance_id)["State"]["Name"] == "running"
    assert estate.counts() == before  # the rollback removed the copies it made
    aws.clear_faults()
    rerun = playbook.run(_task(volume_ids=[data_id], allow_stop=True))
    assert rerun.rc == 0, rerun
    assert estate.devices(instance_id)["/dev/sdf"]["VolumeId"] == rerun.result("migrate")["volumes"][0]["new_volume_id"]


# One step before the stop, one inside the swap, one after verification. Every
# other step, and a kill that leaves no chance to roll back, is covered by the
# unit test that crashes the engine at each mutating call in turn.
@pytest.mark.parametrize("action", ["CreateVolume", "StartInstances", "DeleteSnapshot"])
def test_interruption_at_a_step_then_rerun_leaves_no_duplicates(playbook, aws, estate, action):
    instance_id, root_id, data_id = estate.instance_with_data_volume()
    loose_id = estate.gp3_volume()
    aws.set_faults([{"kind": "error", "service": "ec2", "action": action, "count": 1, "status": 400,
                     "code": "UnauthorizedOperation", "message": "injected interruption"}])
    first = playbook.run(_task(volume_ids=[root_id, data_id, loose_id], allow_stop=True))
    assert first.rc != 0, first
    aws.clear_faults()
    rerun = playbook.run(_task(volume_ids=[root_id, data_id, loose_id], allow_stop=True))
    assert rerun.rc == 0, rerun
    assert rerun.result("migrate")["blocking"] == 0
    # Three sources kept, exactly three replacements, no temporary snapshot left behind.
    assert estate.counts() == {("volumes", estate.source["Arn"]): 3, ("volumes", estate.destination["Arn"]): 3}
    assert estate.instance(instance_id)["State"]["Name"] == "running"


def test_throttling_at_ten_percent_converges(playbook, aws, estate):
    instance_id, root_id, data_id = estate.instance_with_data_volume()
    loose_ids = [estate.gp3_volume(batch="throttle") for _index in range(3)]
    snapshot_id = estate.ec2.create_snapshot(VolumeId=loose_ids[0])["SnapshotId"]
    aws.set_faults([{"kind": "throttle", "service": "ec2", "rate": 0.1}], seed=7)
    run = playbook.run(_task(volume_ids=[root_id, data_id], filters={"tag:batch": "throttle"},
                             snapshot_ids=[snapshot_id], allow_stop=True, concurrency=4))
    assert run.rc == 0, run
    result = run.result("migrate")
    assert result["counts"]["volumes"]["migrated"] == 5 and result["counts"]["snapshots"]["rekeyed"] == 1
    assert result["throttling"]["throttle_events"] > 0
    assert sum(rule["fired"] for rule in aws.faults()) > 0
    aws.clear_faults()
    assert estate.counts() == {("volumes", estate.source["Arn"]): 5, ("volumes", estate.destination["Arn"]): 5,
                               ("snapshots", estate.source["Arn"]): 1, ("snapshots", estate.destination["Arn"]): 1}
    assert estate.instance(instance_id)["State"]["Name"] == "running"
