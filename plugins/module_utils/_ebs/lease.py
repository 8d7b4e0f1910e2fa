# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The lease one run holds on an instance while it swaps the instance's volumes.

Two runs swapping one instance at once undo each other's work (each sees the
other's detach as a failure and rolls back). Killing ansible-playbook leaves
the module's async job running, so a rerun meets a swap still in flight. The
lease is a tag on the instance, LEASE_TAG = `run=<run id>;expires=<UTC time>`:

- a run takes the lease before it changes anything on the instance, and gives
  it back when the swap is done or rolled back;
- another run finding a live lease waits for it (up to wait_timeout), and
  takes over a lease that expired: its run died, and the swap it left is resumed
  from the swap tags like any interrupted one;
- the holder renews the lease before each wait, so a live run never loses it;
  a run that finds the lease taken from it stops without rolling back.

EC2 has no conditional tag write: a run writes its lease, waits SETTLE_SECONDS,
and reads it back; of two runs writing at once, only the one whose value stayed
goes on, and the other waits.
"""

import datetime
import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.markers import LEASE_TAG, tags_of
from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs.waits import POLL_DELAY

# Seconds a lease outlives the wait_timeout of the wait it covers: the API
# calls and retries between two waits of a swap take far less.
LEASE_MARGIN = 900
# Seconds between writing a lease and reading it back.
SETTLE_SECONDS = 1.0
_EXPIRY_FORMAT = "%Y-%m-%dT%H:%M:%SZ"

# Wall-clock time (a lease is read by other runs, on other hosts) and sleep; tests replace them.
_clock = time.time
_sleep = time.sleep


def encode(run_id, expires):
    stamp = datetime.datetime.fromtimestamp(expires, datetime.timezone.utc).strftime(_EXPIRY_FORMAT)
    return "run={0};expires={1}".format(run_id, stamp)


class Holder(object):
    """Who holds a lease and until when (expires None: the value cannot be read, so it never expires)."""

    __slots__ = ("run_id", "expires", "value")

    def __init__(self, value):
        self.value = value
        fields = dict(part.split("=", 1) for part in value.split(";") if "=" in part)
        self.run_id = fields.get("run")
        try:
            self.expires = datetime.datetime.strptime(fields.get("expires", ""), _EXPIRY_FORMAT).replace(
                tzinfo=datetime.timezone.utc).timestamp()
        except ValueError:
            self.expires = None

    def expired(self, now):
        return self.expires is not None and self.expires <= now

    def describe(self):
        if self.expires is None:
            return "a lease whose value {0!r} cannot be read".format(self.value)
        return "run {0}, lease until {1}".format(self.run_id, self.value.split("expires=", 1)[1])


class InstanceLease(object):
    """One run's lease on one instance (see the module docstring)."""

    def __init__(self, ec2, instance_id, run_id, wait_timeout, poll_delay=POLL_DELAY):
        self.ec2 = ec2
        self.instance_id = instance_id
        self.run_id = run_id
        self.wait_timeout = wait_timeout
        self.poll_delay = poll_delay
        self._value = None
        self._expires = None

    def holder(self):
        reservations = self.ec2.describe_instances(InstanceIds=[self.instance_id], aws_retry=True)["Reservations"]
        value = tags_of(reservations[0]["Instances"][0]).get(LEASE_TAG)
        return Holder(value) if value else None

    def held(self):
        holder = self.holder()
        return holder is not None and holder.value == self._value

    def acquire(self):
        """Take the lease, waiting up to wait_timeout for a live one held by another run."""
        deadline = _clock() + self.wait_timeout
        while True:
            holder = self.holder()
            if holder is None or holder.run_id == self.run_id or holder.expired(_clock()):
                self._write()
                _sleep(SETTLE_SECONDS)
                holder = self.holder()
                if holder is not None and holder.value == self._value:
                    return
            if _clock() >= deadline:
                raise RotationError(
                    "Instance {0} is being swapped by another run of ebs_kms_migrate ({1}); this run waited {2} s "
                    "for it and changed nothing on the instance.".format(
                        self.instance_id, holder.describe() if holder else "the lease it wrote did not stay", self.wait_timeout),
                    resource=self.instance_id,
                    fix="an ansible-playbook stopped mid-task leaves its async job running: let that job finish, then "
                        "run again. If no run is working on the instance, run again once the lease has expired, or "
                        "remove the tag {0} from {1}.".format(LEASE_TAG, self.instance_id))
            _sleep(min(self.poll_delay, max(0.0, deadline - _clock())))

    def keep(self):
        """Before a wait: renew the lease unless it outlasts the longest wait; fail if another run took it."""
        if self._expires - _clock() >= self.wait_timeout + LEASE_MARGIN / 2:
            return
        if not self.held():
            raise RotationError("Another run took over the lease on {0} while this run was swapping its "
                                "volumes.".format(self.instance_id), resource=self.instance_id,
                                fix="let that run finish the swap, then run again.")
        self._write()

    def release(self):
        """Give the lease back, if it is still ours (DeleteTags with a value deletes only that value)."""
        try:
            self.ec2.delete_tags(Resources=[self.instance_id], Tags=[{"Key": LEASE_TAG, "Value": self._value}],
                                 aws_retry=True)
        except ClientError:
            pass  # a lease not given back expires on its own; the swap's own outcome is what the run reports

    def _write(self):
        self._expires = _clock() + self.wait_timeout + LEASE_MARGIN
        self._value = encode(self.run_id, self._expires)
        self.ec2.create_tags(Resources=[self.instance_id], Tags=[{"Key": LEASE_TAG, "Value": self._value}],
                             aws_retry=True)
