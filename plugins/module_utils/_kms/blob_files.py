# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Files that each hold one KMS ciphertext blob, for kms_data_key_rewrap: find, read, and replace safely.

A file is written back in the layout it was read in (blob_format.Layout),
through a temporary file in the same directory that gets the file's owner,
mode and extended attributes (SELinux label, POSIX ACLs, ...), is fsynced, and
is renamed over the original, so a crash or a full disk never leaves a
half-written or empty data key behind. The file is compared with what was read
(inode, size, mtime, links, content) immediately before the rename: a file an
application rewrote meanwhile keeps the application's blob.

A file with several hard links is rewritten in place only when asked
(rewrite_in_place): a rename would give this name a new inode and leave the
other names holding the old blob.

The renames are made durable by fsyncing each directory once, after all its
files were replaced (sync_directories), not once per file: that halves the
disk flushes, and until then a crash leaves each file holding either its old
or its new blob, both of which decrypt while the old key is enabled.

The module's own files (backups, temporary files, and the backups of earlier
versions, `<file>.<UTC timestamp>.bak`) never match a glob, so a later run with
a wide glob does not re-wrap them.
"""

import errno
import glob
import os
import re
import tempfile
import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_format

BACKUP_SUFFIX = ".kmsrotate.bak"
_TEMP_SUFFIX = ".kmsrotate.tmp"
_OWN_FILE = re.compile(r"(\.kmsrotate\.(bak|tmp)|\.\d{8}T\d{6}\.bak)$")
# What must still hold, immediately before the write, for a file to be what was read.
_SAME_FILE = ("st_dev", "st_ino", "st_size", "st_mtime_ns", "st_nlink")


class FileChanged(RuntimeError):
    """The file is no longer what was read: it was left alone."""


class AttributesNotKept(PermissionError):
    """Extended attributes of the file could not be given to its replacement: it was left alone."""


class BlobFile(object):
    """One file's blob, with what is needed to check it is unchanged and write it back in the same layout."""

    __slots__ = ("path", "real_path", "blob", "layout", "stat", "data")

    def __init__(self, path, real_path, blob, layout, stat, data):
        self.path = path
        self.real_path = real_path
        self.blob = blob
        self.layout = layout
        self.stat = stat
        self.data = data

    @property
    def links(self):
        return self.stat.st_nlink


def is_own_file(path):
    """Whether a file is one this module writes (a backup or a temporary file), never taken for a blob by a glob."""
    return bool(_OWN_FILE.search(path))


def expand_paths(patterns):
    """Files named by paths or glob patterns, in order, each file once; the module's own files never match a glob.

    "Once" is per inode: two names of one file (a symbolic link, a hard link) are one file, taken by its first name.

    Raises before anything is changed when a pattern matches nothing or a
    plain path does not exist, since either is almost always a typo.
    """
    seen = set()
    files = []
    for pattern in patterns:
        expanded = os.path.expanduser(pattern)
        if glob.has_magic(expanded):
            matches = sorted(path for path in glob.glob(expanded, recursive=True)
                             if os.path.isfile(path) and not is_own_file(path))
            if not matches:
                raise RotationError("The glob pattern matches no file (backups and temporary files of this module "
                                    "never match).", resource=pattern,
                                    fix="check the pattern, or remove it from paths.")
        elif os.path.isfile(expanded):
            matches = [expanded]
        else:
            raise RotationError("No such file.", resource=pattern, fix="check the path, or remove it from paths.")
        for path in matches:
            found = os.stat(path)
            key = (found.st_dev, found.st_ino)
            if key not in seen:
                seen.add(key)
                files.append(path)
    return files


def read_blob_file(path, requested_format):
    """The file's BlobFile; raises blob_format.NotABlob (a file too large is not even read) or OSError."""
    real_path = os.path.realpath(path)
    with open(real_path, "rb") as handle:
        stat = os.fstat(handle.fileno())
        reason = blob_format.too_large(stat.st_size)
        if reason:
            raise blob_format.NotABlob(reason)
        data = handle.read(blob_format.MAX_FILE_BYTES + 1)
    blob, layout = blob_format.decode(data, requested_format)
    return BlobFile(path, real_path, blob, layout, stat, data)


def _change_since_read(blob_file, handle):
    """What changed in the open file since it was read, or None."""
    now = os.fstat(handle.fileno())
    changed = [name[3:] for name in _SAME_FILE if getattr(now, name) != getattr(blob_file.stat, name)]
    if changed:
        return ", ".join(changed)
    # One byte more than was read, so content appended since is seen too (a sops file is larger than a blob).
    if os.pread(handle.fileno(), len(blob_file.data) + 1, 0) != blob_file.data:
        return "content"
    return None


def _refuse_if_changed(blob_file, handle):
    change = _change_since_read(blob_file, handle)
    if change:
        raise FileChanged("the file changed while it was being re-wrapped ({0}): left alone with the blob it holds "
                          "now; run again to re-wrap that one".format(change))


def _backup(blob_file):
    """Keep the content that was read (and re-wrapped) beside the file, mode 0600, fsynced."""
    stamp = time.strftime("%Y%m%dT%H%M%S", time.gmtime())
    backup_path = "{0}.{1}{2}".format(blob_file.real_path, stamp, BACKUP_SUFFIX)
    fd = os.open(backup_path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
    with os.fdopen(fd, "wb") as target:
        target.write(blob_file.data)
        target.flush()
        os.fsync(target.fileno())
    return backup_path


def _write_temp(blob_file, content):
    """(path, open handle) of a new temporary file beside the file, holding content; the caller closes, removes it."""
    fd, tmp_path = tempfile.mkstemp(prefix=".{0}.".format(os.path.basename(blob_file.real_path)),
                                    suffix=_TEMP_SUFFIX, dir=os.path.dirname(blob_file.real_path) or ".")
    handle = os.fdopen(fd, "wb")
    try:
        handle.write(content)
        handle.flush()
    except BaseException:
        handle.close()
        os.unlink(tmp_path)
        raise
    return tmp_path, handle


def _remove(path):
    if path and os.path.lexists(path):
        os.unlink(path)


def replace_blob_file(blob_file, new_blob, backup=False):
    """Atomically replace the file's blob; returns the result fields of the write (backup_file, extended_attributes).

    Raises FileChanged or AttributesNotKept, leaving the file as it is.
    Call sync_directories() on the file's directory once all are replaced.
    """
    backup_path = _backup(blob_file) if backup else None
    tmp_path = None
    try:
        tmp_path, handle = _write_temp(blob_file, blob_file.layout.encode(new_blob))
        with handle:
            # Owner first: chown clears set-id bits and file capabilities, which the next two put back.
            _keep_ownership(handle.fileno(), blob_file.stat)
            os.fchmod(handle.fileno(), blob_file.stat.st_mode & 0o7777)
            attributes = _copy_extended_attributes(blob_file.real_path, handle.fileno())
            os.fsync(handle.fileno())
        with open(blob_file.real_path, "rb") as current:
            _refuse_if_changed(blob_file, current)
        os.replace(tmp_path, blob_file.real_path)
    except BaseException:
        _remove(tmp_path)
        _remove(backup_path)
        raise
    return {"backup_file": backup_path, "extended_attributes": attributes}


def rewrite_in_place(blob_file, new_blob, backup=False):
    """Overwrite the file's own inode (every hard link sees the new blob); returns the write's result fields.

    Not atomic: the new content goes out in one write of a few KB and is
    fsynced, but a crash during that write can leave the file torn. The new
    content is first fsynced to a temporary file beside it (`.<name>.*.kmsrotate.tmp`),
    removed once the file is durable, so a torn file can be restored from it
    (or from the backup, with backup=true); a torn blob fails its next run, so
    it is never mistaken for one that moved.
    """
    content = blob_file.layout.encode(new_blob)
    backup_path = _backup(blob_file) if backup else None
    tmp_path = None
    overwriting = False
    try:
        tmp_path, handle = _write_temp(blob_file, content)
        with handle:
            os.fsync(handle.fileno())
        with open(blob_file.real_path, "r+b") as target:
            _refuse_if_changed(blob_file, target)
            overwriting = True
            _overwrite(target.fileno(), content)
    except BaseException as exc:
        if not overwriting:
            _remove(tmp_path)
            _remove(backup_path)
            raise
        if isinstance(exc, OSError):
            # The copies are what a user restores a torn file from: say where they are.
            raise OSError(exc.errno, "{0} while rewriting in place: the file may be torn; its new content is in "
                                     "{1}{2}".format(exc.strerror, tmp_path,
                                                     " and its previous one in " + backup_path if backup_path else ""))
        raise
    _remove(tmp_path)
    return {"backup_file": backup_path, "in_place": True}


def _overwrite(fd, content):
    written = 0
    while written < len(content):
        written += os.pwrite(fd, content[written:], written)
    os.ftruncate(fd, len(content))
    os.fsync(fd)


def _keep_ownership(fd, stat):
    current = os.fstat(fd)
    if (current.st_uid, current.st_gid) == (stat.st_uid, stat.st_gid):
        return
    try:
        os.fchown(fd, stat.st_uid, stat.st_gid)
    except PermissionError:
        raise PermissionError("cannot keep the file's owner {0}:{1} (only root can); run the task with become".format(
            stat.st_uid, stat.st_gid))


def _copy_extended_attributes(source, fd):
    """Give the file open as fd every extended attribute of source: {supported, copied}.

    Raises AttributesNotKept naming those it cannot set (security.* and
    trusted.* need privileges), unless the new file already has the same value
    (an SELinux label given by policy).
    """
    if not hasattr(os, "listxattr"):
        return {"supported": False, "copied": [], "note": "this OS has no extended attributes"}
    try:
        names = os.listxattr(source)
    except OSError as exc:
        if exc.errno in (errno.ENOTSUP, errno.EOPNOTSUPP):
            return {"supported": False, "copied": [], "note": "this filesystem has no extended attributes"}
        raise
    copied = []
    refused = []
    for name in names:
        try:
            value = os.getxattr(source, name)
        except OSError as exc:
            if exc.errno == errno.ENODATA:
                continue  # removed since it was listed
            refused.append("{0} ({1})".format(name, exc.strerror))
            continue
        try:
            os.setxattr(fd, name, value)
        except OSError as exc:
            if _has_attribute(fd, name, value):
                copied.append(name)
            else:
                refused.append("{0} ({1})".format(name, exc.strerror))
            continue
        copied.append(name)
    if refused:
        raise AttributesNotKept("cannot give the new file the extended attribute(s) {0}: left as it was; run the "
                                "task with become (root)".format(", ".join(refused)))
    return {"supported": True, "copied": copied}


def _has_attribute(fd, name, value):
    try:
        return os.getxattr(fd, name) == value
    except OSError:
        return False


def sync_directories(paths):
    """Make the renames of replaced files durable: one fsync per directory."""
    for directory in sorted(set(os.path.dirname(os.path.realpath(path)) or "." for path in paths)):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)
