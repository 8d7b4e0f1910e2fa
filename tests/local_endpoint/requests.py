"""Tell which AWS service and API action an HTTP request is for.

The fault layer and the request counters match on (service, action). The
service comes from the SigV4 credential scope every SDK request carries; the
action from the protocol: the X-Amz-Target header (JSON protocols), the form
body's Action (query protocols) or, for S3's REST protocol, method, key and
sub-resource. S3 Control signs as `s3` too: its requests (versioned path,
x-amz-account-id header) are service `s3control`, actions named by method and
path (CreateJob, DescribeJob, ListJobs, UpdateJobStatus, UpdateJobPriority).
"""

import re
from io import BytesIO
from urllib.parse import parse_qs

_CREDENTIAL_SCOPE = re.compile(r"Credential=[^/]+/\d{8}/[^/]+/([^/]+)/aws4_request")

# S3 object sub-resources that name their own API action.
_S3_OBJECT_SUBRESOURCES = {
    "GET": {"tagging": "GetObjectTagging", "acl": "GetObjectAcl", "retention": "GetObjectRetention",
            "legal-hold": "GetObjectLegalHold", "attributes": "GetObjectAttributes", "uploadId": "ListParts"},
    "PUT": {"tagging": "PutObjectTagging", "acl": "PutObjectAcl", "retention": "PutObjectRetention",
            "legal-hold": "PutObjectLegalHold", "encryption": "UpdateObjectEncryption"},
    "POST": {"uploads": "CreateMultipartUpload", "uploadId": "CompleteMultipartUpload"},
    "DELETE": {"tagging": "DeleteObjectTagging", "uploadId": "AbortMultipartUpload"},
}
_S3_OBJECT_ACTIONS = {"GET": "GetObject", "HEAD": "HeadObject", "PUT": "PutObject", "DELETE": "DeleteObject"}
_S3_BUCKET_ACTIONS = {"GET": "ListObjects", "HEAD": "HeadBucket", "PUT": "CreateBucket", "DELETE": "DeleteBucket",
                      "POST": "DeleteObjects"}
S3CONTROL_PATH_PREFIX = "/v20180820/"
S3CONTROL_JOBS_PATH = "/v20180820/jobs"
# S3 Control Batch Operations actions by (method, what follows /jobs/{id}: "" for the collection, "id" for a job).
_S3CONTROL_JOB_ACTIONS = {
    ("POST", ""): "CreateJob", ("GET", ""): "ListJobs", ("GET", "id"): "DescribeJob",
    ("POST", "status"): "UpdateJobStatus", ("POST", "priority"): "UpdateJobPriority",
    ("GET", "tagging"): "GetJobTagging", ("PUT", "tagging"): "PutJobTagging", ("DELETE", "tagging"): "DeleteJobTagging",
}


def service_of(environ):
    """The SigV4 signing name of the request (`s3control` for S3 Control), or None for an unsigned one."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    service = match.group(1) if match else None
    if (service == "s3" and environ.get("PATH_INFO", "").startswith(S3CONTROL_PATH_PREFIX)
            and environ.get("HTTP_X_AMZ_ACCOUNT_ID")):
        return "s3control"
    return service


def s3control_job_request(method, path):
    """(action or None, job id or None) of an S3 Control jobs request; None for any other path."""
    if path != S3CONTROL_JOBS_PATH and not path.startswith(S3CONTROL_JOBS_PATH + "/"):
        return None
    parts = [part for part in path[len(S3CONTROL_JOBS_PATH):].split("/") if part]
    job_id = parts[0] if parts else None
    what = "" if not parts else "id" if len(parts) == 1 else "/".join(parts[1:])
    return _S3CONTROL_JOB_ACTIONS.get((method, what)), job_id


def buffered_body(environ):
    """Read the request body once and put it back so the app can read it too."""
    try:
        length = int(environ.get("CONTENT_LENGTH") or 0)
    except ValueError:
        length = 0
    body = environ["wsgi.input"].read(length) if length else b""
    environ["wsgi.input"] = BytesIO(body)
    return body


def _s3_action(method, path, query):
    parts = path.lstrip("/").split("/", 1)
    has_key = len(parts) == 2 and parts[1] != ""
    if not has_key:
        if method == "GET" and "versions" in query:
            return "ListObjectVersions"
        if method == "GET" and query.get("list-type") == ["2"]:
            return "ListObjectsV2"
        for sub in ("encryption", "versioning", "object-lock", "ownershipControls", "acl", "tagging", "policy"):
            if sub in query:
                verb = {"GET": "Get", "PUT": "Put", "DELETE": "Delete"}.get(method, method)
                return f"{verb}Bucket{sub[0].upper()}{sub[1:]}"
        return _S3_BUCKET_ACTIONS.get(method, method)
    for sub, action in _S3_OBJECT_SUBRESOURCES.get(method, {}).items():
        if sub in query:
            if sub == "uploadId" and method == "PUT":
                continue
            return action
    if method == "PUT" and "partNumber" in query:
        return "UploadPart"
    return _S3_OBJECT_ACTIONS.get(method, method)


def action_of(environ, service):
    """The API action name (ReEncrypt, CopyObject, AttachVolume...), or None."""
    target = environ.get("HTTP_X_AMZ_TARGET")
    if target:
        return target.rsplit(".", 1)[-1]
    method = environ.get("REQUEST_METHOD", "GET")
    query = parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True)
    if service == "s3control":
        job_request = s3control_job_request(method, environ.get("PATH_INFO", "/"))
        return job_request[0] if job_request else None
    if service == "s3":
        action = _s3_action(method, environ.get("PATH_INFO", "/"), query)
        if action == "PutObject" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            return "CopyObject"
        if action == "UploadPart" and environ.get("HTTP_X_AMZ_COPY_SOURCE"):
            return "UploadPartCopy"
        return action
    if "Action" in query:
        return query["Action"][0]
    if method == "POST" and "x-www-form-urlencoded" in environ.get("CONTENT_TYPE", ""):
        form = parse_qs(buffered_body(environ).decode("utf-8", "replace"))
        if "Action" in form:
            return form["Action"][0]
    return None
