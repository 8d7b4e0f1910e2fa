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

S3 Control (Batch Operations) names the account in the host: botocore sends
`<account>.s3-control.<region>.amazonaws.com`, and puts the same label in
front of a custom endpoint_url too (`123456789012.127.0.0.1:4566`), a name
that can never resolve when the endpoint's host is an IP literal or
`localhost`. For such endpoints only, the s3control client drops that label
before the request is signed (a `before-sign` handler on that client alone),
so the signature covers the host actually reached; the account still travels
in the `x-amz-account-id` header botocore always sends. Any other endpoint,
AWS's own included, is left exactly as botocore built it. The account id
itself comes from STS GetCallerIdentity, once per run (`account_id()`).
"""

import collections
import ipaddress
import threading
from urllib.parse import urlsplit, urlunsplit

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


def _is_local_host(hostname):
    """Whether a host name is an IP literal or localhost: no DNS name can sit under it."""
    if hostname == "localhost":
        return True
    try:
        ipaddress.ip_address(hostname)
    except ValueError:
        return False
    return True


def strip_account_label(request=None, **kwargs):
    """`before-sign` handler of an s3control client: `<account>.<IP or localhost>` becomes the IP or localhost."""
    del kwargs
    parts = urlsplit(request.url)
    # Read from the netloc itself: `<account>.[::1]:port` is no host urlsplit can parse.
    account, _dot, rest = parts.netloc.partition(".")
    host = rest[1:rest.find("]")] if rest.startswith("[") else rest.rsplit(":", 1)[0]
    if account.isdigit() and _is_local_host(host):
        request.url = urlunsplit((parts.scheme, rest, parts.path, parts.query, parts.fragment))


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
        self._account_id = None

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
                if service == "s3control":
                    raw.meta.events.register("before-sign", strip_account_label)
                self._made[(service, region)] = client
        return client

    def account_id(self):
        """The caller's account id (STS GetCallerIdentity, asked once per run)."""
        if self._account_id is None:
            self._account_id = self("sts").get_caller_identity(aws_retry=True)["Account"]
        return self._account_id
