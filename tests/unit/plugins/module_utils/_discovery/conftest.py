"""Fixtures of the discovery tests: an engine on moto in-process, a key named every way, and a run of it."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import KeyUsageDiscovery, UsageSpec


@pytest.fixture
def engine(make_clients):
    clients, limit = make_clients(concurrency=10)
    return KeyUsageDiscovery(clients, limit)


@pytest.fixture
def clients(engine):
    """The engine's own clients (home region us-east-1), for seeding."""
    return engine.clients


@pytest.fixture
def discover(engine):
    """discover(key_id, **options) -> the engine's result values, as the module returns them."""
    def run(key_id, **options):
        return engine.run(UsageSpec(key_id=key_id, **options)).values
    return run


@pytest.fixture
def key(clients):
    kms = clients("kms")
    metadata = kms.create_key(Description="app data")["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=metadata["KeyId"])
    return metadata


@pytest.fixture
def other_key(clients):
    return clients("kms").create_key()["KeyMetadata"]
