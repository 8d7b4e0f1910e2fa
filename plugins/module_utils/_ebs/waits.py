# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""ebs_kms_migrate's waits for snapshots, volumes and instances, bounded by its wait_timeout."""

import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.waits import wait_bounded

# Seconds between two polls of a waiter. AWS takes seconds to hours per step.
POLL_DELAY = 5
_FIX = ("look at the resource in the EC2 console, raise wait_timeout if it is only slow, "
        "then run the task again: it resumes where it stopped.")


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
        wait_bounded(self._ec2, waiter_name, self._timeout, resource, _FIX, self._delay, clock=self._clock, **kwargs)
