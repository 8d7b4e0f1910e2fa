# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Re-wrap stored KMS ciphertext blobs (envelope data keys) under a new key.

Only kms:ReEncrypt is used, so plaintext key material never leaves KMS. One
ReEncrypt per blob both re-wraps it and tells which key it was under
(SourceKeyId); the new blob is kept only when the blob needs to move, so a
blob already under the destination, or under a key outside source_key_ids,
stays byte-for-byte as it was. That one call is also what check mode makes:
ReEncrypt changes nothing in AWS, and it is the only way to learn a blob's key
without decrypting it.
"""

import base64
import binascii
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.kmsrotate.aws.plugins.module_utils import blob_files
from ansible_collections.kmsrotate.aws.plugins.module_utils.aws import error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils.keys import KeyResolver, require_encryption_destination

# Files are written by their own small pool, so a slow disk (each write is
# fsynced) never holds one of the `concurrency` KMS request slots.
_FILE_WRITERS = 4

REWRAPPED = "rewrapped"
UNCHANGED = "unchanged"
SKIPPED = "skipped"
FAILED = "failed"

# What a KMS error means for one blob, in words a user can act on.
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


class RewrapSpec(object):
    """What to re-wrap and how: the module's options as plain values."""

    def __init__(self, destination_key_id, source_key_ids=None, paths=None, ciphertext_blobs=None,
                 blob_format="auto", encryption_context=None, destination_encryption_context=None,
                 backup=False):
        self.destination_key_id = destination_key_id
        self.source_key_ids = source_key_ids or []
        self.paths = paths or []
        self.ciphertext_blobs = ciphertext_blobs or []
        self.blob_format = blob_format
        self.encryption_context = encryption_context or {}
        self.destination_encryption_context = (self.encryption_context if destination_encryption_context is None
                                               else destination_encryption_context)
        self.backup = backup


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


class DataKeyRewrapper(object):
    def __init__(self, kms, limit, check_mode=False, diff=False):
        self._kms = kms
        self._limit = limit
        self._check_mode = check_mode
        self._diff = diff
        self._keys = KeyResolver(kms)

    def run(self, spec):
        if not spec.paths and not spec.ciphertext_blobs:
            raise RotationError("Nothing to re-wrap.", fix="give paths and/or ciphertext_blobs.")
        destination = self._keys.resolve(spec.destination_key_id)
        require_encryption_destination(destination)
        sources = self._keys.resolve_all(spec.source_key_ids)
        if destination.arn in sources:
            raise RotationError("source_key_ids includes the destination key; source and destination are the same key.",
                                resource=destination.arn, fix="name the old key(s) in source_key_ids, the new one "
                                                              "in destination_key_id.")
        inline = [_decode_inline(index, text) for index, text in enumerate(spec.ciphertext_blobs)]
        files = blob_files.expand_paths(spec.paths)

        outcomes = {}
        writes = {}
        new_inline = list(spec.ciphertext_blobs)
        items = inline + files
        with ThreadPoolExecutor(max_workers=_FILE_WRITERS) as writer:
            for item, outcome, error in run_bounded(
                    items, lambda item: self._process(item, spec, destination.arn, sources), self._limit):
                if error is not None:
                    outcome = self._failure(item, error)
                outcomes[id(item)] = outcome
                new_blob = outcome.pop("_new_blob", None)
                blob_file = outcome.pop("_blob_file", None)
                if new_blob is None or self._check_mode:
                    continue
                if blob_file is None:
                    new_inline[item.index] = base64.b64encode(new_blob).decode("ascii")
                else:
                    writes[id(item)] = writer.submit(blob_files.replace_blob_file, blob_file, new_blob, spec.backup)
        for item_id, write in writes.items():
            self._finish_write(outcomes, item_id, write)
        results = [outcomes[id(item)] for item in items]
        if not self._check_mode:
            blob_files.sync_directories(outcome["path"] for outcome in results
                                        if outcome["changed"] and "path" in outcome)
        return self._summary(results, destination, spec, new_inline)

    def _process(self, item, spec, destination_arn, sources):
        if isinstance(item, _InlineBlob):
            outcome = {"index": item.index}
            blob = item.blob
        else:
            outcome = {"path": item}
            blob_file = blob_files.read_blob_file(item, spec.blob_format)
            outcome["format"] = blob_file.blob_format
            blob = blob_file.blob
        answer = self._kms.re_encrypt(
            CiphertextBlob=blob,
            SourceEncryptionContext=spec.encryption_context,
            DestinationKeyId=destination_arn,
            DestinationEncryptionContext=spec.destination_encryption_context,
            aws_retry=True,
        )
        source_arn = answer["SourceKeyId"]
        outcome["source_key_arn"] = source_arn
        if source_arn == destination_arn:
            outcome.update(action=UNCHANGED, changed=False, destination_key_arn=destination_arn)
            return outcome
        if sources and source_arn not in sources:
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

    def _summary(self, results, destination, spec, new_inline):
        counts = dict((action, 0) for action in (REWRAPPED, UNCHANGED, SKIPPED, FAILED))
        for outcome in results:
            counts[outcome["action"]] += 1
        failures = [dict((name, outcome[name]) for name in ("path", "index", "reason") if name in outcome)
                    for outcome in results if outcome["action"] == FAILED]
        result = {
            "changed": counts[REWRAPPED] > 0,
            "counts": counts,
            "rewrapped": counts[REWRAPPED],
            "unchanged": counts[UNCHANGED],
            "skipped": counts[SKIPPED],
            "results": results,
            "failures": failures,
            "destination_key_arn": destination.arn,
            "destination_key_id": destination.key_id,
            "throttling": self._limit.report(),
        }
        if self._diff:
            result["diff"] = [_file_diff(outcome) for outcome in results if outcome["changed"] and "path" in outcome]
        if spec.ciphertext_blobs:
            result["ciphertext_blobs"] = new_inline
        if failures:
            succeeded = len(results) - len(failures)
            result["failed_reason"] = "{0} of {1} blobs failed ({2} succeeded); see failures: {3}".format(
                len(failures), len(results), succeeded,
                "; ".join("{0}: {1}".format(f.get("path", "ciphertext_blobs[{0}]".format(f.get("index"))), f["reason"])
                          for f in failures[:5]))
        return result


def _file_diff(outcome):
    return {
        "before_header": outcome["path"],
        "after_header": outcome["path"],
        "before": "kms_key_arn: {0}\n".format(outcome["source_key_arn"]),
        "after": "kms_key_arn: {0}\n".format(outcome["destination_key_arn"]),
    }
