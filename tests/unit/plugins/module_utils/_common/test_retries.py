"""Retry codes and the throttle watch."""

from types import SimpleNamespace

from botocore.hooks import HierarchicalEmitter
from botocore.exceptions import ClientError

from ansible_collections.amazon.aws.plugins.module_utils.retries import AWSRetry
from ansible_collections.kmsrotate.aws.plugins.module_utils._common import errors, retries


def _error(code):
    return ClientError({"Error": {"Code": code, "Message": "m"}}, "Op")


def test_codes_amazon_aws_misses_are_retried_and_others_are_not():
    for code in ("ThrottlingException", "SlowDown", "503"):
        assert not AWSRetry.found(code)
        assert AWSRetry.found(code, retries.EXTRA_RETRY_CODES)
    assert not AWSRetry.found("AccessDeniedException", retries.EXTRA_RETRY_CODES)


def test_retry_decorator_retries_throttling_then_succeeds(monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    calls = []

    @retries.aws_retry
    def flaky():
        calls.append(1)
        if len(calls) < 3:
            raise _error("SlowDown")
        return "done"

    assert flaky() == "done"
    assert len(calls) == 3


def test_error_code_and_message():
    assert errors.error_code(_error("DisabledException")) == "DisabledException"
    assert errors.error_code(ValueError("x")) is None
    assert errors.error_message(_error("DisabledException")) == "DisabledException: m"


def test_throttle_watch_hears_only_throttling_responses():
    heard = []
    client = SimpleNamespace(meta=SimpleNamespace(events=HierarchicalEmitter()))
    retries.ThrottleWatch(lambda: heard.append(1)).attach(client)
    events = client.meta.events
    for code in ("ThrottlingException", "SlowDown", "503", "DisabledException"):
        answers = events.emit("needs-retry.kms.ReEncrypt", response=(None, {"Error": {"Code": code}}), attempts=1)
        # The watch never decides a retry: botocore's own handler does.
        assert [answer for _handler, answer in answers] == [None]
    events.emit("needs-retry.kms.ReEncrypt", response=None, attempts=1)
    assert heard == [1, 1, 1]


def test_a_not_implemented_answer_is_final_whatever_its_code(monkeypatch):
    """LocalStack answers an operation it lacks with 501 InternalFailure, a code AWSRetry retries: here it is not."""
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    calls = []
    not_implemented = ClientError({"Error": {"Code": "InternalFailure", "Message": "not yet emulated"},
                                   "ResponseMetadata": {"HTTPStatusCode": 501}}, "UpdateObjectEncryption")

    @retries.aws_retry
    def unsupported():
        calls.append(1)
        raise not_implemented

    try:
        unsupported()
    except ClientError as exc:
        assert errors.is_error(exc, errors.UNSUPPORTED)
    else:
        raise AssertionError("the 501 answer was swallowed")
    assert len(calls) == 1
