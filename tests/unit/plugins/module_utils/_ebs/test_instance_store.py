"""An instance with instance storage (erased when it stops) is not stopped unless allow_instance_store_loss is true."""

from botocore.exceptions import ClientError
from test_migrate import _counts, _instance, _migrate, _run, _run_instance

from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.planner import instance_storage

NO_STORE = {"InstanceType": "t3.micro", "InstanceStorageSupported": False}


class DeniedListing(object):
    """Answers every page of one listing with an AWS error, as an IAM policy without its permission would."""

    def __init__(self, client, operation, code):
        self._client = client
        self._operation = operation
        self._code = code
        self.refused = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def get_paginator(self, operation):
        paginator = self._client.get_paginator(operation)
        if operation != self._operation:
            return paginator
        listing = self

        class Denied(object):
            def paginate(self, **kwargs):
                listing.refused += 1
                raise ClientError({"Error": {"Code": listing._code, "Message": "denied by the test"}}, operation)
        return Denied()


def test_instance_storage_is_found_in_the_mappings_and_in_the_instance_type():
    ebs_only = {"BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeId": "vol-1"}}]}
    assert instance_storage(ebs_only, NO_STORE) == []
    # A device that is not EBS, root or not, is instance storage.
    ephemeral = {"BlockDeviceMappings": [{"DeviceName": "/dev/sda1", "Ebs": {"VolumeId": "vol-1"}},
                                         {"DeviceName": "/dev/sdb", "VirtualName": "ephemeral0"}]}
    assert instance_storage(ephemeral, NO_STORE) == ["/dev/sdb (ephemeral0)"]
    assert instance_storage({"BlockDeviceMappings": [{"DeviceName": "/dev/xvda"}]}, NO_STORE) == ["/dev/xvda (not EBS)"]
    # So is what the type comes with, whatever the mappings say.
    nvme = {"InstanceType": "m5d.large", "InstanceStorageSupported": True,
            "InstanceStorageInfo": {"TotalSizeInGB": 75, "Disks": [{"SizeInGB": 75, "Count": 1, "Type": "ssd"}]}}
    assert instance_storage(ebs_only, nvme) == ["the instance store of type m5d.large (1 x 75 GB ssd)"]


def test_a_running_instance_with_an_instance_store_is_refused_unless_its_loss_is_allowed(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"], instance_type="m5d.large")
    before = _counts(ec2)
    run = _run(ec2, kms, volume_ids=[root_id], allow_stop=True)
    entry = run.values["volumes"][0]
    assert entry["action"] == "failed" and run.failure
    assert instance_id in entry["reason"] and "m5d.large" in entry["reason"] and "erased" in entry["reason"]
    assert "allow_instance_store_loss: true" in entry["fix"]
    assert run.values["instances_stopped"] == [] and run.values["blocking_resources"] == [root_id]
    assert _counts(ec2) == before and _instance(ec2, instance_id)["State"]["Name"] == "running"

    allowed = _migrate(ec2, kms, volume_ids=[root_id], allow_stop=True, allow_instance_store_loss=True)
    assert allowed["volumes"][0]["action"] == "migrated" and allowed["instances_stopped"] == [instance_id]


def test_a_stopped_instance_with_an_instance_store_is_swapped_without_a_stop(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"], stopped=True, instance_type="m5d.large")
    result = _migrate(ec2, kms, volume_ids=[root_id], allow_stop=True)
    assert result["volumes"][0]["action"] == "migrated" and result["instances_stopped"] == []
    assert _instance(ec2, instance_id)["State"]["Name"] == "stopped"


def test_an_instance_type_that_cannot_be_read_fails_closed(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    refusing = DeniedListing(ec2, "describe_instance_types", "UnauthorizedOperation")
    before = _counts(ec2)
    entry = _migrate(refusing, kms, volume_ids=[root_id], allow_stop=True)["volumes"][0]
    assert entry["action"] == "failed" and refusing.refused
    assert "cannot tell whether instance {0}".format(instance_id) in entry["reason"]
    assert "UnauthorizedOperation" in entry["reason"] and "ec2:DescribeInstanceTypes" in entry["fix"]
    assert _counts(ec2) == before and _instance(ec2, instance_id)["State"]["Name"] == "running"
