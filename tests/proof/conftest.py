"""Fixtures of the proof suite: the size, a seeded estate with its inventory, and watched role runs.

KMSROTATE_PROOF_SIZE selects the size: `small` (default, what make test runs)
or `large` (make proof). Tests marked `proof_large` run only at the large size.
"""

import os

import pytest
import yaml

from . import estate as proof_estate
from .harness import HOST, RoleRuns
from .ledger import Ledger

SIZE_ENV = "KMSROTATE_PROOF_SIZE"


def pytest_configure(config):
    config.addinivalue_line("markers", "proof_large: only at KMSROTATE_PROOF_SIZE=large (make proof)")


def proof_size():
    size = os.environ.get(SIZE_ENV, "small")
    if size not in proof_estate.SIZES:
        raise pytest.UsageError("{0}={1}: expected one of {2}".format(SIZE_ENV, size, sorted(proof_estate.SIZES)))
    return size


def pytest_collection_modifyitems(config, items):
    del config
    if proof_size() == "large":
        return
    skip = pytest.mark.skip(reason="large size only: run with {0}=large (make proof)".format(SIZE_ENV))
    for item in items:
        if "proof_large" in item.keywords:
            item.add_marker(skip)


@pytest.fixture
def size():
    return proof_size()


@pytest.fixture
def estate(aws, tmp_path, size):
    return proof_estate.seed(aws, tmp_path, size)


@pytest.fixture
def report_dir(tmp_path):
    return tmp_path / "reports"


@pytest.fixture
def s3_method():
    """s3_kms_recopy's method for the buckets; None leaves its default (auto). A test may parametrize it."""
    return None


@pytest.fixture
def inventory(estate, tmp_path, report_dir, s3_method):
    path = tmp_path / "inventory.yml"
    path.write_text(yaml.safe_dump({"kms_rotation": {"hosts": {HOST: estate.host_vars(report_dir, s3_method)}}}))
    return path


@pytest.fixture
def ledger(aws, estate):
    """Recorded before any run."""
    return Ledger.record(aws, estate)


@pytest.fixture
def role_runs(playbook, tmp_path, inventory):
    runs = RoleRuns(playbook, tmp_path, inventory)
    yield runs
    # Detached async jobs a kill left running must not outlive the test (the next one resets the endpoint).
    runs.kill_all()
