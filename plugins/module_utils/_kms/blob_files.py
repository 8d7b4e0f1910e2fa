# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Files that each hold one KMS ciphertext blob, for kms_data_key_rewrap: find, read, and replace safely.

A file is written back in the format it was read in (raw bytes, or base64
text keeping its trailing newline), through a temporary file in the same
directory that is fsynced and renamed over the original, so a crash or a
full disk never leaves a half-written or empty data key behind.

The renames are made durable by fsyncing each directory once, after all its
files were replaced (sync_directories), not once per file: that halves the
disk flushes, and until then a crash leaves each file holding either its old
or its new blob, both of which decrypt while the old key is enabled.
"""

import base64
import binascii
import glob
import os
import shutil
import tempfile
import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError

FORMATS = ("auto", "base64", "binary")


class BlobFile(object):
    """One file's blob, with what is needed to write it back unchanged in form."""

    __slots__ = ("path", "real_path", "blob", "blob_format", "trailer", "stat")

    def __init__(self, path, real_path, blob, blob_format, trailer, stat):
        self.path = path
        self.real_path = real_path
        self.blob = blob
        self.blob_format = blob_format
        self.trailer = trailer
        self.stat = stat


def expand_paths(patterns):
    """Files named by paths or glob patterns, in order, each once.

    Raises before anything is changed when a pattern matches nothing or a
    plain path does not exist, since either is almost always a typo.
    """
    seen = set()
    files = []
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        if glob.has_magic(expanded):
            matches = sorted(path for path in glob.glob(expanded, recursive=True) if os.path.isfile(path))
            if not matches:
                raise RotationError("The glob pattern matches no file.", resource=pattern,
                                    fix="check the pattern, or remove it from paths.")
        elif os.path.isfile(expanded):
            matches = [expanded]
        else:
            raise RotationError("No such file.", resource=pattern, fix="check the path, or remove it from paths.")
        for path in matches:
            key = os.path.realpath(path)
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files


def decode_blob(data, blob_format):
    """(blob bytes, format actually used, trailing whitespace) of a file's content.

    `auto` takes content that is strictly valid base64 text as base64 and
    anything else as raw bytes: a binary KMS blob is never valid base64 text.
    """
    if blob_format in ("auto", "base64"):
        stripped = data.rstrip()
        try:
            blob = base64.b64decode(stripped, validate=True)
        except (binascii.Error, ValueError):
            blob = None
        if blob:
            return blob, "base64", data[len(stripped):]
        if blob_format == "base64":
            raise ValueError("the content is not valid base64 text (use format=binary for raw blobs)")
    if not data:
        raise ValueError("the file is empty")
    return data, "binary", b""


def encode_blob(blob, blob_format, trailer=b""):
    if blob_format == "base64":
        return base64.b64encode(blob) + trailer
    return blob


def read_blob_file(path, blob_format):
    real_path = os.path.realpath(path)
    with open(real_path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        data = handle.read()
    blob, used_format, trailer = decode_blob(data, blob_format)
    return BlobFile(path, real_path, blob, used_format, trailer, stat)


def _unchanged_since_read(blob_file):
    current = os.stat(blob_file.real_path)
    before = blob_file.stat
    return (current.st_ino, current.st_size, current.st_mtime_ns) == (before.st_ino, before.st_size, before.st_mtime_ns)


def _backup(blob_file):
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    backup_path = "{0}.{1}.bak".format(blob_file.real_path, stamp)
    fd = os.open(backup_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as target, open(blob_file.real_path, "rb") as source:
        shutil.copyfileobj(source, target)
        target.flush()
        os.fsync(target.fileno())
    return backup_path


def replace_blob_file(blob_file, new_blob, backup=False):
    """Atomically replace the file's blob; returns the backup path or None.

    Call sync_directories() on the file's directory once all are replaced.
    """
    if not _unchanged_since_read(blob_file):
        raise RuntimeError("the file changed while it was being re-wrapped; run again")
    directory = os.path.dirname(blob_file.real_path) or "."
    backup_path = _backup(blob_file) if backup else None
    fd, tmp_path = tempfile.mkstemp(prefix=".{0}.".format(os.path.basename(blob_file.real_path)),
                                    suffix=".kmsrotate.tmp", dir=directory)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(encode_blob(new_blob, blob_file.blob_format, blob_file.trailer))
            handle.flush()
            os.fsync(handle.fileno())
        os.chmod(tmp_path, blob_file.stat.st_mode & 0o7777)
        _keep_ownership(tmp_path, blob_file.stat)
        os.replace(tmp_path, blob_file.real_path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise
    return backup_path


def _keep_ownership(path, stat):
    current = os.stat(path)
    if (current.st_uid, current.st_gid) == (stat.st_uid, stat.st_gid):
        return
    try:
        os.chown(path, stat.st_uid, stat.st_gid)
    except PermissionError:
        raise PermissionError("cannot keep the file's owner {0}:{1} (only root can); run the task with become".format(
            stat.st_uid, stat.st_gid))


def sync_directories(paths):
    """Make the renames of replaced files durable: one fsync per directory."""
    for directory in sorted(set(os.path.dirname(os.path.realpath(path)) or "." for path in paths)):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
