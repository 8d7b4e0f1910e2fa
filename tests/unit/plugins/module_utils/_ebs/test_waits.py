"""Waits: EC2 waiters that keep waiting through throttling, and only through throttling, until the deadline."""

import pytest
from botocore.exceptions import WaiterError

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.waits import Waits


class _Waiter(object):
    def __init__(self, answers):
        self.answers = list(answers)
        self.calls = 0

    def wait(self, **kwargs):
        self.calls += 1
        answer = self.answers.pop(0)
        if answer is not None:
            raise WaiterError("volume_available", "stopped", {"Error": {"Code": answer}})


class _Ec2(object):
    def __init__(self, waiter):
        self.waiter = waiter

    def get_waiter(self, name):
        return self.waiter


def test_throttling_is_waited_through():
    waiter = _Waiter(["RequestLimitExceeded", "Throttling", None])
    Waits(_Ec2(waiter), wait_timeout=60, delay=1).wait("volume_available", "vol-1", VolumeIds=["vol-1"])
    assert waiter.calls == 3


def test_any_other_error_stops_with_the_resource_and_the_fix():
    waiter = _Waiter(["IncorrectState"])
    with pytest.raises(RotationError) as excinfo:
        Waits(_Ec2(waiter), wait_timeout=60, delay=1).wait("volume_available", "vol-1", VolumeIds=["vol-1"])
    assert "vol-1" in str(excinfo.value) and "wait_timeout" in str(excinfo.value) and waiter.calls == 1
