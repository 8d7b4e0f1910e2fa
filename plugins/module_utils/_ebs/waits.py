# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ebs_kms_migrate's waits for snapshots, volumes and instances, bounded by its wait_timeout."""

import math
import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import THROTTLED, RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import WaiterError, is_error

# Seconds between two polls of a waiter. AWS takes seconds to hours per step.
POLL_DELAY = 5


class Waits(object):
    """boto3 EC2 waiters bounded by the module's wait_timeout.

    `before_wait`, when given, is called before every wait (an instance swap
    renews its lease there, so the lease outlasts each wait).
    """

    def __init__(self, ec2, wait_timeout, delay=POLL_DELAY, clock=time.monotonic, before_wait=None):
        self._ec2 = ec2
        self._timeout = wait_timeout
        self._delay = delay
        self._clock = clock
        self._before_wait = before_wait

    def wait(self, waiter_name, resource, **kwargs):
        if self._before_wait is not None:
            self._before_wait()
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
                if is_error(exc, THROTTLED) and self._clock() < deadline:
                    continue
                raise RotationError(
                    "Waiting for {0} failed: {1}.".format(waiter_name.replace("_", " "), exc.kwargs.get("reason")
                                                          or exc),
                    resource=resource,
                    fix="look at the resource in the EC2 console, raise wait_timeout if it is only slow, "
                        "then run the task again: it resumes where it stopped.")
