"""The residue proof: a job that waits for a confirmation never given, counted, then cancelled."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job import Jobs
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import RESIDUE_DESCRIPTION, job_base
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.residue import prove_residue

from batch_stub import ACCOUNT, cancel, create, describe, list_jobs, stubbed_s3control

KEY = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
OPTIONS = {"role_arn": "arn:aws:iam::123456789012:role/batch", "report_bucket": "reports",
           "report_prefix": "kmsrotate-batch", "priority": 10}
MANIFEST = "arn:aws:s3:::reports/kmsrotate-batch/R2-job/manifest.json"


@pytest.fixture
def stubbed():
    client, stub = stubbed_s3control()
    yield client, stub
    stub.assert_no_pending_responses()


def _prove(client, versioning="Unversioned"):
    return prove_residue(Jobs(client, ACCOUNT, "s3://data", sleep=lambda seconds: None), ACCOUNT, "data", "", KEY,
                         OPTIONS, versioning, interval=1)


def _description(attempt):
    return "{0} {1} attempt {2}".format(RESIDUE_DESCRIPTION, job_base(ACCOUNT, "data", "", KEY, KEY, "residue"),
                                        attempt)


def test_count_comes_from_the_prepared_manifest_and_the_job_is_cancelled(stubbed):
    client, stub = stubbed
    # A proof a killed run left waiting is cancelled, and the new one is the next attempt.
    list_jobs(stub, [("R1-job", _description(1), "Suspended")])
    describe(stub, "R1-job", "Suspended", total=9)
    cancel(stub, "R1-job")
    create(stub, "R2-job", confirmation=True)
    describe(stub, "R2-job", "Preparing")
    stub.add_response("describe_job", {"Job": {
        "JobId": "R2-job", "Status": "Suspended", "ProgressSummary": {"TotalNumberOfTasks": 3},
        "GeneratedManifestDescriptor": {
            "Format": "S3InventoryReport_CSV_20211130", "Location": {"ObjectArn": MANIFEST, "ETag": "e"}}}},
        {"AccountId": ACCOUNT, "JobId": "R2-job"})
    cancel(stub, "R2-job")
    proof = _prove(client)
    assert (proof.count, proof.job_id, proof.covers_noncurrent) == (3, "R2-job", True)
    assert proof.manifest_location == "s3://reports/kmsrotate-batch/R2-job/manifest.json"


def test_a_versioned_bucket_proof_does_not_cover_noncurrent_versions(stubbed):
    client, stub = stubbed
    list_jobs(stub, [])
    create(stub, "R1-job", confirmation=True)
    describe(stub, "R1-job", "Suspended", total=0)
    cancel(stub, "R1-job")
    proof = _prove(client, versioning="Enabled")
    assert proof.count == 0 and not proof.covers_noncurrent


def test_a_proof_job_that_fails_is_no_proof(stubbed):
    client, stub = stubbed
    list_jobs(stub, [])
    create(stub, "R1-job", confirmation=True)
    stub.add_response("describe_job", {"Job": {"JobId": "R1-job", "Status": "Failed", "FailureReasons": [
        {"FailureCode": "AccessDenied", "FailureReason": "cannot list the bucket"}]}},
        {"AccountId": ACCOUNT, "JobId": "R1-job"})
    with pytest.raises(RotationError, match="ended Failed.*cannot list the bucket"):
        _prove(client)
