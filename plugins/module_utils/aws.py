# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Clients and retries shared by every engine.

Retries come in two layers, each doing what it is good at:
- botocore's own ("standard" mode, a few attempts) absorbs dropped
  connections and transient 5xx answers close to the wire;
- amazon.aws's AWSRetry (jittered backoff) retries throttling for as long as
  a rotation needs, with the codes it does not know added here: KMS
  ThrottlingException, S3 SlowDown (and the bare 503 botocore reports for a
  throttled HEAD, which has no body to carry a code).
A ThrottleWatch, when given, hears about every throttled attempt, so a
bounded pool can slow down instead of failing.
"""

try:
    import botocore.config
    from botocore.exceptions import ClientError
except ImportError:
    pass  # amazon.aws's module base reports the missing SDK

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry

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
THROTTLING_CODES = frozenset(["ThrottlingException", "Throttling", "SlowDown", "503", "RequestLimitExceeded",
                              "TooManyRequestsException", "RequestThrottled", "KMS.ThrottlingException"])

# Per-request retry: enough to ride out minutes of throttling on a big estate.
aws_retry = AWSRetry.jittered_backoff(retries=12, delay=0.5, max_delay=20, catch_extra_error_codes=EXTRA_RETRY_CODES)

# Extra HTTP connections beyond the worker count, for the main thread's calls.
_POOL_HEADROOM = 4


def error_code(exc):
    """The AWS error code of a botocore ClientError, or None."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    return None


def error_message(exc):
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return "{0}: {1}".format(error.get("Code"), error.get("Message") or "").rstrip(": ")
    return str(exc)


def client_config(concurrency):
    """botocore settings for a client shared by `concurrency` worker threads."""
    return botocore.config.Config(
        max_pool_connections=max(10, int(concurrency) + _POOL_HEADROOM),
        retries={"mode": "standard", "total_max_attempts": 3},
    )


def connect(module, service, concurrency=10, throttle_watch=None, region=None):
    """A thread-safe client for `service` whose calls retry with aws_retry=True.

    `region` overrides the module's region, for engines that look at several.
    """
    extra = {"region": region} if region else {}
    client = module.client(service, retry_decorator=aws_retry, config=client_config(concurrency), **extra)
    if throttle_watch is not None:
        throttle_watch.attach(client.client)
    return client


class ThrottleWatch:
    """Tells a listener (an AdaptiveLimit's on_throttle) about every throttled attempt."""

    def __init__(self, on_throttle):
        self._on_throttle = on_throttle

    def attach(self, client):
        client.meta.events.register("needs-retry", self._on_attempt)

    def _on_attempt(self, response=None, **kwargs):
        if response is None:
            return None
        parsed = response[1] or {}
        code = parsed.get("Error", {}).get("Code")
        if code in THROTTLING_CODES:
            self._on_throttle()
        # Returning None leaves the retry decision to botocore.
        return None
