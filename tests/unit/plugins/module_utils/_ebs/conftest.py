"""Fixtures of the EBS engine tests: moto without its built-in AMIs, a source and a destination key, the lease's time."""

import time

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._ebs import lease


class LeaseTime(object):
    """The lease's clock and sleep: sleeping moves the clock on at once, and `shift` lets time pass."""

    def __init__(self):
        self.offset = 0.0

    def clock(self):
        return time.time() + self.offset

    def sleep(self, seconds):
        self.offset += seconds

    def shift(self, seconds):
        self.offset += seconds


@pytest.fixture(autouse=True)
def lease_time(monkeypatch):
    fake = LeaseTime()
    monkeypatch.setattr(lease, "_clock", fake.clock)
    monkeypatch.setattr(lease, "_sleep", fake.sleep)
    return fake


@pytest.fixture(autouse=True)
def _no_default_amis(monkeypatch):
    # moto otherwise builds ~1300 AMIs and their snapshots for every test, which
    # is most of the run time; instances here need no real AMI (and no snapshot is there before a test makes one).
    monkeypatch.setenv("MOTO_EC2_LOAD_DEFAULT_AMIS", "false")


@pytest.fixture
def estate(aws_client):
    """(ec2, kms, source key metadata, destination key metadata); the destination is also alias/new."""
    ec2 = aws_client("ec2")
    kms = aws_client("kms")
    source = kms.create_key()["KeyMetadata"]
    destination = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/new", TargetKeyId=destination["KeyId"])
    return ec2, kms, source, destination
