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
key files runs this engine in check mode.
"""

import base64
import binascii
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import TO_MOVE, UNKNOWN, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, resolve_rekey_keys

# Files are written by their own small pool, so a slow disk (each write is
# fsynced) never holds one of the `concurrency` KMS request slots.
_FILE_WRITERS = 4

REWRAPPED = "rewrapped"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
FAILED = "failed"

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
    try:
        blob = base64.b64decode(text.strip(), validate=True)
    except (binascii.Error, ValueError):
        blob = b""
    if not blob:
        raise RotationError("ciphertext_blobs[{0}] is not base64 text.".format(index),
                            fix="pass each blob as the base64 string KMS returned (CiphertextBlob).")
    return _InlineBlob(index, blob)


class DataKeyRewrap(Engine):
    SPEC = RewrapSpec

    def run(self, spec, check_mode=False):
        kms = self.clients("kms")
        keys = KeyResolver(kms)
        scope = resolve_rekey_keys(keys, spec.destination_key_id, spec.source_key_ids)
        destination = scope.destination
        inline = [_decode_inline(index, text) for index, text in enumerate(spec.ciphertext_blobs)]
        files = blob_files.expand_paths(spec.paths)

        outcomes = {}
        writes = {}
        new_inline = list(spec.ciphertext_blobs)
        items = inline + files
        with ThreadPoolExecutor(max_workers=_FILE_WRITERS) as writer:
            for item, outcome, error in run_bounded(
                    items, lambda item: self._process(kms, item, spec, scope), self.limit):
                if error is not None:
                    outcome = self._failure(item, error)
                outcomes[id(item)] = outcome
                new_blob = outcome.pop("_new_blob", None)
                blob_file = outcome.pop("_blob_file", None)
                if new_blob is None or check_mode:
                    continue
                if blob_file is None:
                    new_inline[item.index] = base64.b64encode(new_blob).decode("ascii")
                else:
                    writes[id(item)] = writer.submit(blob_files.replace_blob_file, blob_file, new_blob, spec.backup)
        for item_id, write in writes.items():
            self._finish_write(outcomes, item_id, write)
        results = [outcomes[id(item)] for item in items]
        if not check_mode:
            blob_files.sync_directories(outcome["path"] for outcome in results
                                        if outcome["changed"] and "path" in outcome)
        return self._summary(results, destination, spec, new_inline, check_mode)

    @staticmethod
    def _process(kms, item, spec, scope):
        if isinstance(item, _InlineBlob):
            outcome = {"index": item.index}
            blob = item.blob
        else:
            outcome = {"path": item}
            blob_file = blob_files.read_blob_file(item, spec.format)
            outcome["format"] = blob_file.blob_format
            blob = blob_file.blob
        answer = kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext=spec.encryption_context,
            DestinationKeyId=scope.destination.arn,
            DestinationEncryptionContext=spec.destination_context,
            aws_retry=True,
        )
        source_arn = answer["SourceKeyId"]
        outcome["source_key_arn"] = source_arn
        if source_arn == scope.destination.arn:
            outcome.update(action=UNCHANGED, changed=False, destination_key_arn=source_arn)
            return outcome
        if not scope.moves(source_arn):
            outcome.update(action=SKIPPED, changed=False, destination_key_arn=source_arn,
                           reason="under a key not in source_key_ids")
            return outcome
        outcome.update(action=REWRAPPED, changed=True, destination_key_arn=answer["KeyId"],
                       _new_blob=answer["CiphertextBlob"])
        if not isinstance(item, _InlineBlob):
            outcome["_blob_file"] = blob_file
        return outcome

    def _finish_write(self, outcomes, item_id, write):
        outcome = outcomes[item_id]
        try:
            backup_path = write.result()
        except (OSError, RuntimeError) as error:
            outcomes[item_id] = self._failure(outcome["path"], error)
            return
        if backup_path:
            outcome["backup_file"] = backup_path

    @staticmethod
    def _failure(item, error):
        if isinstance(item, _InlineBlob):
            outcome = {"index": item.index}
        else:
            outcome = {"path": item}
        code = error_code(error)
        if code is not None:
            reason = "{0} ({1})".format(_BLOB_ERRORS.get(code, "KMS refused to re-wrap the blob"), error_message(error))
        elif isinstance(error, (OSError, ValueError, RuntimeError)):
            reason = str(error)
        else:
            reason = "{0}: {1}".format(type(error).__name__, error)
        outcome.update(action=FAILED, changed=False, reason=reason)
        return outcome

    def _summary(self, results, destination, spec, new_inline, check_mode):
        counts = dict((action, 0) for action in (REWRAPPED, UNCHANGED, SKIPPED, FAILED))
        for outcome in results:
            counts[outcome["action"]] += 1
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
            "dependents": _dependents(results, check_mode),
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


def _dependents(results, check_mode):
    """What still depends on a source key: blobs a run would re-wrap (check mode), and every blob that failed."""
    entries = []
    for outcome in results:
        if "path" in outcome:
            resource, service = outcome["path"], _FILES_SERVICE
        else:
            resource, service = "ciphertext_blobs[{0}]".format(outcome["index"]), _INLINE_SERVICE
        if outcome["action"] == REWRAPPED and check_mode:
            entries.append(dependent(resource, service, TO_MOVE, "still under this key; a run re-wraps it",
                                     key_arn=outcome["source_key_arn"]))
        elif outcome["action"] == FAILED:
            entries.append(dependent(resource, service, UNKNOWN, outcome["reason"]))
    return entries


def _file_diff(outcome):
    return {
        "before_header": outcome["path"],
        "after_header": outcome["path"],
        "before": "kms_key_arn: {0}\n".format(outcome["source_key_arn"]),
        "after": "kms_key_arn: {0}\n".format(outcome["destination_key_arn"]),
    }
