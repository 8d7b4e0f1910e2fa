# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The engine of s3_kms_recopy: every object version of a bucket (or prefix) moved to a new KMS key.

The listing (listing.py) is streamed page by page into
`_common.concurrency.run_bounded`, so memory stays flat however big the
bucket. Each version gets one HeadObject, which tells its encryption; keys
are compared as resolved ARNs. Versions to move go to the backend chosen in
rekey_backends.py (`update` or `copy`). Every version ends in exactly one
outcome (rekeyed, already_current, skipped, failed), and those that still
depend on a source key afterwards count as `blocking`: the number the
rotation role's retirement gate reads. The Tally keeps counts per reason and
the `dependents` grouped per (kind, reason, key), never per version.
"""

import collections
import contextlib
import json
import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import BLOCKING, TO_MOVE, UNKNOWN
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import bucket_resource, dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.engine import Engine, Result, Spec
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED, INVALID_STATE
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, BotoCoreError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import error_code, error_message, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.progress import progress_file
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver, resolve_rekey_keys
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.bucket_default import SOURCE_KEYS, plan_bucket_default
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.bucket_default import read_bucket_default
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.bucket_default import write_bucket_default
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.bucket_jobs import BATCH, ENDED_UNDONE, ESTIMATED
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.bucket_jobs import IN_PROGRESS, REPORT_INCOMPLETE
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.bucket_jobs import BatchRekey, estimate_bucket
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.bucket_jobs import wants_batch
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job import POLL_INTERVAL
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.listing import ListedVersion, list_versions
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.object_encryption import confirms_sse_c
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.object_encryption import is_bare_bad_request
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import MIN_PART_SIZE, NULL_VERSION, UPDATE
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import ConditionalWriteUnsupported
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import ObjectChanged, UpdateBackend
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import select_backend

# A copy that finds the object changed re-checks it and tries again this often.
CHANGED_RETRIES = 3
ACTIONS = ("rekeyed", "already_current", "skipped", "failed")
# Blocking reasons that mean the version's encryption could not be read, or its request failed for a cause
# nobody knows: its key is not known, so it is an `unknown` dependent rather than a `blocking` one. A batch
# job still running or ended undone, or a report short of failed tasks, leaves versions nobody looked at.
UNKNOWN_REASONS = frozenset(["access_denied", "head_failed", "head_unreadable", "internal_error", IN_PROGRESS,
                             ENDED_UNDONE, REPORT_INCOMPLETE])
# Example versions kept per dependents entry.
EXAMPLES = 5
# What a user can do about each reason, for the dependents' `reason`. {versions} is "N object version(s)".
_REASON_TEXTS = {
    (TO_MOVE, "rekeyed"): "{versions} would be re-keyed to the destination key by a run without check mode",
    (TO_MOVE, "bucket_default"): "the bucket's default encryption would be pointed at the destination key by a run "
                                 "without check mode",
    (BLOCKING, "bucket_default"): "the bucket's default encryption names this key, so new objects are written under "
                                  "it: run with update_bucket_default: true or point the default at another key",
    (BLOCKING, "locked"): "{versions} under Object Lock (retention, legal hold or event hold) cannot be re-keyed until "
                          "the lock ends",
    (BLOCKING, "dsse_kms"): "{versions} under dual-layer encryption (DSSE-KMS) cannot be re-keyed by S3: copy them under "
                            "the new key with DSSE-KMS yourself",
    (BLOCKING, "noncurrent_copy"): "{versions} cannot be re-keyed by the copy method, since they are noncurrent: use "
                                   "method update where the endpoint supports it, or delete them once no longer needed",
    (BLOCKING, "superseded_by_copy"): "{versions} replaced by a copy under the new key still hold data under the old "
                                      "key: delete them (or let a lifecycle rule expire them) once no longer needed",
    (BLOCKING, "suspended_null_version"): "{versions} not copied: versioning is Suspended, so the copy would be "
                                          "written as the `null` version and replace the older `null` version "
                                          "the key has (or may have), losing its data: enable versioning on the "
                                          "bucket or use method update, then run the task again",
    (BLOCKING, "conditional_write_unsupported"): "{versions} not copied: the endpoint refused the conditional write "
                                                 "(If-Match) that keeps a copy from overwriting a concurrent "
                                                 "writer's object: use method update, or an endpoint with "
                                                 "conditional writes",
    (BLOCKING, "changed_during_run"): "{versions} changed during the run, and the version first listed may still be "
                                      "under the old key: run the task again",
    (BLOCKING, "archived"): "{versions} in an archive storage class or tier cannot be copied: restore them first, or "
                            "use method update",
    (BLOCKING, "kms_key_unusable"): "{versions} could not be re-keyed because S3 could not use a KMS key: check the "
                                    "keys' state and key policies, then run the task again",
    (BLOCKING, "rekey_failed"): "{versions} could not be re-keyed (each error is in report_file): run the task again",
    (UNKNOWN, "access_denied"): "{versions} could not be read or re-keyed because access was denied: grant the "
                                "permissions listed in the module's notes and run the task again",
    (UNKNOWN, "head_failed"): "{versions} could not be read (HeadObject failed), so their key is not known: run the "
                              "task again",
    (UNKNOWN, "head_unreadable"): "{versions} could not be read: HeadObject answered a bare 400 that a one-byte "
                                  "GetObject did not confirm as SSE-C, so their key is not known: check them and "
                                  "the permissions, then run the task again",
    (UNKNOWN, "internal_error"): "{versions} met an internal error of the module, so their key is not known: see "
                                 "report_file and run the task again",
    (TO_MOVE, ESTIMATED): "an estimated {versions} (the whole bucket, under every key: an estimate, not a count) "
                          "would go through a Batch Operations job started by a run without check mode",
    (UNKNOWN, IN_PROGRESS): "{versions} not yet reached by the Batch Operations job, which is still running: run the "
                            "task again with the same options to follow it (noncurrent versions are re-keyed once "
                            "it is Complete)",
    (UNKNOWN, ENDED_UNDONE): "{versions} not reached by the Batch Operations job, which ended without finishing "
                             "(batch_jobs has its status and reasons): run the task again to start a new job",
    (UNKNOWN, REPORT_INCOMPLETE): "{versions} failed in the Batch Operations job but are missing from its completion "
                                  "report, so which they are is not known: check the report bucket, then run the "
                                  "task again",
}


class RecopySpec(Spec):
    """The options of s3_kms_recopy."""

    FIELDS = {
        "bucket": None,
        "prefix": "",
        "destination_key_id": None,
        "source_key_ids": [],
        "include_sse_s3": False,
        "versions": "all",
        "method": "auto",
        "update_bucket_default": True,
        "bucket_default_scope": SOURCE_KEYS,
        "bucket_key_enabled": None,
        "concurrency": 32,
        "multipart_threshold": 5 * 1024 ** 3,
        "multipart_chunksize": 512 * 1024 ** 2,
        "report_file": None,
        "sample_size": 100,
        "progress_file": None,
        "batch_role_arn": None,
        "batch_report_bucket": None,
        "batch_report_prefix": "kmsrotate-batch",
        "batch_priority": 10,
        "batch_wait": True,
        "batch_poll_interval": POLL_INTERVAL,
        "batch_threshold_versions": 1000000,
    }
    RANGES = {"concurrency": (1, None), "multipart_chunksize": (MIN_PART_SIZE, None, "S3"),
              "batch_priority": (0, 2147483647, "S3 Batch Operations"), "batch_poll_interval": (1, None),
              "batch_threshold_versions": (1, None)}


class BucketRecopy(Engine):
    """One module call: a bucket (and prefix) moved to the destination key."""

    SPEC = RecopySpec

    def __init__(self, clients, limit):
        super().__init__(clients, limit)
        # Set by run(): this run's options, clients, keys and backend, read by the workers.
        self._spec = None
        self._check_mode = False
        self._s3 = None
        self._resolver = None
        self._scope = None
        self._backend = None

    # Set-up ----------------------------------------------------------------

    def _bucket_versioning(self):
        status = self._s3.get_bucket_versioning(Bucket=self._spec.bucket, aws_retry=True).get("Status")
        return status or "Unversioned"

    def _acl_enabled(self):
        """False when the bucket enforces bucket-owner ownership (ACLs disabled): no grants to carry over."""
        try:
            rules = self._s3.get_bucket_ownership_controls(Bucket=self._spec.bucket, aws_retry=True)[
                "OwnershipControls"]["Rules"]
        except ClientError as exc:
            # No ownership controls at all: ACLs apply, as they did before S3 had the setting.
            if is_error(exc, codes=("OwnershipControlsNotFoundError",)):
                return True
            raise
        return not any(rule.get("ObjectOwnership") == "BucketOwnerEnforced" for rule in rules)

    def _resolve_keys(self):
        spec = self._spec
        self._scope = resolve_rekey_keys(self._resolver, spec.destination_key_id, spec.source_key_ids)

    def _choose_backend(self, versioning):
        spec = self._spec
        copy_options = {"multipart_threshold": spec.multipart_threshold,
                        "multipart_chunksize": spec.multipart_chunksize,
                        "copy_acl": spec.method != UPDATE and self._acl_enabled(),
                        "versioning": versioning}
        return select_backend(spec.method, self._s3, spec.bucket, spec.prefix, self._scope.destination.arn, copy_options)

    # Per object --------------------------------------------------------------

    def _key_arn(self, key_ref):
        """The ARN of the key an object reports; an unresolvable reference is kept as reported."""
        try:
            return self._resolver.arn(key_ref)
        except RotationError:
            return key_ref

    @staticmethod
    def _version_asked(item, current=False):
        """The VersionId a read of this version names, or None for the current object."""
        # The current "null" version (unversioned bucket) is simply the object.
        if item.version_id is None or current or (item.is_latest and item.version_id == NULL_VERSION):
            return None
        return item.version_id

    def _head(self, item, current=False):
        # No ChecksumMode: it needs kms:Decrypt, and HEAD must work under a disabled key.
        request = {"Bucket": self._spec.bucket, "Key": item.key}
        version_id = self._version_asked(item, current)
        if version_id is not None:
            request["VersionId"] = version_id
        return self._s3.head_object(aws_retry=True, **request)

    def _outcome(self, item, action, reason=None, key_arn=None, blocking=False, **extra):
        # source_key_arn is the result vocabulary's name; from_kms_key_id its alias kept for existing playbooks.
        outcome = {"key": item.key, "version_id": item.version_id, "is_latest": item.is_latest, "action": action,
                   "reason": reason, "from_kms_key_id": key_arn, "source_key_arn": key_arn, "blocking": blocking}
        outcome.update(extra)
        return outcome

    def _classify(self, item, head):
        """(outcome or None, key ARN): an outcome when nothing is to be done, else None (move it)."""
        if head.get("SSECustomerAlgorithm"):
            return self._outcome(item, "skipped", "sse_c"), None
        algorithm = head.get("ServerSideEncryption")
        if algorithm in ("aws:kms", "aws:kms:dsse"):
            key_arn = self._key_arn(head.get("SSEKMSKeyId") or "alias/aws/s3")
            if key_arn == self._scope.destination.arn:
                return self._outcome(item, "already_current", key_arn=key_arn), key_arn
            if not self._scope.moves(key_arn):
                return self._outcome(item, "skipped", "other_key", key_arn), key_arn
            if algorithm == "aws:kms:dsse":
                return self._outcome(item, "skipped", "dsse_kms", key_arn, blocking=True), key_arn
            return None, key_arn
        if algorithm == "AES256":
            if self._spec.include_sse_s3:
                return None, None
            return self._outcome(item, "skipped", "sse_s3"), None
        return self._outcome(item, "skipped", "unencrypted"), None

    def _obstacle(self, item, head):
        """Why this version cannot be moved by the chosen backend, or None."""
        if not item.is_latest and not self._backend.rekeys_noncurrent:
            return "noncurrent_copy"
        return self._backend.unsupported_reason(item, head)

    def _left_behind(self, item, key_arn, reason):
        """[reason] when the listed version stays in the bucket, in scope, under a source key; else []."""
        if key_arn and self._spec.versions == "all" and self._backend.keeps_old_version(item):
            return [reason]
        return []

    def _rekeyed(self, item, key_arn, copied, planned=False):
        # A copy in a versioned bucket leaves the old version behind, still
        # under the old key: it blocks retirement like any noncurrent one.
        return self._outcome(item, "rekeyed", key_arn=key_arn, bytes_copied=copied, planned=planned,
                             also_blocking=self._left_behind(item, key_arn, "superseded_by_copy"))

    def process(self, item):
        """Worker: one listed version to (outcome, left behind). Never raises for an AWS error.

        left behind: (reason, key ARN, version) of each version this one leaves under a source key, one per
        name in the outcome's `also_blocking`.
        """
        try:
            head = self._head(item)
        except (BotoCoreError, ClientError) as exc:
            return self._head_failure(item, exc, self._version_asked(item)), []
        outcome = self._settle(item, head)
        changed_from = outcome.pop("changed_from", None)
        # What a copy superseded is the outcome's own version, under the outcome's key.
        left_behind = [(reason, outcome["from_kms_key_id"], _version_ref(outcome["key"], outcome["version_id"]))
                       for reason in outcome.get("also_blocking", [])]
        if changed_from is not None:
            # The version first listed may still be there, under the source key.
            listed, listed_key_arn = changed_from
            left_behind += [(reason, listed_key_arn, _version_ref(listed.key, listed.version_id))
                            for reason in self._left_behind(listed, listed_key_arn, "changed_during_run")]
            outcome["also_blocking"] = [reason for reason, _key_arn, _version in left_behind]
            outcome["reason"] = outcome["reason"] or "changed_during_run"
        return outcome, left_behind

    def _settle(self, item, head):
        """The outcome of one version, re-checking it when a writer changed it during the copy."""
        changed_from = None
        for _attempt in range(CHANGED_RETRIES):
            outcome, key_arn = self._classify(item, head)
            if outcome is None:
                outcome = self._move(item, head, key_arn)
            if outcome is not None:
                outcome["changed_from"] = changed_from
                return outcome
            # The object changed after it was listed: look at what is there now.
            changed_from = changed_from or (item, key_arn)
            try:
                head = self._head(item, current=True)
            except (BotoCoreError, ClientError) as exc:
                return dict(self._head_failure(item, exc, None), changed_from=changed_from)
            item = ListedVersion(item.key, head.get("VersionId", item.version_id), True, head["ETag"],
                                 item.checksum_algorithm)
        return self._outcome(item, "failed", "changed_during_run", key_arn, blocking=bool(key_arn),
                             changed_from=changed_from)

    def _move(self, item, head, key_arn):
        """The outcome of moving one version, or None when it changed since it was listed."""
        obstacle = self._obstacle(item, head)
        if obstacle:
            return self._outcome(item, "skipped", obstacle, key_arn, blocking=bool(key_arn))
        if self._check_mode:
            return self._rekeyed(item, key_arn, 0, planned=True)
        try:
            copied = self._backend.rekey(item, head, self._scope.destination.arn, self._object_bucket_key(head))
        except ObjectChanged:
            # A writer replaced (or deleted) the object since it was listed; the copy wrote nothing.
            return None
        except ConditionalWriteUnsupported as exc:
            return self._outcome(item, "failed", "conditional_write_unsupported", key_arn, blocking=bool(key_arn),
                                 error=str(exc))
        except (BotoCoreError, ClientError) as exc:
            return self._rekey_failure(item, key_arn, exc)
        return self._rekeyed(item, key_arn, copied)

    def _object_bucket_key(self, head):
        if self._spec.bucket_key_enabled is not None:
            return self._spec.bucket_key_enabled
        return bool(head.get("BucketKeyEnabled", False))

    def _head_failure(self, item, exc, version_id):
        """The outcome of a version HeadObject refused; version_id: the one the HEAD named (None: the current)."""
        if is_error(exc, NOT_FOUND):
            return self._outcome(item, "skipped", "deleted_during_run")
        if is_bare_bad_request(exc):
            # S3 refuses HeadObject without the customer key of an SSE-C object, but a bare 400 may mean anything
            # else too: only GetObject's words make it SSE-C; otherwise nobody knows the version's key.
            if confirms_sse_c(self._s3, self._spec.bucket, item.key, version_id):
                return self._outcome(item, "skipped", "sse_c")
            return self._outcome(item, "skipped", "head_unreadable", blocking=True, error=error_message(exc))
        if is_error(exc, ACCESS_DENIED):
            # Unknown encryption: counted as blocking, so retirement waits for a look.
            return self._outcome(item, "skipped", "access_denied", blocking=True, error=error_message(exc))
        return self._outcome(item, "failed", "head_failed", blocking=True, error=error_message(exc))

    def _rekey_failure(self, item, key_arn, exc):
        blocking = bool(key_arn)
        if is_error(exc, ACCESS_DENIED) and "Object Lock" in error_message(exc):
            return self._outcome(item, "skipped", "locked", key_arn, blocking=blocking)
        if is_error(exc, ACCESS_DENIED):
            return self._outcome(item, "failed", "access_denied", key_arn, blocking=blocking, error=error_message(exc))
        if is_error(exc, INVALID_STATE):
            return self._outcome(item, "skipped", "archived", key_arn, blocking=blocking)
        # S3 relays the errors of its own KMS calls as KMS.<code>.
        if (error_code(exc) or "").startswith("KMS."):
            return self._outcome(item, "failed", "kms_key_unusable", key_arn, blocking=blocking, error=error_message(exc))
        return self._outcome(item, "failed", "rekey_failed", key_arn, blocking=blocking, error=error_message(exc))

    # The run ------------------------------------------------------------------------

    def _bucket_default_step(self):
        spec = self._spec
        before = read_bucket_default(self._s3, spec.bucket)
        plan = plan_bucket_default(before, self._scope, self._key_arn, spec.update_bucket_default,
                                   spec.bucket_default_scope, spec.bucket_key_enabled)
        if plan["changed"] and not self._check_mode:
            write_bucket_default(self._s3, spec.bucket, plan["after"])
        return dict(plan, before=before)

    def _batch_rekey(self):
        """A BatchRekey when this run uses a job (method batch, or auto above the threshold with a role), else None."""
        spec = self._spec
        if spec.method != BATCH and not (spec.method == "auto" and spec.batch_role_arn):
            return None
        estimate = estimate_bucket(self.clients, spec) if spec.method == "auto" else None
        if not wants_batch(spec, estimate):
            return None
        return BatchRekey(self.clients, spec, self._scope, self._check_mode, estimate=estimate)

    def _noncurrent_listing(self, versioning):
        """The versions a job's manifest generator may not list: noncurrent ones, walked with UpdateObjectEncryption.

        AWS does not document that the generator lists noncurrent versions, so they are never left to it
        (docs/s3_batch.md). An unversioned bucket has none.
        """
        spec = self._spec
        if spec.versions != "all" or versioning == "Unversioned":
            return iter(())
        return (item for item in list_versions(self._s3, spec.bucket, spec.prefix, "all") if not item.is_latest)

    def run(self, spec, check_mode=False):
        started = time.monotonic()
        self._spec = spec
        self._check_mode = check_mode
        self._s3 = self.clients("s3")
        self._resolver = KeyResolver(self.clients("kms"))
        self._resolve_keys()
        batch = self._batch_rekey()
        if batch is not None:
            # Both refuse what cannot work (options, report bucket, the role at CreateJob) before any change.
            batch.preflight()
            batch.start()
        bucket_default = self._bucket_default_step()
        versioning = self._bucket_versioning()
        tally = Tally(spec.sample_size)
        target = bucket_resource(spec.bucket) + "/" + spec.prefix
        with _report_writer(spec.report_file) as report, \
                progress_file(spec.progress_file, target, "object versions") as progress:
            if batch is None:
                self._backend, probe = self._choose_backend(versioning)
                listing = list_versions(self._s3, spec.bucket, spec.prefix, spec.versions)
            else:
                # A job runs S3UpdateObjectEncryption, so the endpoint has it: no probe.
                self._backend = UpdateBackend(self._s3, spec.bucket)
                probe = "none sent: method batch runs S3UpdateObjectEncryption in S3 Batch Operations jobs"
                batch_jobs, batch_failure, jobs_done = batch.finish(tally, self, progress)
                listing = self._noncurrent_listing(versioning) if jobs_done else iter(())
            for item, settled, error in run_bounded(listing, self.process, self.limit):
                if error is not None:
                    settled = self._outcome(item, "failed", "internal_error", blocking=True, error=str(error)), []
                tally.add(*settled)
                report(settled[0])
                # A listing is streamed, so its size is not known: no total, no time left.
                progress.update(tally.scanned, tally.summary())
        # A default that names no KMS key (none, SSE-S3) or already the destination's holds no key to move off.
        if check_mode and bucket_default["changed"] and bucket_default["key_arn"] not in (None, self._scope.destination.arn):
            tally.hold(TO_MOVE, "bucket_default", bucket_default["key_arn"])
        if bucket_default["blocking"]:
            tally.hold(BLOCKING, "bucket_default", bucket_default["key_arn"])
        elapsed = max(time.monotonic() - started, 1e-6)
        result = self._result(tally, bucket_default, versioning, probe, elapsed)
        if batch is not None:
            _add_batch_values(result, batch, batch_jobs, batch_failure)
        return result

    def _result(self, tally, bucket_default, versioning, probe, elapsed):
        spec = self._spec
        counts = tally.counts
        summary = tally.summary()
        sources = sorted(self._scope.sources)
        values = {
            "bucket": spec.bucket,
            "prefix": spec.prefix,
            "versions": spec.versions,
            "versioning": versioning,
            "method": spec.method,
            "method_used": self._backend.name,
            "method_probe": probe,
            "destination_key_arn": self._scope.destination.arn,
            "kms_key_id": self._scope.destination.arn,
            "source_key_arns": sources,
            "source_kms_key_ids": list(sources),
            "bucket_default": dict((name, bucket_default[name])
                                   for name in ("changed", "before", "after", "in_scope", "reason")),
            "counts": summary,
            "reasons": {"skipped": dict(tally.skipped_reasons), "blocking": dict(tally.blocking_reasons),
                        "failed": dict(tally.failed_reasons)},
            "dependents": tally.dependents(bucket_resource(spec.bucket)),
            "bytes_copied": tally.bytes_copied,
            "requests": dict(self.clients.requests.counts),
            "throttling": self.limit.report(),
            "duration_seconds": round(elapsed, 3),
            "objects_per_second": round(tally.scanned / elapsed, 1),
            "objects": tally.sample,
            "report_file": spec.report_file,
            "check_mode": self._check_mode,
            "changed": bool(counts["rekeyed"]) or bucket_default["changed"],
        }
        # Top-level copies of the counts, except `failed`, which Ansible reserves.
        values.update((name, value) for name, value in summary.items() if name != "failed")
        failure = None
        if counts["failed"]:
            failure = "{0} object version(s) in s3://{1}/{2} could not be moved to {3}: {4}.".format(
                counts["failed"], spec.bucket, spec.prefix, self._scope.destination.arn,
                ", ".join("{0} {1}".format(n, reason) for reason, n in sorted(tally.failed_reasons.items())))
        diff = {"before": {"bucket_default_encryption": bucket_default["before"]},
                "after": {"bucket_default_encryption": bucket_default["after"]}}
        return Result(values, diff=diff, failure=failure)


def _add_batch_values(result, batch, batch_jobs, batch_failure):
    """The batch method's result keys (and its failure, after any of the versions')."""
    values = result.values
    values["method_used"] = BATCH
    values["batch_jobs"] = batch_jobs
    # One source key, one job: batch_job is it; with several, batch_jobs holds one per key.
    values["batch_job"] = batch_jobs[0] if len(batch_jobs) == 1 else None
    values["changed"] = values["changed"] or batch.created_any
    estimates = [job["estimate"] for job in batch_jobs if job["estimated"]]
    if estimates:
        values["msg"] = "Check mode: no job created; " + "; ".join(estimates)
    if batch_failure:
        result.failure = " ".join(part for part in (result.failure, batch_failure + ".") if part)


def _version_of(outcome):
    return _version_ref(outcome["key"], outcome["version_id"])


def _version_ref(key, version_id):
    """How a dependents example names one version: `key`, or `key?versionId=...` in a versioned listing."""
    return key if version_id is None else "{0}?versionId={1}".format(key, version_id)


@contextlib.contextmanager
def _report_writer(path):
    """A function writing one JSON line per outcome to `path` (or nothing without one)."""
    if not path:
        yield lambda outcome: None
        return
    with open(path, "w", encoding="utf-8") as report:
        yield lambda outcome: report.write(json.dumps(outcome, sort_keys=True, default=str) + "\n")


class Tally(object):
    """Counts of outcomes, a capped sample of them, the blocking total and the grouped dependents.

    Memory stays flat on millions of versions: the dependents are one entry
    per (kind, reason, key ARN), each with a count and a few examples.
    """

    def __init__(self, sample_size):
        self.scanned = 0
        self.counts = collections.Counter(dict((action, 0) for action in ACTIONS))
        self.skipped_reasons = collections.Counter()
        self.failed_reasons = collections.Counter()
        self.blocking_reasons = collections.Counter()
        self.bytes_copied = 0
        self.sample = []
        self._sample_size = sample_size
        # (kind, reason, key ARN) -> [count, examples]
        self._held = {}

    def add(self, outcome, left_behind=()):
        """Count one version's outcome; left_behind as BucketRecopy.process returns it."""
        self.scanned += 1
        self.counts[outcome["action"]] += 1
        if outcome["action"] == "skipped":
            self.skipped_reasons[outcome["reason"]] += 1
        if outcome["action"] == "failed":
            self.failed_reasons[outcome["reason"]] += 1
        if outcome["blocking"]:
            self.hold(_blocking_kind(outcome["reason"]), outcome["reason"], outcome["from_kms_key_id"], _version_of(outcome))
        for reason, key_arn, left_version in left_behind:
            self.hold(_blocking_kind(reason), reason, key_arn, left_version)
        # A planned re-key (check mode) moves data off a KMS key; SSE-S3 data depends on none.
        if outcome.get("planned") and outcome["from_kms_key_id"]:
            self.hold(TO_MOVE, "rekeyed", outcome["from_kms_key_id"], _version_of(outcome))
        self.bytes_copied += outcome.get("bytes_copied", 0) or 0
        if len(self.sample) < self._sample_size:
            self.sample.append(outcome)

    def summary(self):
        """The counts of the result (and of the progress file)."""
        return {"scanned": self.scanned, "rekeyed": self.counts["rekeyed"],
                "already_current": self.counts["already_current"], "skipped": self.counts["skipped"],
                "blocking": sum(self.blocking_reasons.values()), "failed": self.counts["failed"]}

    def hold(self, kind, reason, key_arn, version=None, count=1):
        """Count `count` things that still depend on key_arn; blocking and unknown ones count in blocking_reasons."""
        if kind != TO_MOVE:
            self.blocking_reasons[reason] += count
        entry = self._held.setdefault((kind, reason, key_arn), [0, []])
        entry[0] += count
        if version is not None and len(entry[1]) < EXAMPLES:
            entry[1].append(version)

    def dependents(self, resource):
        """The grouped entries, in a stable order, in the dependents vocabulary."""
        return [dependent(resource, "s3", kind, _reason_text(kind, reason, count), key_arn=key_arn, count=count,
                          code=reason, examples=examples)
                for (kind, reason, key_arn), (count, examples) in sorted(
                    self._held.items(), key=lambda held: (held[0][0], held[0][1], held[0][2] or ""))]


def _blocking_kind(reason):
    return UNKNOWN if reason in UNKNOWN_REASONS else BLOCKING


def _reason_text(kind, reason, count):
    versions = "{0} object version{1}".format(count, "" if count == 1 else "s")
    text = _REASON_TEXTS.get((kind, reason), "{versions} cannot leave this key yet ({reason})")
    return text.format(versions=versions, reason=reason)
