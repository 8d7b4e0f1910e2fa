"""A failed swap rolls back only once the instance is stopped, and never after the instance ran on its new volumes."""

from botocore.exceptions import ClientError, WaiterError
from test_migrate import _attach_data_volume, _instance, _migrate, _run, _run_instance, _tags, _volume

from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import SWAP_TAG


def _refused(code, operation):
    return ClientError({"Error": {"Code": code, "Message": "refused by the test, as AWS would"}}, operation)


class _Waiter(object):
    def __init__(self, waiter, before):
        self._waiter = waiter
        self._before = before

    def wait(self, **kwargs):
        self._before()
        return self._waiter.wait(**kwargs)


class SlowStop(object):
    """An instance that stays `stopping` longer than the first wait for it, as AWS's can.

    Until the second wait for `instance_stopped`, DescribeInstances reports it
    stopping, and StartInstances and a root DetachVolume are refused.
    """

    def __init__(self, client):
        self._client = client
        self.stopping = False
        self._stopped_waits = 0

    def __getattr__(self, name):
        return getattr(self._client, name)

    def stop_instances(self, **kwargs):
        answer = self._client.stop_instances(**kwargs)
        self.stopping = True
        return answer

    def describe_instances(self, **kwargs):
        answer = self._client.describe_instances(**kwargs)
        if self.stopping:
            for reservation in answer["Reservations"]:
                for instance in reservation["Instances"]:
                    instance["State"] = {"Code": 64, "Name": "stopping"}
        return answer

    def start_instances(self, **kwargs):
        if self.stopping:
            raise _refused("IncorrectInstanceState", "StartInstances")
        return self._client.start_instances(**kwargs)

    def detach_volume(self, **kwargs):
        if self.stopping:
            raise _refused("IncorrectState", "DetachVolume")
        return self._client.detach_volume(**kwargs)

    def get_waiter(self, name):
        waiter = self._client.get_waiter(name)
        if name != "instance_stopped":
            return waiter

        def before():
            self._stopped_waits += 1
            if self._stopped_waits == 1:
                raise WaiterError("InstanceStopped", "Max attempts exceeded", {})
            self.stopping = False
        return _Waiter(waiter, before)


def test_a_stop_that_outlasts_its_wait_is_rolled_back_once_the_instance_has_stopped(estate):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    slow = SlowStop(ec2)
    run = _run(slow, kms, volume_ids=[root_id], allow_stop=True)
    entry = run.values["volumes"][0]
    assert entry["action"] == "failed" and "was rolled back" in entry["reason"], entry["reason"]
    instance = _instance(ec2, instance_id)
    assert instance["State"]["Name"] == "running"
    assert instance["BlockDeviceMappings"][0]["Ebs"]["VolumeId"] == root_id
    assert SWAP_TAG not in _tags(_volume(ec2, root_id))


class StartOutlastsItsWait(object):
    """The instance starts (on its new volume) but later than the first wait for it gives up, as AWS's can."""

    def __init__(self, client):
        self._client = client
        self.calls_after_failure = None

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if self.calls_after_failure is None or not callable(attribute) or name.startswith(("get_", "describe_")):
            return attribute
        self.calls_after_failure.append(name)
        return attribute

    def get_waiter(self, name):
        waiter = self._client.get_waiter(name)
        if name != "instance_running" or self.calls_after_failure is not None:
            return waiter

        def before():
            self.calls_after_failure = []
            raise WaiterError("InstanceRunning", "Max attempts exceeded", {})
        return _Waiter(waiter, before)


def test_a_swap_that_fails_once_the_instance_runs_on_its_new_volume_goes_forward_not_back(estate):
    ec2, kms, source, _destination = estate
    instance_id, _root = _run_instance(ec2, source["Arn"])
    data_id = _attach_data_volume(ec2, source["Arn"], instance_id)
    late = StartOutlastsItsWait(ec2)
    run = _run(late, kms, volume_ids=[data_id], allow_stop=True)
    entry = run.values["volumes"][0]
    assert entry["action"] == "failed" and "not rolled back" in entry["reason"], entry["reason"]
    assert late.calls_after_failure == ["delete_tags"]  # only the lease given back: no detach, no stop
    devices = dict((m["DeviceName"], m["Ebs"]["VolumeId"]) for m in _instance(ec2, instance_id)["BlockDeviceMappings"])
    new_id = devices["/dev/sdf"]
    assert new_id != data_id and _instance(ec2, instance_id)["State"]["Name"] == "running"
    assert SWAP_TAG in _tags(_volume(ec2, data_id))

    rerun = _migrate(ec2, kms, volume_ids=[data_id], allow_stop=True)
    assert (rerun["volumes"][0]["action"], rerun["volumes"][0]["new_volume_id"]) == ("migrated", new_id)
    assert _tags(_volume(ec2, data_id))["kmsrotate:replaced-by"] == new_id
