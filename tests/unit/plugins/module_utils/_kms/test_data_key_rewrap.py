"""The re-wrap engine against moto in-process (with the KMS fidelity layer)."""

import base64
import os

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.data_key_rewrap import DataKeyRewrap, RewrapSpec


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def keys(kms):
    return {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("old", "other", "new")}


# Shaped like a blob (binary, 100 bytes) but none: KMS answers InvalidCiphertextException.
JUNK = b"\xff" * 100


def _blob(kms, key, context=None):
    return kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256",
                                                   EncryptionContext=context or {})["CiphertextBlob"]


def _key_of(kms, blob, context=None):
    # Tests may decrypt to prove a result; the engine never does.
    return kms.decrypt(CiphertextBlob=blob, EncryptionContext=context or {})["KeyId"]


@pytest.fixture
def sent():
    """What the engine sent in this test: sent.requests("ReEncrypt") counts HTTP requests (retries included),
    sent.source_key_ids lists each ReEncrypt call's SourceKeyId (None: not named), in order."""
    made = []

    def requests(operation):
        return sum(clients.requests.counts[operation] for clients in made)

    requests.clients = made
    requests.source_key_ids = []
    return requests


@pytest.fixture
def run_engine(make_clients, sent):
    """Run the engine as the module would; returns its Result."""
    def run_engine(check_mode=False, concurrency=4, **spec):
        clients, limit = make_clients(concurrency=concurrency)
        sent.clients.append(clients)
        clients("kms").client.meta.events.register(
            "before-parameter-build.kms.ReEncrypt",
            lambda params, **kwargs: sent.source_key_ids.append(params.get("SourceKeyId")))
        return DataKeyRewrap(clients, limit).run(RewrapSpec(**spec), check_mode=check_mode)
    return run_engine


@pytest.fixture
def run(run_engine):
    """The module's result keys, with the diff under `diff` as --diff returns it."""
    def run(check_mode=False, concurrency=4, **spec):
        return run_engine(check_mode=check_mode, concurrency=concurrency, **spec).for_module(diff_wanted=True)
    return run


def test_rewraps_files_and_inline_blobs_and_keeps_the_plaintext(run, kms, keys, tmp_path):
    blobs = [_blob(kms, keys["old"]) for _blob_number in range(3)]
    plaintexts = [kms.decrypt(CiphertextBlob=blob)["Plaintext"] for blob in blobs]
    (tmp_path / "a.key").write_bytes(blobs[0])
    (tmp_path / "b.key").write_bytes(base64.b64encode(blobs[1]) + b"\n")
    result = run(destination_key_id=keys["new"]["Arn"], paths=[str(tmp_path / "*.key")],
                 ciphertext_blobs=[base64.b64encode(blobs[2]).decode()])
    assert result["counts"] == {"rewrapped": 3, "unchanged": 0, "skipped": 0, "failed": 0, "not_a_blob": 0}
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


def test_a_blob_kms_refuses_is_reported(run, kms, keys, tmp_path):
    (tmp_path / "junk.key").write_bytes(JUNK)
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


@pytest.mark.parametrize("bad, message", [("not base64!", "is not base64 text"),
                                          ("AAAA", "is 3 bytes; a KMS ciphertext blob is 29 to 6144 bytes")])
def test_inline_blob_that_cannot_be_a_blob_names_its_index(run, kms, keys, bad, message):
    good = base64.b64encode(_blob(kms, keys["old"])).decode()
    with pytest.raises(RotationError, match=r"ciphertext_blobs\[1\] " + message):
        run(destination_key_id=keys["new"]["KeyId"], ciphertext_blobs=[good, bad])


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
    assert result["counts"] == {"rewrapped": 1, "unchanged": 0, "skipped": 0, "failed": 1, "not_a_blob": 0}
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
    (tmp_path / "junk.key").write_bytes(JUNK)
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


def _wrapped(blob, width=76, ending=b"\n"):
    """Base64 as `base64` (GNU coreutils) writes it: lines of `width`, each ended, the last one too."""
    text = base64.b64encode(blob)
    return b"".join(text[start:start + width] + ending for start in range(0, len(text), width))


def test_wrapped_base64_is_rewrapped_and_written_back_in_its_layout(run, kms, keys, tmp_path):
    layouts = {"lf.key": {}, "crlf.key": {"ending": b"\r\n"}, "narrow.key": {"width": 64}}
    for name, layout in layouts.items():
        (tmp_path / name).write_bytes(_wrapped(_blob(kms, keys["old"]), **layout))
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "*.key")])
    assert result["counts"]["rewrapped"] == 3
    assert {os.path.basename(item["path"]): item["layout"] for item in result["results"]} == {
        "lf.key": "base64 wrapped at 76 (LF)", "crlf.key": "base64 wrapped at 76 (CRLF)",
        "narrow.key": "base64 wrapped at 64 (LF)"}
    for name, layout in layouts.items():
        content = (tmp_path / name).read_bytes()
        new_blob = base64.b64decode(content.replace(b"\r", b"").replace(b"\n", b""))
        assert content == _wrapped(new_blob, **layout), name
        assert _key_of(kms, new_blob) == keys["new"]["Arn"], name
    before = {name: (tmp_path / name).read_bytes() for name in layouts}
    assert run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "*.key")])["changed"] is False
    assert {name: (tmp_path / name).read_bytes() for name in layouts} == before


def test_files_that_cannot_be_blobs_are_never_sent_nor_dependents(run_engine, sent, kms, keys, tmp_path):
    (tmp_path / "app.conf").write_bytes(b"listen: 0.0.0.0:8443\nkey_file: /etc/app/data.key\n")
    with open(tmp_path / "data.db", "wb") as handle:
        handle.truncate(27 * 1000 * 1000)
    (tmp_path / "empty.key").write_bytes(b"")
    (tmp_path / "short.key").write_bytes(b"true\n")
    outcome = run_engine(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "*")])
    result = outcome.for_module(diff_wanted=False)
    assert outcome.failure is None
    assert result["changed"] is False
    assert result["counts"] == {"rewrapped": 0, "unchanged": 0, "skipped": 0, "failed": 0, "not_a_blob": 4}
    reasons = {os.path.basename(item["path"]): item["reason"] for item in result["results"]}
    assert "text but not base64" in reasons["app.conf"]
    assert reasons["data.db"].startswith("27000000 bytes: larger than a KMS ciphertext blob can be")
    assert "empty" in reasons["empty.key"]
    assert "3 bytes" in reasons["short.key"]
    assert result["dependents"] == [] and result["failures"] == []
    assert sent("ReEncrypt") == 0


def test_backups_are_retained_dependents_and_never_rewrapped_again(run, kms, keys, tmp_path):
    blob = _blob(kms, keys["old"])
    (tmp_path / "a.key").write_bytes(blob)
    first = run(destination_key_id=keys["new"]["KeyId"], paths=[str(tmp_path / "*")], backup=True)
    backup = first["results"][0]["backup_file"]
    assert open(backup, "rb").read() == blob
    assert first["dependents"] == [
        {"resource": backup, "service": "data_key_files", "kind": "retained", "key_arn": keys["old"]["Arn"],
         "reason": "backup of {0} kept with backup=true, under its old key".format(tmp_path / "a.key"), "count": 1}]
    # The next rotation, with the same wide glob, re-wraps the file and leaves its backup as it is.
    second = run(destination_key_id=keys["other"]["KeyId"], paths=[str(tmp_path / "*")])
    assert [item["path"] for item in second["results"]] == [str(tmp_path / "a.key")]
    assert open(backup, "rb").read() == blob


@pytest.fixture
def linked(kms, keys, tmp_path):
    """A blob under the old key with a second name outside the glob."""
    (tmp_path / "keys").mkdir()
    path = tmp_path / "keys" / "a.key"
    path.write_bytes(base64.b64encode(_blob(kms, keys["old"])) + b"\n")
    os.link(path, tmp_path / "other-name.key")
    return path


@pytest.mark.parametrize("check_mode", [False, True], ids=["run", "check_mode"])
def test_a_hard_linked_file_is_left_alone_by_default_and_is_a_dependent(run, keys, linked, tmp_path, check_mode):
    before = linked.read_bytes()
    result = run(check_mode=check_mode, destination_key_id=keys["new"]["KeyId"], paths=[str(linked.parent / "*")])
    (outcome,) = result["results"]
    assert (outcome["action"], outcome["changed"]) == ("skipped", False)
    assert "2 hard links" in outcome["reason"] and "hard_links=rewrite_in_place" in outcome["reason"]
    assert [(entry["resource"], entry["kind"], entry["key_arn"]) for entry in result["dependents"]] == [
        (str(linked), "to_move", keys["old"]["Arn"])]
    assert linked.read_bytes() == before == (tmp_path / "other-name.key").read_bytes()


def test_a_hard_linked_file_can_be_rewritten_in_place(run, kms, keys, linked, tmp_path):
    inode = os.stat(linked).st_ino
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(linked.parent / "*")],
                 hard_links="rewrite_in_place")
    assert result["results"][0]["action"] == "rewrapped" and result["results"][0]["in_place"] is True
    assert os.stat(linked).st_ino == inode
    assert (tmp_path / "other-name.key").read_bytes() == linked.read_bytes()
    assert _key_of(kms, base64.b64decode(linked.read_bytes())) == keys["new"]["Arn"]
    assert result["dependents"] == []


def test_two_names_of_one_file_in_the_paths_are_one_file(run, keys, linked, tmp_path):
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(linked), str(tmp_path / "*.key")],
                 hard_links="rewrite_in_place")
    assert [(item["path"], item["action"]) for item in result["results"]] == [(str(linked), "rewrapped")]


def test_a_file_rewritten_by_its_application_during_the_run_keeps_the_applications_blob(
        run_engine, kms, keys, tmp_path, monkeypatch):
    from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files

    path = tmp_path / "a.key"
    path.write_bytes(_blob(kms, keys["old"]))
    theirs = _blob(kms, keys["old"])
    real_copy = blob_files._copy_extended_attributes  # pylint: disable=protected-access

    def application_writes_meanwhile(source, fd):
        # The application replaces its data key while the module's new file is being made.
        path.write_bytes(theirs)
        return real_copy(source, fd)

    monkeypatch.setattr(blob_files, "_copy_extended_attributes", application_writes_meanwhile)
    outcome = run_engine(destination_key_id=keys["new"]["KeyId"], paths=[str(path)])
    result = outcome.for_module(diff_wanted=False)
    assert path.read_bytes() == theirs
    assert result["counts"]["failed"] == 1 and "changed while it was being re-wrapped" in outcome.failure
    assert [(entry["resource"], entry["kind"], entry["key_arn"]) for entry in result["dependents"]] == [
        (str(path), "to_move", keys["old"]["Arn"])]
    monkeypatch.undo()
    assert run_engine(destination_key_id=keys["new"]["KeyId"], paths=[str(path)]).values["rewrapped"] == 1
    assert _key_of(kms, path.read_bytes()) == keys["new"]["Arn"]


def test_extended_attributes_are_kept_and_reported(run, kms, keys, tmp_path):
    path = tmp_path / "a.key"
    path.write_bytes(_blob(kms, keys["old"]))
    attributes = {"user.app": b"orders", "security.selinux": b"system_u:object_r:etc_t:s0\x00"}
    for name, value in attributes.items():
        os.setxattr(path, name, value)
    result = run(destination_key_id=keys["new"]["KeyId"], paths=[str(path)])
    assert sorted(result["results"][0]["extended_attributes"]["copied"]) == sorted(attributes)
    assert {name: os.getxattr(path, name) for name in os.listxattr(path)} == attributes
    assert _key_of(kms, path.read_bytes()) == keys["new"]["Arn"]


@pytest.fixture
def localstack_like(monkeypatch):
    """The endpoint answers a ReEncrypt without SourceKeyId with HTTP 500 InternalError, as LocalStack does.

    Retry sleeps are skipped, so that code which retries the 500 (as the module did) fails by its request count
    instead of taking minutes.
    """
    from local_endpoint import fidelity

    monkeypatch.setattr("time.sleep", lambda seconds: None)
    fidelity.SETTINGS.update({"kms_reencrypt_requires_source_key_id": True})
    yield
    fidelity.SETTINGS.reset()


def _files(tmp_path, kms, keys, names):
    for index, name in enumerate(names):
        (tmp_path / "{0}-{1}.key".format(index, name)).write_bytes(_blob(kms, keys[name]))
    return [str(tmp_path / "*.key")]


@pytest.mark.usefixtures("localstack_like")
def test_the_only_source_key_is_named_in_each_request(run, sent, kms, keys, tmp_path):
    paths = _files(tmp_path, kms, keys, ["old"] * 3)
    result = run(destination_key_id=keys["new"]["KeyId"], source_key_ids=[keys["old"]["KeyId"]], paths=paths,
                 concurrency=1)
    assert result["counts"]["rewrapped"] == 3
    assert sent.source_key_ids == [keys["old"]["Arn"]] * 3
    assert sent("ReEncrypt") == 3


@pytest.mark.usefixtures("localstack_like")
def test_a_rerun_on_such_an_endpoint_asks_once_without_the_key_then_names_the_destination(run, sent, kms, keys,
                                                                                          tmp_path):
    paths = _files(tmp_path, kms, keys, ["new"] * 3)
    result = run(destination_key_id=keys["new"]["KeyId"], source_key_ids=[keys["old"]["KeyId"]], paths=paths,
                 concurrency=1)
    assert result["counts"]["unchanged"] == 3 and result["changed"] is False
    # The first blob: the source key (IncorrectKeyException), no key (HTTP 500: botocore's 3 attempts, never
    # retried again), the destination; the others: the destination, learnt from the first.
    new = keys["new"]["Arn"]
    assert sent.source_key_ids == [keys["old"]["Arn"], None, new, new, new]
    assert sent("ReEncrypt") == 1 + 3 + 1 + 2


@pytest.mark.usefixtures("localstack_like")
def test_several_source_keys_on_such_an_endpoint_are_each_tried(run, sent, kms, keys, tmp_path):
    paths = _files(tmp_path, kms, keys, ["old", "other", "old"])
    result = run(destination_key_id=keys["new"]["KeyId"], source_key_ids=[keys["old"]["Arn"], keys["other"]["Arn"]],
                 paths=paths, concurrency=1)
    assert result["counts"]["rewrapped"] == 3
    assert sent.source_key_ids.count(None) == 1
    assert sent("ReEncrypt") <= 3 + 3 * 3


@pytest.mark.usefixtures("localstack_like")
def test_a_blob_whose_key_cannot_be_learnt_fails_saying_what_to_do(run_engine, sent, kms, keys, tmp_path):
    paths = _files(tmp_path, kms, keys, ["old"] * 4 + ["new"])
    outcome = run_engine(destination_key_id=keys["new"]["KeyId"], paths=paths, concurrency=4)
    result = outcome.for_module(diff_wanted=False)
    assert result["counts"]["failed"] == 4 and result["counts"]["unchanged"] == 1
    for failure in result["failures"]:
        assert "refuses ReEncrypt without SourceKeyId (HTTP 500 InternalError)" in failure["reason"]
        assert "name the blob's key in source_key_ids" in failure["reason"]
    # Asked once without a key, however many blobs were in flight; each blob then costs one request.
    assert sent.source_key_ids.count(None) == 1
    assert sent("ReEncrypt") == 3 + 5
    assert [entry["kind"] for entry in result["dependents"]] == ["unknown"] * 4


def test_on_aws_a_blob_under_another_key_costs_one_more_request(run, sent, kms, keys, tmp_path):
    paths = _files(tmp_path, kms, keys, ["old", "old", "other", "other"])
    result = run(destination_key_id=keys["new"]["KeyId"], paths=paths, concurrency=1)
    assert result["counts"]["rewrapped"] == 4
    old, other = keys["old"]["Arn"], keys["other"]["Arn"]
    assert sent.source_key_ids == [None, old, old, None, other]
    assert sent("ReEncrypt") == 5
