"""Shared pytest setup: the collection on the import path, and the local endpoint.

- Imports of `ansible_collections.kmsrotate.aws...` resolve to this checkout
  through Ansible's own collection loader (as ansible-test does), using the
  link the Makefile makes in .build/collections.
- `endpoint` is one local AWS endpoint process per test session; `aws` hands
  it to a test freshly reset, with no faults and default fidelity.
"""

import os
import pathlib

import pytest

from local_endpoint import LocalEndpoint
from playbook import PlaybookRunner

REPO = pathlib.Path(__file__).resolve().parent.parent
COLLECTIONS = REPO / ".build" / "collections"


def _install_collection_loader():
    link = COLLECTIONS / "ansible_collections" / "kmsrotate" / "aws"
    if not link.exists():
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(REPO)
    from ansible.utils.collection_loader._collection_finder import _AnsibleCollectionFinder

    # pylint: disable-next=protected-access
    _AnsibleCollectionFinder(paths=[str(COLLECTIONS)], scan_sys_paths=True)._install()
    os.environ.setdefault("ANSIBLE_COLLECTIONS_PATH", str(COLLECTIONS))


_install_collection_loader()


@pytest.fixture(scope="session")
def endpoint(tmp_path_factory):
    log = tmp_path_factory.mktemp("endpoint") / "server.log"
    with LocalEndpoint(log_path=str(log)) as server:
        yield server


@pytest.fixture
def aws(endpoint):
    """The session's endpoint, emptied for this test."""
    endpoint.reset()
    yield endpoint
    endpoint.clear_faults()


@pytest.fixture
def playbook(aws, tmp_path):
    """Runs ansible-playbook against the endpoint; see playbook.PlaybookRunner."""
    return PlaybookRunner(aws, tmp_path, collections_path=str(COLLECTIONS))
