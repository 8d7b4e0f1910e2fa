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


# The oldest ansible-core meta/runtime.yml claims (requires_ansible), installed
# by `make core-oldest` into its own virtualenv; `make test` always provides it.
OLDEST_CORE_BIN = os.environ.get("KMSROTATE_OLDEST_CORE_BIN", "")


@pytest.fixture(params=["pinned", "oldest"])
def playbook_each_core(request, aws, tmp_path):
    """A PlaybookRunner for the pinned ansible-core, then one for the oldest supported (2.17).

    Modules still run with this Python (its boto3); the oldest core's
    controller finds amazon.aws and ansible.posix where the pinned one
    installed them, so both runs use the same collections.
    """
    if request.param == "pinned":
        return PlaybookRunner(aws, tmp_path, collections_path=str(COLLECTIONS))
    if not OLDEST_CORE_BIN:
        if os.environ.get("CI"):
            pytest.fail("KMSROTATE_OLDEST_CORE_BIN is not set: run the tests with `make test` (it installs ansible-core 2.17)")
        pytest.skip("the oldest ansible-core is not installed here: `make core-oldest`, then set KMSROTATE_OLDEST_CORE_BIN")
    import ansible_collections.amazon.aws as amazon_aws
    site_collections = str(pathlib.Path(list(amazon_aws.__path__)[0]).parents[2])
    return PlaybookRunner(aws, tmp_path, collections_path=os.pathsep.join([str(COLLECTIONS), site_collections]),
                          ansible_bin_dir=OLDEST_CORE_BIN)
