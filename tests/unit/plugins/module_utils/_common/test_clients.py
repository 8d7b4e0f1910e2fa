"""Clients: one client per service and region, each heard by the limit and the request counter."""

from types import SimpleNamespace

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
