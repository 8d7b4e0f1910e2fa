# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The error every engine raises for a problem a user can act on, and one classification of AWS errors.

Each service's error codes are written down once, here, under the kind of
failure they mean; code elsewhere asks `is_error(exc, NOT_FOUND)` instead of
comparing codes, so a new service adds its codes to this table and nothing else.
"""

try:
    from botocore.exceptions import BotoCoreError, ClientError, WaiterError
except ImportError:
    # amazon.aws's module base reports the missing SDK before any engine runs;
    # these stand-ins only keep `except ClientError` in the engines importable.
    class BotoCoreError(Exception):
        pass

    class ClientError(BotoCoreError):
        pass

    class WaiterError(BotoCoreError):
        pass

NOT_FOUND = "not_found"
ACCESS_DENIED = "access_denied"
THROTTLED = "throttled"
UNSUPPORTED = "unsupported"
INVALID_STATE = "invalid_state"
# "This endpoint does not implement the operation", whatever code comes with it.
NOT_IMPLEMENTED_STATUS = 501

_CODES = {
    NOT_FOUND: frozenset([
        "NotFoundException",  # KMS
        "NoSuchBucket", "NoSuchKey", "NoSuchVersion", "404",  # S3 (HEAD answers carry only the status)
        "ResourceNotFoundException",  # DynamoDB, Secrets Manager, Lambda, CloudWatch Logs, EFS
        "AWS.SimpleQueueService.NonExistentQueue", "QueueDoesNotExist",  # SQS
        "NotFound",  # SNS
        "DBInstanceNotFound", "DBClusterNotFoundFault",  # RDS
        "ParameterNotFound",  # SSM
        "FileSystemNotFound",  # EFS
        "RepositoryNotFoundException",  # ECR
        "ClusterNotFound",  # Redshift
        # EC2 codes end in ".NotFound" (InvalidVolume.NotFound, InvalidSnapshot.NotFound, ...): see error_kind.
    ]),
    ACCESS_DENIED: frozenset([
        "AccessDenied", "AccessDeniedException", "403", "AllAccessDisabled",  # S3, KMS and most JSON services
        "UnauthorizedOperation",  # EC2
        "AuthorizationError",  # SNS
    ]),
    THROTTLED: frozenset([
        "ThrottlingException", "Throttling", "RequestLimitExceeded", "TooManyRequestsException", "RequestThrottled",
        "SlowDown",  # S3
        "503",  # S3: a throttled HEAD has no body to carry a code
        "KMS.ThrottlingException",  # S3 relaying KMS throttling of its own SSE-KMS calls
    ]),
    UNSUPPORTED: frozenset([
        "UnsupportedOperationException",  # KMS: the key cannot do this
        "NotImplemented", "501", "InvalidAction", "UnknownOperationException",  # endpoints without the API
    ]),
    INVALID_STATE: frozenset([
        "DisabledException", "KMSInvalidStateException",  # KMS
        "InvalidObjectState", "ObjectNotInActiveTierError",  # S3: archived objects
        "IncorrectState", "IncorrectInstanceState",  # EC2
    ]),
}


def error_code(exc):
    """The AWS error code of a ClientError, or of the answer a waiter stopped on; None for anything else."""
    if isinstance(exc, ClientError):
        return exc.response.get("Error", {}).get("Code")
    if isinstance(exc, WaiterError):
        return (exc.last_response or {}).get("Error", {}).get("Code")
    return None


def http_status(exc):
    """The HTTP status of a ClientError's answer, or None."""
    if isinstance(exc, ClientError):
        return exc.response.get("ResponseMetadata", {}).get("HTTPStatusCode")
    return None


def error_message(exc):
    """`Code: message` of a ClientError, or the exception's own text."""
    if isinstance(exc, ClientError):
        error = exc.response.get("Error", {})
        return "{0}: {1}".format(error.get("Code"), error.get("Message") or "").rstrip(": ")
    return str(exc)


def codes(kind):
    """The error codes of one kind (for retry tables and tests)."""
    return _CODES[kind]


def error_kind(exc):
    """NOT_FOUND, ACCESS_DENIED, THROTTLED, UNSUPPORTED, INVALID_STATE, or None (not an AWS error, or another kind)."""
    code = error_code(exc)
    if code is None:
        return None
    if http_status(exc) == NOT_IMPLEMENTED_STATUS:
        # Emulators answer an operation they lack with 501 under codes of their own (LocalStack: InternalFailure).
        return UNSUPPORTED
    for kind, members in _CODES.items():
        if code in members:
            return kind
    if code.endswith(".NotFound"):
        return NOT_FOUND
    if "AccessDenied" in code:
        return ACCESS_DENIED
    return None


def is_error(exc, *kinds, **extra):
    """Whether exc is an AWS error of one of `kinds`, or has one of the codes given as `codes=`."""
    code = error_code(exc)
    if code is None:
        return False
    return error_kind(exc) in kinds or code in extra.get("codes", ())


class RotationError(Exception):
    """A failure that names what failed, the resource, and how to fix it.

    Engines raise it instead of exiting; the runner turns it into fail_json
    once, at the top (see runner.run_module).
    """

    def __init__(self, message, resource=None, fix=None, details=None):
        super().__init__(message)
        self.message = message
        self.resource = resource
        self.fix = fix
        self.details = details or {}

    def __str__(self):
        text = self.message
        if self.resource and self.resource not in text:
            text = "{0}: {1}".format(self.resource, text)
        if self.fix:
            text = "{0}{1} Fix: {2}".format(text, "" if text.endswith(".") else ".", self.fix)
        return text

    def as_result(self):
        """Fields for fail_json besides msg."""
        result = dict(self.details)
        if self.resource:
            result["resource"] = self.resource
        if self.fix:
            result["fix"] = self.fix
        return result


def describe_failure(exc):
    """One line for a failure: a RotationError's message, an AWS error's code and message, else the exception."""
    if isinstance(exc, RotationError):
        return exc.message
    return error_message(exc)


def unreadable_reason(exc):
    """Why something could not be read (a service, GetKeyLastUsage, CloudTrail), in words for a `reason`."""
    if is_error(exc, ACCESS_DENIED):
        return "access denied: {0}".format(error_message(exc))
    detail = error_message(exc) if error_code(exc) else "{0}: {1}".format(type(exc).__name__, exc)
    return "could not be read: {0}".format(detail)
