"""The re-wrap engine against moto in-process (with the KMS fidelity layer)."""

import base64

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.data_key_rewrap import DataKeyRewrap, RewrapSpec


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def keys(kms):
    return {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("old", "other", "new")}


def _blob(kms, key, context=None):
    return kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256",
                                                   EncryptionContext=context or {})["CiphertextBlob"]


def _key_of(kms, blob, context=None):
    # Tests may decrypt to prove a result; the engine never does.
    return kms.decrypt(CiphertextBlob=blob, EncryptionContext=context or {})["KeyId"]


@pytest.fixture
def run_engine(make_clients):
    """Run the engine as the module would; returns its Result."""
    def run_engine(check_mode=False, **spec):
        clients, limit = make_clients(concurrency=4)
        return DataKeyRewrap(clients, limit).run(RewrapSpec(**spec), check_mode=check_mode)
    return run_engine


@pytest.fixture
def run(run_engine):
    """The module's result keys, with the diff under `diff` as --diff returns it."""
    def run(check_mode=False, **spec):
        return run_engine(check_mode=check_mode, **spec).for_module(diff_wanted=True)
    return run


def test_rewraps_files_and_inline_blobs_and_keeps_the_plaintext(run, kms, keys, tmp_path):
    blobs = [_blob(kms, keys["old"]) for _blob_number in range(3)]
    plaintexts = [kms.decrypt(CiphertextBlob=blob)["Plaintext"] for blob in blobs]
    (tmp_path / "a.key").write_bytes(blobs[0])
    (tmp_path / "b.key").write_bytes(base64.b64encode(blobs[1]) + b"\n")
    result = run(destination_key_id=keys["new"]["Arn"], paths=[str(tmp_path / "*.key")],
                 ciphertext_blobs=[base64.b64encode(blobs[2]).decode()])
    assert result["counts"] == {"rewrapped": 3, "unchanged": 0, "skipped": 0, "failed": 0}
    assert result["changed"] is True
    new_blobs = [(tmp_path / "a.key").read_bytes(), base64.b64decode((tmp_path / "b.key").read_bytes()),
                 base64.b64decode(result["ciphertext_blobs"][0])]
    assert (tmp_path / "b.key").read_bytes().endswith(b"\n")
    for new_blob, plaintext in zip(new_blobs, plaintexts):
        answer = kms.decrypt(CiphertextBlob=new_blob)
        assert answer["KeyId"] == keys["new"]["Arn"]
        assert answer["Plaintext"] == plaintext
    formats = {outcome["path"]: outcome["format"] for outcome in result["results"] if "path" in outcome}
    assert formats == {str(tmp_path / "a.key"): "binary", str(tmp_path / "b.key"): "base64"}


def test_second_run_changes_nothing_byte_for_byte(run, kms, keys, tmp_path):
    (tmp_path / "a.key").write_bytes(_blob(kms, keys["old"]))
    run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "a.key")])
    after_first = (tmp_path / "a.key").read_bytes()
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "a.key")])
    assert result["changed"] is False
    assert result["counts"]["unchanged"] == 1
    assert (tmp_path / "a.key").read_bytes() == after_first


def test_source_key_ids_filter_skips_other_keys(run, kms, keys):
    blobs = [base64.b64encode(_blob(kms, keys[name])).decode() for name in ("old", "other")]
    result = run(destination_key_id=keys["new"]["KeyId"], source_key_ids=[keys["old"]["Arn"]],
                 ciphertext_blobs=blobs)
    assert [outcome["action"] for outcome in result["results"]] == ["rewrapped", "skipped"]
    assert result["ciphertext_blobs"][1] == blobs[1]
    assert _key_of(kms, base64.b64decode(result["ciphertext_blobs"][0])) == keys["new"]["Arn"]


def test_check_mode_reports_without_writing(run, kms, keys, tmp_path):
    blob = _blob(kms, keys["old"])
    (tmp_path / "a.key").write_bytes(blob)
    result = run(check_mode=True, destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "a.key")])
    assert result["changed"] is True
    assert result["counts"]["rewrapped"] == 1
    assert (tmp_path / "a.key").read_bytes() == blob
    assert result["diff"][0]["before"] == "kms_key_arn: {0}\n".format(keys["old"]["Arn"])
    assert result["diff"][0]["after"] == "kms_key_arn: {0}\n".format(keys["new"]["Arn"])


def test_encryption_contexts_are_used_on_both_sides(run, kms, keys):
    source_context = {"app": "billing"}
    destination_context = {"app": "billing", "rotation": "2026"}
    blob = _blob(kms, keys["old"], source_context)
    result = run(destination_key_id=keys["new"]["KeyId"], ciphertext_blobs=[base64.b64encode(blob).decode()],
                 encryption_context=source_context, destination_encryption_context=destination_context)
    new_blob = base64.b64decode(result["ciphertext_blobs"][0])
    assert _key_of(kms, new_blob, destination_context) == keys["new"]["Arn"]


def test_wrong_encryption_context_fails_that_blob_only(run_engine, kms, keys):
    good = base64.b64encode(_blob(kms, keys["old"])).decode()
    bad = base64.b64encode(_blob(kms, keys["old"], {"app": "x"})).decode()
    outcome = run_engine(destination_key_id=keys["new"]["KeyId"], ciphertext_blobs=[good, bad])
    result = outcome.for_module(diff_wanted=True)
    assert result["counts"]["rewrapped"] == 1
    assert result["counts"]["failed"] == 1
    assert "encryption_context" in result["failures"][0]["reason"]
    assert result["failures"][0]["index"] == 1
    assert "1 of 2 blobs failed (1 succeeded)" in outcome.failure


def test_blob_under_disabled_source_key_is_reported_and_not_written(run, kms, keys, tmp_path):
    blob = _blob(kms, keys["old"])
    (tmp_path / "a.key").write_bytes(blob)
    kms.disable_key(KeyId=keys["old"]["KeyId"])
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "a.key")])
    assert result["counts"]["failed"] == 1
    assert "disabled" in result["failures"][0]["reason"]
    assert (tmp_path / "a.key").read_bytes() == blob


def test_not_a_kms_blob_is_reported(run, kms, keys, tmp_path):
    (tmp_path / "junk.key").write_bytes(b"\x00\x01not a kms blob")
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "junk.key")])
    assert result["failures"][0]["path"] == str(tmp_path / "junk.key")
    assert "not a KMS ciphertext blob" in result["failures"][0]["reason"]


@pytest.mark.parametrize("state_change, expected", [
    (lambda kms, key: kms.disable_key(KeyId=key), "Disabled, not Enabled"),
    (lambda kms, key: kms.schedule_key_deletion(KeyId=key, PendingWindowInDays=7), "PendingDeletion, not Enabled"),
])
def test_unusable_destination_fails_before_any_change(run, kms, keys, tmp_path, state_change, expected):
    blob = _blob(kms, keys["old"])
    (tmp_path / "a.key").write_bytes(blob)
    state_change(kms, keys["new"]["KeyId"])
    with pytest.raises(RotationError, match=expected):
        run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "a.key")])
    assert (tmp_path / "a.key").read_bytes() == blob


def test_asymmetric_destination_is_refused(run, kms, keys):
    rsa = kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"]
    with pytest.raises(RotationError, match="SYMMETRIC_DEFAULT ENCRYPT_DECRYPT"):
        run(destination_key_id=rsa["KeyId"], ciphertext_blobs=["AAAA"])


def test_missing_destination_names_the_key(run):
    with pytest.raises(RotationError, match="alias/nope.*not found"):
        run(destination_key_id="alias/nope", ciphertext_blobs=["AAAA"])


def test_destination_among_sources_is_refused(run, keys):
    with pytest.raises(RotationError, match="same key"):
        run(destination_key_id=keys["new"]["KeyId"], source_key_ids=[keys["new"]["Arn"]],
            ciphertext_blobs=["AAAA"])


def test_inline_blob_that_is_not_base64_names_its_index(run, keys):
    with pytest.raises(RotationError, match=r"ciphertext_blobs\[1\]"):
        run(destination_key_id=keys["new"]["KeyId"], ciphertext_blobs=["AAAA", "not base64!"])


def test_a_failed_write_fails_that_file_only(run, kms, keys, tmp_path, monkeypatch):
    from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files

    for name in ("a.key", "b.key"):
        (tmp_path / name).write_bytes(_blob(kms, keys["old"]))
    untouched = (tmp_path / "b.key").read_bytes()
    real_replace = blob_files.replace_blob_file

    def disk_full_for_b(blob_file, new_blob, backup=False):
        if blob_file.path.endswith("b.key"):
            raise OSError(28, "No space left on device")
        return real_replace(blob_file, new_blob, backup)

    monkeypatch.setattr(blob_files, "replace_blob_file", disk_full_for_b)
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "*.key")])
    assert result["counts"] == {"rewrapped": 1, "unchanged": 0, "skipped": 0, "failed": 1}
    assert "No space left" in result["failures"][0]["reason"]
    assert _key_of(kms, (tmp_path / "a.key").read_bytes()) == keys["new"]["Arn"]
    assert (tmp_path / "b.key").read_bytes() == untouched


def test_results_hold_only_plain_values(run, kms, keys, tmp_path):
    import json

    (tmp_path / "a.key").write_bytes(_blob(kms, keys["old"]))
    inline = base64.b64encode(_blob(kms, keys["old"])).decode()
    for check_mode in (True, False):
        result = run(check_mode=check_mode, destination_key_id=keys["new"]["KeyId"],
                     paths=[str(tmp_path / "a.key")], ciphertext_blobs=[inline])
        # Raises TypeError on bytes or other values a module result cannot carry.
        assert json.loads(json.dumps(result)) == result


def test_check_mode_dependents_are_the_blobs_a_run_would_move(run, kms, keys, tmp_path):
    (tmp_path / "a.key").write_bytes(_blob(kms, keys["old"]))
    (tmp_path / "b.key").write_bytes(_blob(kms, keys["new"]))
    inline = [base64.b64encode(_blob(kms, keys[name])).decode() for name in ("old", "other")]
    result = run(check_mode=True, destination_key_id=keys["new"]["KeyId"], source_key_ids=[keys["old"]["Arn"]],
                 paths=[str(tmp_path / "*.key")], ciphertext_blobs=inline)
    assert [outcome["action"] for outcome in result["results"]] == ["rewrapped", "skipped", "rewrapped",
                                                                    "unchanged"]
    reason = "still under this key; a run re-wraps it"
    assert result["dependents"] == [
        {"resource": "ciphertext_blobs[0]", "service": "ciphertext_blobs", "kind": "to_move", "reason": reason,
         "key_arn": keys["old"]["Arn"], "count": 1},
        {"resource": str(tmp_path / "a.key"), "service": "data_key_files", "kind": "to_move", "reason": reason,
         "key_arn": keys["old"]["Arn"], "count": 1},
    ]


def test_a_real_run_leaves_no_dependents_behind(run, kms, keys, tmp_path):
    (tmp_path / "a.key").write_bytes(_blob(kms, keys["old"]))
    inline = base64.b64encode(_blob(kms, keys["old"])).decode()
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "a.key")], ciphertext_blobs=[inline])
    assert result["counts"]["rewrapped"] == 2
    assert result["dependents"] == []


@pytest.mark.parametrize("check_mode", [True, False], ids=["check_mode", "run"])
def test_failed_blobs_are_unknown_dependents(run, kms, keys, tmp_path, check_mode):
    (tmp_path / "junk.key").write_bytes(b"\x00\x01not a kms blob")
    bad_context = base64.b64encode(_blob(kms, keys["old"], {"app": "x"})).decode()
    result = run(check_mode=check_mode, destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "junk.key")],
                 ciphertext_blobs=[bad_context])
    reasons = [failure["reason"] for failure in result["failures"]]
    assert result["dependents"] == [
        {"resource": "ciphertext_blobs[0]", "service": "ciphertext_blobs", "kind": "unknown", "reason": reasons[0],
         "key_arn": None, "count": 1},
        {"resource": str(tmp_path / "junk.key"), "service": "data_key_files", "kind": "unknown", "reason": reasons[1],
         "key_arn": None, "count": 1},
    ]


def test_a_failed_write_is_an_unknown_dependent(run, kms, keys, tmp_path, monkeypatch):
    from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files

    (tmp_path / "a.key").write_bytes(_blob(kms, keys["old"]))

    def read_only_disk(blob_file, new_blob, backup=False):
        raise OSError(30, "Read-only file system")

    monkeypatch.setattr(blob_files, "replace_blob_file", read_only_disk)
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "a.key")])
    assert [(entry["resource"], entry["kind"], entry["key_arn"]) for entry in result["dependents"]] == [
        (str(tmp_path / "a.key"), "unknown", None)]
    assert "Read-only file system" in result["dependents"][0]["reason"]


def test_the_discovery_call_shape_keeps_working(make_clients, kms, keys, tmp_path):
    # kms_key_usage_info's finder of data key files calls the engine exactly like this.
    (tmp_path / "a.key").write_bytes(_blob(kms, keys["old"]))
    clients, limit = make_clients()
    spec = RewrapSpec(destination_key_id=keys["old"]["Arn"], paths=[str(tmp_path / "a.key")])
    results = DataKeyRewrap(clients, limit).run(spec, check_mode=True).values["results"]
    assert [(item["path"], item["action"], item["source_key_arn"], item.get("reason")) for item in results] == [
        (str(tmp_path / "a.key"), "unchanged", keys["old"]["Arn"], None)]


def test_concurrency_below_one_is_refused():
    with pytest.raises(RotationError, match="concurrency is 0; this module accepts at least 1"):
        RewrapSpec(destination_key_id="alias/new", paths=["/etc/app/a.key"], concurrency=0)
