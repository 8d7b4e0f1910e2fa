"""kms_data_key_rewrap through ansible-playbook against the local endpoint."""

import base64
import os
import subprocess

import pytest

TASK = "Re-wrap data keys"


@pytest.fixture
def kms(aws):
    return aws.client("kms")


@pytest.fixture
def estate(kms, tmp_path):
    """An old key with three data-key files (two formats), a new key behind an alias."""
    old = kms.create_key(Description="old")["KeyMetadata"]
    new = kms.create_key(Description="new")["KeyMetadata"]
    kms.create_alias(AliasName="alias/app-data", TargetKeyId=new["KeyId"])
    keys_dir = tmp_path / "keys"
    keys_dir.mkdir()
    plaintexts = {}
    for index, name in enumerate(["orders.key", "users.key", "audit.dk"]):
        answer = kms.generate_data_key(KeyId=old["KeyId"], KeySpec="AES_256")
        blob = answer["CiphertextBlob"]
        content = blob if index == 0 else base64.b64encode(blob) + b"\n"
        (keys_dir / name).write_bytes(content)
        os.chmod(keys_dir / name, 0o640)
        plaintexts[name] = answer["Plaintext"]
    return {"old": old, "new": new, "dir": keys_dir, "plaintexts": plaintexts}


def _blob_of(path):
    content = path.read_bytes()
    try:
        return base64.b64decode(content.strip(), validate=True)
    except ValueError:
        return content


def _task(**options):
    return [{"name": TASK, "kmsrotate.aws.kms_data_key_rewrap": options, "register": "rewrap"}]


def _assert_under(kms, estate, key):
    for name, plaintext in estate["plaintexts"].items():
        answer = kms.decrypt(CiphertextBlob=_blob_of(estate["dir"] / name))
        assert answer["KeyId"] == key["Arn"], name
        assert answer["Plaintext"] == plaintext, name


def test_rewrap_files_in_both_formats_then_rerun_changes_nothing(playbook, kms, estate):
    tasks = _task(destination_key_id="alias/app-data",
                  paths=[str(estate["dir"] / "*.key"), str(estate["dir"] / "*.dk")])
    run = playbook.run(tasks)
    assert run.rc == 0, run
    result = run.result(TASK)
    assert result["changed"] is True
    assert result["counts"] == {"rewrapped": 3, "unchanged": 0, "skipped": 0, "failed": 0, "not_a_blob": 0}
    _assert_under(kms, estate, estate["new"])
    assert (estate["dir"] / "users.key").read_bytes().endswith(b"\n")
    assert oct(os.stat(estate["dir"] / "orders.key").st_mode & 0o777) == "0o640"
    formats = {os.path.basename(item["path"]): item["format"] for item in result["results"]}
    assert formats == {"orders.key": "binary", "users.key": "base64", "audit.dk": "base64"}

    before = {name: (estate["dir"] / name).read_bytes() for name in estate["plaintexts"]}
    rerun = playbook.run(tasks)
    assert rerun.rc == 0, rerun
    assert rerun.changed == 0
    assert rerun.result(TASK)["counts"]["unchanged"] == 3
    assert {name: (estate["dir"] / name).read_bytes() for name in estate["plaintexts"]} == before


def test_check_mode_with_diff_reports_keys_and_writes_nothing(playbook, kms, estate):
    before = {name: (estate["dir"] / name).read_bytes() for name in estate["plaintexts"]}
    run = playbook.run(_task(destination_key_id=estate["new"]["KeyId"], paths=[str(estate["dir"] / "*")]),
                       check=True, diff=True)
    assert run.rc == 0, run
    result = run.result(TASK)
    assert result["changed"] is True
    assert result["counts"]["rewrapped"] == 3
    diffs = result["diff"]
    assert len(diffs) == 3
    assert all(diff["before"] == "kms_key_arn: {0}\n".format(estate["old"]["Arn"]) for diff in diffs)
    assert all(diff["after"] == "kms_key_arn: {0}\n".format(estate["new"]["Arn"]) for diff in diffs)
    assert {name: (estate["dir"] / name).read_bytes() for name in estate["plaintexts"]} == before


def test_inline_blobs_with_encryption_contexts_and_source_filter(playbook, kms, estate):
    other = kms.create_key(Description="other")["KeyMetadata"]
    context = {"app": "billing"}
    under_old = kms.generate_data_key_without_plaintext(KeyId=estate["old"]["KeyId"], KeySpec="AES_256",
                                                        EncryptionContext=context)["CiphertextBlob"]
    under_other = kms.generate_data_key_without_plaintext(KeyId=other["KeyId"], KeySpec="AES_256",
                                                          EncryptionContext=context)["CiphertextBlob"]
    blobs = [base64.b64encode(blob).decode() for blob in (under_old, under_other)]
    new_context = {"app": "billing", "epoch": "2"}
    run = playbook.run(_task(destination_key_id="alias/app-data", source_key_ids=[estate["old"]["Arn"]],
                             ciphertext_blobs=blobs, encryption_context=context,
                             destination_encryption_context=new_context))
    assert run.rc == 0, run
    result = run.result(TASK)
    assert [item["action"] for item in result["results"]] == ["rewrapped", "skipped"]
    assert result["ciphertext_blobs"][1] == blobs[1]
    rewrapped = base64.b64decode(result["ciphertext_blobs"][0])
    assert kms.decrypt(CiphertextBlob=rewrapped, EncryptionContext=new_context)["KeyId"] == estate["new"]["Arn"]


def test_disabled_destination_fails_clearly_and_writes_nothing(playbook, kms, estate):
    kms.disable_key(KeyId=estate["new"]["KeyId"])
    before = {name: (estate["dir"] / name).read_bytes() for name in estate["plaintexts"]}
    run = playbook.run(_task(destination_key_id="alias/app-data", paths=[str(estate["dir"] / "*")]))
    assert run.rc != 0
    result = run.result(TASK)
    assert "Disabled, not Enabled" in result["msg"]
    assert estate["new"]["Arn"] in result["msg"]
    assert {name: (estate["dir"] / name).read_bytes() for name in estate["plaintexts"]} == before


def test_blob_under_disabled_source_is_reported_not_written_and_others_finish(playbook, kms, estate):
    stale = kms.create_key(Description="stale")["KeyMetadata"]
    stale_blob = kms.generate_data_key_without_plaintext(KeyId=stale["KeyId"], KeySpec="AES_256")["CiphertextBlob"]
    (estate["dir"] / "stale.key").write_bytes(stale_blob)
    kms.disable_key(KeyId=stale["KeyId"])
    run = playbook.run(_task(destination_key_id="alias/app-data", paths=[str(estate["dir"] / "*")]))
    assert run.rc != 0
    result = run.result(TASK)
    assert result["counts"] == {"rewrapped": 3, "unchanged": 0, "skipped": 0, "failed": 1, "not_a_blob": 0}
    assert "1 of 4 blobs failed (3 succeeded)" in result["msg"]
    assert result["failures"][0]["path"].endswith("stale.key")
    assert "disabled" in result["failures"][0]["reason"]
    assert (estate["dir"] / "stale.key").read_bytes() == stale_blob
    _assert_under(kms, estate, estate["new"])


def test_throttling_at_20_percent_still_converges(playbook, aws, kms, estate):
    for index in range(40):
        blob = kms.generate_data_key_without_plaintext(KeyId=estate["old"]["KeyId"], KeySpec="AES_256")
        (estate["dir"] / "bulk-{0:02d}.key".format(index)).write_bytes(blob["CiphertextBlob"])
    aws.set_faults([{"kind": "throttle", "service": "kms", "action": "ReEncrypt", "rate": 0.2}], seed=7)
    run = playbook.run(_task(destination_key_id="alias/app-data", paths=[str(estate["dir"] / "*")], concurrency=8))
    faults = aws.faults()
    aws.clear_faults()
    assert run.rc == 0, run
    result = run.result(TASK)
    assert result["counts"]["rewrapped"] == 43
    assert faults[0]["fired"] > 0
    assert result["throttling"]["throttle_events"] > 0
    for path in estate["dir"].iterdir():
        assert kms.decrypt(CiphertextBlob=_blob_of(path))["KeyId"] == estate["new"]["Arn"], path


@pytest.mark.parametrize("options, message", [
    ({"paths": ["/nonexistent/dir/*.key"]}, "matches no file"),
    ({"paths": ["/nonexistent/file.key"]}, "No such file"),
    ({"destination_key_id": "alias/does-not-exist"}, "not found"),
])
def test_bad_input_names_the_item(playbook, estate, options, message):
    merged = {"destination_key_id": "alias/app-data", "paths": [str(estate["dir"] / "*")]}
    merged.update(options)
    run = playbook.run(_task(**merged))
    assert run.rc != 0
    result = run.result(TASK)
    assert message in result["msg"]
    assert (options.get("destination_key_id") or options["paths"][0]) in result["msg"]


def _base64_command(blob, line_ending=b"\n"):
    """The blob as the `base64` command writes it (76 columns), with LF or CRLF line endings."""
    text = subprocess.run(["base64"], input=blob, stdout=subprocess.PIPE, check=True).stdout
    return text.replace(b"\n", line_ending)


def test_a_wide_glob_over_an_application_directory(playbook, kms, estate, tmp_path):
    """Wrapped base64, a config file, a hard-linked key and backups under one `*`; a rerun changes nothing."""
    app = estate["dir"]
    old = estate["old"]["KeyId"]
    for name, ending in (("lf.b64", b"\n"), ("crlf.b64", b"\r\n")):
        (app / name).write_bytes(_base64_command(
            kms.generate_data_key_without_plaintext(KeyId=old, KeySpec="AES_256")["CiphertextBlob"], ending))
    (app / "app.conf").write_text("listen: 0.0.0.0:8443\nkey_file: orders.key\n")
    os.link(app / "audit.dk", tmp_path / "audit-elsewhere.dk")
    os.setxattr(app / "orders.key", "user.app", b"orders")
    tasks = _task(destination_key_id="alias/app-data", paths=[str(app / "*")], backup=True)
    run = playbook.run(tasks)
    assert run.rc == 0, run
    result = run.result(TASK)
    by_name = {os.path.basename(item["path"]): item for item in result["results"]}
    assert sorted(by_name) == ["app.conf", "audit.dk", "crlf.b64", "lf.b64", "orders.key", "users.key"]
    assert result["counts"] == {"rewrapped": 4, "unchanged": 0, "skipped": 1, "failed": 0, "not_a_blob": 1}
    assert by_name["app.conf"]["action"] == "not_a_blob"
    assert by_name["audit.dk"]["action"] == "skipped" and "hard links" in by_name["audit.dk"]["reason"]
    assert by_name["crlf.b64"]["layout"] == "base64 wrapped at 76 (CRLF)"
    for name, ending in (("lf.b64", b"\n"), ("crlf.b64", b"\r\n")):
        content = (app / name).read_bytes()
        blob = base64.b64decode(content.replace(b"\r", b"").replace(b"\n", b""))
        assert content == _base64_command(blob, ending), name
        assert kms.decrypt(CiphertextBlob=blob)["KeyId"] == estate["new"]["Arn"], name
    assert os.getxattr(app / "orders.key", "user.app") == b"orders"
    kinds = sorted((entry["kind"], os.path.basename(entry["resource"])) for entry in result["dependents"])
    assert kinds[0] == ("retained", os.path.basename(by_name["crlf.b64"]["backup_file"]))
    assert [kind for kind in kinds if kind[0] != "retained"] == [("to_move", "audit.dk")]

    rerun = playbook.run(tasks)
    assert rerun.rc == 0, rerun
    assert rerun.changed == 0
    again = rerun.result(TASK)
    assert sorted(os.path.basename(item["path"]) for item in again["results"]) == sorted(by_name)
    assert again["counts"] == {"rewrapped": 0, "unchanged": 4, "skipped": 1, "failed": 0, "not_a_blob": 1}


def test_an_endpoint_that_needs_source_key_id_costs_no_retries(playbook, aws, kms, estate):
    """LocalStack answers ReEncrypt without SourceKeyId with HTTP 500: the module names the key and never retries."""
    for index in range(2):
        blob = kms.generate_data_key_without_plaintext(KeyId=estate["old"]["KeyId"], KeySpec="AES_256")
        (estate["dir"] / "more-{0}.key".format(index)).write_bytes(blob["CiphertextBlob"])
    aws.set_fidelity(kms_reencrypt_requires_source_key_id=True)
    tasks = _task(destination_key_id="alias/app-data", source_key_ids=[estate["old"]["Arn"]],
                  paths=[str(estate["dir"] / "*")], concurrency=1)
    aws.clear_stats()
    run = playbook.run(tasks)
    assert run.rc == 0, run
    assert run.result(TASK)["counts"]["rewrapped"] == 5
    assert aws.stats()["kms:ReEncrypt"] == 5
    _assert_under(kms, estate, estate["new"])

    aws.clear_stats()
    rerun = playbook.run(tasks)
    assert rerun.rc == 0, rerun
    assert rerun.changed == 0
    assert rerun.result(TASK)["counts"]["unchanged"] == 5
    # The first blob: the source key (IncorrectKeyException), once without a key (HTTP 500, botocore's 3
    # attempts), the destination; then the destination for each of the other four.
    assert aws.stats()["kms:ReEncrypt"] == 1 + 3 + 1 + 4
