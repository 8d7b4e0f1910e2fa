"""blob_files: path expansion, reading, the atomic replace and the in-place rewrite."""

import base64
import errno
import os
import stat

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.blob_format import NotABlob

RAW = bytes(range(256)) * 2
NEW = bytes(reversed(RAW))


def _wrapped(blob, ending=b"\n"):
    text = base64.b64encode(blob)
    return b"".join(text[start:start + 76] + ending for start in range(0, len(text), 76))


def _blob_file(path, content=RAW):
    path.write_bytes(content)
    return blob_files.read_blob_file(str(path), "auto")


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


def test_globs_never_match_the_modules_own_files(tmp_path):
    own = ["a.key.20261201T101010.kmsrotate.bak", "a.key.20250101T000000.bak", ".a.key.k2j3h4.kmsrotate.tmp"]
    for name in ["a.key"] + own:
        (tmp_path / name).write_bytes(RAW)
    assert blob_files.expand_paths([str(tmp_path / "*"), str(tmp_path / "**" / "*")]) == [str(tmp_path / "a.key")]
    with pytest.raises(RotationError, match="matches no file"):
        blob_files.expand_paths([str(tmp_path / ".*")])
    # Named by a plain path, a backup is what the user asked for.
    assert blob_files.expand_paths([str(tmp_path / own[0])]) == [str(tmp_path / own[0])]


def test_a_glob_matching_only_backups_matches_nothing(tmp_path):
    (tmp_path / "a.key.20261201T101010.kmsrotate.bak").write_bytes(RAW)
    with pytest.raises(RotationError, match="matches no file"):
        blob_files.expand_paths([str(tmp_path / "*.bak")])


def test_a_file_too_large_for_a_blob_is_not_read(tmp_path, monkeypatch):
    path = tmp_path / "big.key"
    with open(path, "wb") as handle:
        handle.truncate(27 * 1000 * 1000)
    reads = []
    real_open = open

    class Spy(object):
        def __init__(self, handle):
            self._handle = handle

        def __enter__(self):
            return self

        def __exit__(self, *exc_info):
            self._handle.close()

        def fileno(self):
            return self._handle.fileno()

        def read(self, size=-1):
            reads.append(size)
            return self._handle.read(size)

    monkeypatch.setattr(blob_files, "open", lambda *args, **kwargs: Spy(real_open(*args, **kwargs)), raising=False)
    with pytest.raises(NotABlob, match="27000000 bytes: larger than a KMS ciphertext blob can be"):
        blob_files.read_blob_file(str(path), "auto")
    assert reads == []


@pytest.mark.parametrize("content", [_wrapped(RAW), _wrapped(RAW, b"\r\n"), base64.b64encode(RAW), RAW],
                         ids=["wrapped-lf", "wrapped-crlf", "one-line", "binary"])
def test_replace_keeps_mode_layout_and_writes_backup(tmp_path, content):
    path = tmp_path / "k.key"
    path.write_bytes(content)
    os.chmod(path, 0o640)
    blob_file = blob_files.read_blob_file(str(path), "auto")
    fields = blob_files.replace_blob_file(blob_file, NEW, backup=True)
    backup = fields["backup_file"]
    assert path.read_bytes() == blob_file.layout.encode(NEW)
    assert blob_files.read_blob_file(str(path), "auto").layout.describe() == blob_file.layout.describe()
    assert stat.S_IMODE(os.stat(path).st_mode) == 0o640
    assert open(backup, "rb").read() == content
    assert stat.S_IMODE(os.stat(backup).st_mode) == 0o600
    assert backup.endswith(blob_files.BACKUP_SUFFIX)
    assert sorted(os.listdir(tmp_path)) == sorted(["k.key", os.path.basename(backup)])
    assert blob_files.expand_paths([str(tmp_path / "*")]) == [str(path)]


def test_replace_through_a_symlink_keeps_the_link(tmp_path):
    target = tmp_path / "real.key"
    target.write_bytes(RAW)
    link = tmp_path / "link.key"
    link.symlink_to(target)
    blob_files.replace_blob_file(blob_files.read_blob_file(str(link), "auto"), NEW)
    assert link.is_symlink()
    assert target.read_bytes() == NEW


def _rewrite_during_the_write(monkeypatch, path, content, keep_mtime=False):
    """Make another writer rewrite `path` while the replacement is being written (at its first fsync)."""
    real_fsync = os.fsync
    before = os.stat(path)

    def fsync(fd):
        if not path.read_bytes() == content:
            path.write_bytes(content)
            if keep_mtime:
                os.utime(path, ns=(before.st_atime_ns, before.st_mtime_ns))
        return real_fsync(fd)

    monkeypatch.setattr(os, "fsync", fsync)


@pytest.mark.parametrize("keep_mtime", [False, True], ids=["new-mtime", "same-size-and-mtime"])
@pytest.mark.parametrize("backup", [False, True], ids=["no-backup", "backup"])
def test_a_file_rewritten_during_the_write_keeps_the_writers_blob(tmp_path, monkeypatch, keep_mtime, backup):
    path = tmp_path / "k.key"
    blob_file = _blob_file(path)
    theirs = bytes(reversed(NEW[:256])) + NEW[256:]
    _rewrite_during_the_write(monkeypatch, path, theirs, keep_mtime)
    with pytest.raises(blob_files.FileChanged, match="changed while it was being re-wrapped"):
        blob_files.replace_blob_file(blob_file, NEW, backup=backup)
    assert path.read_bytes() == theirs
    assert os.listdir(tmp_path) == ["k.key"], "no temporary file, no backup of a file left alone"


def test_extended_attributes_are_given_to_the_new_file(tmp_path):
    path = tmp_path / "k.key"
    path.write_bytes(RAW)
    attributes = {"user.app": b"orders", "security.selinux": b"system_u:object_r:etc_t:s0\x00"}
    for name, value in attributes.items():
        os.setxattr(path, name, value)
    blob_file = blob_files.read_blob_file(str(path), "auto")
    fields = blob_files.replace_blob_file(blob_file, NEW)
    assert {name: os.getxattr(path, name) for name in os.listxattr(path)} == attributes
    assert fields["extended_attributes"]["supported"] is True
    assert sorted(fields["extended_attributes"]["copied"]) == sorted(attributes)


def test_an_attribute_that_cannot_be_set_leaves_the_file_alone(tmp_path, monkeypatch):
    path = tmp_path / "k.key"
    path.write_bytes(RAW)
    os.setxattr(path, "security.selinux", b"system_u:object_r:etc_t:s0\x00")
    blob_file = blob_files.read_blob_file(str(path), "auto")
    real_setxattr = os.setxattr

    def unprivileged(target, name, value, *args, **kwargs):
        if name.startswith("security."):
            raise OSError(errno.EPERM, "Operation not permitted")
        return real_setxattr(target, name, value, *args, **kwargs)

    monkeypatch.setattr(os, "setxattr", unprivileged)
    with pytest.raises(blob_files.AttributesNotKept, match=r"security.selinux \(Operation not permitted\).*become"):
        blob_files.replace_blob_file(blob_file, NEW, backup=True)
    assert path.read_bytes() == RAW
    assert os.listdir(tmp_path) == ["k.key"]


def test_a_filesystem_without_extended_attributes_is_said_and_not_fatal(tmp_path, monkeypatch):
    path = tmp_path / "k.key"
    blob_file = _blob_file(path)

    def unsupported(*args, **kwargs):
        raise OSError(errno.ENOTSUP, "Operation not supported")

    monkeypatch.setattr(os, "listxattr", unsupported)
    fields = blob_files.replace_blob_file(blob_file, NEW)
    assert path.read_bytes() == NEW
    assert fields["extended_attributes"] == {"supported": False, "copied": [],
                                             "note": "this filesystem has no extended attributes"}


def test_rewrite_in_place_keeps_the_inode_so_every_link_sees_the_new_blob(tmp_path):
    path = tmp_path / "k.key"
    path.write_bytes(_wrapped(RAW))
    os.link(path, tmp_path / "other-name.key")
    os.setxattr(path, "user.app", b"orders")
    inode = os.stat(path).st_ino
    blob_file = blob_files.read_blob_file(str(path), "auto")
    assert blob_file.links == 2
    fields = blob_files.rewrite_in_place(blob_file, NEW, backup=True)
    assert fields["in_place"] is True
    for name in ("k.key", "other-name.key"):
        assert (tmp_path / name).read_bytes() == _wrapped(NEW)
    assert os.stat(path).st_ino == inode
    assert os.getxattr(path, "user.app") == b"orders"
    assert open(fields["backup_file"], "rb").read() == _wrapped(RAW)
    assert sorted(os.listdir(tmp_path)) == sorted(["k.key", "other-name.key", os.path.basename(fields["backup_file"])])


def test_rewrite_in_place_refuses_a_changed_file(tmp_path):
    path = tmp_path / "k.key"
    path.write_bytes(RAW)
    os.link(path, tmp_path / "other-name.key")
    blob_file = blob_files.read_blob_file(str(path), "auto")
    path.write_bytes(NEW[:100] + RAW[100:])
    with pytest.raises(blob_files.FileChanged):
        blob_files.rewrite_in_place(blob_file, NEW)
    assert path.read_bytes() == NEW[:100] + RAW[100:]
    assert sorted(os.listdir(tmp_path)) == ["k.key", "other-name.key"]


def test_a_failed_in_place_write_says_where_the_new_blob_is(tmp_path, monkeypatch):
    path = tmp_path / "k.key"
    path.write_bytes(RAW)
    os.link(path, tmp_path / "other-name.key")
    blob_file = blob_files.read_blob_file(str(path), "auto")

    def disk_error(fd, data, offset):
        raise OSError(errno.EIO, "Input/output error")

    monkeypatch.setattr(os, "pwrite", disk_error)
    with pytest.raises(OSError, match="may be torn; its new content is in") as excinfo:
        blob_files.rewrite_in_place(blob_file, NEW)
    kept = str(excinfo.value).split("its new content is in ")[1]
    assert open(kept, "rb").read() == NEW


def test_failed_write_leaves_the_original_and_no_temp_file(tmp_path, monkeypatch):
    path = tmp_path / "k.key"
    blob_file = _blob_file(path)

    def full_disk(fd):
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", full_disk)
    with pytest.raises(OSError):
        blob_files.replace_blob_file(blob_file, NEW)
    assert path.read_bytes() == RAW
    assert os.listdir(tmp_path) == ["k.key"]
