# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The AWS clients of one engine run.

Clients(connect, limit) makes each (service, region) client once, on first
use, and gives every one the same two listeners: the limit's ThrottleWatch
(so throttling anywhere slows the whole pool) and the request counter. The
connection itself is amazon.aws's: a module's or inventory plugin's
`client()` with its credentials, endpoint and region handling, wrapped to
retry with aws_retry; tests pass their own `connect`.
"""

import collections
import threading

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import ThrottleWatch, aws_retry
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import client_config


class RequestCounter(object):
    """HTTP requests sent per operation: every attempt, retries included.

    botocore's `before-send` fires once per attempt, whoever retries
    (aws_retry re-calling the operation, or botocore's own retry handler),
    so a request retried after a throttle or a dropped connection counts
    each time it went out.
    """

    def __init__(self):
        self._lock = threading.Lock()
        self.counts = collections.Counter()

    def attach(self, client):
        client.meta.events.register("before-send", self._on_send)

    def _on_send(self, event_name=None, **kwargs):
        # event_name is "before-send.<service>.<Operation>".
        operation = event_name.rsplit(".", 1)[-1]
        with self._lock:
            self.counts[operation] += 1


class Clients(object):
    """connect(service, region, config) -> a client whose calls take aws_retry=True; region None is the default."""

    def __init__(self, connect, limit, region=None):
        self._connect = connect
        # The region a client made with region None talks to (the module's).
        self.region = region
        self._limit = limit
        self._watch = ThrottleWatch(limit.on_throttle)
        self.requests = RequestCounter()
        self._made = {}
        self._lock = threading.Lock()

    @classmethod
    def from_ansible(cls, owner, limit, region=None):
        """Clients of an AnsibleAWSModule or an amazon.aws inventory plugin (both have `client()`).

        region: the default region; None takes the owner's (a module's `region`).
        """
        home = region or getattr(owner, "region", None)

        def connect(service, client_region, config):
            wanted = client_region or home
            extra = {"region": wanted} if wanted else {}
            return owner.client(service, retry_decorator=aws_retry, config=config, **extra)
        return cls(connect, limit, region=home)

    def __call__(self, service, region=None):
        # The default region asked for by name is the same client as region None.
        region = None if region == self.region else region
        with self._lock:
            client = self._made.get((service, region))
            if client is None:
                client = self._connect(service, region, client_config(self._limit.maximum))
                # The wrapper retries; the listeners go on the botocore client behind it.
                raw = getattr(client, "client", client)
                self._watch.attach(raw)
                self.requests.attach(raw)
                self._made[(service, region)] = client
        return client
