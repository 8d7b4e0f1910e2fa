"""Finding, creating and following Batch Operations jobs, against a Stubbed S3 Control client."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job import TRUST_POLICY_FIX, Jobs
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import RECOPY_DESCRIPTION

from batch_stub import ACCOUNT, create, describe, list_jobs, stubbed_s3control


@pytest.fixture
def stubbed():
    client, stub = stubbed_s3control()
    yield client, stub
    stub.assert_no_pending_responses()


def _jobs(client, sleeps=None, clock=None):
    return Jobs(client, ACCOUNT, "s3://data", sleep=(sleeps.append if sleeps is not None else None), clock=clock)


def test_attempts_are_found_by_description_across_pages(stubbed):
    client, stub = stubbed
    list_jobs(stub, [("J1-job", "kmsrotate.aws s3_kms_recopy BASE attempt 1", "Cancelled"),
                     ("X-job", "someone else's job", "Active")], next_token="page2")
    list_jobs(stub, [("J2-job", "kmsrotate.aws s3_kms_recopy BASE attempt 2", "Active"),
                     ("Y-job", "kmsrotate.aws s3_kms_recopy OTHER attempt 1", "Active")], token_sent="page2")
    assert _jobs(client).attempts(RECOPY_DESCRIPTION, "BASE") == {1: "J1-job", 2: "J2-job"}


def test_wait_polls_until_the_job_ends_and_reports_each_poll(stubbed):
    client, stub = stubbed
    describe(stub, "J1-job", "Preparing")
    describe(stub, "J1-job", "Active", total=10, succeeded=4)
    describe(stub, "J1-job", "Complete", total=10, succeeded=9, failed=1)
    sleeps, seen = [], []
    state = _jobs(client, sleeps).wait("J1-job", lambda state: False, interval=7,
                                       on_poll=lambda state: seen.append((state.status, state.succeeded)))
    assert (state.status, state.total, state.succeeded, state.failed) == ("Complete", 10, 9, 1)
    assert seen == [("Preparing", 0), ("Active", 4), ("Complete", 9)]
    assert sleeps == [7, 7]


def test_wait_gives_up_at_its_timeout(stubbed):
    client, stub = stubbed
    describe(stub, "J1-job", "Active")
    describe(stub, "J1-job", "Active")
    ticks = iter([0, 5, 11])
    with pytest.raises(RotationError, match="still Active after 10 seconds"):
        _jobs(client, [], clock=lambda: next(ticks)).wait("J1-job", lambda state: False, interval=5, timeout=10)


def _request():
    return {"AccountId": ACCOUNT, "ConfirmationRequired": False, "Operation": {"S3UpdateObjectEncryption": {}},
            "Report": {"Enabled": False}, "ClientRequestToken": "T-1", "Priority": 10,
            "RoleArn": "arn:aws:iam::123456789012:role/batch", "Description": "d",
            "ManifestGenerator": {"S3JobManifestGenerator": {"SourceBucket": "arn:aws:s3:::data",
                                                             "EnableManifestOutput": False}}}


def test_a_role_s3_cannot_assume_fails_with_the_trust_policy_fix(stubbed):
    client, stub = stubbed
    stub.add_client_error("create_job", "AccessDeniedException", "S3 Batch Operations could not assume the role "
                          "arn:aws:iam::123456789012:role/batch", 403)
    with pytest.raises(RotationError) as raised:
        _jobs(client).create(_request())
    assert raised.value.fix == TRUST_POLICY_FIX and "batchoperations.s3.amazonaws.com" in str(raised.value)
    assert raised.value.details["role_arn"] == "arn:aws:iam::123456789012:role/batch"


def test_a_reused_token_with_another_request_names_the_token(stubbed):
    client, stub = stubbed
    stub.add_client_error("create_job", "IdempotencyException", "different request", 409)
    with pytest.raises(RotationError, match="T-1"):
        _jobs(client).create(_request())


def test_create_returns_the_job_id(stubbed):
    client, stub = stubbed
    create(stub, "J9-job")
    assert _jobs(client).create(_request()) == "J9-job"
