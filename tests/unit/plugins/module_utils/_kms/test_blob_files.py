"""blob_files: format detection, path expansion and the atomic replace."""

import base64
import os
import stat

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files

RAW = bytes(range(256)) * 2


@pytest.mark.parametrize("content, requested, expected_format, expected_trailer", [
    (base64.b64encode(RAW) + b"\n", "auto", "base64", b"\n"),
    (base64.b64encode(RAW), "base64", "base64", b""),
    (RAW, "auto", "binary", b""),
    (RAW, "binary", "binary", b""),
])
def test_decode_round_trips_each_format(content, requested, expected_format, expected_trailer):
    blob, used, trailer = blob_files.decode_blob(content, requested)
    assert blob == RAW
    assert (used, trailer) == (expected_format, expected_trailer)
    assert blob_files.encode_blob(blob, used, trailer) == content


def test_base64_format_refuses_binary_content():
    with pytest.raises(ValueError, match="not valid base64"):
        blob_files.decode_blob(RAW, "base64")


def test_empty_file_is_refused():
    with pytest.raises(ValueError, match="empty"):
        blob_files.decode_blob(b"", "auto")


def test_expand_paths_dedupes_and_keeps_order(tmp_path):
    for name in ("b.key", "a.key", "c.txt"):
        (tmp_path / name).write_bytes(RAW)
    (tmp_path / "sub").mkdir()
    (tmp_path / "sub" / "d.key").write_bytes(RAW)
    found = blob_files.expand_paths([str(tmp_path / "b.key"), str(tmp_path / "**" / "*.key")])
    assert found == [str(tmp_path / "b.key"), str(tmp_path / "a.key"), str(tmp_path / "sub" / "d.key")]


@pytest.mark.parametrize("name", ["*.nothing", "missing.key"])
def test_expand_paths_refuses_what_matches_nothing(tmp_path, name):
    with pytest.raises(RotationError) as excinfo:
        blob_files.expand_paths([str(tmp_path / name)])
    assert str(tmp_path / name) in str(excinfo.value)


def test_replace_keeps_mode_format_and_writes_backup(tmp_path):
    path = tmp_path / "k.key"
    path.write_bytes(base64.b64encode(RAW) + b"\n")
    os.chmod(path, 0o640)
    blob_file = blob_files.read_blob_file(str(path), "auto")
    backup = blob_files.replace_blob_file(blob_file, b"new-blob", backup=True)
    assert path.read_bytes() == base64.b64encode(b"new-blob") + b"\n"
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert open(backup, "rb").read() == base64.b64encode(RAW) + b"\n"
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert sorted(os.listdir(tmp_path)) == sorted(["k.key", os.path.basename(backup)])


def test_replace_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.key"
    target.write_bytes(RAW)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    blob_files.replace_blob_file(blob_files.read_blob_file(str(link), "auto"), b"new")
    assert link.is_symlink()
    assert target.read_bytes() == b"new"


def test_replace_refuses_a_file_changed_since_it_was_read(tmp_path):
    path = tmp_path / "k.key"
    path.write_bytes(RAW)
    blob_file = blob_files.read_blob_file(str(path), "auto")
    path.write_bytes(RAW + b"appended by another writer")
    with pytest.raises(RuntimeError, match="changed"):
        blob_files.replace_blob_file(blob_file, b"new")
    assert path.read_bytes() == RAW + b"appended by another writer"


def test_failed_write_leaves_the_original_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "k.key"
    path.write_bytes(RAW)
    blob_file = blob_files.read_blob_file(str(path), "auto")

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        blob_files.replace_blob_file(blob_file, b"new")
    assert path.read_bytes() == RAW
    assert os.listdir(tmp_path) == ["k.key"]
