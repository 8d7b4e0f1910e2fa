# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of kms_data_key_rewrap: re-wrap stored KMS ciphertext blobs (envelope data keys) under a new key.

Only kms:ReEncrypt is used, so plaintext key material never leaves KMS. One
ReEncrypt per blob both re-wraps it and tells which key it was under
(SourceKeyId); the new blob is kept only when the blob needs to move, so a
blob already under the destination, or under a key outside source_key_ids,
stays byte-for-byte as it was. That one call is also what check mode makes:
ReEncrypt changes nothing in AWS, and it is the only way to learn a blob's key
without decrypting it, which is also why kms_key_usage_info's finder of data
key files runs this engine in check mode. Which key each ReEncrypt names as
SourceKeyId is source_key_naming's; what can be a blob, blob_format's; how a
file is read and replaced, blob_files'.

What still depends on a source key is returned per blob as it is decided:
a blob a check run would move, a hard-linked file left alone and a file that
changed during the run are to_move; a blob that failed otherwise is unknown;
a backup is retained. A file that cannot be a blob is under no key.
"""

import base64
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import RETAINED, TO_MOVE, UNKNOWN
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files, blob_format
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, resolve_rekey_keys
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.source_key_naming import SourceKeyNaming

# Files are written by their own small pool, so a slow disk (each write is
# fsynced) never holds one of the `concurrency` KMS request slots.
_FILE_WRITERS = 4

REWRAPPED = "rewrapped"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
FAILED = "failed"
NOT_A_BLOB = "not_a_blob"
ACTIONS = (REWRAPPED, UNCHANGED, SKIPPED, FAILED, NOT_A_BLOB)

# hard_links: what to do with a file that has several names.
SKIP_LINKED = "skip"
REWRITE_IN_PLACE = "rewrite_in_place"
HARD_LINKS = (SKIP_LINKED, REWRITE_IN_PLACE)

# What KMS's answer means for one blob, in words a user can act on: one message per
# code, finer than the error kinds (a disabled key and one pending deletion need different fixes).
_BLOB_ERRORS = {
    "InvalidCiphertextException": "KMS rejected the blob: it is not a KMS ciphertext blob, or encryption_context does "
                                  "not match the context it was encrypted with",
    "DisabledException": "the blob's key is disabled; enable it to re-wrap this blob",
    "KMSInvalidStateException": "the blob's key is not usable (pending deletion or import); cancel the deletion "
                                "or import its material to re-wrap this blob",
    "NotFoundException": "the blob's key does not exist (deleted?); the blob cannot be recovered",
    "AccessDeniedException": "access denied: the caller needs kms:ReEncryptFrom on the blob's key and "
                             "kms:ReEncryptTo on the destination",
    "IncorrectKeyException": "the blob is not under the expected key",
}

# Where a dependent blob lives, in kms_key_usage_info's service names.
_FILES_SERVICE = "data_key_files"
_INLINE_SERVICE = "ciphertext_blobs"


class RewrapSpec(Spec):
    """What to re-wrap and how: kms_data_key_rewrap's options.

    destination_encryption_context None means the same context as encryption_context.
    """

    FIELDS = {
        "destination_key_id": None,
        "source_key_ids": [],
        "paths": [],
        "format": "auto",
        "ciphertext_blobs": [],
        "encryption_context": {},
        "destination_encryption_context": None,
        "backup": False,
        "hard_links": SKIP_LINKED,
        "concurrency": 16,
    }
    RANGES = {"concurrency": (1, None)}

    @property
    def destination_context(self):
        return self.encryption_context if self.destination_encryption_context is None else self.destination_encryption_context


class _InlineBlob(object):
    __slots__ = ("index", "blob")

    def __init__(self, index, blob):
        self.index = index
        self.blob = blob


def _decode_inline(index, text):
    fix = "pass each blob as the base64 string KMS returned (CiphertextBlob)."
    blob = blob_format.decode_base64(text.strip().encode("utf-8"))
    if blob is None:
        raise RotationError("ciphertext_blobs[{0}] is not base64 text.".format(index), fix=fix)
    try:
        blob_format.check_shape(blob, "ciphertext_blobs[{0}]".format(index))
    except blob_format.NotABlob as exc:
        raise RotationError("{0}.".format(exc), fix=fix)
    return _InlineBlob(index, blob)


class DataKeyRewrap(Engine):
    SPEC = RewrapSpec

    def run(self, spec, check_mode=False):
        kms = self.clients("kms")
        scope = resolve_rekey_keys(KeyResolver(kms), spec.destination_key_id, spec.source_key_ids)
        inline = [_decode_inline(index, text) for index, text in enumerate(spec.ciphertext_blobs)]
        files = blob_files.expand_paths(spec.paths)
        naming = SourceKeyNaming(kms, scope, spec.encryption_context, spec.destination_context)

        outcomes = {}
        writes = {}
        new_inline = list(spec.ciphertext_blobs)
        items = inline + files
        with ThreadPoolExecutor(max_workers=_FILE_WRITERS) as writer:
            for item, outcome, error in run_bounded(
                    items, lambda item: _process(naming, item, spec, scope, check_mode), self.limit):
                if error is not None:
                    outcome = _failure(item, error)
                outcomes[id(item)] = outcome
                new_blob = outcome.pop("_new_blob", None)
                blob_file = outcome.pop("_blob_file", None)
                if new_blob is None or check_mode:
                    continue
                if blob_file is None:
                    new_inline[item.index] = base64.b64encode(new_blob).decode("ascii")
                else:
                    writes[id(item)] = writer.submit(_write, blob_file, new_blob, spec.backup)
        for item_id, write in writes.items():
            _finish_write(outcomes[item_id], write)
        results = [outcomes[id(item)] for item in items]
        if not check_mode:
            blob_files.sync_directories(outcome["path"] for outcome in results
                                        if outcome["changed"] and "path" in outcome)
        return self._summary(results, scope.destination, spec, new_inline)

    def _summary(self, results, destination, spec, new_inline):
        counts = dict((action, 0) for action in ACTIONS)
        for outcome in results:
            counts[outcome["action"]] += 1
        dependents = _dependents(results)
        failures = [dict((name, outcome[name]) for name in ("path", "index", "reason") if name in outcome)
                    for outcome in results if outcome["action"] == FAILED]
        values = {
            "changed": counts[REWRAPPED] > 0,
            "counts": counts,
            "rewrapped": counts[REWRAPPED],
            "unchanged": counts[UNCHANGED],
            "skipped": counts[SKIPPED],
            "results": results,
            "failures": failures,
            "destination_key_arn": destination.arn,
            "destination_key_id": destination.key_id,
            "throttling": self.limit.report(),
            "dependents": dependents,
        }
        if spec.ciphertext_blobs:
            values["ciphertext_blobs"] = new_inline
        failure = None
        if failures:
            succeeded = len(results) - len(failures)
            failure = "{0} of {1} blobs failed ({2} succeeded); see failures: {3}".format(
                len(failures), len(results), succeeded,
                "; ".join("{0}: {1}".format(f.get("path", "ciphertext_blobs[{0}]".format(f.get("index"))), f["reason"])
                          for f in failures[:5]))
        diff = [_file_diff(outcome) for outcome in results if outcome["changed"] and "path" in outcome]
        return Result(values, diff=diff, failure=failure)


def _where(item):
    """(resource, service) of an item, as dependents name it."""
    if isinstance(item, _InlineBlob):
        return "ciphertext_blobs[{0}]".format(item.index), _INLINE_SERVICE
    return item, _FILES_SERVICE


def _process(naming, item, spec, scope, check_mode):
    """The outcome of one blob; `_new_blob`/`_blob_file` say what to write, `_dependent` what still depends on a key."""
    resource, service = _where(item)
    if isinstance(item, _InlineBlob):
        outcome = {"index": item.index}
        blob_file = None
        blob = item.blob
    else:
        outcome = {"path": item}
        try:
            blob_file = blob_files.read_blob_file(item, spec.format)
        except blob_format.NotABlob as exc:
            # Never sent: nothing KMS could read, so under no key.
            outcome.update(action=NOT_A_BLOB, changed=False, reason=str(exc))
            return outcome
        outcome.update(format=blob_file.layout.blob_format, layout=blob_file.layout.describe())
        blob = blob_file.blob
    answer = naming.re_encrypt(blob)
    source_arn = answer["SourceKeyId"]
    outcome["source_key_arn"] = source_arn
    if source_arn == scope.destination.arn:
        outcome.update(action=UNCHANGED, changed=False, destination_key_arn=source_arn)
        return outcome
    if not scope.moves(source_arn):
        outcome.update(action=SKIPPED, changed=False, destination_key_arn=source_arn,
                       reason="under a key not in source_key_ids")
        return outcome
    if blob_file is not None and blob_file.links > 1 and spec.hard_links == SKIP_LINKED:
        reason = ("the file has {0} hard links: replacing it would leave the other names with the old blob; left "
                  "alone (set hard_links=rewrite_in_place to re-wrap it in place)".format(blob_file.links))
        outcome.update(action=SKIPPED, changed=False, destination_key_arn=source_arn, reason=reason,
                       _dependent=dependent(resource, service, TO_MOVE, reason, key_arn=source_arn))
        return outcome
    outcome.update(action=REWRAPPED, changed=True, destination_key_arn=answer["KeyId"],
                   _new_blob=answer["CiphertextBlob"])
    if check_mode:
        outcome["_dependent"] = dependent(resource, service, TO_MOVE, "still under this key; a run re-wraps it",
                                          key_arn=source_arn)
    if blob_file is not None:
        outcome["_blob_file"] = blob_file
    return outcome


def _write(blob_file, new_blob, backup):
    # Only a file whose hard links are to be kept reaches here with several links.
    if blob_file.links > 1:
        return blob_files.rewrite_in_place(blob_file, new_blob, backup)
    return blob_files.replace_blob_file(blob_file, new_blob, backup)


def _finish_write(outcome, write):
    try:
        fields = write.result()
    except blob_files.FileChanged as exc:
        # Left alone with whatever blob the other writer put there, most likely under the same key.
        reason = str(exc)
        outcome.update(action=FAILED, changed=False, reason=reason,
                       _dependent=dependent(outcome["path"], _FILES_SERVICE, TO_MOVE, reason,
                                            key_arn=outcome["source_key_arn"]))
        outcome.pop("destination_key_arn")
        return
    except (OSError, RuntimeError) as exc:
        failed = _failure(outcome["path"], exc)
        outcome.clear()
        outcome.update(failed)
        return
    outcome.update((name, value) for name, value in fields.items() if value is not None)


def _failure(item, error):
    resource, service = _where(item)
    outcome = {"index": item.index} if isinstance(item, _InlineBlob) else {"path": item}
    code = error_code(error)
    if code is not None:
        reason = "{0} ({1})".format(_BLOB_ERRORS.get(code, "KMS refused to re-wrap the blob"), error_message(error))
    elif isinstance(error, (OSError, ValueError, RuntimeError)):
        reason = str(error)
    else:
        reason = "{0}: {1}".format(type(error).__name__, error)
    outcome.update(action=FAILED, changed=False, reason=reason,
                   _dependent=dependent(resource, service, UNKNOWN, reason))
    return outcome


def _dependents(results):
    """What still depends on a source key, in the order of the blobs: each outcome's own entry, then its backup."""
    entries = []
    for outcome in results:
        if "_dependent" in outcome:
            entries.append(outcome.pop("_dependent"))
        if outcome.get("backup_file"):
            entries.append(dependent(outcome["backup_file"], _FILES_SERVICE, RETAINED,
                                     "backup of {0} kept with backup=true, under its old key".format(outcome["path"]),
                                     key_arn=outcome["source_key_arn"]))
    return entries


def _file_diff(outcome):
    return {
        "before_header": outcome["path"],
        "after_header": outcome["path"],
        "before": "kms_key_arn: {0}\n".format(outcome["source_key_arn"]),
        "after": "kms_key_arn: {0}\n".format(outcome["destination_key_arn"]),
    }
