"""sops files: recognising one, finding its KMS entries, editing them in place; and the engine re-wrapping them."""

import base64
import json
import os

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.data_key_files import files_under_key
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import sops_files
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.blob_format import NotABlob
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.data_key_rewrap import DataKeyRewrap, RewrapSpec

OLD_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-1111-1111-1111-111111111111"
NEW_ARN = "arn:aws:kms:us-east-1:123456789012:key/22222222-2222-2222-2222-222222222222"
ENC = base64.b64encode(b"\x01" * 64).decode()
NEW_ENC = base64.b64encode(b"\x02" * 80).decode()
MAC = "ENC[AES256_GCM,data:AAAA,iv:BBBB,tag:CCCC,type:str]"

# As the Python sops 1.18 writes YAML (ruamel.yaml: 4-space indent, `enc:` value on the next line), with a
# comment, a quoted scalar and CRLF line endings added, which an in-place edit must keep.
PYTHON_SOPS_YAML = (
    "db:\r\n"
    "    password: ENC[AES256_GCM,data:D4DV,iv:Huv7,tag:w9zj,type:str]  # keep me\r\n"
    "sops:\r\n"
    "    kms:\r\n"
    "    -   arn: '{arn}'\r\n"
    "        context:\r\n"
    "            app: billing\r\n"
    "        enc: \r\n"
    "            {enc}\r\n"
    "        created_at: '2026-12-01T14:20:39Z'\r\n"
    "    pgp: []\r\n"
    "    lastmodified: '2026-12-01T14:20:39Z'\r\n"
    "    mac: {mac}\r\n"
    "    version: '1.18'\r\n")

# As Go sops 3.x writes JSON: key groups, aws_profile, a second KMS entry in another region and an age entry.
GO_SOPS_JSON = {
    "db": {"password": "ENC[AES256_GCM,data:Z+4t,iv:ZWRD,tag:5xqZ,type:str]"},
    "sops": {
        "kms": None,
        "key_groups": [{"kms": [
            {"arn": "{arn}", "enc": "{enc}", "created_at": "2026-12-01T14:20:39Z", "aws_profile": "",
             "context": {"app": "billing"}},
            {"arn": "arn:aws:kms:eu-west-1:123456789012:key/33333333-3333-3333-3333-333333333333",
             "enc": ENC, "created_at": "2026-12-01T14:20:39Z", "aws_profile": ""}],
            "age": [{"recipient": "age1xyz", "enc": "-----BEGIN AGE ENCRYPTED FILE-----\n..."}]}],
        "lastmodified": "2026-12-01T14:20:39Z",
        "mac": MAC,
        "version": "3.9.1",
    },
}


def _python_yaml(arn=OLD_ARN, enc=ENC):
    return PYTHON_SOPS_YAML.format(arn=arn, enc=enc, mac=MAC).encode()


def _go_json(arn=OLD_ARN, enc=ENC):
    # Go sops indents with tabs in JSON; the edit must keep them.
    return json.dumps(GO_SOPS_JSON, indent="\t").replace("{arn}", arn).replace("{enc}", enc).encode()


def test_python_sops_yaml_entries_and_an_in_place_edit_that_keeps_every_other_byte():
    document = sops_files.parse(_python_yaml())
    assert document.describe() == "sops yaml"
    [entry] = document.entries
    assert (entry.where, entry.arn, entry.enc, entry.context) == ("sops.kms[0]", OLD_ARN, ENC, {"app": "billing"})
    edited = document.rewrite([(entry, NEW_ARN, NEW_ENC)])
    # The quoting style of each scalar, the comment, CRLF and the layout: everything but the two values is as it was.
    assert edited == _python_yaml(arn=NEW_ARN, enc=NEW_ENC)


def test_go_sops_json_key_groups_and_tab_indentation():
    document = sops_files.parse(_go_json())
    assert document.describe() == "sops json"
    assert [entry.where for entry in document.entries] == ["sops.key_groups[0].kms[0]", "sops.key_groups[0].kms[1]"]
    assert document.entries[0].context == {"app": "billing"}
    edited = document.rewrite([(document.entries[0], NEW_ARN, NEW_ENC)])
    assert edited == _go_json(arn=NEW_ARN, enc=NEW_ENC)


def test_plain_and_double_quoted_yaml_scalars_keep_their_style():
    text = 'a: 1\nsops:\n  kms:\n    - arn: "{0}"\n      enc: {1}\n  mac: {2}\n'.format(OLD_ARN, ENC, MAC)
    document = sops_files.parse(text.encode())
    edited = document.rewrite([(document.entries[0], NEW_ARN, NEW_ENC)])
    assert edited.decode() == text.replace(OLD_ARN, NEW_ARN).replace(ENC, NEW_ENC)


@pytest.mark.parametrize("content, reason", [
    (b"password: hunter2\n", "no top-level `sops` key"),
    (b"app:\n  sops: nested only\n", "no top-level `sops` key"),
    (b"sops: [not, a, map]\n", "no top-level `sops` map with `kms` or `mac`"),
    (b"sops: {version: '3.9'}\n", "no top-level `sops` map with `kms` or `mac`"),
    (b'{"sops": {"kms": [}', "does not parse as JSON"),
    (b"sops:\n  mac: [unclosed\n", "does not parse as YAML"),
    (b"\xff\xfesops:", "not UTF-8"),
    (b"sops:\n  kms:\n    - arn: x\n", "sops.kms[0] has no arn and enc strings"),
    (b"sops:\n  kms:\n    - {arn: x, enc: y, context: {n: 1}}\n", "not a map of strings"),
])
def test_what_is_not_a_usable_sops_file_says_why(content, reason):
    with pytest.raises(NotABlob, match=reason.replace("[", r"\[").replace("]", r"\]")):
        sops_files.parse(content)


def test_an_edit_that_would_change_more_than_the_two_values_is_refused():
    document = sops_files.parse(_python_yaml())
    # A value that YAML would read as another type, as a corrupted answer could be: the re-parse catches it.
    with pytest.raises(RuntimeError, match="would change more than their arn and enc"):
        document.rewrite([(document.entries[0], NEW_ARN, "123")])


def test_sops_files_without_kms_entries_have_none():
    age_only = b"a: ENC[x]\nsops:\n  age:\n    - recipient: age1xyz\n      enc: x\n  mac: m\n"
    assert sops_files.parse(age_only).entries == []
    go_null = json.dumps({"a": "x", "sops": {"kms": None, "mac": MAC}}).encode()
    assert sops_files.parse(go_null).entries == []


# The engine ------------------------------------------------------------------


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


@pytest.fixture
def keys(kms):
    return {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("old", "other", "new")}


def _enc(kms, key, context):
    blob = kms.generate_data_key_without_plaintext(KeyId=key["KeyId"], KeySpec="AES_256",
                                                   EncryptionContext=context)["CiphertextBlob"]
    return base64.b64encode(blob).decode()


@pytest.fixture
def run(make_clients):
    def run(check_mode=False, **spec):
        clients, limit = make_clients(concurrency=4)
        return DataKeyRewrap(clients, limit).run(RewrapSpec(**spec), check_mode=check_mode).for_module(
            diff_wanted=True)
    return run


@pytest.fixture
def estate(kms, keys, tmp_path):
    """A Python-sops YAML under the old key (with a context), a Go-sops JSON with the old key, another key and
    an entry in another region."""
    context = {"app": "billing"}
    (tmp_path / "app.yaml").write_bytes(_python_yaml(arn=keys["old"]["Arn"], enc=_enc(kms, keys["old"], context)))
    json_text = _go_json(arn=keys["old"]["Arn"], enc=_enc(kms, keys["old"], context)).decode()
    other = '"arn": "{0}", "enc": "{1}", "created_at": "x"'.format(keys["other"]["Arn"], _enc(kms, keys["other"], {}))
    json_text = json_text.replace('"age": [', '"kms_unused": 0, "age": [')  # a key sops ignores, kept as it is
    json_text = json_text.replace('"kms": null', '"kms": [{' + other + '}]')
    (tmp_path / "app.json").write_text(json_text)
    return {"dir": tmp_path, "context": context}


def _kms_entries(document):
    return [(entry.where, entry.arn) for entry in sops_files.parse(document).entries]


def _key_of_enc(kms, enc, context):
    # Tests may decrypt to prove a result; the engine never does.
    return kms.decrypt(CiphertextBlob=base64.b64decode(enc), EncryptionContext=context)["KeyId"]


def test_format_sops_rewraps_source_entries_in_place_and_leaves_the_others(run, kms, keys, estate):
    before = {name: (estate["dir"] / name).read_bytes() for name in ("app.yaml", "app.json")}
    result = run(destination_key_id=keys["new"]["Arn"], source_key_ids=[keys["old"]["KeyId"]], format="sops",
                 paths=[str(estate["dir"] / "app.*")])
    assert result["changed"] is True
    assert result["counts"] == {"rewrapped": 2, "unchanged": 0, "skipped": 0, "failed": 0, "not_a_blob": 0}
    by_file = {item["path"].rsplit("/", 1)[1]: item for item in result["results"]}
    assert by_file["app.json"]["layout"] == "sops json"
    assert [(entry["entry"], entry["action"]) for entry in by_file["app.json"]["sops_entries"]] == [
        ("sops.kms[0]", "skipped"), ("sops.key_groups[0].kms[0]", "rewrapped"),
        ("sops.key_groups[0].kms[1]", "skipped")]
    assert "not this task's region us-east-1" in by_file["app.json"]["sops_entries"][2]["reason"]
    for name in ("app.yaml", "app.json"):
        after = (estate["dir"] / name).read_bytes()
        document = sops_files.parse(after)
        moved = [entry for entry in document.entries if entry.arn == keys["new"]["Arn"]]
        assert len(moved) == 1, name
        assert _key_of_enc(kms, moved[0].enc, estate["context"]) == keys["new"]["Arn"]
        # Every other byte: putting the old values back gives the file as it was.
        old = [entry for entry in sops_files.parse(before[name]).entries if entry.where == moved[0].where][0]
        assert document.rewrite([(moved[0], old.arn, old.enc)]) == before[name], name
    assert result["dependents"] == []

    rerun = run(destination_key_id=keys["new"]["Arn"], source_key_ids=[keys["old"]["KeyId"]], format="sops",
                paths=[str(estate["dir"] / "app.*")])
    assert rerun["changed"] is False
    assert rerun["counts"]["unchanged"] == 2


def test_auto_recognises_sops_files_and_still_reads_blobs_and_plain_text(run, kms, keys, estate):
    blob = kms.generate_data_key_without_plaintext(KeyId=keys["old"]["KeyId"], KeySpec="AES_256")["CiphertextBlob"]
    (estate["dir"] / "plain.key").write_bytes(base64.b64encode(blob) + b"\n")
    (estate["dir"] / "settings.yaml").write_bytes(b"sopsy: no\nname: app\n")
    result = run(destination_key_id=keys["new"]["Arn"], source_key_ids=[keys["old"]["Arn"]],
                 paths=[str(estate["dir"] / "*")])
    formats = {item["path"].rsplit("/", 1)[1]: (item.get("format"), item["action"]) for item in result["results"]}
    assert formats == {"app.json": ("sops", "rewrapped"), "app.yaml": ("sops", "rewrapped"),
                       "plain.key": ("base64", "rewrapped"), "settings.yaml": (None, "not_a_blob")}


def test_check_mode_diff_shows_arns_and_writes_nothing(run, keys, estate):
    before = (estate["dir"] / "app.yaml").read_bytes()
    result = run(check_mode=True, destination_key_id=keys["new"]["Arn"], paths=[str(estate["dir"] / "app.yaml")])
    assert result["changed"] is True
    assert (estate["dir"] / "app.yaml").read_bytes() == before
    assert result["diff"] == [{
        "before_header": str(estate["dir"] / "app.yaml"), "after_header": str(estate["dir"] / "app.yaml"),
        "before": "sops.kms[0].arn: {0}\n".format(keys["old"]["Arn"]),
        "after": "sops.kms[0].arn: {0}\n".format(keys["new"]["Arn"])}]
    assert [(item["resource"], item["kind"], item["key_arn"], item["entry"]) for item in result["dependents"]] == [
        (str(estate["dir"] / "app.yaml"), "to_move", keys["old"]["Arn"], "sops.kms[0]")]


def test_an_entry_under_a_disabled_source_key_fails_as_an_unknown_dependent(run, kms, keys, estate):
    path = estate["dir"] / "app.yaml"
    before = path.read_bytes()
    kms.disable_key(KeyId=keys["old"]["KeyId"])
    result = run(destination_key_id=keys["new"]["Arn"], format="sops", paths=[str(path)])
    assert result["counts"]["failed"] == 1
    assert "sops.kms[0]: the blob's key is disabled" in result["failures"][0]["reason"]
    assert path.read_bytes() == before
    [entry] = result["dependents"]
    assert (entry["kind"], entry["key_arn"], entry["entry"]) == ("unknown", keys["old"]["Arn"], "sops.kms[0]")


def test_a_file_with_no_entry_under_a_source_key_is_unchanged_on_disk(run, keys, estate):
    path = estate["dir"] / "app.yaml"
    before = path.read_bytes()
    result = run(destination_key_id=keys["new"]["Arn"], source_key_ids=[keys["other"]["Arn"]], format="sops",
                 paths=[str(path)])
    assert result["changed"] is False
    assert result["results"][0]["action"] == "skipped"
    assert path.read_bytes() == before


def test_format_sops_reports_a_blob_file_as_not_a_sops_file(run, kms, keys, tmp_path):
    blob = kms.generate_data_key_without_plaintext(KeyId=keys["old"]["KeyId"], KeySpec="AES_256")["CiphertextBlob"]
    (tmp_path / "a.key").write_bytes(blob)
    result = run(destination_key_id=keys["new"]["Arn"], format="sops", paths=[str(tmp_path / "a.key")])
    assert result["results"][0]["action"] == "not_a_blob"
    assert "not a sops file" in result["results"][0]["reason"]


def test_a_large_sops_file_is_read_whole_and_written_back_with_a_backup(run, kms, keys, estate):
    # Larger than any blob file (16 KiB): read whole for sops, and the change check compares all of it.
    path = estate["dir"] / "app.yaml"
    padding = "".join("k{0}: ENC[AES256_GCM,data:{1},type:str]\n".format(index, "A" * 40) for index in range(600))
    path.write_bytes(padding.encode() + path.read_bytes())
    before = path.read_bytes()
    assert len(before) > 16384
    result = run(destination_key_id=keys["new"]["Arn"], paths=[str(path)], backup=True)
    assert result["results"][0]["action"] == "rewrapped"
    backup = result["results"][0]["backup_file"]
    assert open(backup, "rb").read() == before
    assert [entry["kind"] for entry in result["dependents"]] == ["retained"]
    assert _kms_entries(path.read_bytes()) == [("sops.kms[0]", keys["new"]["Arn"])]


def test_a_hard_linked_sops_file_is_left_alone_by_default_and_rewritten_in_place_when_asked(run, keys, estate):
    path = estate["dir"] / "app.yaml"
    other_name = estate["dir"] / "linked.yaml"
    os.link(path, other_name)
    before = path.read_bytes()
    result = run(destination_key_id=keys["new"]["Arn"], paths=[str(path)])
    assert result["results"][0]["action"] == "skipped"
    assert "2 hard links" in result["results"][0]["reason"]
    assert [(entry["kind"], entry["key_arn"]) for entry in result["dependents"]] == [("to_move", keys["old"]["Arn"])]
    assert path.read_bytes() == before
    result = run(destination_key_id=keys["new"]["Arn"], paths=[str(path)], hard_links="rewrite_in_place")
    assert result["results"][0]["action"] == "rewrapped"
    assert _kms_entries(other_name.read_bytes()) == [("sops.kms[0]", keys["new"]["Arn"])]


def test_one_entry_failing_fails_the_file_but_the_entry_that_moved_is_written(run, kms, keys, tmp_path):
    text = "a: ENC[x]\nsops:\n  kms:\n  - arn: {0}\n    enc: {1}\n  - arn: {2}\n    enc: {3}\n  mac: m\n".format(
        keys["old"]["Arn"], _enc(kms, keys["old"], {}), keys["other"]["Arn"], _enc(kms, keys["other"], {}))
    path = tmp_path / "two.yaml"
    path.write_text(text)
    kms.disable_key(KeyId=keys["other"]["KeyId"])
    result = run(destination_key_id=keys["new"]["Arn"], format="sops", paths=[str(path)])
    assert result["changed"] is True
    assert result["counts"]["failed"] == 1
    assert [entry["action"] for entry in result["results"][0]["sops_entries"]] == ["rewrapped", "failed"]
    assert _kms_entries(path.read_bytes()) == [("sops.kms[0]", keys["new"]["Arn"]), ("sops.kms[1]", keys["other"]["Arn"])]
    assert [(entry["kind"], entry["entry"]) for entry in result["dependents"]] == [("unknown", "sops.kms[1]")]


def test_usage_discovery_finds_a_sops_file_under_the_key_it_examines(make_clients, keys, estate):
    clients, limit = make_clients(concurrency=2)
    found, unreadable = files_under_key(clients, limit, keys["old"]["Arn"], [str(estate["dir"] / "app.yaml")])
    assert ([item.id for item in found], unreadable) == ([str(estate["dir"] / "app.yaml")], None)
