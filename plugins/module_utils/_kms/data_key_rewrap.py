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

A sops-encrypted YAML or JSON file (sops_files) is one item with one blob per
AWS KMS entry of its metadata: each entry under a source key is re-wrapped
with its own encryption context (as source and destination context), and the
file is replaced once, with those entries' `enc` and `arn` edited in place.
An entry in another region, or in another account unless named in
source_key_ids, is left alone without a request: this task's credentials and
endpoint are not the ones that can read it.

What still depends on a source key is returned per blob as it is decided:
a blob a check run would move, a hard-linked file left alone and a file that
changed during the run are to_move; a blob that failed otherwise is unknown;
a backup is retained. A file that cannot be a blob is under no key.
"""

import base64
import threading
from concurrent.futures import ThreadPoolExecutor

from ansible_collections.amazon.aws.plugins.module_utils.arn import parse_aws_arn

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import RETAINED, TO_MOVE, UNKNOWN
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import blob_files, blob_format, sops_files
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, is_key_arn, resolve_rekey_keys
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
        sops_naming = _NamingPerContext(kms, scope)

        outcomes = {}
        writes = {}
        new_inline = list(spec.ciphertext_blobs)
        items = inline + files
        with ThreadPoolExecutor(max_workers=_FILE_WRITERS) as writer:
            for item, outcome, error in run_bounded(
                    items, lambda item: _process(naming, sops_naming, item, spec, scope, check_mode), self.limit):
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
            # Not counts alone: a sops file with one entry failed is `failed` yet has its other entries written.
            "changed": any(outcome["changed"] for outcome in results),
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


class _NamingPerContext(object):
    """ReEncrypt of sops entries: one SourceKeyNaming per encryption context, which is each entry's own."""

    def __init__(self, kms, scope):
        self._kms = kms
        self._scope = scope
        self._lock = threading.Lock()
        self._namings = {}

    def re_encrypt(self, blob, context):
        key = tuple(sorted(context.items()))
        with self._lock:
            naming = self._namings.get(key)
            if naming is None:
                naming = self._namings[key] = SourceKeyNaming(self._kms, self._scope, context, context)
        return naming.re_encrypt(blob)


def _read_file(path, requested_format):
    """The file's BlobFile: a sops file's (format sops, or auto on text with a top-level `sops` key) or a blob's."""
    if requested_format in ("auto", sops_files.SOPS):
        sops_file = sops_files.read_sops_file(path, required=requested_format == sops_files.SOPS)
        if sops_file is not None:
            return sops_file
    return blob_files.read_blob_file(path, requested_format)


def _process(naming, sops_naming, item, spec, scope, check_mode):
    """The outcome of one blob; `_new_blob`/`_blob_file` say what to write, `_dependent` what still depends on a key."""
    resource, service = _where(item)
    if isinstance(item, _InlineBlob):
        outcome = {"index": item.index}
        blob_file = None
        blob = item.blob
    else:
        outcome = {"path": item}
        try:
            blob_file = _read_file(item, spec.format)
        except blob_format.NotABlob as exc:
            # Never sent: nothing KMS could read, so under no key.
            outcome.update(action=NOT_A_BLOB, changed=False, reason=str(exc))
            return outcome
        outcome.update(format=blob_file.layout.blob_format, layout=blob_file.layout.describe())
        if blob_file.layout.blob_format == sops_files.SOPS:
            return _process_sops(sops_naming, blob_file, outcome, spec, scope, check_mode)
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
    reason = _hard_links_kept(blob_file, spec)
    if reason:
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


def _hard_links_kept(blob_file, spec):
    """Why a file that needs re-wrapping is left alone for its hard links, or None."""
    if blob_file is None or blob_file.links <= 1 or spec.hard_links != SKIP_LINKED:
        return None
    return ("the file has {0} hard links: replacing it would leave the other names with the old blob; left "
            "alone (set hard_links=rewrite_in_place to re-wrap it in place)".format(blob_file.links))


def _process_sops(naming, sops_file, outcome, spec, scope, check_mode):
    """The outcome of a sops file: its entries' (`sops_entries`), and the edited file as `_new_blob` if any moved."""
    path = outcome["path"]
    decided = [(entry,) + _sops_entry(naming, entry, scope) for entry in sops_file.blob.entries]
    linked = _hard_links_kept(sops_file, spec) if any(result["action"] == REWRAPPED for _e, result, _n in decided) \
        else None
    if linked:
        for _entry, result, _new_enc in decided:
            if result["action"] == REWRAPPED:
                result.update(action=SKIPPED, destination_key_arn=result["source_key_arn"], reason=linked)
    outcome["sops_entries"] = [result for _entry, result, _new_enc in decided]
    dependents = []
    for entry, result, _new_enc in decided:
        if linked and result.get("reason") == linked:
            dependents.append(dependent(path, _FILES_SERVICE, TO_MOVE, linked, key_arn=result["source_key_arn"],
                                        entry=entry.where))
        elif result["action"] == FAILED:
            # The recorded ARN is the key sops would ask for: the best a user has to find the key.
            dependents.append(dependent(path, _FILES_SERVICE, UNKNOWN, result["reason"],
                                        key_arn=entry.arn if is_key_arn(entry.arn) else None, entry=entry.where))
        elif result["action"] == REWRAPPED and check_mode:
            dependents.append(dependent(path, _FILES_SERVICE, TO_MOVE, "still under this key; a run re-wraps it",
                                        key_arn=result["source_key_arn"], entry=entry.where))
    outcome["_dependents"] = dependents
    moved = [(entry, result, new_enc) for entry, result, new_enc in decided if result["action"] == REWRAPPED]
    failed = [result for _entry, result, _new_enc in decided if result["action"] == FAILED]
    actions = set(result["action"] for result in outcome["sops_entries"])
    if failed:
        outcome.update(action=FAILED, reason="; ".join("{0}: {1}".format(result["entry"], result["reason"])
                                                       for result in failed))
    elif moved:
        outcome["action"] = REWRAPPED
    elif linked:
        outcome.update(action=SKIPPED, reason=linked)
    elif UNCHANGED in actions:
        outcome["action"] = UNCHANGED
    else:
        outcome.update(action=SKIPPED, reason="no AWS KMS entry of the file is under a source key in this region")
    outcome["changed"] = bool(moved)
    if moved:
        outcome.update(source_key_arn=moved[0][1]["source_key_arn"], destination_key_arn=scope.destination.arn,
                       _blob_file=sops_file,
                       _new_blob=sops_file.blob.rewrite([(entry, result["destination_key_arn"], new_enc)
                                                         for entry, result, new_enc in moved]))
    elif UNCHANGED in actions:
        # The file is under the destination: what kms_key_usage_info's finder (a check run to the key it examines)
        # reads as "this file depends on that key".
        outcome.update(source_key_arn=scope.destination.arn, destination_key_arn=scope.destination.arn)
    return outcome


def _sops_entry(naming, entry, scope):
    """(result, new enc or None) of one KMS entry of a sops file."""
    result = {"entry": entry.where, "arn": entry.arn}
    reason = _out_of_reach(entry.arn, scope)
    if reason:
        result.update(action=SKIPPED, reason=reason)
        return result, None
    blob = blob_format.decode_base64(entry.enc.encode("ascii", "replace"))
    if blob is None:
        result.update(action=FAILED, reason="its enc is not base64 text: the file is damaged")
        return result, None
    try:
        answer = naming.re_encrypt(blob, entry.context)
    except Exception as exc:  # any failure is this entry's, reported with it: the file's other entries go on
        result.update(action=FAILED, reason=_reason(exc))
        return result, None
    source_arn = answer["SourceKeyId"]
    result["source_key_arn"] = source_arn
    if source_arn == scope.destination.arn:
        result.update(action=UNCHANGED, destination_key_arn=source_arn)
        return result, None
    if not scope.moves(source_arn):
        result.update(action=SKIPPED, destination_key_arn=source_arn, reason="under a key not in source_key_ids")
        return result, None
    result.update(action=REWRAPPED, destination_key_arn=answer["KeyId"])
    return result, base64.b64encode(answer["CiphertextBlob"]).decode("ascii")


def _out_of_reach(arn, scope):
    """Why a sops entry is left alone without asking KMS, or None: it names a key this task cannot or need not read."""
    parsed = parse_aws_arn(arn) if arn.startswith("arn:") else None
    if not parsed or parsed["service"] != "kms":
        return "its arn is not a KMS key or alias ARN"
    if parsed["region"] != scope.destination.region:
        return "in {0}, not this task's region {1}: re-wrap it with a task there".format(
            parsed["region"], scope.destination.region)
    named = is_key_arn(arn) and arn in scope.sources
    if parsed["account_id"] != scope.destination.account and not named:
        return "in account {0}, not this task's account {1}: name it in source_key_ids, or re-wrap it with a task " \
               "in that account".format(parsed["account_id"], scope.destination.account)
    if is_key_arn(arn) and scope.sources and not named and arn != scope.destination.arn:
        return "under a key not in source_key_ids"
    return None


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
    reason = _reason(error)
    outcome.update(action=FAILED, changed=False, reason=reason,
                   _dependent=dependent(resource, service, UNKNOWN, reason))
    return outcome


def _reason(error):
    """Why a blob failed, in words a user can act on."""
    code = error_code(error)
    if code is not None:
        return "{0} ({1})".format(_BLOB_ERRORS.get(code, "KMS refused to re-wrap the blob"), error_message(error))
    if isinstance(error, (OSError, ValueError, RuntimeError)):
        return str(error)
    return "{0}: {1}".format(type(error).__name__, error)


def _dependents(results):
    """What still depends on a source key, in the order of the blobs: each outcome's own entry, then its backup."""
    entries = []
    for outcome in results:
        if "_dependent" in outcome:
            entries.append(outcome.pop("_dependent"))
        entries.extend(outcome.pop("_dependents", ()))
        if outcome.get("backup_file"):
            entries.append(dependent(outcome["backup_file"], _FILES_SERVICE, RETAINED,
                                     "backup of {0} kept with backup=true, under its old key".format(outcome["path"]),
                                     key_arn=outcome["source_key_arn"]))
    return entries


def _file_diff(outcome):
    if "sops_entries" in outcome:
        # The arn of each entry that moved; its enc is ciphertext, not secret, but long and telling nothing more.
        moved = [entry for entry in outcome["sops_entries"] if entry["action"] == REWRAPPED]
        return {
            "before_header": outcome["path"],
            "after_header": outcome["path"],
            "before": "".join("{0}.arn: {1}\n".format(entry["entry"], entry["arn"]) for entry in moved),
            "after": "".join("{0}.arn: {1}\n".format(entry["entry"], entry["destination_key_arn"]) for entry in moved),
        }
    return {
        "before_header": outcome["path"],
        "after_header": outcome["path"],
        "before": "kms_key_arn: {0}\n".format(outcome["source_key_arn"]),
        "after": "kms_key_arn: {0}\n".format(outcome["destination_key_arn"]),
    }
