# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Move every object version of a bucket (or prefix) to a new KMS key.

The listing (ListObjectVersions or ListObjectsV2) is streamed page by page
into `concurrency.run_bounded`, so memory stays flat however big the bucket.
Each version gets one HeadObject, which tells its encryption; keys are
compared as resolved ARNs. Versions to move go to the backend chosen in
s3_rekey_backends (`update` or `copy`). Every version ends in exactly one
outcome (rekeyed, already_current, skipped, failed), and those that still
depend on a source key afterwards count as `blocking`: the number the
rotation role's retirement gate reads.
"""

import collections
import contextlib
import json
import threading
import time

from ansible_collections.kmsrotate.aws.plugins.module_utils.aws import aws_retry, error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils.concurrency import run_bounded
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils.keys import KeyResolver, require_encryption_destination
from ansible_collections.kmsrotate.aws.plugins.module_utils.s3_rekey_backends import (
    ACCESS_DENIED_CODES, UPDATE, select_backend)

PAGE_SIZE = 1000
# A copy that finds the object changed re-checks it and tries again this often.
CHANGED_RETRIES = 3
ACTIONS = ("rekeyed", "already_current", "skipped", "failed")


class ListedVersion(object):
    """One entry of the listing: what is needed to head and move it."""

    __slots__ = ("key", "version_id", "is_latest", "etag", "checksum_algorithm")

    def __init__(self, key, version_id, is_latest, etag, checksum_algorithm=None):
        self.key = key
        self.version_id = version_id
        self.is_latest = is_latest
        self.etag = etag
        self.checksum_algorithm = checksum_algorithm


class RecopyRequest(object):
    """The user's choices, validated, in plain values."""

    def __init__(self, bucket, destination_key_id, prefix="", source_key_ids=None, include_sse_s3=False,
                 versions="all", method="auto", update_bucket_default=True, bucket_key_enabled=None,
                 multipart_threshold=5 * 1024 ** 3, multipart_chunksize=512 * 1024 ** 2,
                 report_file=None, sample_size=100, check_mode=False):
        self.bucket = bucket
        self.prefix = prefix or ""
        self.destination_key_id = destination_key_id
        self.source_key_ids = list(source_key_ids or [])
        self.include_sse_s3 = include_sse_s3
        self.versions = versions
        self.method = method
        self.update_bucket_default = update_bucket_default
        self.bucket_key_enabled = bucket_key_enabled
        self.multipart_threshold = multipart_threshold
        self.multipart_chunksize = multipart_chunksize
        self.report_file = report_file
        self.sample_size = sample_size
        self.check_mode = check_mode


class RequestCounter(object):
    """API calls made per operation (a retried call counts again), and throttled attempts.

    Give `on_throttle` to aws.ThrottleWatch: it counts, then tells the limit.
    """

    def __init__(self, limit):
        self._lock = threading.Lock()
        self._limit = limit
        self.counts = collections.Counter()
        self.throttled = 0

    def attach(self, client):
        client.meta.events.register("before-call", self._on_call)

    def _on_call(self, model=None, **kwargs):
        with self._lock:
            self.counts[model.name] += 1

    def on_throttle(self):
        with self._lock:
            self.throttled += 1
        self._limit.on_throttle()


# Listing ---------------------------------------------------------------------

@aws_retry
def _one_page(paginator, arguments, token):
    """One page of a listing and the token to resume after it, retried as a unit."""
    config = {"MaxItems": PAGE_SIZE, "PageSize": PAGE_SIZE}
    if token:
        config["StartingToken"] = token
    pages = paginator.paginate(PaginationConfig=config, **arguments)
    return list(pages), pages.resume_token


def _pages(s3, operation, arguments):
    paginator = s3.get_paginator(operation)
    token = None
    while True:
        pages, token = _one_page(paginator, arguments, token)
        yield from pages
        if not token:
            return


def list_versions(s3, bucket, prefix, versions):
    """Stream the listing as ListedVersion entries (delete markers hold no data)."""
    arguments = {"Bucket": bucket, "Prefix": prefix}
    if versions == "all":
        for page in _pages(s3, "list_object_versions", arguments):
            for entry in page.get("Versions", []):
                yield ListedVersion(entry["Key"], entry.get("VersionId"), entry.get("IsLatest", True),
                                    entry.get("ETag"), _checksum_algorithm(entry))
    else:
        for page in _pages(s3, "list_objects_v2", arguments):
            for entry in page.get("Contents", []):
                yield ListedVersion(entry["Key"], None, True, entry.get("ETag"), _checksum_algorithm(entry))


def _checksum_algorithm(entry):
    """The additional checksum algorithm a listing entry names, or None."""
    algorithms = entry.get("ChecksumAlgorithm") or [None]
    return algorithms[0]


# Bucket default encryption ----------------------------------------------------------

def read_bucket_default(s3, bucket):
    """The bucket's default encryption rule as {sse_algorithm, kms_key_id, bucket_key_enabled}, or None."""
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket, aws_retry=True)["ServerSideEncryptionConfiguration"]["Rules"]
    except Exception as exc:  # botocore errors: decided by their code
        if error_code(exc) == "ServerSideEncryptionConfigurationNotFoundError":
            return None
        if error_code(exc) == "NoSuchBucket":
            raise RotationError("Bucket not found.", resource="s3://" + bucket, fix="check the bucket name and region.")
        raise
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    return {"sse_algorithm": default.get("SSEAlgorithm"), "kms_key_id": default.get("KMSMasterKeyID"),
            "bucket_key_enabled": bool(rules[0].get("BucketKeyEnabled", False))}


def desired_bucket_default(before, destination_arn, bucket_key_enabled):
    # Dual-layer (DSSE-KMS) stays dual-layer: moving keys must not weaken it.
    algorithm = "aws:kms:dsse" if before and before["sse_algorithm"] == "aws:kms:dsse" else "aws:kms"
    if bucket_key_enabled is None:
        bucket_key_enabled = bool(before and before["bucket_key_enabled"])
    return {"sse_algorithm": algorithm, "kms_key_id": destination_arn, "bucket_key_enabled": bucket_key_enabled}


def write_bucket_default(s3, bucket, rule):
    by_default = {"SSEAlgorithm": rule["sse_algorithm"], "KMSMasterKeyID": rule["kms_key_id"]}
    s3.put_bucket_encryption(Bucket=bucket, aws_retry=True, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": rule["bucket_key_enabled"]}]})


# The engine ------------------------------------------------------------------------

class BucketRecopy(object):
    """One module call: a bucket (and prefix) moved to the destination key."""

    def __init__(self, s3, resolver, request, limit, counter=None, clock=time.monotonic):
        self._s3 = s3
        self._resolver = resolver
        self._request = request
        self._limit = limit
        self._counter = counter or RequestCounter(limit)
        self._clock = clock
        self._destination = None
        self._sources = frozenset()
        self._backend = None

    # Set-up ----------------------------------------------------------------

    def _bucket_versioning(self):
        status = self._s3.get_bucket_versioning(Bucket=self._request.bucket, aws_retry=True).get("Status")
        return status or "Unversioned"

    def _acl_enabled(self):
        """False when the bucket enforces bucket-owner ownership (ACLs disabled): no grants to carry over."""
        try:
            rules = self._s3.get_bucket_ownership_controls(Bucket=self._request.bucket, aws_retry=True)[
                "OwnershipControls"]["Rules"]
        except Exception as exc:  # botocore errors: decided by their code
            if error_code(exc) == "OwnershipControlsNotFoundError":
                return True
            raise
        return not any(rule.get("ObjectOwnership") == "BucketOwnerEnforced" for rule in rules)

    def _resolve_keys(self):
        request = self._request
        self._destination = self._resolver.resolve(request.destination_key_id)
        require_encryption_destination(self._destination)
        self._sources = self._resolver.resolve_all(request.source_key_ids)
        if self._destination.arn in self._sources:
            raise RotationError("The destination key is also listed in source_key_ids.", resource=self._destination.arn,
                                fix="remove it from source_key_ids.")

    def _choose_backend(self, versioning):
        request = self._request
        copy_options = {"multipart_threshold": request.multipart_threshold,
                        "multipart_chunksize": request.multipart_chunksize,
                        "copy_acl": request.method != UPDATE and self._acl_enabled(),
                        "versioning": versioning}
        return select_backend(request.method, self._s3, request.bucket, request.prefix, self._destination.arn,
                              copy_options)

    # Per object --------------------------------------------------------------

    def _key_arn(self, key_ref):
        """The ARN of the key an object reports; an unresolvable reference is kept as reported."""
        try:
            return self._resolver.arn(key_ref)
        except RotationError:
            return key_ref

    def _in_scope(self, key_arn):
        """Whether objects under this key are to move."""
        if key_arn == self._destination.arn:
            return False
        return not self._sources or key_arn in self._sources

    def _head(self, item, current=False):
        # No ChecksumMode: it needs kms:Decrypt, and HEAD must work under a disabled key.
        request = {"Bucket": self._request.bucket, "Key": item.key}
        # The current "null" version (unversioned bucket) is simply the object.
        if item.version_id is not None and not current and not (item.is_latest and item.version_id == "null"):
            request["VersionId"] = item.version_id
        return self._s3.head_object(aws_retry=True, **request)

    def _outcome(self, item, action, reason=None, key_arn=None, blocking=False, **extra):
        outcome = {"key": item.key, "version_id": item.version_id, "is_latest": item.is_latest, "action": action,
                   "reason": reason, "from_kms_key_id": key_arn, "blocking": blocking}
        outcome.update(extra)
        return outcome

    def _classify(self, item, head):
        """(outcome or None, key ARN): an outcome when nothing is to be done, else None (move it)."""
        if head.get("SSECustomerAlgorithm"):
            return self._outcome(item, "skipped", "sse_c"), None
        algorithm = head.get("ServerSideEncryption")
        if algorithm in ("aws:kms", "aws:kms:dsse"):
            key_arn = self._key_arn(head.get("SSEKMSKeyId") or "alias/aws/s3")
            if key_arn == self._destination.arn:
                return self._outcome(item, "already_current", key_arn=key_arn), key_arn
            if not self._in_scope(key_arn):
                return self._outcome(item, "skipped", "other_key", key_arn), key_arn
            if algorithm == "aws:kms:dsse":
                return self._outcome(item, "skipped", "dsse_kms", key_arn, blocking=True), key_arn
            return None, key_arn
        if algorithm == "AES256":
            if self._request.include_sse_s3:
                return None, None
            return self._outcome(item, "skipped", "sse_s3"), None
        return self._outcome(item, "skipped", "unencrypted"), None

    @staticmethod
    def _locked(head):
        if head.get("ObjectLockLegalHoldStatus") == "ON":
            return True
        until = head.get("ObjectLockRetainUntilDate")
        if head.get("ObjectLockMode") and until is not None:
            return until.timestamp() > time.time()
        return False

    def _obstacle(self, item, head):
        """Why this version cannot be moved by the chosen backend, or None."""
        if not item.is_latest and not self._backend.rekeys_noncurrent:
            return "noncurrent_copy"
        if self._backend.rekeys_noncurrent and self._locked(head):
            return "locked"
        return self._backend.unsupported_reason(head)

    def _left_behind(self, item, key_arn, reason):
        """[reason] when the listed version stays in the bucket, in scope, under a source key; else []."""
        if key_arn and self._request.versions == "all" and self._backend.keeps_old_version(item):
            return [reason]
        return []

    def _rekeyed(self, item, key_arn, copied, planned=False):
        # A copy in a versioned bucket leaves the old version behind, still
        # under the old key: it blocks retirement like any noncurrent one.
        return self._outcome(item, "rekeyed", key_arn=key_arn, bytes_copied=copied, planned=planned,
                             also_blocking=self._left_behind(item, key_arn, "superseded_by_copy"))

    def process(self, item):
        """Worker: one listed version to its outcome. Never raises for an AWS error."""
        try:
            head = self._head(item)
        except Exception as exc:  # botocore errors: decided by their code
            return self._head_failure(item, exc)
        outcome = self._settle(item, head)
        changed_from = outcome.pop("changed_from", None)
        if changed_from is not None:
            # The version first listed may still be there, under the source key.
            listed, listed_key_arn = changed_from
            outcome["also_blocking"] = outcome.get("also_blocking", []) + self._left_behind(
                listed, listed_key_arn, "changed_during_run")
            outcome["reason"] = outcome["reason"] or "changed_during_run"
        return outcome

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
            except Exception as exc:  # botocore errors: decided by their code
                return dict(self._head_failure(item, exc), changed_from=changed_from)
            item = ListedVersion(item.key, head.get("VersionId", item.version_id), True, head["ETag"],
                                 item.checksum_algorithm)
        return self._outcome(item, "failed", "changed_during_run", key_arn, blocking=bool(key_arn),
                             changed_from=changed_from)

    def _move(self, item, head, key_arn):
        """The outcome of moving one version, or None when it changed since it was listed."""
        obstacle = self._obstacle(item, head)
        if obstacle:
            return self._outcome(item, "skipped", obstacle, key_arn, blocking=bool(key_arn))
        if self._request.check_mode:
            return self._rekeyed(item, key_arn, 0, planned=True)
        try:
            copied = self._backend.rekey(item, head, self._destination.arn, self._object_bucket_key(head))
        except Exception as exc:  # botocore errors: decided by their code
            if error_code(exc) in ("PreconditionFailed", "412"):
                return None
            return self._rekey_failure(item, key_arn, exc)
        return self._rekeyed(item, key_arn, copied)

    def _object_bucket_key(self, head):
        if self._request.bucket_key_enabled is not None:
            return self._request.bucket_key_enabled
        return bool(head.get("BucketKeyEnabled", False))

    def _head_failure(self, item, exc):
        code = error_code(exc)
        if code in ("NoSuchKey", "404", "NoSuchVersion"):
            return self._outcome(item, "skipped", "deleted_during_run")
        if code in ("400", "InvalidRequest"):
            # S3 refuses HeadObject without the customer key of an SSE-C object.
            return self._outcome(item, "skipped", "sse_c")
        if code in ACCESS_DENIED_CODES:
            # Unknown encryption: counted as blocking, so retirement waits for a look.
            return self._outcome(item, "skipped", "access_denied", blocking=True, error=error_message(exc))
        return self._outcome(item, "failed", "head_failed", blocking=True, error=error_message(exc))

    def _rekey_failure(self, item, key_arn, exc):
        code = error_code(exc) or ""
        blocking = bool(key_arn)
        if code in ACCESS_DENIED_CODES and "Object Lock" in error_message(exc):
            return self._outcome(item, "skipped", "locked", key_arn, blocking=blocking)
        if code in ACCESS_DENIED_CODES:
            return self._outcome(item, "failed", "access_denied", key_arn, blocking=blocking, error=error_message(exc))
        if code in ("InvalidObjectState", "ObjectNotInActiveTierError"):
            return self._outcome(item, "skipped", "archived", key_arn, blocking=blocking)
        if code.startswith("KMS."):
            return self._outcome(item, "failed", "kms_key_unusable", key_arn, blocking=blocking, error=error_message(exc))
        return self._outcome(item, "failed", "rekey_failed", key_arn, blocking=blocking, error=error_message(exc))

    # The run ------------------------------------------------------------------------

    def _bucket_default_step(self):
        request = self._request
        before = read_bucket_default(self._s3, request.bucket)
        after = desired_bucket_default(before, self._destination.arn, request.bucket_key_enabled)
        current = dict(before) if before else None
        if current and current["kms_key_id"]:
            current["kms_key_id"] = self._key_arn(current["kms_key_id"])
        change = request.update_bucket_default and current != after
        if change and not request.check_mode:
            write_bucket_default(self._s3, request.bucket, after)
        final = after if request.update_bucket_default else before
        final_key = self._key_arn(final["kms_key_id"]) if final and final.get("kms_key_id") else None
        blocking = bool(final_key) and self._in_scope(final_key) and final["sse_algorithm"] in ("aws:kms", "aws:kms:dsse")
        return {"changed": bool(change), "before": before, "after": final, "blocking": blocking}

    def run(self):
        request = self._request
        started = self._clock()
        self._resolve_keys()
        bucket_default = self._bucket_default_step()
        versioning = self._bucket_versioning()
        self._backend, probe = self._choose_backend(versioning)
        tally = Tally(request.sample_size)
        with _report_writer(request.report_file) as report:
            listing = list_versions(self._s3, request.bucket, request.prefix, request.versions)
            for item, outcome, error in run_bounded(listing, self.process, self._limit):
                if error is not None:
                    outcome = self._outcome(item, "failed", "internal_error", blocking=True, error=str(error))
                tally.add(outcome)
                report(outcome)
        if bucket_default["blocking"]:
            tally.blocking_reasons["bucket_default"] += 1
        elapsed = max(self._clock() - started, 1e-6)
        return self._result(tally, bucket_default, versioning, probe, elapsed)

    def _result(self, tally, bucket_default, versioning, probe, elapsed):
        request = self._request
        counts = tally.counts
        summary = {"scanned": tally.scanned, "rekeyed": counts["rekeyed"], "already_current": counts["already_current"],
                   "skipped": counts["skipped"], "blocking": sum(tally.blocking_reasons.values()),
                   "failed": counts["failed"]}
        result = {
            "bucket": request.bucket,
            "prefix": request.prefix,
            "versions": request.versions,
            "versioning": versioning,
            "method": request.method,
            "method_used": self._backend.name,
            "method_probe": probe,
            "kms_key_id": self._destination.arn,
            "source_kms_key_ids": sorted(self._sources),
            "bucket_default": {"changed": bucket_default["changed"], "before": bucket_default["before"],
                               "after": bucket_default["after"]},
            "counts": summary,
            "reasons": {"skipped": dict(tally.skipped_reasons), "blocking": dict(tally.blocking_reasons),
                        "failed": dict(tally.failed_reasons)},
            "bytes_copied": tally.bytes_copied,
            "requests": dict(self._counter.counts),
            "throttling": {"throttle_events": self._counter.throttled, "concurrency": self._limit.maximum,
                           "lowest_concurrency": self._limit.lowest},
            "duration_seconds": round(elapsed, 3),
            "objects_per_second": round(tally.scanned / elapsed, 1),
            "objects": tally.sample,
            "report_file": request.report_file,
            "check_mode": request.check_mode,
            "changed": bool(counts["rekeyed"]) or bucket_default["changed"],
        }
        # Top-level copies of the counts, except `failed`, which Ansible reserves.
        result.update((name, value) for name, value in summary.items() if name != "failed")
        if counts["failed"]:
            result["failed_reason"] = "{0} object version(s) in s3://{1}/{2} could not be moved to {3}: {4}.".format(
                counts["failed"], request.bucket, request.prefix, self._destination.arn,
                ", ".join("{0} {1}".format(n, reason) for reason, n in sorted(tally.failed_reasons.items())))
        return result


@contextlib.contextmanager
def _report_writer(path):
    """A function writing one JSON line per outcome to `path` (or nothing without one)."""
    if not path:
        yield lambda outcome: None
        return
    with open(path, "w", encoding="utf-8") as report:
        yield lambda outcome: report.write(json.dumps(outcome, sort_keys=True, default=str) + "\n")


class Tally(object):
    """Counts of outcomes, a capped sample of them, and the blocking total."""

    def __init__(self, sample_size):
        self.scanned = 0
        self.counts = collections.Counter(dict((action, 0) for action in ACTIONS))
        self.skipped_reasons = collections.Counter()
        self.failed_reasons = collections.Counter()
        self.blocking_reasons = collections.Counter()
        self.bytes_copied = 0
        self.sample = []
        self._sample_size = sample_size

    def add(self, outcome):
        self.scanned += 1
        self.counts[outcome["action"]] += 1
        if outcome["action"] == "skipped":
            self.skipped_reasons[outcome["reason"]] += 1
        if outcome["action"] == "failed":
            self.failed_reasons[outcome["reason"]] += 1
        if outcome["blocking"]:
            self.blocking_reasons[outcome["reason"]] += 1
        for reason in outcome.get("also_blocking") or []:
            self.blocking_reasons[reason] += 1
        self.bytes_copied += outcome.get("bytes_copied", 0) or 0
        if len(self.sample) < self._sample_size:
            self.sample.append(outcome)


def recopy_bucket(s3, kms, request, limit, counter):
    """Entry point for the module: clients, a RecopyRequest, an AdaptiveLimit and the RequestCounter -> the result."""
    counter.attach(s3.client)
    counter.attach(kms.client)
    return BucketRecopy(s3, KeyResolver(kms), request, limit, counter).run()
