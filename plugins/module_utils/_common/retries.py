# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Retries, in two layers, each doing what it is good at.

- botocore's own ("standard" mode, 3 attempts) absorbs dropped connections and
  transient 5xx answers close to the wire;
- amazon.aws's AWSRetry (jittered backoff) retries throttling for as long as a
  rotation needs, with the codes it does not know added here: KMS
  ThrottlingException, S3 SlowDown (and the bare 503 botocore reports for a
  throttled HEAD, which has no body to carry a code).

A ThrottleWatch hears about every throttled attempt, so a bounded pool can
slow down instead of failing.

An answer that the endpoint does not implement the operation (HTTP 501, as
LocalStack and S3-compatible stores give with codes such as InternalFailure
that AWSRetry retries) is final: retrying it only spends minutes.
"""

try:
    import botocore.config
except ImportError:
    pass  # amazon.aws's module base reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_IMPLEMENTED_STATUS, THROTTLED, codes
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import http_status

# Error codes AWSRetry.found does not retry by itself.
EXTRA_RETRY_CODES = [
    "ThrottlingException",
    "SlowDown",
    "503",
    "KMSInternalException",
    "RequestTimeout",
    # S3 relays KMS throttling of its own KMS calls (SSE-KMS reads and writes) under this code.
    "KMS.ThrottlingException",
]
THROTTLING_CODES = codes(THROTTLED)


class _Retry(AWSRetry):
    """AWSRetry, except that a not-implemented answer is reported under the code UNSUPPORTED knows, never retried."""

    @staticmethod
    def status_code_from_exception(error):
        if http_status(error) == NOT_IMPLEMENTED_STATUS:
            return "NotImplemented"
        return AWSRetry.status_code_from_exception(error)


# Per-request retry: enough to ride out minutes of throttling on a big estate.
aws_retry = _Retry.jittered_backoff(retries=12, delay=0.5, max_delay=20, catch_extra_error_codes=EXTRA_RETRY_CODES)

# Extra HTTP connections beyond the worker count, for the main thread's calls.
_POOL_HEADROOM = 4


def client_config(concurrency):
    """botocore settings for a client shared by `concurrency` worker threads."""
    return botocore.config.Config(
        max_pool_connections=max(10, int(concurrency) + _POOL_HEADROOM),
        retries={"mode": "standard", "total_max_attempts": 3},
    )


class ThrottleWatch(object):
    """Tells a listener (an AdaptiveLimit's on_throttle) about every throttled attempt."""

    def __init__(self, on_throttle):
        self._on_throttle = on_throttle

    def attach(self, client):
        client.meta.events.register("needs-retry", self._on_attempt)

    def _on_attempt(self, response=None, **kwargs):
        if response is None:
            return None
        parsed = response[1] or {}
        if parsed.get("Error", {}).get("Code") in THROTTLING_CODES:
            self._on_throttle()
        # Returning None leaves the retry decision to botocore.
        return None
