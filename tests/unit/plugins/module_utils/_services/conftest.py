"""Shared set-up of the kms_service_rekey engine tests: two keys and a runner of the engine."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.rekey import ServiceRekey, ServiceRekeySpec


@pytest.fixture
def keys(aws_client):
    kms = aws_client("kms")
    source = kms.create_key(Description="old")["KeyMetadata"]["Arn"]
    destination = kms.create_key(Description="new")["KeyMetadata"]["Arn"]
    return source, destination


@pytest.fixture
def rekey(make_clients, keys):
    """rekey(targets, check_mode=False, **options) -> (values, diff, failure) of one engine run."""
    def run(targets=None, check_mode=False, **options):
        clients, limit = make_clients()
        spec = ServiceRekeySpec(source_key=keys[0], destination_key=keys[1], targets=targets, **options)
        result = ServiceRekey(clients, limit).run(spec, check_mode=check_mode)
        return result.values, result.diff, result.failure
    return run


@pytest.fixture
def by_resource():
    """by_resource(values) -> {resource ARN: its result entry}."""
    return lambda values: dict((entry["resource"], entry) for entry in values["resources"])


@pytest.fixture
def stubbed_rekey(aws_client, keys):
    """For services moto models wrongly: stubbed_rekey(service) -> (stubber, run); run(targets, **options) runs the
    engine with `service` answered by the stubber (moto answers KMS and everything else)."""
    import boto3
    from botocore.stub import Stubber
    from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry

    def make(service):
        raw = boto3.client(service, region_name="us-east-1")
        stubber = Stubber(raw)
        stubber.activate()

        def connect(name, region, config):
            if name == service:
                return RetryingBotoClientWrapper(raw, aws_retry)
            return aws_client(name, region, config)

        def run(targets, check_mode=False, **options):
            limit = AdaptiveLimit(1)
            spec = ServiceRekeySpec(source_key=keys[0], destination_key=keys[1], targets=targets, **options)
            result = ServiceRekey(Clients(connect, limit, region="us-east-1"), limit).run(spec, check_mode=check_mode)
            return result.values, result.diff, result.failure
        return stubber, run
    return make
