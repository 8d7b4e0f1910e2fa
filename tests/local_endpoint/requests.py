"""Tell which AWS service and API action an HTTP request is for.

The fault layer and the request counters match on (service, action). The
service comes from the SigV4 credential scope every SDK request carries; the
action from the protocol: the X-Amz-Target header (JSON protocols), the form
body's Action (query protocols) or, for S3's REST protocol, method, key and
sub-resource.
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


def service_of(environ):
    """The SigV4 signing name of the request, or None for an unsigned one."""
    match = _CREDENTIAL_SCOPE.search(environ.get("HTTP_AUTHORIZATION", ""))
    return match.group(1) if match else None


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
