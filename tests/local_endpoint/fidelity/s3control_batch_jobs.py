"""S3 Batch Operations jobs of the local endpoint: the job store, each job's thread, manifests and reports.

The API (wire format, validation, the behaviours AWS documents and the
research behind them) is s3control_batch.py; this module runs what it
accepted:

    New -> Preparing -> (Suspended, until UpdateJobStatus Ready) -> Ready -> Active -> Complete
                                                                              \\-> Failed (failure threshold)
    UpdateJobStatus Cancelled: Cancelled at once before Active, Cancelling -> Cancelled while Active.

Preparing lists the manifest (a given CSV or inventory manifest, or the
generator's filters over the source bucket, streamed) and writes the
generated manifest when asked; Active runs one task per row, in process,
through fidelity/s3.py's UpdateObjectEncryption, so a task fails exactly as
the request would; the end writes the completion report.

Pacing (control route `s3control_batch_pace`, see PACE) slows tasks down or
parks a job after N tasks, so a test can cancel midway or stop a poller
mid-job. A reset of the endpoint stops every job thread and forgets every job.
"""

import csv
import datetime
import functools
import gzip
import hashlib
import io
import json
import threading
import time
import uuid
from urllib.parse import quote_plus, unquote_plus

from moto.moto_api._internal.models import MotoAPIBackend
from moto.s3.exceptions import MissingBucket

from . import s3 as s3_fidelity

REPORT_FORMAT = "Report_CSV_20180820"
# The schema line AWS writes in a report's manifest.json; its example rows (and these) put HTTPStatusCode
# before ErrorCode: see s3control_batch.py.
REPORT_SCHEMA = "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
GENERATED_FORMAT = "S3InventoryReport_CSV_20211130"
GENERATED_SCHEMA = "Bucket, Key, VersionId"
SUCCESS_MESSAGE = "Successful"
# AWS fails a job once more than half of its tasks failed, after at least this many tasks ran.
FAILURE_THRESHOLD_TASKS = 1000
FAILURE_THRESHOLD = ("TaskFailureThresholdExceeded",
                     "Job failed: more than 50% of at least 1000 tasks failed (failure threshold exceeded).")
TERMINAL = ("Complete", "Failed", "Cancelled")
CANCELLABLE = ("New", "Preparing", "Suspended", "Ready", "Active")
_JOIN_SECONDS = 5.0


def _now():
    return datetime.datetime.now(datetime.timezone.utc)


def bucket_of_arn(arn):
    """`arn:aws:s3:::bucket` -> bucket; `arn:aws:s3:::bucket/key` -> bucket."""
    return arn.split(":::", 1)[-1].split("/", 1)[0]


def object_of_arn(arn):
    """`arn:aws:s3:::bucket/key` -> (bucket, key)."""
    bucket, _sep, key = arn.split(":::", 1)[-1].partition("/")
    return bucket, key


def encode_key(key):
    """Keys in manifests and reports are URL-encoded (form encoding: a space is `+`), as AWS writes them."""
    return quote_plus(key, safe="/")


class Pace:
    """How fast tasks run: `seconds_per_task`, and a pause of every job after `pause_after_tasks` tasks."""

    def __init__(self):
        self.changed = threading.Condition()
        self.seconds_per_task = 0.0
        self.pause_after_tasks = None

    def configure(self, seconds_per_task=0.0, pause_after_tasks=None):
        with self.changed:
            self.seconds_per_task = float(seconds_per_task or 0.0)
            self.pause_after_tasks = None if pause_after_tasks is None else int(pause_after_tasks)
            self.changed.notify_all()
        return self.describe()

    def describe(self):
        return {"seconds_per_task": self.seconds_per_task, "pause_after_tasks": self.pause_after_tasks}

    def wait(self, job, tasks_run):
        """Called before each task: sleep or park as configured, until the job is cancelled or stopped."""
        if not self.seconds_per_task and self.pause_after_tasks is None:
            return
        with self.changed:
            if self.seconds_per_task:
                self.changed.wait_for(job.interrupted, self.seconds_per_task)
            self.changed.wait_for(lambda: job.interrupted() or self.pause_after_tasks is None
                                  or tasks_run < self.pause_after_tasks)

    def wake(self):
        with self.changed:
            self.changed.notify_all()


PACE = Pace()


class Job:
    """One job: the request it was created from, its status and counters, guarded by `lock`."""

    def __init__(self, account_id, region, request, sequence):
        self.account_id = account_id
        self.job_id = str(uuid.uuid4())
        self.arn = f"arn:aws:s3:{region}:{account_id}:job/{self.job_id}"
        self.request = request
        self.sequence = sequence
        self.lock = threading.Condition()
        self.status = "New"
        self.priority = request["Priority"]
        self.status_update_reason = None
        self.failure_reasons = []
        self.creation_time = _now()
        self.termination_date = None
        self.suspended_date = None
        self.total = None
        self.succeeded = 0
        self.failed = 0
        self.active_seconds = 0.0
        self.active_since = None
        self.generated_manifest = None
        self.cancel_requested = False
        self.stopped = False
        self.thread = None

    def interrupted(self):
        return self.cancel_requested or self.stopped

    def set_status(self, status):
        """Move to `status`, keeping the time spent Active; called with the lock held."""
        if self.active_since is not None:
            self.active_seconds += time.monotonic() - self.active_since
            self.active_since = None
        if status == "Active":
            self.active_since = time.monotonic()
        if status == "Suspended":
            self.suspended_date = _now()
        if status in TERMINAL:
            self.termination_date = _now()
        self.status = status
        self.lock.notify_all()

    def progress(self):
        """ProgressSummary as DescribeJob and ListJobs answer it; called with the lock held."""
        active = self.active_seconds + (time.monotonic() - self.active_since if self.active_since else 0.0)
        summary = {"NumberOfTasksSucceeded": self.succeeded, "NumberOfTasksFailed": self.failed,
                   "Timers": {"ElapsedTimeInActiveSeconds": int(active)}}
        if self.total is not None:
            summary["TotalNumberOfTasks"] = self.total
        return summary

    def cancel(self, reason):
        """UpdateJobStatus Cancelled: the status it answers. Raises ValueError when the job cannot be cancelled."""
        with self.lock:
            if self.status not in CANCELLABLE:
                raise ValueError(self.status)
            self.cancel_requested = True
            self.status_update_reason = reason or self.status_update_reason
            # Before any task ran, nothing is left to stop: Cancelled at once (the thread sees the request).
            self.set_status("Cancelling" if self.status == "Active" else "Cancelled")
            answer = self.status
        PACE.wake()
        return answer

    def confirm(self, reason):
        """UpdateJobStatus Ready of a Suspended job. Raises ValueError in any other status."""
        with self.lock:
            if self.status != "Suspended":
                raise ValueError(self.status)
            self.status_update_reason = reason or self.status_update_reason
            self.set_status("Ready")
            return self.status


class JobStore:
    """Every job and client request token, per account."""

    def __init__(self):
        self.lock = threading.Lock()
        self.jobs = {}
        self.tokens = {}
        self.sequence = 0

    def create(self, account_id, region, request, fingerprint, validate, start):
        """The job for this token: an existing one (same request), or a new one started with `start(job)`.

        `validate(request)` runs for a new token only, before the job exists (it raises to refuse it).
        Raises LookupError when the token was used for a different request.
        """
        token_key = (account_id, request["ClientRequestToken"])
        with self.lock:
            known = self.tokens.get(token_key)
            if known is not None:
                if known[0] != fingerprint:
                    raise LookupError(request["ClientRequestToken"])
                return self.jobs[known[1]]
            validate(request)
            self.sequence += 1
            job = Job(account_id, region, request, self.sequence)
            self.jobs[job.job_id] = job
            self.tokens[token_key] = (fingerprint, job.job_id)
        start(job)
        return job

    def get(self, account_id, job_id):
        with self.lock:
            job = self.jobs.get(job_id)
        return job if job is not None and job.account_id == account_id else None

    def of_account(self, account_id):
        """The account's jobs, newest first."""
        with self.lock:
            jobs = [job for job in self.jobs.values() if job.account_id == account_id]
        return sorted(jobs, key=lambda job: -job.sequence)

    def clear(self):
        """Stop every job's thread and forget every job and token."""
        with self.lock:
            jobs = list(self.jobs.values())
            self.jobs.clear()
            self.tokens.clear()
        for job in jobs:
            with job.lock:
                job.stopped = True
                job.lock.notify_all()
        PACE.configure()
        for job in jobs:
            if job.thread is not None:
                job.thread.join(_JOIN_SECONDS)


STORE = JobStore()


# Manifests -------------------------------------------------------------------

def _is_true(value):
    return str(value).lower() == "true"


def _aware(moment):
    return moment if moment.tzinfo is not None else moment.replace(tzinfo=datetime.timezone.utc)


def _encryption_matches(stored, wanted, key_arn_of):
    """One MatchAnyObjectEncryption entry (SSES3, SSEKMS, DSSEKMS, SSEC, NOTSSE) against a version."""
    sse_c = bool(getattr(stored, "sse_customer_algorithm", None))
    if "SSEC" in wanted:
        return sse_c
    if sse_c:
        return False
    if "NOTSSE" in wanted:
        return not stored.encryption
    if "SSES3" in wanted:
        return stored.encryption == "AES256"
    kind, algorithm = ("SSEKMS", "aws:kms") if "SSEKMS" in wanted else ("DSSEKMS", "aws:kms:dsse")
    if stored.encryption != algorithm:
        return False
    key_arn = wanted[kind].get("KmsKeyArn")
    if key_arn and key_arn_of(stored.kms_key_id) != key_arn:
        return False
    bucket_key = wanted[kind].get("BucketKeyEnabled")
    return bucket_key is None or _is_true(stored.bucket_key_enabled) == bucket_key


def _filter_predicates(filters, key_arn_of):
    """JobManifestGeneratorFilter as one predicate per given criterion (each list: any of its entries);
    a version is listed when all of them hold."""
    names = filters.get("KeyNameConstraint") or {}
    predicates = []
    if names.get("MatchAnyPrefix"):
        predicates.append(lambda stored: stored.name.startswith(tuple(names["MatchAnyPrefix"])))
    if names.get("MatchAnySuffix"):
        predicates.append(lambda stored: stored.name.endswith(tuple(names["MatchAnySuffix"])))
    if names.get("MatchAnySubstring"):
        predicates.append(lambda stored: any(value in stored.name for value in names["MatchAnySubstring"]))
    if filters.get("CreatedAfter"):
        predicates.append(lambda stored: _aware(stored.last_modified) > filters["CreatedAfter"])
    if filters.get("CreatedBefore"):
        predicates.append(lambda stored: _aware(stored.last_modified) < filters["CreatedBefore"])
    if filters.get("ObjectSizeGreaterThanBytes") is not None:
        predicates.append(lambda stored: stored.size > filters["ObjectSizeGreaterThanBytes"])
    if filters.get("ObjectSizeLessThanBytes") is not None:
        predicates.append(lambda stored: stored.size < filters["ObjectSizeLessThanBytes"])
    if filters.get("MatchAnyStorageClass"):
        predicates.append(lambda stored: (stored.storage_class or "STANDARD") in filters["MatchAnyStorageClass"])
    if filters.get("ObjectReplicationStatuses"):
        # The endpoint replicates nothing: every object's replication status is NONE.
        predicates.append(lambda stored: "NONE" in filters["ObjectReplicationStatuses"])
    if filters.get("MatchAnyObjectEncryption"):
        predicates.append(lambda stored: any(_encryption_matches(stored, entry, key_arn_of)
                                             for entry in filters["MatchAnyObjectEncryption"]))
    return predicates


def generated_rows(generator, include_noncurrent):
    """(bucket, key, version id) of each version the S3JobManifestGenerator selects, in key order.

    Current versions only (a key whose current version is a delete marker has none), unless
    include_noncurrent: then every version, newest first within a key.
    """
    bucket_name = bucket_of_arn(generator["SourceBucket"])
    bucket = s3_fidelity._s3_backend().get_bucket(bucket_name)  # pylint: disable=protected-access
    filters = generator.get("Filter") or {}
    # The key ARN of each reference an object was written with, as HeadObject answers it, once per listing.
    key_arn_of = functools.lru_cache(maxsize=None)(s3_fidelity._key_arn)  # pylint: disable=protected-access
    predicates = _filter_predicates(filters, key_arn_of)
    for name in sorted(bucket.keys.keys()):
        versions = bucket.keys.getlist(name, [])
        chosen = reversed(versions) if include_noncurrent else versions[-1:]
        for stored in chosen:
            if isinstance(stored, s3_fidelity.s3_models.FakeKey) and all(check(stored) for check in predicates):
                yield bucket_name, name, stored.version_id


def _read_object(arn, version_id=None):
    bucket, key = object_of_arn(arn)
    stored = s3_fidelity._s3_backend().get_object(bucket, key, version_id)  # pylint: disable=protected-access
    return stored.value


def csv_manifest_rows(manifest):
    """(bucket, key, version id or None) of each row of a given manifest (CSV, or an inventory manifest.json)."""
    spec, location = manifest["Spec"], manifest["Location"]
    body = _read_object(location["ObjectArn"], location.get("ObjectVersionId"))
    if spec["Format"] == "S3BatchOperations_CSV_20180820":
        yield from _csv_rows(io.StringIO(body.decode("utf-8")), spec["Fields"])
        return
    inventory = json.loads(body)
    fields = [field.strip() for field in inventory["fileSchema"].split(",")]
    bucket = bucket_of_arn(inventory["destinationBucket"])
    for data_file in inventory["files"]:
        data = _read_object(f"arn:aws:s3:::{bucket}/{data_file['key']}")
        if data_file["key"].endswith(".gz"):
            data = gzip.decompress(data)
        yield from _csv_rows(io.StringIO(data.decode("utf-8")), fields)


def _csv_rows(text, fields):
    for row in csv.reader(text):
        if not row:
            continue
        named = dict(zip(fields, row))
        yield named["Bucket"], unquote_plus(named["Key"]), named.get("VersionId") or None


def _put(bucket, key, body, encryption=None):
    """Write an object as S3 Batch Operations does (SSE-S3 unless ManifestEncryption names a KMS key)."""
    kms_key = (encryption or {}).get("SSEKMS", {}).get("KeyId")
    return s3_fidelity._s3_backend().put_object(  # pylint: disable=protected-access
        bucket, key, body, encryption="aws:kms" if kms_key else "AES256",
        kms_key_id=s3_fidelity._key_arn(kms_key) if kms_key else None,  # pylint: disable=protected-access
        disable_notification=True)


def _job_prefix(prefix, job):
    return f"{prefix.rstrip('/')}/job-{job.job_id}" if prefix else f"job-{job.job_id}"


def write_generated_manifest(job, rows):
    """Write the generated manifest as AWS lays it out: `<ManifestPrefix>/job-<id>/manifest.json`
    naming one gzipped CSV data file under `data/`, in the S3 Inventory manifest format.

    Consumes `rows` and returns them as a list (the tasks to run).
    """
    output = job.request["ManifestGenerator"]["S3JobManifestGenerator"]["ManifestOutputLocation"]
    bucket = bucket_of_arn(output["Bucket"])
    base = _job_prefix(output.get("ManifestPrefix"), job)
    buffer = io.StringIO()
    writer = csv.writer(buffer, quoting=csv.QUOTE_ALL, lineterminator="\n")
    tasks = []
    for row in rows:
        tasks.append(row)
        writer.writerow([row[0], encode_key(row[1]), row[2] or ""])
    data = gzip.compress(buffer.getvalue().encode("utf-8"))
    data_key = f"{base}/data/{uuid.uuid4()}.csv.gz"
    _put(bucket, data_key, data, output.get("ManifestEncryption"))
    manifest = {
        "sourceBucket": bucket_of_arn(job.request["ManifestGenerator"]["S3JobManifestGenerator"]["SourceBucket"]),
        "destinationBucket": f"arn:aws:s3:::{bucket}",
        "version": "2021-11-30",
        "creationTimestamp": str(int(job.creation_time.timestamp() * 1000)),
        "fileFormat": "CSV",
        "fileSchema": GENERATED_SCHEMA,
        "files": [{"key": data_key, "size": len(data), "MD5checksum": hashlib.md5(data).hexdigest()}],  # noqa: S324
    }
    stored = _put(bucket, f"{base}/manifest.json", json.dumps(manifest).encode(), output.get("ManifestEncryption"))
    job.generated_manifest = {"Format": GENERATED_FORMAT, "Location": {
        "ObjectArn": f"arn:aws:s3:::{bucket}/{base}/manifest.json", "ETag": stored.etag.strip('"')}}
    return tasks


# Tasks and the completion report ----------------------------------------------

def run_task(bucket, key, version_id, operation):
    """One S3UpdateObjectEncryption task: (TaskStatus, HTTPStatusCode, ErrorCode, ResultMessage)."""
    encryption = operation["S3UpdateObjectEncryption"]["ObjectEncryption"]["SSEKMS"]
    bucket_key = "true" if encryption.get("BucketKeyEnabled") else "false"
    try:
        s3_fidelity.update_object_encryption(bucket, key, version_id, encryption["KMSKeyArn"], bucket_key)
    except s3_fidelity.S3Error as exc:
        return "failed", exc.status, exc.code, exc.message
    return "succeeded", 200, "", SUCCESS_MESSAGE


def write_report(job, results):
    """Write the completion report: `<Prefix>/job-<id>/manifest.json` naming `results/<sha1>.csv` files
    (one for succeeded tasks, with ReportScope AllTasks, one for failed tasks), as AWS lays it out.
    """
    report = job.request["Report"]
    bucket = bucket_of_arn(report["Bucket"])
    base = _job_prefix(report.get("Prefix"), job)
    entries = []
    for status in ("succeeded", "failed"):
        rows = [row for row in results if row[3] == status]
        if not rows:
            continue
        buffer = io.StringIO()
        csv.writer(buffer, lineterminator="\n").writerows(rows)
        data = buffer.getvalue().encode("utf-8")
        key = f"{base}/results/{hashlib.sha1(f'{job.job_id}/{status}'.encode()).hexdigest()}.csv"  # noqa: S324
        _put(bucket, key, data)
        entries.append({"TaskExecutionStatus": status, "Bucket": bucket,
                        "MD5Checksum": hashlib.md5(data).hexdigest(), "Key": key})  # noqa: S324
    created = _now()
    manifest = {"Format": REPORT_FORMAT,
                "ReportCreationDate": created.strftime("%Y-%m-%dT%H:%M:%S.") + f"{created.microsecond // 1000:03d}Z",
                "Results": entries, "ReportSchema": REPORT_SCHEMA}
    _put(bucket, f"{base}/manifest.json", json.dumps(manifest, indent=4).encode())


def _prepare(job, include_noncurrent):
    """The job's tasks, listed (and the generated manifest written) as Preparing does."""
    generator = (job.request.get("ManifestGenerator") or {}).get("S3JobManifestGenerator")
    if generator is None:
        return list(csv_manifest_rows(job.request["Manifest"]))
    rows = generated_rows(generator, include_noncurrent)
    return write_generated_manifest(job, rows) if generator.get("EnableManifestOutput") else list(rows)


def _run_tasks(job, tasks):
    """Run tasks until done, cancelled, stopped or over the failure threshold: the report rows kept."""
    operation = job.request["Operation"]
    failed_only = job.request["Report"].get("ReportScope") == "FailedTasksOnly"
    results = []
    for count, (bucket, key, version_id) in enumerate(tasks, start=1):
        PACE.wait(job, count - 1)
        if job.interrupted():
            break
        status, http_status, code, message = run_task(bucket, key, version_id, operation)
        if status == "failed" or not failed_only:
            results.append((bucket, encode_key(key), version_id or "", status, http_status, code, message))
        with job.lock:
            if status == "failed":
                job.failed += 1
            else:
                job.succeeded += 1
            over_threshold = count >= FAILURE_THRESHOLD_TASKS and job.failed * 2 > count
        if over_threshold:
            with job.lock:
                job.failure_reasons.append({"FailureCode": FAILURE_THRESHOLD[0], "FailureReason": FAILURE_THRESHOLD[1]})
            break
    return results


def run_job(job, include_noncurrent):
    """The job's thread: from New to a terminal status."""
    with job.lock:
        if job.interrupted():
            return
        job.set_status("Preparing")
    try:
        tasks = _prepare(job, include_noncurrent)
    except Exception as exc:  # pylint: disable=broad-except  # a manifest S3 cannot read fails the job
        with job.lock:
            job.failure_reasons.append({"FailureCode": "ManifestReadFailure", "FailureReason": str(exc)[:256]})
            if not job.interrupted():
                job.set_status("Failed")
        return
    with job.lock:
        if job.interrupted():
            return
        job.total = len(tasks)
        # A job that needs confirmation waits Suspended (its task count known) for UpdateJobStatus.
        job.set_status("Suspended" if job.request.get("ConfirmationRequired") else "Ready")
        job.lock.wait_for(lambda: job.status != "Suspended" or job.interrupted())
        if job.interrupted():
            return
        job.set_status("Active")
    results = _run_tasks(job, tasks)
    if job.stopped:
        return
    if job.request["Report"].get("Enabled") and job.succeeded + job.failed > 0:
        try:
            write_report(job, results)
        except MissingBucket:
            with job.lock:
                job.failure_reasons.append({"FailureCode": "ReportWriteFailure",
                                            "FailureReason": "The report bucket no longer exists."})
    with job.lock:
        job.set_status("Failed" if job.failure_reasons else "Cancelled" if job.cancel_requested else "Complete")


def start(job, include_noncurrent):
    job.thread = threading.Thread(target=run_job, args=(job, include_noncurrent), daemon=True,
                                  name=f"s3-batch-job-{job.job_id}")
    job.thread.start()


def _patch_reset(original):
    """The endpoint's reset (moto's) stops and forgets every job first."""
    @functools.wraps(original)
    def reset(self):
        STORE.clear()
        return original(self)
    return reset


_installed = False


def install():
    global _installed
    if _installed:
        return
    MotoAPIBackend.reset = _patch_reset(MotoAPIBackend.reset)
    _installed = True
