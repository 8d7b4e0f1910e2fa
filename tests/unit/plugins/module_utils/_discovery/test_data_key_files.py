"""Data-key files for kms_key_usage_info: blob files under the key, learnt without changing them."""

import base64


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
