"""The execution environment: `ansible-builder create` makes a complete build context, offline.

No container is built here. The build context is generated from
execution-environment.yml with the network cut off (a network namespace of its
own where the machine allows it, an unreachable proxy otherwise), then read:
the Containerfile, the galaxy and Python requirements it installs, and what
ansible-builder's own introspection finds in this collection.
"""

import os
import pathlib
import shutil
import subprocess
import sys

import pytest
import yaml
from packaging.requirements import Requirement

REPO = pathlib.Path(__file__).resolve().parents[2]
BIN = pathlib.Path(sys.executable).parent
BUILDER = BIN / "ansible-builder"


def _offline_command(command):
    """`command` without network: `unshare -n` when it works here, else proxies that lead nowhere."""
    unshare = shutil.which("unshare")
    if unshare and subprocess.run([unshare, "-n", "true"], capture_output=True, check=False).returncode == 0:
        return [unshare, "-n"] + command, dict(os.environ)
    env = dict(os.environ)
    for name in ("HTTP_PROXY", "HTTPS_PROXY", "http_proxy", "https_proxy", "ALL_PROXY"):
        env[name] = "http://127.0.0.1:9"
    for name in ("NO_PROXY", "no_proxy"):
        env.pop(name, None)
    return command, env


@pytest.fixture(scope="module")
def context(tmp_path_factory):
    if not BUILDER.exists():
        pytest.fail("ansible-builder is not installed next to {0}: run `make venv`".format(sys.executable))
    target = tmp_path_factory.mktemp("ee") / "context"
    command, env = _offline_command([str(BUILDER), "create", "--file", str(REPO / "execution-environment.yml"),
                                     "--context", str(target), "--output-filename", "Containerfile"])
    done = subprocess.run(command, cwd=str(REPO), env=env, capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stdout + done.stderr
    return target


def _requirements(path):
    lines = [line.split("#", 1)[0].strip() for line in path.read_text().splitlines()]
    return dict((req.name, req) for req in (Requirement(line) for line in lines if line))


def test_definition_is_version_3_and_names_its_files():
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert definition["version"] == 3
    for entry in ("galaxy", "python"):
        assert (REPO / definition["dependencies"][entry]).is_file(), entry


def test_containerfile_installs_python_ansible_core_and_the_requirements(context):
    containerfile = (context / "Containerfile").read_text()
    definition = yaml.safe_load((REPO / "execution-environment.yml").read_text())
    assert 'ARG EE_BASE_IMAGE="{0}"'.format(definition["images"]["base_image"]["name"]) in containerfile
    assert 'ARG PYCMD="/usr/bin/python3.11"' in containerfile
    assert "ansible-galaxy collection install" in containerfile and "-r requirements.yml" in containerfile
    assert "introspect.py introspect --user-pip=requirements.txt" in containerfile
    # The ansible-core range starts where meta/runtime.yml says the collection does.
    requires = yaml.safe_load((REPO / "meta" / "runtime.yml").read_text())["requires_ansible"]
    install_refs = next(line for line in containerfile.splitlines() if line.startswith("ARG ANSIBLE_INSTALL_REFS="))
    core = Requirement(install_refs.split('"')[1].split()[0])
    assert core.name == "ansible-core"
    floor = requires.lstrip(">=")
    assert ">=" + floor in str(core.specifier).split(",")
    # ...and takes the ansible-core the tests run with.
    tested = next(line.split("==")[1] for line in (REPO / "requirements-dev.txt").read_text().splitlines()
                  if line.startswith("ansible-core=="))
    assert tested in core.specifier
    for script in ("assemble", "introspect.py", "install-from-bindep", "entrypoint"):
        assert (context / "_build" / "scripts" / script).is_file(), script


def test_galaxy_requirements_name_the_collection_and_amazon_aws(context):
    collections = yaml.safe_load((context / "_build" / "requirements.yml").read_text())["collections"]
    by_name = dict((entry["name"], entry) for entry in collections)
    assert set(by_name) == {"kmsrotate.aws", "amazon.aws"}
    # amazon.aws at least the version galaxy.yml depends on.
    galaxy = yaml.safe_load((REPO / "galaxy.yml").read_text())
    assert by_name["amazon.aws"]["version"] == galaxy["dependencies"]["amazon.aws"]


def test_python_requirements_are_boto3_and_botocore_the_tests_run_with(context):
    wanted = _requirements(context / "_build" / "requirements.txt")
    assert set(wanted) == {"boto3", "botocore"}
    pinned = dict((req.name, req) for req in (Requirement(line) for line in
                                              (REPO / "requirements-dev.txt").read_text().splitlines()
                                              if line.startswith(("boto3==", "botocore=="))))
    for name in ("boto3", "botocore"):
        tested = str(pinned[name].specifier).lstrip("=")
        assert tested in wanted[name].specifier, (name, tested, str(wanted[name].specifier))


def test_introspection_finds_the_collections_own_requirements(context, tmp_path):
    """What a user's own EE that includes kmsrotate.aws gets: the build's introspect step, run here on this checkout."""
    import ansible_collections.amazon.aws as amazon_aws

    tree = tmp_path / "collections" / "ansible_collections"
    (tree / "kmsrotate").mkdir(parents=True)
    (tree / "amazon").mkdir()
    (tree / "kmsrotate" / "aws").symlink_to(REPO)
    (tree / "amazon" / "aws").symlink_to(list(amazon_aws.__path__)[0])
    done = subprocess.run([sys.executable, str(context / "_build" / "scripts" / "introspect.py"), "introspect",
                           str(tree.parent)], capture_output=True, text=True, check=False)
    assert done.returncode == 0, done.stderr
    found = yaml.safe_load(done.stdout)["python"]
    ours = [line.split("#")[0].strip() for line in found if line.endswith("# from collection kmsrotate.aws")]
    assert sorted(Requirement(line).name for line in ours) == ["boto3", "botocore"]
