"""The lease on an instance being swapped: one run at a time, the others wait, and take over a lease that expired."""

import threading
import time

from botocore.exceptions import ClientError
from test_migrate import _attach_data_volume, _counts, _instance, _run, _run_instance, _tags

from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs import lease
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import LEASE_TAG, SWAP_TAG

SWAP_STEPS = ("create_snapshot", "stop_instances", "detach_volume", "attach_volume", "start_instances", "delete_volume")


class RecordingClient(object):
    """Passes every call through, remembering the names of the calls; `before` may act before one is sent."""

    def __init__(self, client, before=None):
        self._client = client
        self._before = before or {}
        self.calls = []

    def __getattr__(self, name):
        attribute = getattr(self._client, name)
        if not callable(attribute) or name.startswith("get_"):
            return attribute

        def call(*args, **kwargs):
            self.calls.append(name)
            if name in self._before:
                self._before[name](**kwargs)
            return attribute(*args, **kwargs)
        return call


def _lease_of(ec2, instance_id):
    return _tags(_instance(ec2, instance_id)).get(LEASE_TAG)


def _other_run(ec2, instance_id, expires):
    value = lease.encode("other-run", expires)
    ec2.create_tags(Resources=[instance_id], Tags=[{"Key": LEASE_TAG, "Value": value}])
    return value


def test_a_live_lease_of_another_run_is_waited_for_then_the_instance_is_left_alone(estate, lease_time):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    held = _other_run(ec2, instance_id, expires=lease_time.clock() + 7200)
    before = _counts(ec2)
    start = lease_time.clock()
    run = _run(ec2, kms, volume_ids=[root_id], allow_stop=True, wait_timeout=600)
    entry = run.values["volumes"][0]
    assert entry["action"] == "failed" and run.failure
    assert "being swapped by another run" in entry["reason"] and "run other-run" in entry["reason"]
    assert "async job" in entry["fix"] and LEASE_TAG in entry["fix"]
    assert lease_time.clock() - start >= 600  # it waited its wait_timeout first
    assert _counts(ec2) == before and _instance(ec2, instance_id)["State"]["Name"] == "running"
    assert _lease_of(ec2, instance_id) == held and SWAP_TAG not in _tags(ec2.describe_volumes(
        VolumeIds=[root_id])["Volumes"][0])


def test_an_expired_lease_is_taken_over_and_given_back(estate, lease_time):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    _other_run(ec2, instance_id, expires=lease_time.clock() - 60)
    run = _run(ec2, kms, volume_ids=[root_id], allow_stop=True)
    assert run.failure is None and run.values["volumes"][0]["action"] == "migrated"
    assert _lease_of(ec2, instance_id) is None


def test_the_lease_is_renewed_before_a_wait_it_might_not_outlast(estate, lease_time):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    written = []

    def create_tags(Resources, Tags, **_kwargs):
        written.extend(tag["Value"] for tag in Tags if tag["Key"] == LEASE_TAG)

    # Each snapshot (live, final) 'takes' 1000 s: before its wait the lease has less left than a wait may take.
    recording = RecordingClient(ec2, before={
        "create_tags": create_tags, "create_snapshot": lambda **_kwargs: lease_time.shift(1000)})
    run = _run(recording, kms, volume_ids=[root_id], allow_stop=True)
    assert run.failure is None
    expiries = [lease.Holder(value).expires for value in written]
    assert len(expiries) == 3 and expiries[1] >= expiries[0] + 1000 and expiries[2] >= expiries[1] + 1000


def test_a_rerun_while_the_first_run_still_swaps_waits_and_never_swaps_again(estate, lease_time, monkeypatch):
    ec2, kms, source, _destination = estate
    instance_id, root_id = _run_instance(ec2, source["Arn"])
    data_id = _attach_data_volume(ec2, source["Arn"], instance_id)
    first_in_swap, second_waiting = threading.Event(), threading.Event()

    def sleep(seconds):
        if seconds != lease.SETTLE_SECONDS:
            second_waiting.set()  # only a run that finds another run's lease polls
        time.sleep(0.01)
    monkeypatch.setattr(lease, "_sleep", sleep)

    def pause(**_kwargs):
        first_in_swap.set()
        assert second_waiting.wait(30)

    first_client = RecordingClient(ec2, before={"stop_instances": pause})
    second_client = RecordingClient(ec2)
    results = {}

    def migrate(name, client):
        results[name] = _run(client, kms, volume_ids=[root_id, data_id], allow_stop=True, source_volume="delete")

    first = threading.Thread(target=migrate, args=("first", first_client))
    second = threading.Thread(target=migrate, args=("second", second_client))
    first.start()
    assert first_in_swap.wait(30)
    second.start()
    first.join(60)
    second.join(60)

    assert results["first"].failure is None and results["second"].failure is None
    moved = dict((entry["volume_id"], entry["new_volume_id"]) for entry in results["first"].values["volumes"])
    second_entries = dict((entry["volume_id"], entry) for entry in results["second"].values["volumes"])
    assert [second_entries[volume_id]["action"] for volume_id in (root_id, data_id)] == ["unchanged", "unchanged"]
    assert dict((volume_id, entry["new_volume_id"]) for volume_id, entry in second_entries.items()) == moved
    assert not set(SWAP_STEPS) & set(second_client.calls)
    devices = dict((m["DeviceName"], m["Ebs"]["VolumeId"]) for m in _instance(ec2, instance_id)["BlockDeviceMappings"])
    assert devices == {"/dev/sda1": moved[root_id], "/dev/sdf": moved[data_id]}
    assert sorted(volume["VolumeId"] for volume in ec2.describe_volumes()["Volumes"]) == sorted(moved.values())
    assert _lease_of(ec2, instance_id) is None


def test_a_swap_whose_lease_another_run_took_is_not_rolled_back(estate, lease_time):
    ec2, kms, source, _destination = estate
    instance_id, _root = _run_instance(ec2, source["Arn"])
    data_id = _attach_data_volume(ec2, source["Arn"], instance_id)
    calls_after_failure = []

    def taken_then_refused(**_kwargs):
        # Another run takes the lease over, and its work makes this attach fail.
        _other_run(ec2, instance_id, expires=lease_time.clock() + 7200)
        recording.calls = calls_after_failure
        raise ClientError({"Error": {"Code": "IncorrectState", "Message": "refused by the test"}}, "AttachVolume")

    recording = RecordingClient(ec2, before={"attach_volume": taken_then_refused})
    run = _run(recording, kms, volume_ids=[data_id], allow_stop=True)
    entry = run.values["volumes"][0]
    assert entry["action"] == "failed" and "did not roll back" in entry["reason"]
    assert not set(SWAP_STEPS) & set(calls_after_failure)
    assert _volume_state(ec2, data_id) == "available"  # left as that run's to finish
    assert lease.Holder(_lease_of(ec2, instance_id)).run_id == "other-run"


def _volume_state(ec2, volume_id):
    return ec2.describe_volumes(VolumeIds=[volume_id])["Volumes"][0]["State"]


def test_a_lease_that_cannot_be_read_never_expires():
    assert lease.Holder("run=x;expires=2026-01-01T00:00:00Z").expired(time.time())
    assert not lease.Holder("garbage").expired(time.time())
    assert "cannot be read" in lease.Holder("garbage").describe()
