# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""What the EBS engines share: the tags that mark work in progress, and waits.

Everything this collection creates or changes on the way to a new volume or
snapshot carries a `kmsrotate:` tag naming what it belongs to, so a run that
was interrupted at any step finds its own work again instead of making a
second copy:

- temporary snapshots and the replacement volume: SOURCE_VOLUME_TAG = source volume id
  (temporary snapshots also SNAPSHOT_PHASE_TAG: `live` or `final`);
- a source volume while it is being swapped on an instance: SWAP_TAG, the
  attachment and instance state to restore (see SwapRecord);
- a re-keyed snapshot copy: SOURCE_SNAPSHOT_TAG = source snapshot id;
- a source volume or snapshot kept after it was replaced: REPLACED_BY_TAG.
"""

import math
import time

try:
    from botocore.exceptions import WaiterError
except ImportError:
    pass  # amazon.aws's module base reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.tagging import ansible_dict_to_boto3_tag_list
from ansible_collections.amazon.aws.plugins.module_utils.tagging import boto3_tag_list_to_ansible_dict
from ansible_collections.kmsrotate.aws.plugins.module_utils.aws import THROTTLING_CODES
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError

TAG_PREFIX = "kmsrotate:"
SOURCE_VOLUME_TAG = TAG_PREFIX + "source-volume"
SNAPSHOT_PHASE_TAG = TAG_PREFIX + "snapshot-phase"
SWAP_TAG = TAG_PREFIX + "swap"
SOURCE_SNAPSHOT_TAG = TAG_PREFIX + "source-snapshot"
REPLACED_BY_TAG = TAG_PREFIX + "replaced-by"

# Seconds between two polls of a waiter. AWS takes seconds to hours per step.
POLL_DELAY = 5


def tags_of(resource):
    return boto3_tag_list_to_ansible_dict(resource.get("Tags") or [])


def user_tags(resource):
    """The tags a copy should carry: the user's, not AWS's reserved ones nor our markers."""
    return dict((key, value) for key, value in tags_of(resource).items()
                if not key.startswith("aws:") and not key.startswith(TAG_PREFIX))


def tag_specification(resource_type, tags):
    return [{"ResourceType": resource_type, "Tags": ansible_dict_to_boto3_tag_list(tags)}] if tags else []


class SwapRecord(object):
    """What a swap must restore, written on the source volume before the instance is touched.

    The value survives an interrupted run, when the source volume may already
    be detached and the instance stopped by us, so the rerun still knows the
    device, DeleteOnTermination and whether to start the instance again.
    """

    __slots__ = ("instance_id", "device", "delete_on_termination", "instance_state")

    def __init__(self, instance_id, device, delete_on_termination, instance_state):
        self.instance_id = instance_id
        self.device = device
        self.delete_on_termination = bool(delete_on_termination)
        self.instance_state = instance_state

    def encode(self):
        return "instance={0};device={1};delete-on-termination={2};instance-state={3}".format(
            self.instance_id, self.device, str(self.delete_on_termination).lower(), self.instance_state)

    @classmethod
    def decode(cls, value):
        fields = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
        try:
            return cls(fields["instance"], fields["device"], fields["delete-on-termination"] == "true",
                       fields["instance-state"])
        except KeyError:
            return None


class Waits(object):
    """boto3 EC2 waiters bounded by the module's wait_timeout."""

    def __init__(self, ec2, wait_timeout, delay=POLL_DELAY, clock=time.monotonic):
        self._ec2 = ec2
        self._timeout = wait_timeout
        self._delay = delay
        self._clock = clock

    def wait(self, waiter_name, resource, **kwargs):
        deadline = self._clock() + self._timeout
        waiter = self._ec2.get_waiter(waiter_name)
        # A waiter gives up on the first error it has no acceptor for, and EC2
        # throttles describe calls too: keep waiting through throttling until
        # the deadline, and only through throttling.
        while True:
            attempts = max(1, int(math.ceil((deadline - self._clock()) / self._delay)))
            try:
                waiter.wait(WaiterConfig={"Delay": self._delay, "MaxAttempts": attempts}, **kwargs)
                return
            except WaiterError as exc:
                code = (exc.last_response or {}).get("Error", {}).get("Code")
                if code in THROTTLING_CODES and self._clock() < deadline:
                    continue
                raise RotationError(
                    "Waiting for {0} failed: {1}.".format(waiter_name.replace("_", " "), exc.kwargs.get("reason")
                                                          or exc),
                    resource=resource,
                    fix="look at the resource in the EC2 console, raise wait_timeout if it is only slow, "
                        "then run the task again: it resumes where it stopped.")
