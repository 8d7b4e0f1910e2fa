"""Data-key files for kms_key_usage_info: blob files under the key, learnt without changing them."""

import base64
import os


def test_data_key_files_under_the_key(clients, discover, key, other_key, tmp_path):
    kms = clients("kms")
    contents = {}
    for name, key_id in (("uses.key", key["KeyId"]), ("other.key", other_key["KeyId"])):
        blob = kms.encrypt(KeyId=key_id, Plaintext=b"0" * 32)["CiphertextBlob"]
        contents[name] = base64.b64encode(blob).decode()
        (tmp_path / name).write_text(contents[name])
    result = discover(key["Arn"], services=["s3"], data_key_paths=[str(tmp_path / "*.key")])
    assert sorted(entry["id"] for entry in result["services"]["data_key_files"]["resources"]) == [
        str(tmp_path / "uses.key")]
    assert result["services"]["data_key_files"]["resources"][0]["movable"] is True
    assert dict((name, (tmp_path / name).read_text()) for name in contents) == contents, "nothing is rewritten"
    assert [(entry["resource"], entry["service"], entry["kind"], entry["key_arn"]) for entry in result["dependents"]] == [
        (str(tmp_path / "uses.key"), "data_key_files", "to_move", key["Arn"])]


def test_a_glob_matching_nothing_makes_data_key_files_unknown(discover, key, tmp_path):
    result = discover(key["Arn"], services=["s3"], data_key_paths=[str(tmp_path / "*.missing")])
    assert result["services"]["data_key_files"]["status"] == "unknown"
    assert result["unknown_services"] == ["data_key_files"]
    assert [(entry["resource"], entry["kind"]) for entry in result["dependents"]] == [("data_key_files", "unknown")]


def test_files_that_cannot_be_blobs_and_backups_leave_data_key_files_known(clients, discover, key, tmp_path):
    """A wide glob over an application's directory: its config, its database and a backup are not unknowns."""
    kms = clients("kms")
    blob = kms.encrypt(KeyId=key["KeyId"], Plaintext=b"0" * 32)["CiphertextBlob"]
    (tmp_path / "data.key").write_bytes(blob)
    (tmp_path / "data.key.20261201T101010.kmsrotate.bak").write_bytes(blob)
    (tmp_path / "app.conf").write_text("listen: 0.0.0.0:8443\nkey_file: data.key\n")
    with open(tmp_path / "app.db", "wb") as handle:
        handle.truncate(27 * 1000 * 1000)
    result = discover(key["Arn"], services=["s3"], data_key_paths=[str(tmp_path / "*")])
    service = result["services"]["data_key_files"]
    assert service["status"] == "ok", service
    assert [entry["id"] for entry in service["resources"]] == [str(tmp_path / "data.key")]
    assert result["unknown_services"] == []


def test_hard_linked_and_wrapped_data_key_files_under_the_key_are_found(clients, discover, key, tmp_path):
    kms = clients("kms")
    (tmp_path / "keys").mkdir()
    (tmp_path / "keys" / "data.key").write_bytes(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"0" * 32)["CiphertextBlob"])
    os.link(tmp_path / "keys" / "data.key", tmp_path / "elsewhere.key")
    text = base64.b64encode(kms.encrypt(KeyId=key["KeyId"], Plaintext=b"1" * 32)["CiphertextBlob"])
    # As `base64 | unix2dos` writes it: 76 columns, CRLF.
    (tmp_path / "keys" / "wrapped.b64").write_bytes(b"".join(text[at:at + 76] + b"\r\n" for at in range(0, len(text), 76)))
    result = discover(key["Arn"], services=["s3"], data_key_paths=[str(tmp_path / "keys" / "*")])
    assert result["services"]["data_key_files"]["status"] == "ok"
    assert [entry["id"] for entry in result["services"]["data_key_files"]["resources"]] == [
        str(tmp_path / "keys" / "data.key"), str(tmp_path / "keys" / "wrapped.b64")]
