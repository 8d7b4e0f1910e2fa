"""Clients: one client per service and region, each heard by the limit and the request counter."""

from types import SimpleNamespace

from botocore.awsrequest import AWSResponse
from botocore.hooks import HierarchicalEmitter

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit


def test_clients_are_made_once_and_counted(aws_client):
    made = []

    def connect(service, region, config):
        made.append((service, region, config.max_pool_connections))
        return aws_client(service, region, config)

    clients = Clients(connect, AdaptiveLimit(32), region="us-east-1")
    kms = clients("kms")
    assert clients("kms") is kms
    clients("kms", "eu-west-1")
    assert made == [("kms", None, 36), ("kms", "eu-west-1", 36)]
    kms.create_key(aws_retry=True)
    kms.list_keys(aws_retry=True)
    assert dict(clients.requests.counts) == {"CreateKey": 1, "ListKeys": 1}


def test_throttling_on_any_client_slows_the_shared_limit():
    limit = AdaptiveLimit(8)

    def connect(service, region, config):
        return SimpleNamespace(client=SimpleNamespace(meta=SimpleNamespace(events=HierarchicalEmitter())))

    clients = Clients(connect, limit)
    events = clients("kms").client.meta.events
    events.emit("needs-retry.kms.ReEncrypt", response=(None, {"Error": {"Code": "ThrottlingException"}}), attempts=1)
    assert (limit.current, limit.throttle_events) == (4, 1)


def test_every_attempt_is_counted_retries_included(aws_client):
    """A call botocore retries after a throttle went out twice: `requests` says 2, not 1."""
    clients = Clients(aws_client, AdaptiveLimit(4), region="us-east-1")
    kms = clients("kms")
    throttled = []

    def throttle_first_attempt(**kwargs):
        # Answered without reaching moto, as KMS answers a throttled request; botocore retries it.
        if not throttled:
            throttled.append(True)
            return AWSResponse("https://kms.us-east-1.amazonaws.com/", 400, {}, _RawBody(b'{"__type": "ThrottlingException"}'))
        return None

    kms.client.meta.events.register("before-send.kms.ListKeys", throttle_first_attempt)
    kms.list_keys(aws_retry=True)
    assert clients.requests.counts["ListKeys"] == 2
    assert throttled == [True]


class _RawBody(object):
    """The raw stream an AWSResponse reads its body from."""

    def __init__(self, body):
        self._body = body

    def stream(self, **kwargs):
        yield self._body
