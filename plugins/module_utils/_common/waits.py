# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""botocore waiters bounded by a module's wait_timeout, for every engine that waits on AWS."""

import math
import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import THROTTLED, RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import WaiterError, is_error


def wait_bounded(client, waiter_name, timeout, resource, fix, delay, clock=time.monotonic, **kwargs):
    """Run the client's waiter until it succeeds or `timeout` seconds have passed.

    A waiter gives up on the first error it has no acceptor for, and services
    throttle describe calls too: keep waiting through throttling until the
    deadline, and only through throttling. Any other failure is a
    RotationError naming the resource, with `fix`.
    """
    deadline = clock() + timeout
    waiter = client.get_waiter(waiter_name)
    while True:
        attempts = max(1, int(math.ceil((deadline - clock()) / delay)))
        try:
            waiter.wait(WaiterConfig={"Delay": delay, "MaxAttempts": attempts}, **kwargs)
            return
        except WaiterError as exc:
            if is_error(exc, THROTTLED) and clock() < deadline:
                continue
            raise RotationError(
                "Waiting for {0} failed: {1}.".format(waiter_name.replace("_", " "), exc.kwargs.get("reason") or exc),
                resource=resource, fix=fix)
