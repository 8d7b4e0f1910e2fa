"""Clients of the session's local endpoint, for the fidelity self-tests (a file may override one)."""

import pytest


@pytest.fixture
def kms(aws):
    return aws.client("kms")


@pytest.fixture
def ec2(aws):
    return aws.client("ec2")
