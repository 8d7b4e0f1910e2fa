"""RotationError's message: what failed, on which resource, and the fix."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError


def test_message_names_resource_and_fix():
    error = RotationError("KMS key not found.", resource="alias/old", fix="check the alias.")
    assert str(error) == "alias/old: KMS key not found. Fix: check the alias."
    assert error.as_result() == {"resource": "alias/old", "fix": "check the alias."}


def test_message_without_trailing_period_gets_one_before_the_fix():
    assert str(RotationError("Bad input", fix="do this.")) == "Bad input. Fix: do this."


def test_resource_already_in_message_is_not_repeated():
    error = RotationError("Bucket my-bucket does not exist.", resource="my-bucket")
    assert str(error) == "Bucket my-bucket does not exist."


def _client_error(code):
    from botocore.exceptions import ClientError
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")


def test_each_kind_is_recognised_by_its_codes():
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common import errors
    samples = {
        errors.NOT_FOUND: ["NotFoundException", "NoSuchKey", "404", "InvalidVolume.NotFound", "QueueDoesNotExist"],
        errors.ACCESS_DENIED: ["AccessDenied", "AccessDeniedException", "UnauthorizedOperation", "KMS.AccessDeniedException"],
        errors.THROTTLED: ["ThrottlingException", "SlowDown", "503", "KMS.ThrottlingException"],
        errors.UNSUPPORTED: ["UnsupportedOperationException", "NotImplemented", "501"],
        errors.INVALID_STATE: ["DisabledException", "KMSInvalidStateException", "InvalidObjectState"],
    }
    for kind, codes in samples.items():
        for code in codes:
            assert errors.error_kind(_client_error(code)) == kind, code
            assert errors.is_error(_client_error(code), kind)
    assert errors.error_kind(_client_error("ValidationException")) is None
    assert errors.error_kind(ValueError("not an AWS error")) is None
    assert not errors.is_error(ValueError("x"), errors.NOT_FOUND)


def test_extra_codes_widen_one_check_only():
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common import errors
    error = _client_error("InvalidParameterValue")
    assert not errors.is_error(error, errors.NOT_FOUND)
    assert errors.is_error(error, errors.NOT_FOUND, codes=("InvalidParameterValue",))


def test_describe_failure_prefers_the_rotation_error_message():
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common import errors
    assert errors.describe_failure(RotationError("gone", resource="vol-1", fix="x")) == "gone"
    assert errors.describe_failure(_client_error("DisabledException")) == "DisabledException: m"


def test_a_waiter_that_stopped_on_an_error_answer_has_that_code():
    from botocore.exceptions import WaiterError
    from ansible_collections.kmsrotate.aws.plugins.module_utils._common import errors
    stopped = WaiterError("volume_available", "throttled", {"Error": {"Code": "RequestLimitExceeded"}})
    assert errors.error_code(stopped) == "RequestLimitExceeded"
    assert errors.is_error(stopped, errors.THROTTLED)
    assert errors.error_code(WaiterError("volume_available", "timed out", {})) is None
