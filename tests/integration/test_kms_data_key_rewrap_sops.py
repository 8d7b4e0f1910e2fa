"""kms_data_key_rewrap format=sops with the real sops client (PyPI sops 1.18) against the local endpoint.

sops is encrypted against the endpoint (the Python sops' boto3 honours AWS_ENDPOINT_URL), the module
re-wraps the files, the old key is disabled, and `sops -d` must still give the plaintext.
"""

import json
import os
import subprocess

import pytest
import yaml

TASK = "Re-wrap sops files"
SOPS_BIN = os.environ.get("KMSROTATE_SOPS_BIN", "")
PLAINTEXT = {"db": {"user": "orders", "password": "s3cret-value", "port": 5432}, "feature": True}
CONTEXT = "app:orders,env:test"


@pytest.fixture
def sops(aws):
    """Runs the sops client against the endpoint: sops(*args) -> CompletedProcess."""
    if not (SOPS_BIN and os.access(SOPS_BIN, os.X_OK)):
        if os.environ.get("CI"):
            pytest.fail("KMSROTATE_SOPS_BIN is not set to the sops client: run the tests with `make test` "
                        "(it installs sops 1.18 with `make sops-client`)")
        pytest.skip("the sops client is not installed here: `make sops-client`, then set KMSROTATE_SOPS_BIN")
    environment = dict(os.environ, **aws.env())

    def run(*args):
        return subprocess.run([SOPS_BIN] + list(args), capture_output=True, text=True, env=environment,
                              timeout=120, check=False)
    return run


@pytest.fixture
def estate(aws, sops, tmp_path):
    kms = aws.client("kms")
    old = kms.create_key(Description="old")["KeyMetadata"]
    new = kms.create_key(Description="new")["KeyMetadata"]
    kms.create_alias(AliasName="alias/orders-secrets", TargetKeyId=new["KeyId"])
    files = {"secrets.yaml": yaml.safe_dump(PLAINTEXT), "secrets.json": json.dumps(PLAINTEXT, indent=2)}
    for name, text in files.items():
        (tmp_path / name).write_text(text)
        done = sops("--encrypt", "--in-place", "--kms", old["Arn"], "--encryption-context", CONTEXT,
                    str(tmp_path / name))
        assert done.returncode == 0, done.stderr
        assert "ENC[AES256_GCM" in (tmp_path / name).read_text()
    return {"kms": kms, "old": old, "new": new, "dir": tmp_path, "names": sorted(files)}


def _decrypted(sops, path):
    done = sops("--decrypt", str(path))
    return done, (yaml.safe_load(done.stdout) if done.returncode == 0 else None)


def test_the_old_key_disabled_breaks_sops_before_a_rotation(sops, estate):
    # The control: without the module, disabling the old key makes the files unreadable.
    estate["kms"].disable_key(KeyId=estate["old"]["KeyId"])
    for name in estate["names"]:
        done, _data = _decrypted(sops, estate["dir"] / name)
        assert done.returncode != 0, name


def test_sops_files_decrypt_after_the_rotation_with_the_old_key_disabled(playbook, sops, estate):
    paths = [str(estate["dir"] / name) for name in estate["names"]]
    before = {name: (estate["dir"] / name).read_text() for name in estate["names"]}
    task = [{"name": TASK, "register": "rewrap", "kmsrotate.aws.kms_data_key_rewrap": {
        "destination_key_id": "alias/orders-secrets", "source_key_ids": [estate["old"]["Arn"]],
        "format": "sops", "paths": paths, "backup": True}}]

    checked = playbook.run(task, check=True, diff=True)
    assert checked.rc == 0, checked
    assert {name: (estate["dir"] / name).read_text() for name in estate["names"]} == before
    assert [diff["after"] for diff in checked.result(TASK)["diff"]] == [
        "sops.kms[0].arn: {0}\n".format(estate["new"]["Arn"])] * 2

    run = playbook.run(task)
    assert run.rc == 0, run
    result = run.result(TASK)
    assert result["counts"]["rewrapped"] == 2
    for name in estate["names"]:
        after = (estate["dir"] / name).read_text()
        # Only the entry's arn and enc lines changed: the values, lastmodified and mac are as sops wrote them.
        changed = [(old, new) for old, new in zip(before[name].splitlines(), after.splitlines()) if old != new]
        assert len(after.splitlines()) == len(before[name].splitlines()), name
        assert len(changed) == 2, (name, changed)
        [arn_line] = [old for old, _new in changed if estate["old"]["Arn"] in old]
        assert (arn_line, arn_line.replace(estate["old"]["Arn"], estate["new"]["Arn"])) in changed, name

    rerun = playbook.run(task)
    assert rerun.rc == 0, rerun
    assert rerun.changed == 0
    assert rerun.result(TASK)["counts"]["unchanged"] == 2

    estate["kms"].disable_key(KeyId=estate["old"]["KeyId"])
    for name in estate["names"]:
        done, data = _decrypted(sops, estate["dir"] / name)
        assert done.returncode == 0, (name, done.stderr)
        assert data == PLAINTEXT, name
