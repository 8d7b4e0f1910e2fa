"""S3 as AWS documents it, where moto 5.2 differs (see ../shared/moto-fidelity.md).

- UpdateObjectEncryption (`PUT /key?encryption`) re-wraps one object
  version's data key under a KMS key ARN: no new version; body, ETag,
  LastModified, storage class, metadata, tags and checksums kept. Refused for
  unencrypted, SSE-C and DSSE-KMS sources, a key that is not a key ARN, and
  versions under Object Lock. moto treats the request as PutObject and
  replaces the body with the request XML.
  Switches: `s3_update_object_encryption` (default on). Off, the endpoint
  behaves like an S3-compatible one without the API: it answers
  501 NotImplemented; with `s3_update_object_encryption_localstack` on,
  501 InternalFailure ("not yet emulated"), as LocalStack does; with
  `s3_update_object_encryption_as_put` on, it does what moto does (a plain
  PUT that destroys the object), the dangerous variant some S3-compatible
  stores have.
- GetObject, CopyObject and UploadPartCopy of an object whose KMS key is not
  Enabled fail with KMS.DisabledException / KMS.KMSInvalidStateException;
  HeadObject still works (it needs no decryption).
- SSE-KMS writes (PutObject, CopyObject, CreateMultipartUpload) naming a key
  that does not exist fail with KMS.NotFoundException, a disabled one with
  KMS.DisabledException.
- HeadObject (and every object response) reports the key ARN, whatever form
  of reference the write used, DSSE-KMS objects included.
- CopyObject / UploadPartCopy honour x-amz-copy-source-if-match (moto ignores
  it): a mismatch is 412 PreconditionFailed and nothing is written.
- ListObjectVersions reports each version's ChecksumAlgorithm, as
  ListObjectsV2 already does (moto leaves it out).
- Every object has an ACL: moto leaves a completed multipart upload without
  one (GetObjectAcl then fails with a 500); S3 gives it the private default.
- SSE-C: an object written with a customer key cannot be read (HeadObject,
  GetObject, or as a copy source) without the customer key headers: 400, as
  S3 answers. moto ignores SSE-C entirely.
- CopyObject carrying Object Lock settings (or into a bucket with default
  retention) is accepted: S3 asks uploads with Object Lock settings for a
  body checksum (Content-MD5 or x-amz-sdk-checksum-algorithm), but a copy
  uploads no body and the CopyObject API has no member for either header.
  moto applies the upload rule to copies, which no client could satisfy.
- PutObject, CopyObject and CreateMultipartUpload naming an Object Lock
  retain-until date in the past fail with 400 InvalidArgument ("The retain
  until date must be in the future!"); moto accepts the date.
- PutObjectAcl applies the grants of its AccessControlPolicy body (moto
  ignores the body and applies the bucket's ACL; only the canned x-amz-acl
  and x-amz-grant-* headers worked).

How writes land (conditional writes, Suspended versioning) is s3_writes.py.

Control routes (set-up inside the server process):
- `s3_seed`: bulk-create objects without HTTP, for benchmarks and big tests.
- `s3_writer`: arm a one-shot concurrent writer that overwrites (or, with
  `delete`, deletes) an object just before the first matching request for
  it is served (phase `before`), or in the middle of it (phase `during`):
  after a copy read its source or a multipart upload assembled its parts,
  before the write is committed.
- `s3_expire_retention`: move a version's retain-until date into the past,
  as time would.
"""

import datetime
import functools
import threading
from urllib.parse import parse_qs, unquote, urlparse
from xml.etree import ElementTree

from moto.core import DEFAULT_ACCOUNT_ID
from moto.kms.models import kms_backends
from moto.s3 import exceptions as s3_exceptions
from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses
from werkzeug.datastructures import Headers

from ..faults import error_response
from ..requests import buffered_body
from . import CONTROL_ROUTES, INTERCEPTORS, SETTINGS

UPDATE_SWITCH = "s3_update_object_encryption"
UPDATE_AS_PUT_SWITCH = "s3_update_object_encryption_as_put"
UPDATE_LOCALSTACK_SWITCH = "s3_update_object_encryption_localstack"
# What LocalStack answers for an operation it does not emulate.
_LOCALSTACK_NOT_EMULATED = ("The API action 'UpdateObjectEncryption' for service 's3' is either not available in "
                            "your current license plan or has not yet been emulated by LocalStack.")
_REGION = "us-east-1"
_SSE_C_HEADER = "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM"
_COPY_SSE_C_HEADER = "HTTP_X_AMZ_COPY_SOURCE_SERVER_SIDE_ENCRYPTION_CUSTOMER_ALGORITHM"
_KMS_KEY_HEADER = "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION_AWS_KMS_KEY_ID"
_SSE_HEADER = "HTTP_X_AMZ_SERVER_SIDE_ENCRYPTION"
_RETAIN_UNTIL_HEADER = "HTTP_X_AMZ_OBJECT_LOCK_RETAIN_UNTIL_DATE"
WRITER_PHASES = ("before", "during")
_KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")

_installed = False
_writers_lock = threading.Lock()
_writers = []


class S3Error(Exception):
    def __init__(self, status, code, message):
        super().__init__(message)
        self.status = status
        self.code = code
        self.message = message
        self.answer = error_response("s3", status, code, message)


# Backends -----------------------------------------------------------------

def _s3_backend():
    return s3_models.s3_backends[DEFAULT_ACCOUNT_ID]["aws"]


def _kms_key(key_ref, region=_REGION):
    """moto's KMS key for any reference, or None."""
    backend = kms_backends[DEFAULT_ACCOUNT_ID][region]
    try:
        return backend.keys.get(backend.any_id_to_key_id(key_ref))
    except (KeyError, TypeError, AttributeError):
        return None


def _region_of(key_ref):
    if key_ref and key_ref.startswith("arn:"):
        return key_ref.split(":")[3]
    return _REGION


def _key_arn(key_ref):
    key = _kms_key(key_ref, _region_of(key_ref))
    return key.arn if key is not None else key_ref


def _require_usable_key(key_ref, missing_ok=False):
    """Raise what S3 relays from KMS when a request needs this key."""
    key = _kms_key(key_ref, _region_of(key_ref))
    if key is None:
        if missing_ok:
            return
        raise S3Error(400, "KMS.NotFoundException", f"Invalid keyId {key_ref}")
    if key.key_state == "Disabled":
        raise S3Error(400, "KMS.DisabledException", f"{key.arn} is disabled.")
    if key.key_state != "Enabled":
        raise S3Error(400, "KMS.KMSInvalidStateException", f"{key.arn} is {key.key_state}.")


# Request parsing -----------------------------------------------------------

def _wsgi_text(value):
    """WSGI hands paths over as latin-1 decoded bytes; S3 keys are UTF-8."""
    return value.encode("latin-1").decode("utf-8", "replace")


def _bucket_and_key(environ):
    parts = _wsgi_text(environ.get("PATH_INFO", "")).lstrip("/").split("/", 1)
    return parts[0], (parts[1] if len(parts) == 2 else "")


def _version_of(environ):
    return parse_qs(environ.get("QUERY_STRING", ""), keep_blank_values=True).get("versionId", [None])[0]


def _copy_source(environ):
    source = urlparse(_wsgi_text(environ.get("HTTP_X_AMZ_COPY_SOURCE", "")))
    bucket, _sep, key = unquote(source.path).lstrip("/").partition("/")
    return bucket, key, parse_qs(source.query).get("versionId", [None])[0]


def _stored_object(bucket, key, version_id):
    """moto's FakeKey for the version (current when version_id is None), or None."""
    try:
        found = _s3_backend().get_object(bucket, key, version_id)
    except Exception:  # pylint: disable=broad-except  # NoSuchBucket and friends: moto answers those itself
        return None
    return found if isinstance(found, s3_models.FakeKey) else None


# Behaviours ----------------------------------------------------------------

def _check_readable(stored, sse_c_header_present):
    """Reading the bytes needs the data key: the KMS key must be usable, the SSE-C key given."""
    if getattr(stored, "sse_customer_algorithm", None) and not sse_c_header_present:
        raise S3Error(400, "InvalidRequest", "The object was stored using a form of Server Side Encryption. "
                                             "The correct parameters must be provided to retrieve the object.")
    if stored.encryption in _KMS_ALGORITHMS and stored.kms_key_id:
        _require_usable_key(stored.kms_key_id, missing_ok=True)


def _check_head(stored, environ):
    if getattr(stored, "sse_customer_algorithm", None) and _SSE_C_HEADER not in environ:
        # A HEAD answer has no body: botocore reports the bare status.
        raise S3Error(400, "400", "Bad Request")


def _check_copy_condition(stored, environ):
    expected = environ.get("HTTP_X_AMZ_COPY_SOURCE_IF_MATCH")
    if expected and expected.strip('"') != stored.etag.strip('"'):
        raise S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")


def _normalise_write_key(environ):
    """Validate the KMS key a write names and store it as its ARN, as S3 does."""
    if environ.get(_SSE_HEADER) not in _KMS_ALGORITHMS or not environ.get(_KMS_KEY_HEADER):
        return
    key_ref = environ[_KMS_KEY_HEADER]
    _require_usable_key(key_ref)
    environ[_KMS_KEY_HEADER] = _key_arn(key_ref)


def _check_retain_until(environ):
    """S3 refuses a write whose Object Lock retention would already be over."""
    value = environ.get(_RETAIN_UNTIL_HEADER)
    if value and _parse_date(value) <= datetime.datetime.now(datetime.timezone.utc):
        raise S3Error(400, "InvalidArgument", "The retain until date must be in the future!")


def _parse_date(value):
    until = datetime.datetime.fromisoformat(str(value).replace("Z", "+00:00"))
    return until if until.tzinfo is not None else until.replace(tzinfo=datetime.timezone.utc)


def _object_locked(stored):
    if stored.lock_legal_status == "ON":
        return True
    if stored.lock_mode and stored.lock_until:
        return _parse_date(stored.lock_until) > datetime.datetime.now(datetime.timezone.utc)
    return False


def _requested_encryption(body):
    """(key ARN, bucket key enabled) from an UpdateObjectEncryption body."""
    try:
        root = ElementTree.fromstring(body)
    except ElementTree.ParseError:
        raise S3Error(400, "MalformedXML", "The XML you provided was not well-formed.") from None
    fields = {element.tag.rsplit("}", 1)[-1]: (element.text or "").strip() for element in root.iter()}
    if "SSE-KMS" not in fields:
        raise S3Error(400, "InvalidRequest", "Requests that modify an object encryption configuration require a valid "
                                             "new encryption type. Valid values are SSEKMS.")
    key_arn = fields.get("KMSKeyArn", "")
    if not (key_arn.startswith("arn:") and ":key/" in key_arn):
        raise S3Error(400, "InvalidRequest", "Requests that modify an object's encryption type to SSE-KMS require an "
                                             "Amazon Web Services KMS key Amazon Resource Name (ARN).")
    bucket_key = fields.get("BucketKeyEnabled", "false").lower()
    if bucket_key not in ("true", "false"):
        raise S3Error(400, "InvalidRequest", "The BucketKeyEnabled value isn't valid. Valid values are true or false.")
    return key_arn, bucket_key


def _update_object_encryption(environ):
    bucket, key = _bucket_and_key(environ)
    version_id = _version_of(environ)
    key_arn, bucket_key = _requested_encryption(buffered_body(environ))
    update_object_encryption(bucket, key, version_id, key_arn, bucket_key)
    return "200 OK", [("Content-Length", "0")], b""


def update_object_encryption(bucket, key, version_id, key_arn, bucket_key):
    """UpdateObjectEncryption of one version (the current one when version_id is None), in process.

    key_arn is a key ARN, bucket_key "true" or "false". Raises S3Error with what the API would answer, so
    S3 Batch Operations tasks (s3control_batch_jobs.py) fail exactly as the request would.
    """
    stored = _stored_object(bucket, key, version_id)
    if stored is None:
        raise S3Error(404, "NoSuchKey", "The specified key does not exist.")
    if getattr(stored, "sse_customer_algorithm", None) or stored.encryption not in ("AES256", "aws:kms"):
        raise S3Error(400, "InvalidRequest", "The UpdateObjectEncryption operation doesn't support this source object: "
                                             "only source objects encrypted with SSE-S3 or SSE-KMS are supported.")
    if _object_locked(stored):
        raise S3Error(403, "AccessDenied", "The encryption type for the specified object can't be updated because "
                                           "that object is protected by S3 Object Lock.")
    if stored.encryption == "aws:kms" and stored.kms_key_id:
        _require_usable_key(stored.kms_key_id, missing_ok=True)
    _require_usable_key(key_arn)
    with stored.lock:
        stored.encryption = "aws:kms"
        stored.kms_key_id = key_arn
        stored.bucket_key_enabled = bucket_key


def run_armed_writer(action, bucket, key, phase):
    """Fire the one-shot writer armed (`s3_writer` route) for this request and phase, if any."""
    with _writers_lock:
        armed = [writer for writer in _writers if (writer["action"], writer["bucket"], writer["key"], writer["phase"])
                 == (action, bucket, key, phase)]
        if not armed:
            return
        writer = armed[0]
        _writers.remove(writer)
    if writer["delete"]:
        _s3_backend().delete_object(bucket, key)
    else:
        _s3_backend().put_object(bucket, key, writer["body"].encode())


def intercept(environ, service, action):
    if service != "s3":
        return None
    try:
        run_armed_writer(action, *_bucket_and_key(environ), phase="before")
        if action == "UpdateObjectEncryption":
            if SETTINGS.enabled(UPDATE_SWITCH):
                return _update_object_encryption(environ)
            if SETTINGS.enabled(UPDATE_AS_PUT_SWITCH):
                return None
            if SETTINGS.enabled(UPDATE_LOCALSTACK_SWITCH):
                raise S3Error(501, "InternalFailure", _LOCALSTACK_NOT_EMULATED)
            raise S3Error(501, "NotImplemented", "A header you provided implies functionality that is not implemented.")
        if action in ("GetObject", "HeadObject"):
            bucket, key = _bucket_and_key(environ)
            stored = _stored_object(bucket, key, _version_of(environ))
            if stored is not None and action == "HeadObject":
                _check_head(stored, environ)
            elif stored is not None:
                _check_readable(stored, _SSE_C_HEADER in environ)
        if action in ("CopyObject", "UploadPartCopy"):
            stored = _stored_object(*_copy_source(environ))
            if stored is not None:
                _check_copy_condition(stored, environ)
                _check_readable(stored, _COPY_SSE_C_HEADER in environ)
        if action in ("PutObject", "CopyObject", "CreateMultipartUpload"):
            _check_retain_until(environ)
            _normalise_write_key(environ)
    except S3Error as exc:
        return exc.answer
    return None


# moto patches ---------------------------------------------------------------

def _patch_response_dict(original):
    """Report the key ARN (DSSE-KMS objects too) however the write named the key."""
    @functools.wraps(original)
    def response_dict(self):
        headers = original.fget(self)
        if self.encryption in _KMS_ALGORITHMS and self.kms_key_id:
            headers["x-amz-server-side-encryption-aws-kms-key-id"] = _key_arn(self.kms_key_id)
        if getattr(self, "sse_customer_algorithm", None):
            headers.pop("x-amz-server-side-encryption", None)
            headers["x-amz-server-side-encryption-customer-algorithm"] = self.sse_customer_algorithm
            headers["x-amz-server-side-encryption-customer-key-MD5"] = self.sse_customer_key_md5
        return headers
    return property(response_dict)


def _patch_set_acl(original):
    """An object always has an ACL: the private default where none was given."""
    @functools.wraps(original)
    def set_acl(self, acl):
        return original(self, acl if acl is not None else s3_models.get_canned_acl("private"))
    return set_acl


def _patch_put_object_acl(original):
    """Apply the grants of an AccessControlPolicy body; headers (canned ACL, x-amz-grant-*) still win."""
    @functools.wraps(original)
    def put_object_acl(self):
        if not self.body or self._acl_from_headers(self.headers) is not None:
            return original(self)
        acl = self._acl_from_body() or s3_models.FakeAcl([])
        stored = self.backend.get_object(self.bucket_name, self.parse_key_name(), version_id=self._get_param("versionId"))
        if stored is None:
            raise s3_exceptions.MissingKey(key=self.parse_key_name())
        stored.set_acl(acl)
        return 200, self._get_cors_headers_other(), ""
    return put_object_acl


def _patch_list_object_versions(original):
    """Add each version's ChecksumAlgorithm to the listing moto builds."""
    @functools.wraps(original)
    def list_object_versions(self):
        serialize = self.serialized

        def with_checksum_algorithms(action_result):
            bucket = self.backend.get_bucket(self.bucket_name)
            for entry in action_result.result.get("Versions", []):
                for stored in bucket.keys.getlist(entry["Key"], []):
                    if str(stored.version_id) == str(entry["VersionId"]) and stored.checksum_algorithm:
                        entry["ChecksumAlgorithm"] = [stored.checksum_algorithm]
            return serialize(action_result)

        self.serialized = with_checksum_algorithms
        try:
            return original(self)
        finally:
            del self.serialized
    return list_object_versions


def _patch_put_object(original):
    """Remember that an object was written with a customer key (moto forgets)."""
    @functools.wraps(original)
    def put_object(self):
        answer = original(self)
        algorithm = self.headers.get("x-amz-server-side-encryption-customer-algorithm")
        if algorithm:
            stored = self.backend.get_object(self.bucket_name, self.parse_key_name())
            stored.encryption = None
            stored.sse_customer_algorithm = algorithm
            stored.sse_customer_key_md5 = self.headers.get("x-amz-server-side-encryption-customer-key-MD5", "")
        return answer
    return put_object


def _patch_key_response_put(original):
    """Spare copies moto's upload-only Object Lock checksum rule (see the module docstring)."""
    @functools.wraps(original)
    def _key_response_put(self, query, key_name):
        if "x-amz-copy-source" in self.headers and not self.headers.get("x-amz-sdk-checksum-algorithm"):
            headers = Headers(self.headers)
            headers["x-amz-sdk-checksum-algorithm"] = "not-applicable-to-a-copy"
            self.headers = headers
        return original(self, query, key_name)
    return _key_response_put


# Control routes --------------------------------------------------------------

def _seed(method, payload):
    """Create `count` objects (each with `versions` versions) in an existing bucket.

    payload: bucket, count, prefix ("obj-"), size (16 bytes), versions (1),
    kms_key_id (SSE-KMS under it; SSE-S3 when absent), storage_class,
    public_read_every (every Nth object gets the public-read canned ACL; none when absent).
    """
    del method
    backend = _s3_backend()
    bucket = payload["bucket"]
    count = int(payload["count"])
    prefix = payload.get("prefix", "obj-")
    body = b"x" * int(payload.get("size", 16))
    key_ref = payload.get("kms_key_id")
    encryption = "aws:kms" if key_ref else "AES256"
    kms_key_id = _key_arn(key_ref) if key_ref else None
    public_read_every = int(payload.get("public_read_every") or 0)
    width = len(str(count))
    for index in range(count):
        for _version in range(int(payload.get("versions", 1))):
            stored = backend.put_object(bucket, f"{prefix}{index:0{width}d}", body, storage=payload.get("storage_class"),
                                        encryption=encryption, kms_key_id=kms_key_id, disable_notification=True)
            if public_read_every and index % public_read_every == 0:
                stored.set_acl(s3_models.get_canned_acl("public-read"))
    return {"seeded": count}


def _arm_writer(method, payload):
    """Overwrite bucket/key with `body` (or delete it, with `delete`) at the first `action` request for it.

    phase `before` (the default): before the request is served; `during`: between the request's read of what it
    writes (a copy's source, an upload's parts) and the write itself.
    """
    if method == "DELETE":
        with _writers_lock:
            _writers.clear()
        return {"armed": 0}
    phase = payload.get("phase", "before")
    if phase not in WRITER_PHASES:
        raise ValueError(f"phase is {phase!r}; expected one of {WRITER_PHASES}")
    writer = {"bucket": payload["bucket"], "key": payload["key"], "body": payload.get("body", "changed"),
              "action": payload.get("action", "CopyObject"), "phase": phase, "delete": bool(payload.get("delete"))}
    with _writers_lock:
        _writers.append(writer)
        return {"armed": len(_writers)}


def _expire_retention(method, payload):
    """Set the retain-until date of bucket/key (version_id: the current one when absent) to a day ago."""
    del method
    stored = _stored_object(payload["bucket"], payload["key"], payload.get("version_id"))
    if stored is None:
        raise KeyError(f"no object {payload['bucket']}/{payload['key']}")
    stored.lock_until = (datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(days=1)).strftime(
        "%Y-%m-%dT%H:%M:%SZ")
    return {"retain_until": stored.lock_until}


def install():
    global _installed
    if _installed:
        return
    SETTINGS.declare(UPDATE_SWITCH, True)
    SETTINGS.declare(UPDATE_AS_PUT_SWITCH, False)
    SETTINGS.declare(UPDATE_LOCALSTACK_SWITCH, False)
    s3_models.FakeKey.response_dict = _patch_response_dict(s3_models.FakeKey.response_dict)
    s3_models.FakeKey.set_acl = _patch_set_acl(s3_models.FakeKey.set_acl)
    s3_responses.S3Response.put_object_acl = _patch_put_object_acl(s3_responses.S3Response.put_object_acl)
    s3_responses.S3Response.put_object = _patch_put_object(s3_responses.S3Response.put_object)
    s3_responses.S3Response._key_response_put = _patch_key_response_put(s3_responses.S3Response._key_response_put)
    s3_responses.S3Response.list_object_versions = _patch_list_object_versions(
        s3_responses.S3Response.list_object_versions)
    INTERCEPTORS.append(intercept)
    CONTROL_ROUTES["s3_seed"] = _seed
    CONTROL_ROUTES["s3_writer"] = _arm_writer
    CONTROL_ROUTES["s3_expire_retention"] = _expire_retention
    _installed = True
