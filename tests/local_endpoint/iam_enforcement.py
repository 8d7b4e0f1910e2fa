"""IAM authorization on the local endpoint, by moto's own evaluator.

Off unless the endpoint process starts with INITIAL_NO_AUTH_ACTION_COUNT=0
in its environment (`LocalEndpoint(enforce_iam=True)`). Then:

- moto authorizes every request it answers itself (moto.core.authorization:
  from the first request on, the SigV4 access key must belong to an IAM user
  and that user's policies must allow `<signing name>:<action>`). This covers
  the fidelity patches that replace a moto response method too (CloudTrail
  LookupEvents, KMS GetKeyLastUsage, EC2 GetEbsDefaultKmsKeyId), since they
  still run through moto's call_action.
- Before the fidelity interceptors, requests in EXTRA_ACTIONS are authorized
  here by the same moto classes (moto.iam.access_control.IAMRequest) for
  the IAM actions AWS checks that moto does not: S3 UpdateObjectEncryption
  and the S3 Control job calls, which interceptors answer before moto sees
  them, and the KMS permissions S3 and EBS use on the caller's behalf.
- Where moto's name for the IAM action differs from AWS's, AWS's is checked,
  so a policy needs the actions AWS checks and no other: kms:ReEncryptFrom
  and kms:ReEncryptTo for ReEncrypt (IAM_ACTION_NAMES), and the S3 names in
  S3_ACTION_NAMES (moto asks s3:CreateBucket for PutBucketEncryption,
  s3:ListBucket for GetBucketEncryption, and s3:HeadBucket, which IAM does
  not have, for HeadBucket).
- moto's signature check of a GET without a body (the REST-JSON services:
  Lambda, EFS) signs the query parameters as if they were the body, and so
  refused every such request; it signs the empty body sent.
- Every refusal is recorded; the control route `iam_denials` lists them
  (DELETE clears them), so a test sees a denied call that a module
  tolerated (reported a service as unknown, skipped an object) too.
- An administrator user whose access key is the endpoint's default test
  credentials (local_endpoint.CREDENTIALS) exists from the start and after every reset,
  so set-up and assertions keep working; everything else is an IAM user a
  test creates with the IAM API.

What moto does not evaluate (documented in docs/iam/README.md): resources
other than S3 buckets and objects (moto asks about "*" for every other
service, which only a statement with Resource "*" matches, so the test
widens those statements' Resource to "*" when it loads a policy), and
conditions (moto has no request context to compare them with: a condition
is taken as met). moto checks the signature of the requests it answers; an
EXTRA_ACTIONS check takes the user the access key names without re-checking it.
"""

import json
import threading
from xml.sax.saxutils import escape

from moto import settings
from moto.core.exceptions import AccessDeniedError, ServiceException
from moto.core.exceptions import _RESTError as RESTError
from moto.iam.access_control import IAMRequest, IAMRequestBase
from moto.iam.models import iam_backends
from moto.s3 import responses as s3_responses

from . import ACCOUNT_ID, CREDENTIALS, REGION
from .fidelity import CONTROL_ROUTES
# How the S3 fidelity layer reads a request's object; shared so both name the same one.
from .fidelity.s3 import _bucket_and_key, _stored_object, _version_of  # pylint: disable=protected-access

ADMIN_USER = "local-endpoint-admin"
_ADMIN_POLICY = json.dumps({"Version": "2012-10-17",
                            "Statement": [{"Effect": "Allow", "Action": "*", "Resource": "*"}]})

# IAM actions AWS checks for a request besides (or, answered before moto, instead of) the one moto
# checks: (signing name, API action) -> IAM actions. UpdateObjectEncryption is a fidelity interceptor's;
# the KMS actions are the caller's permissions EBS uses on its behalf (the EBS encryption guide lists
# them); this collection's CreateVolume and CopySnapshot always name a KMS key.
_EBS_KMS = ("kms:CreateGrant", "kms:Decrypt", "kms:DescribeKey", "kms:GenerateDataKeyWithoutPlaintext",
            "kms:ReEncryptFrom", "kms:ReEncryptTo")
EXTRA_ACTIONS = {
    ("s3", "UpdateObjectEncryption"): ("s3:PutObject", "s3:UpdateObjectEncryption"),
    ("ec2", "CreateVolume"): _EBS_KMS,
    ("ec2", "CopySnapshot"): _EBS_KMS,
    # S3 Control jobs (fidelity/s3control_batch.py answers them); CreateJob hands the job its role.
    ("s3control", "CreateJob"): ("s3:CreateJob", "iam:PassRole"),
    ("s3control", "DescribeJob"): ("s3:DescribeJob",),
    ("s3control", "ListJobs"): ("s3:ListJobs",),
    ("s3control", "UpdateJobStatus"): ("s3:UpdateJobStatus",),
    ("s3control", "UpdateJobPriority"): ("s3:UpdateJobPriority",),
}

# S3 uses the caller's KMS permissions only on an object that exists: a request for a missing key (the
# s3_kms_recopy probe) is NoSuchKey without them.
KMS_FOR_AN_EXISTING_OBJECT = {
    ("s3", "UpdateObjectEncryption"): ("kms:Encrypt", "kms:Decrypt", "kms:GenerateDataKey", "kms:ReEncryptFrom",
                                       "kms:ReEncryptTo"),
}

# moto checks `<signing name>:<API action>`; where the IAM action is named otherwise, these are checked instead.
IAM_ACTION_NAMES = {
    "kms:ReEncrypt": ("kms:ReEncryptFrom", "kms:ReEncryptTo"),
}

# moto.s3.responses.ACTION_MAP corrections: resource type, method, sub-resource (or DEFAULT) -> IAM action.
S3_ACTION_NAMES = {
    ("BUCKET", "GET", "encryption"): "GetEncryptionConfiguration",
    ("BUCKET", "PUT", "encryption"): "PutEncryptionConfiguration",
    ("BUCKET", "GET", "object-lock"): "GetBucketObjectLockConfiguration",
    ("BUCKET", "GET", "ownershipControls"): "GetBucketOwnershipControls",
    ("BUCKET", "HEAD", "DEFAULT"): "ListBucket",
    ("KEY", "HEAD", "versionId"): "GetObjectVersion",
}


def enabled():
    """Whether moto was told to authorize requests (INITIAL_NO_AUTH_ACTION_COUNT finite)."""
    return settings.INITIAL_NO_AUTH_ACTION_COUNT != float("inf")


def _create_admin():
    backend = iam_backends[ACCOUNT_ID]["aws"]
    backend.create_user(REGION, ADMIN_USER)
    backend.put_user_policy(ADMIN_USER, "everything", _ADMIN_POLICY)
    access_key = backend.create_access_key(ADMIN_USER)
    access_key.access_key_id = CREDENTIALS["AWS_ACCESS_KEY_ID"]
    access_key.secret_access_key = CREDENTIALS["AWS_SECRET_ACCESS_KEY"]


def with_admin(reset):
    """moto's reset forgets every IAM user: the administrator comes back after it."""
    def reset_keeping_admin():
        reset()
        DENIALS.route("DELETE", {})
        _create_admin()
    return reset_keeping_admin


def _headers(environ):
    headers = {name[5:].replace("_", "-").title(): value for name, value in environ.items()
               if name.startswith("HTTP_")}
    for name in ("CONTENT_TYPE", "CONTENT_LENGTH"):
        if environ.get(name):
            headers[name.replace("_", "-").title()] = environ[name]
    headers["Authorization"] = environ.get("HTTP_AUTHORIZATION", "")
    return headers


def _s3_resource(environ):
    bucket, key = _bucket_and_key(environ)
    return "arn:aws:s3:::" + ("/".join(filter(None, (bucket, key))) or "*")


def _iam_actions(environ, service, action):
    actions = EXTRA_ACTIONS.get((service, action), ())
    on_behalf = KMS_FOR_AN_EXISTING_OBJECT.get((service, action))
    if on_behalf and _stored_object(*_bucket_and_key(environ), _version_of(environ)) is not None:
        actions += on_behalf
    return actions


def _denied(service, code, message):
    """The error document of the service's protocol: S3's (S3 Control's too), or the query protocols'."""
    error = f"<Code>{code}</Code><Message>{escape(message)}</Message>"
    if service in ("s3", "s3control"):
        document = f"<Error>{error}<RequestId>local</RequestId></Error>"
    else:
        document = f"<ErrorResponse><Errors><Error>{error}</Error></Errors></ErrorResponse>"
    body = ("<?xml version=\"1.0\" encoding=\"UTF-8\"?>\n" + document).encode()
    return "403 Forbidden", [("Content-Type", "application/xml"), ("Content-Length", str(len(body)))], body


def check(environ, service, action):
    """None when allowed (or nothing extra to check), else the AccessDenied answer AWS gives."""
    iam_actions = _iam_actions(environ, service, action)
    if not iam_actions:
        return None
    headers = _headers(environ)
    for iam_action in iam_actions:
        resource = _s3_resource(environ) if service == "s3" and iam_action.startswith("s3:") else "*"
        try:
            request = IAMRequest(account_id=ACCOUNT_ID, method=environ.get("REQUEST_METHOD", "GET"),
                                 path=environ.get("PATH_INFO", "/"), data={}, body=b"", headers=headers,
                                 action=action)
            request._action = iam_action  # pylint: disable=protected-access
            request.check_action_permitted(resource)
        except AccessDeniedError as denied:
            # AWS names the action and the resource in the message, S3's included.
            return _denied(service, "AccessDenied", f"{denied.message} on resource: {resource}")
        except REFUSALS as failure:
            # An access key no IAM user has: moto's own refusal (InvalidClientTokenId, AuthFailure).
            return _denied(service, getattr(failure, "error_type", None) or failure.code, failure.message)
    return None


class Denials:
    """Every refusal since the last reset, as {"user", "action"} ("signature of <action>" for a signature
    that did not match): a run that tolerates one still shows it."""

    def __init__(self):
        self._lock = threading.Lock()
        self._seen = []

    def add(self, user_arn, action):
        with self._lock:
            self._seen.append({"user": user_arn, "action": action})

    def route(self, method, _payload):
        with self._lock:
            if method == "DELETE":
                self._seen.clear()
            return list(self._seen)


DENIALS = Denials()
# What moto raises to refuse a request: its generic errors, and S3's own (ServiceException).
REFUSALS = (RESTError, ServiceException)


def _by_iam_name_and_recorded(check_action_permitted):
    def check_action_permitted_by_iam_name(self, resource):
        requested = self._action  # pylint: disable=protected-access
        for iam_action in IAM_ACTION_NAMES.get(requested, (requested,)):
            self._action = iam_action  # pylint: disable=protected-access
            try:
                check_action_permitted(self, resource)
            except REFUSALS:
                DENIALS.add(self._access_key.arn, iam_action)  # pylint: disable=protected-access
                raise
        self._action = requested  # pylint: disable=protected-access
    return check_action_permitted_by_iam_name


def _recorded_when_refused(check_signature):
    def check_signature_recorded(self):
        try:
            check_signature(self)
        except REFUSALS:
            DENIALS.add(self._access_key.arn, "signature of " + self._action)  # pylint: disable=protected-access
            raise
    return check_signature_recorded


def _signing_the_body_sent(create_aws_request):
    """moto re-signs a GET's empty body as its query parameters: REST GETs (Lambda, EFS) never match.

    (A form POST's parameters are what moto keeps instead of the body it read, so those stay.)
    """
    def create_aws_request_of_the_body(self):
        if self._body or self._method not in ("GET", "HEAD", "DELETE"):  # pylint: disable=protected-access
            return create_aws_request(self)
        parsed, self._data = self._data, {}  # pylint: disable=protected-access
        try:
            return create_aws_request(self)
        finally:
            self._data = parsed  # pylint: disable=protected-access
    return create_aws_request_of_the_body


def install():
    """Correct moto's action names and create the administrator; once per process, before serving."""
    IAMRequestBase.check_action_permitted = _by_iam_name_and_recorded(IAMRequestBase.check_action_permitted)
    IAMRequestBase.check_signature = _recorded_when_refused(IAMRequestBase.check_signature)
    IAMRequestBase._create_aws_request = _signing_the_body_sent(  # pylint: disable=protected-access
        IAMRequestBase._create_aws_request)  # pylint: disable=protected-access
    CONTROL_ROUTES["iam_denials"] = DENIALS.route
    for (resource_type, method, sub_resource), name in S3_ACTION_NAMES.items():
        s3_responses.ACTION_MAP[resource_type][method][sub_resource] = name
    _create_admin()
