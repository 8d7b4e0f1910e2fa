"""S3 Batch Operations (S3 Control jobs) for S3UpdateObjectEncryption, which moto does not implement (404).

S3 Control REST-XML, read and written with botocore's own s3control model:
CreateJob (POST /v20180820/jobs), ListJobs (GET /v20180820/jobs: jobStatuses,
maxResults, nextToken), DescribeJob (GET /v20180820/jobs/{id}),
UpdateJobStatus (POST .../{id}/status?requestedJobStatus=&statusUpdateReason=)
and UpdateJobPriority (POST .../{id}/priority?priority=), for the account in
the x-amz-account-id header. S3 Control signs as `s3`: requests are told
apart by their path (requests.py names them service `s3control`), whatever
the Host (`123456789012.127.0.0.1:<port>` through the endpoint as an HTTP
proxy, or `127.0.0.1:<port>`). Other S3 Control paths are moto's.
The jobs themselves (statuses, threads, manifests, reports) are
s3control_batch_jobs.py.

What AWS documents, and what the endpoint does:
- Statuses New, Preparing, Suspended (ConfirmationRequired, until
  UpdateJobStatus Ready), Ready, Active, Complete, Failed, Cancelling,
  Cancelled; UpdateJobStatus Ready only from Suspended, Cancelled from New,
  Preparing, Suspended, Ready or Active, anything else JobStatusException
  (https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-job-status.html).
  A job fails when more than half of at least 1,000 tasks failed (the same
  page, "Tracking job failures"). The FailureCodes are this endpoint's
  names (AWS documents none): TaskFailureThresholdExceeded,
  ManifestReadFailure (a manifest that cannot be read or parsed while
  Preparing), ReportWriteFailure (the report bucket went away). Tags are
  accepted and kept with the request only.
- Operation S3UpdateObjectEncryption only (KMSKeyArn must be a key ARN, as
  the model's pattern says: else BadRequestException); any other operation,
  the S3 Control job tagging routes and Filter.EligibleForReplication are
  501 NotImplemented, as an S3-compatible endpoint answers what it lacks.
- Manifest: either `ManifestGenerator.S3JobManifestGenerator` (SourceBucket;
  Filter MatchAnyObjectEncryption SSE-KMS by KmsKeyArn and BucketKeyEnabled,
  SSE-S3, DSSE-KMS, SSE-C, NOT-SSE; KeyNameConstraint MatchAnyPrefix /
  Suffix / Substring; CreatedAfter / CreatedBefore (exclusive);
  ObjectSizeGreaterThanBytes / LessThanBytes; MatchAnyStorageClass;
  ObjectReplicationStatuses (every object here is NONE); all criteria must
  hold), or a given `Manifest` (S3BatchOperations_CSV_20180820 with Fields
  Bucket, Key[, VersionId] and Ignore, or an S3InventoryReport_CSV_20161130
  manifest.json such as a generated one or an inventory report), never both
  (BadRequestException). The manifest object must exist and its ETag match
  Location.ETag: checked at CreateJob (BadRequestException). Keys in
  manifests and reports are URL-encoded (form encoding: read them with
  unquote_plus).
- Generated manifest output (EnableManifestOutput, ManifestOutputLocation,
  format S3InventoryReport_CSV_20211130): `<ManifestPrefix>/job-<id>/manifest.json`
  in the S3 Inventory manifest layout (sourceBucket, destinationBucket,
  version, creationTimestamp, fileFormat CSV, fileSchema "Bucket, Key,
  VersionId", files with key, size, MD5checksum) naming one gzipped CSV under
  `data/`; encrypted as ManifestEncryption says (SSE-S3 by default); written
  during Preparing, so a Suspended job already shows it in DescribeJob's
  GeneratedManifestDescriptor (Format, Location ObjectArn and ETag).
- Noncurrent versions: AWS documents the generator's filters but not whether
  it lists noncurrent versions. Searched (docs, pages, issues): the API
  reference (API_control_S3JobManifestGenerator.html,
  API_control_JobManifestGeneratorFilter.html), the user guide pages
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-create-job.html
  (a manifest row without a version id acts on the current version) and
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-update-encryption.html
  ("the generated object list includes only source bucket objects with the
  indicated server-side encryption type"), and aws-cli issues #7240 and
  #7830: none says. The conservative reading is modelled: the generator lists
  current versions only, each row with its version id. Switch
  `s3control_generator_includes_noncurrent` (default off) lists every
  version instead, so a test can run both readings.
- Tasks: one per manifest row, run in process through fidelity/s3.py's
  UpdateObjectEncryption, so they fail as that API does (Object Lock,
  SSE-C, DSSE-KMS, unencrypted sources, a missing key or version, a missing
  or disabled destination key); a succeeded task's ResultMessage is
  "Successful".
- Completion report (Report_CSV_20180820, ReportScope AllTasks or
  FailedTasksOnly): `<Prefix>/job-<id>/manifest.json` (Format,
  ReportCreationDate, Results: TaskExecutionStatus, Bucket, MD5Checksum, Key;
  ReportSchema) naming `results/<sha1>.csv` files, one per task status, as
  https://docs.aws.amazon.com/AmazonS3/latest/userguide/batch-ops-examples-reports.html
  lays it out; written when a job ends Complete, Failed or Cancelled after at
  least one task ran (batch-ops-create-job.html). That page's ReportSchema
  line says "TaskStatus, ErrorCode, HTTPStatusCode", its example rows
  (`...,failed,200,PermanentFailure,...`, `...,succeeded,200,,...`) put
  HTTPStatusCode before ErrorCode: rows here follow the examples (Bucket,
  Key, VersionId, TaskStatus, HTTPStatusCode, ErrorCode, ResultMessage) and
  the manifest keeps AWS's schema line, so a reader must go by content.
- CreateJob validation. AWS documents neither what CreateJob answers for a
  role S3 cannot assume nor for a missing report bucket; the endpoint
  refuses both at CreateJob with BadRequestException (the closest error the
  model lists for CreateJob), so nothing starts: a RoleArn that is no IAM
  role of moto's IAM, or whose trust policy has no Allow of sts:AssumeRole
  for the service principal batchoperations.s3.amazonaws.com (conditions are
  not evaluated); a missing report bucket (Report.Enabled), manifest-output
  bucket or source bucket. Required members missing: BadRequestException.
- ClientRequestToken: the same token with the same request answers the same
  JobId; with a different request, IdempotencyException (409).
- ListJobs: newest first, MaxResults 1-1000 (default 1000), NextToken
  opaque; an unknown token is InvalidNextTokenException.

Control route `s3control_batch_pace` (POST {"seconds_per_task": s,
"pause_after_tasks": n}, DELETE to clear): slow every job's tasks down, or
park every job after its n-th task until the pace changes, the job is
cancelled or the endpoint reset (which stops and forgets every job).
"""

import base64
import binascii
import functools
import json
import re
from urllib.parse import parse_qs
from xml.etree import ElementTree

import botocore.session
from botocore.parsers import RestXMLParser
from botocore.serialize import RestXMLSerializer
from moto.iam.models import iam_backends
from moto.s3.exceptions import MissingBucket

from ..faults import error_response
from ..requests import buffered_body, s3control_job_request
from . import CONTROL_ROUTES, INTERCEPTORS, SETTINGS
from . import s3 as s3_fidelity
from . import s3control_batch_jobs as batch_jobs

NONCURRENT_SWITCH = "s3control_generator_includes_noncurrent"
OPERATION = "S3UpdateObjectEncryption"
BATCH_PRINCIPAL = "batchoperations.s3.amazonaws.com"
MANIFEST_FORMATS = ("S3BatchOperations_CSV_20180820", "S3InventoryReport_CSV_20161130")
MANIFEST_FIELDS = ("Ignore", "Bucket", "Key", "VersionId")
REPORT_SCOPES = ("AllTasks", "FailedTasksOnly")
MAX_RESULTS = 1000
_NAMESPACE = "http://awss3control.amazonaws.com/doc/2018-08-20/"
_KEY_ARN = re.compile(r"arn:aws[a-zA-Z0-9-]*:kms:[a-z0-9-]+:[0-9]{12}:key/[a-zA-Z0-9-]+")
_ACCOUNT_ID = re.compile(r"\d{12}")
_SIGNING_REGION = re.compile(r"Credential=[^/]+/\d{8}/([^/]+)/")
_STATUS = {"BadRequestException": 400, "InvalidRequestException": 400, "InvalidNextTokenException": 400,
           "NotFoundException": 404, "IdempotencyException": 409, "JobStatusException": 409, "NotImplemented": 501}


class BatchError(Exception):
    def __init__(self, code, message):
        super().__init__(message)
        self.code = code

    def answer(self):
        return error_response("s3control", _STATUS[self.code], self.code, str(self))


def _bad_request(message):
    return BatchError("BadRequestException", message)


# Wire format ---------------------------------------------------------------------

@functools.lru_cache(maxsize=None)
def _model():
    return botocore.session.get_session().get_service_model("s3control")


def _parse_body(operation, body):
    """A request body as botocore's client would have built it from these parameters."""
    shape = _model().operation_model(operation).input_shape
    try:
        parsed = RestXMLParser().parse({"body": body, "headers": {}, "status_code": 200}, shape)
    except Exception as exc:  # pylint: disable=broad-except  # botocore's parse errors have no common base
        raise _bad_request(f"The XML you provided was not well-formed: {exc}") from None
    parsed.pop("ResponseMetadata", None)
    return parsed


def _pruned(value):
    """Drop None members: botocore's serializer stops at the first one."""
    if isinstance(value, dict):
        return {key: _pruned(item) for key, item in value.items() if item is not None}
    if isinstance(value, list):
        return [_pruned(item) for item in value]
    return value


def _answer(operation, result):
    shape = _model().operation_model(operation).output_shape
    pseudo_root = ElementTree.Element("")
    RestXMLSerializer()._serialize(shape, _pruned(result), pseudo_root, shape.name)  # pylint: disable=protected-access
    root = list(pseudo_root)[0]
    root.set("xmlns", _NAMESPACE)
    body = b'<?xml version="1.0" encoding="UTF-8"?>\n' + ElementTree.tostring(root, encoding="utf-8")
    return "200 OK", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body


# CreateJob validation --------------------------------------------------------------

def _require_bucket(arn, what):
    try:
        s3_fidelity._s3_backend().get_bucket(batch_jobs.bucket_of_arn(arn))  # pylint: disable=protected-access
    except MissingBucket:
        raise _bad_request(f"The {what} bucket {arn} does not exist.") from None


def _statements(document):
    statements = document.get("Statement", [])
    return statements if isinstance(statements, list) else [statements]


def _as_list(value):
    return value if isinstance(value, list) else [value]


def _trusts_batch_operations(policy_document):
    document = json.loads(policy_document) if isinstance(policy_document, str) else policy_document
    for statement in _statements(document):
        actions = _as_list(statement.get("Action", []))
        principal = statement.get("Principal", {})
        services = _as_list(principal.get("Service", [])) if isinstance(principal, dict) else [principal]
        if (statement.get("Effect") == "Allow" and any(action in ("sts:AssumeRole", "sts:*", "*") for action in actions)
                and any(service in (BATCH_PRINCIPAL, "*") for service in services)):
            return True
    return False


def _validate_role(account_id, role_arn):
    try:
        role = iam_backends[account_id]["aws"].get_role_by_arn(role_arn)
    except Exception:  # pylint: disable=broad-except  # moto's IAM NotFoundException
        raise _bad_request(f"The role {role_arn} does not exist.") from None
    if not _trusts_batch_operations(role.assume_role_policy_document):
        raise _bad_request(f"S3 Batch Operations cannot assume the role {role_arn}: its trust policy does not allow "
                           f"{BATCH_PRINCIPAL} to call sts:AssumeRole.")


def _validate_operation(operation):
    names = [name for name, value in (operation or {}).items() if value is not None]
    if names != [OPERATION]:
        raise BatchError("NotImplemented", f"This endpoint runs Batch Operations jobs for {OPERATION} only, "
                                           f"not {', '.join(names) or 'an empty Operation'}.")
    key_arn = ((operation[OPERATION].get("ObjectEncryption") or {}).get("SSEKMS") or {}).get("KMSKeyArn", "")
    if not _KEY_ARN.fullmatch(key_arn):
        raise _bad_request(f"ObjectEncryption.SSE-KMS.KMSKeyArn must be a KMS key ARN, not {key_arn!r}.")


def _validate_report(report):
    if not report.get("Enabled"):
        return
    if report.get("Format") != batch_jobs.REPORT_FORMAT:
        raise _bad_request(f"Report.Format must be {batch_jobs.REPORT_FORMAT} when the report is enabled.")
    if report.get("ReportScope", "AllTasks") not in REPORT_SCOPES:
        raise _bad_request(f"Report.ReportScope must be one of {', '.join(REPORT_SCOPES)}.")
    if not report.get("Bucket"):
        raise _bad_request("Report.Bucket is required when the report is enabled.")
    _require_bucket(report["Bucket"], "report")


def _validate_generator(generator):
    _require_bucket(generator["SourceBucket"], "source")
    filters = generator.get("Filter") or {}
    if filters.get("EligibleForReplication") is not None:
        raise BatchError("NotImplemented", "This endpoint replicates nothing: Filter.EligibleForReplication is not "
                                           "implemented.")
    for entry in filters.get("MatchAnyObjectEncryption") or []:
        if len([kind for kind, value in entry.items() if value is not None]) != 1:
            raise _bad_request("Each MatchAnyObjectEncryption entry names exactly one encryption type.")
    if generator.get("EnableManifestOutput"):
        output = generator.get("ManifestOutputLocation")
        if not output:
            raise _bad_request("ManifestOutputLocation is required when EnableManifestOutput is true.")
        if output.get("ManifestFormat") != batch_jobs.GENERATED_FORMAT:
            raise _bad_request(f"ManifestOutputLocation.ManifestFormat must be {batch_jobs.GENERATED_FORMAT}.")
        _require_bucket(output["Bucket"], "manifest output")


def _validate_manifest(manifest):
    spec, location = manifest.get("Spec") or {}, manifest.get("Location") or {}
    if spec.get("Format") not in MANIFEST_FORMATS:
        raise _bad_request(f"Manifest.Spec.Format must be one of {', '.join(MANIFEST_FORMATS)}.")
    fields = spec.get("Fields") or []
    if spec["Format"] == MANIFEST_FORMATS[0] and (
            "Bucket" not in fields or "Key" not in fields or any(field not in MANIFEST_FIELDS for field in fields)):
        raise _bad_request("Manifest.Spec.Fields must name the Bucket and Key columns (and VersionId, Ignore).")
    bucket, key = batch_jobs.object_of_arn(location.get("ObjectArn", ""))
    # pylint: disable-next=protected-access
    stored = s3_fidelity._stored_object(bucket, key, location.get("ObjectVersionId"))
    if stored is None:
        raise _bad_request(f"Reading the manifest failed: {location.get('ObjectArn')} does not exist.")
    if stored.etag.strip('"') != str(location.get("ETag", "")).strip('"'):
        raise _bad_request(f"Reading the manifest failed: the ETag of {location['ObjectArn']} is not "
                           f"{location.get('ETag')}.")


def _validate_create(account_id, request):
    _validate_operation(request.get("Operation"))
    if not 0 <= request["Priority"] <= 2147483647:
        raise _bad_request("Priority must be between 0 and 2147483647.")
    generator = (request.get("ManifestGenerator") or {}).get("S3JobManifestGenerator")
    if (generator is None) == (request.get("Manifest") is None):
        raise _bad_request("Jobs must be created with either a Manifest or a ManifestGenerator, but not both.")
    _validate_role(account_id, request["RoleArn"])
    _validate_report(request["Report"])
    if generator is not None:
        _validate_generator(generator)
    else:
        _validate_manifest(request["Manifest"])


# Operations ------------------------------------------------------------------------

def _job(account_id, job_id):
    job = batch_jobs.STORE.get(account_id, job_id)
    if job is None:
        raise BatchError("NotFoundException", f"The specified job {job_id} does not exist.")
    return job


def _create_job(environ, account_id, _job_id, _query):
    request = _parse_body("CreateJob", buffered_body(environ))
    missing = [field for field in ("Operation", "Report", "ClientRequestToken", "Priority", "RoleArn")
               if request.get(field) is None]
    if missing:
        raise _bad_request(f"Missing required field(s): {', '.join(missing)}.")
    fingerprint = json.dumps({key: value for key, value in request.items() if key != "ClientRequestToken"},
                             sort_keys=True, default=str)
    match = _SIGNING_REGION.search(environ.get("HTTP_AUTHORIZATION", ""))
    include_noncurrent = SETTINGS.enabled(NONCURRENT_SWITCH)
    try:
        job = batch_jobs.STORE.create(
            account_id, match.group(1) if match else "us-east-1", request, fingerprint,
            validate=functools.partial(_validate_create, account_id),
            start=functools.partial(batch_jobs.start, include_noncurrent=include_noncurrent))
    except LookupError:
        raise BatchError("IdempotencyException", f"The ClientRequestToken {request['ClientRequestToken']} was "
                                                 "already used for a different request.") from None
    return _answer("CreateJob", {"JobId": job.job_id})


def _describe(job):
    request = job.request
    with job.lock:
        return {
            "JobId": job.job_id, "ConfirmationRequired": bool(request.get("ConfirmationRequired")),
            "Description": request.get("Description"), "JobArn": job.arn, "Status": job.status,
            "Manifest": request.get("Manifest"), "Operation": request["Operation"], "Priority": job.priority,
            "ProgressSummary": job.progress(), "StatusUpdateReason": job.status_update_reason,
            "FailureReasons": list(job.failure_reasons), "Report": request["Report"],
            "CreationTime": job.creation_time, "TerminationDate": job.termination_date,
            "RoleArn": request["RoleArn"], "SuspendedDate": job.suspended_date,
            "ManifestGenerator": request.get("ManifestGenerator"),
            "GeneratedManifestDescriptor": job.generated_manifest,
        }


def _describe_job(_environ, account_id, job_id, _query):
    return _answer("DescribeJob", {"Job": _describe(_job(account_id, job_id))})


def _list_entry(job):
    with job.lock:
        return {"JobId": job.job_id, "Description": job.request.get("Description"), "Operation": OPERATION,
                "Priority": job.priority, "Status": job.status, "CreationTime": job.creation_time,
                "TerminationDate": job.termination_date, "ProgressSummary": job.progress()}


def _token(sequence):
    return base64.b64encode(f"job-sequence:{sequence}".encode()).decode()


def _sequence_of(token):
    try:
        prefix, _sep, sequence = base64.b64decode(token, validate=True).decode().partition(":")
        if prefix == "job-sequence":
            return int(sequence)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise BatchError("InvalidNextTokenException", "The continuation token provided is invalid.")


def _list_jobs(_environ, account_id, _job_id, query):
    statuses = set(query.get("jobStatuses", []))
    try:
        max_results = int(query.get("maxResults", [MAX_RESULTS])[0]) or MAX_RESULTS
    except ValueError:
        raise BatchError("InvalidRequestException", "maxResults must be an integer.") from None
    if not 0 < max_results <= MAX_RESULTS:
        raise BatchError("InvalidRequestException", f"maxResults must be between 0 and {MAX_RESULTS}.")
    after = _sequence_of(query["nextToken"][0]) if query.get("nextToken") else None
    jobs = [job for job in batch_jobs.STORE.of_account(account_id)
            if (after is None or job.sequence < after) and (not statuses or job.status in statuses)]
    page = jobs[:max_results]
    result = {"Jobs": [_list_entry(job) for job in page]}
    if len(jobs) > max_results:
        result["NextToken"] = _token(page[-1].sequence)
    return _answer("ListJobs", result)


def _update_job_status(_environ, account_id, job_id, query):
    requested = query.get("requestedJobStatus", [""])[0]
    reason = query.get("statusUpdateReason", [None])[0]
    job = _job(account_id, job_id)
    transitions = {"Ready": job.confirm, "Cancelled": job.cancel}
    if requested not in transitions:
        raise _bad_request(f"requestedJobStatus must be Ready or Cancelled, not {requested!r}.")
    try:
        status = transitions[requested](reason)
    except ValueError as exc:
        raise BatchError("JobStatusException", f"Job {job_id} is {exc}: it cannot be moved to {requested}.") from None
    return _answer("UpdateJobStatus", {"JobId": job_id, "Status": status,
                                       "StatusUpdateReason": job.status_update_reason})


def _update_job_priority(_environ, account_id, job_id, query):
    try:
        priority = int(query.get("priority", [""])[0])
    except ValueError:
        raise _bad_request("priority must be an integer.") from None
    if not 0 <= priority <= 2147483647:
        raise _bad_request("priority must be between 0 and 2147483647.")
    job = _job(account_id, job_id)
    with job.lock:
        job.priority = priority
    return _answer("UpdateJobPriority", {"JobId": job_id, "Priority": priority})


_HANDLERS = {"CreateJob": _create_job, "DescribeJob": _describe_job, "ListJobs": _list_jobs,
             "UpdateJobStatus": _update_job_status, "UpdateJobPriority": _update_job_priority}


def intercept(environ, service, action):
    if service != "s3control":
        return None
    job_request = s3control_job_request(environ.get("REQUEST_METHOD", "GET"), environ.get("PATH_INFO", ""))
    if job_request is None:
        return None
    job_id = job_request[1]
    try:
        handler = _HANDLERS.get(action)
        if handler is None:
            raise BatchError("NotImplemented", f"{action or 'This request'} is not implemented by this endpoint.")
        account_id = environ.get("HTTP_X_AMZ_ACCOUNT_ID", "")
        if not _ACCOUNT_ID.fullmatch(account_id):
            raise _bad_request("The x-amz-account-id header must be a 12-digit account id.")
        return handler(environ, account_id, job_id, parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True))
    except BatchError as exc:
        return exc.answer()


def _pace(method, payload):
    """Pace every job's tasks: POST {"seconds_per_task": s, "pause_after_tasks": n}; DELETE clears."""
    if method == "DELETE":
        return batch_jobs.PACE.configure()
    unknown = set(payload) - {"seconds_per_task", "pause_after_tasks"}
    if unknown:
        raise KeyError(f"unknown pace field(s): {sorted(unknown)}")
    return batch_jobs.PACE.configure(**payload)


_installed = False


def install():
    global _installed
    if _installed:
        return
    SETTINGS.declare(NONCURRENT_SWITCH, False)
    INTERCEPTORS.append(intercept)
    CONTROL_ROUTES["s3control_batch_pace"] = _pace
    batch_jobs.install()
    _installed = True
