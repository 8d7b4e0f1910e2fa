"""Unit tests run the engines against moto in-process, with the fidelity layer.

- `aws_client(service)` gives a boto3 client wrapped like the modules' own
  (calls accept aws_retry=True), inside one mock_aws context per test;
- `make_clients(concurrency=4)` gives the `Clients` and `AdaptiveLimit` an
  engine is built from, as the runner would make them for a module.
"""

import boto3
import pytest
from moto import mock_aws

from local_endpoint import fidelity

REGION = "us-east-1"


@pytest.fixture
def aws_client(monkeypatch):
    from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry

    for name, value in {"AWS_ACCESS_KEY_ID": "testing", "AWS_SECRET_ACCESS_KEY": "testing",
                        "AWS_DEFAULT_REGION": REGION}.items():
        monkeypatch.setenv(name, value)
    monkeypatch.delenv("AWS_ENDPOINT_URL", raising=False)
    fidelity.install()
    with mock_aws():
        def client(service, region=None, config=None):
            return RetryingBotoClientWrapper(boto3.client(service, region_name=region or REGION, config=config),
                                             aws_retry)
        yield client


@pytest.fixture
def make_clients(aws_client):
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit

    def make(concurrency=4, connect=None):
        limit = AdaptiveLimit(concurrency)
        return Clients(connect or aws_client, limit, region=REGION), limit
    return make
