"""s3_kms_recopy `method: batch` end to end in the engine: moto for S3, KMS, STS and CloudWatch, a Stubbed
S3 Control (moto has no Batch Operations in process)."""

import json

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch import job as job_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import RECOPY_DESCRIPTION
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import job_base
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.recopy import BucketRecopy, RecopySpec

from batch_stub import ACCOUNT, create, describe, list_jobs, stubbed_s3control

BUCKET = "data"
REPORTS = "reports"
ROLE = "arn:aws:iam::123456789012:role/batch"


@pytest.fixture
def world(aws_client, make_clients, monkeypatch):
    """(s3, keys, run(check_mode, **options) -> Result, stub): one stubbed S3 Control for the whole test."""
    monkeypatch.setattr(job_module.time, "sleep", lambda seconds: None)
    s3, kms = aws_client("s3"), aws_client("kms")
    keys = {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("source", "destination", "other")}
    s3.create_bucket(Bucket=BUCKET)
    s3.create_bucket(Bucket=REPORTS)
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["source"]["Arn"]}}]})
    s3control, stub = stubbed_s3control()

    def connect(service, region, config):
        return s3control if service == "s3control" else aws_client(service, region, config)

    def run(check_mode=False, **options):
        settings = {"bucket": BUCKET, "destination_key_id": keys["destination"]["Arn"], "method": "batch",
                    "source_key_ids": [keys["source"]["Arn"]], "batch_role_arn": ROLE,
                    "batch_report_bucket": REPORTS, "batch_poll_interval": 1}
        settings.update(options)
        engine_clients, limit = make_clients(concurrency=2, connect=connect)
        return BucketRecopy(engine_clients, limit).run(RecopySpec(**settings), check_mode=check_mode)

    yield s3, keys, run, stub
    stub.assert_no_pending_responses()


def _default_key(s3):
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]


def _description(keys, attempt):
    base = job_base(ACCOUNT, BUCKET, "", keys["source"]["Arn"], keys["destination"]["Arn"])
    return "{0} {1} attempt {2}".format(RECOPY_DESCRIPTION, base, attempt)


def _report(s3, job_id, rows):
    """The completion report S3 writes for a job: manifest.json naming one results CSV."""
    results = "kmsrotate-batch/job-{0}/results/part-1.csv".format(job_id)
    s3.put_object(Bucket=REPORTS, Key="kmsrotate-batch/job-{0}/manifest.json".format(job_id), Body=json.dumps({
        "Format": "Report_CSV_20180820", "Results": [{"TaskExecutionStatus": "failed", "Key": results}]}).encode())
    s3.put_object(Bucket=REPORTS, Key=results, Body="".join(row + "\n" for row in rows).encode())


FAILED_ROWS = ['data,legal/locked.pdf,v-locked,failed,403,AccessDenied,"The encryption type for the specified object '
               'can\'t be updated because that object is protected by S3 Object Lock."',
               'data,custom.bin,,failed,400,InvalidRequest,"The UpdateObjectEncryption operation doesn\'t support '
               'this source object"']


@pytest.mark.parametrize("options, missing", [({"batch_role_arn": None}, "batch_role_arn"),
                                              ({"batch_report_bucket": None}, "batch_report_bucket"),
                                              ({"source_key_ids": []}, "source_key_ids")])
def test_missing_options_fail_before_any_change(world, options, missing):
    s3, keys, run, _stub = world
    with pytest.raises(RotationError, match=missing):
        run(**options)
    assert _default_key(s3) == keys["source"]["Arn"]


def test_a_report_bucket_that_does_not_exist_fails_before_any_change(world):
    s3, keys, run, _stub = world
    with pytest.raises(RotationError) as raised:
        run(batch_report_bucket="no-such-reports")
    assert raised.value.resource == "s3://no-such-reports" and "does not exist" in str(raised.value)
    assert _default_key(s3) == keys["source"]["Arn"]


def test_a_role_the_endpoint_rejects_fails_before_any_change(world):
    s3, keys, run, stub = world
    list_jobs(stub, [])
    stub.add_client_error("create_job", "AccessDeniedException", "S3 Batch Operations cannot assume the role", 403)
    with pytest.raises(RotationError, match="batchoperations.s3.amazonaws.com"):
        run()
    assert _default_key(s3) == keys["source"]["Arn"]


def test_job_is_created_followed_and_its_failed_tasks_are_the_blocking_list(world):
    s3, keys, run, stub = world
    list_jobs(stub, [])
    create(stub, "job-0001", confirmation=False)
    describe(stub, "job-0001", "Active", total=7, succeeded=2)
    describe(stub, "job-0001", "Complete", total=7, succeeded=5, failed=2)
    _report(s3, "job-0001", FAILED_ROWS)

    result = run()
    values = result.values
    source = keys["source"]["Arn"]
    assert values["method_used"] == "batch" and values["changed"]
    assert values["counts"] == {"scanned": 7, "rekeyed": 5, "already_current": 0, "skipped": 1, "blocking": 2,
                                "failed": 1}
    assert [(entry["kind"], entry["code"], entry["key_arn"], entry["count"], entry["examples"])
            for entry in values["dependents"]] == [
        ("blocking", "locked", source, 1, ["legal/locked.pdf?versionId=v-locked"]),
        ("blocking", "rekey_failed", source, 1, ["custom.bin"])]
    job = values["batch_job"]
    assert (job["job_id"], job["status"], job["tasks_total"], job["tasks_succeeded"], job["tasks_failed"]) == (
        "job-0001", "Complete", 7, 5, 2)
    assert job["created"] and not job["estimated"] and job["client_request_token"].endswith("-1")
    assert job["report_location"] == "s3://reports/kmsrotate-batch/job-job-0001/"
    assert "1 object version(s)" in result.failure
    # The bucket default was moved after the job was created.
    assert _default_key(s3) == keys["destination"]["Arn"]


def test_rerun_follows_the_job_it_created_and_changes_nothing(world):
    s3, keys, run, stub = world
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms",
                                                "KMSMasterKeyID": keys["destination"]["Arn"]}}]})
    list_jobs(stub, [("job-0001", _description(keys, 1), "Complete")])
    describe(stub, "job-0001", "Complete", total=7, succeeded=5, failed=2)
    _report(s3, "job-0001", FAILED_ROWS)

    values = run().values
    assert not values["changed"] and not values["batch_job"]["created"]
    assert values["counts"]["rekeyed"] == 0 and values["counts"]["already_current"] == 5
    assert values["reasons"]["blocking"] == {"locked": 1, "rekey_failed": 1}


def test_a_cancelled_job_is_replaced_by_the_next_attempt(world):
    _s3, keys, run, stub = world
    list_jobs(stub, [("job-0001", _description(keys, 1), "Cancelled")])
    describe(stub, "job-0001", "Cancelled", total=7, succeeded=3)
    create(stub, "job-0002")
    describe(stub, "job-0002", "Complete", total=4, succeeded=4)
    values = run().values
    assert values["batch_job"]["job_id"] == "job-0002" and values["batch_job"]["attempt"] == 2
    assert values["batch_job"]["client_request_token"].endswith("-2")
    assert values["blocking"] == 0 and values["rekeyed"] == 4


def test_a_job_cancelled_while_waited_on_is_unknown_and_fails_the_task(world):
    _s3, _keys, run, stub = world
    list_jobs(stub, [])
    create(stub, "job-0001")
    describe(stub, "job-0001", "Cancelled", total=10, succeeded=3)
    result = run()
    assert result.values["reasons"]["blocking"] == {"batch_ended": 7}
    assert [entry["kind"] for entry in result.values["dependents"]] == ["unknown"]
    assert "ended Cancelled" in result.failure


def test_without_waiting_the_job_id_comes_back_and_what_it_has_not_reached_is_unknown(world):
    _s3, _keys, run, stub = world
    list_jobs(stub, [])
    create(stub, "job-0001")
    describe(stub, "job-0001", "Active", total=10, succeeded=4, failed=1)
    values = run(batch_wait=False).values
    assert values["batch_job"]["status"] == "Active" and values["changed"]
    assert values["reasons"]["blocking"] == {"batch_in_progress": 5}
    assert values["dependents"][0]["kind"] == "unknown"


def test_check_mode_creates_no_job_and_says_its_counts_are_an_estimate(world):
    s3, keys, run, stub = world
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=keys["source"]["Arn"])
    list_jobs(stub, [])
    values = run(check_mode=True).values
    job = values["batch_job"]
    assert job["estimated"] and job["job_id"] is None and job["tasks_total"] >= 1
    assert "estimate" in values["msg"] and "no job" in values["msg"]
    assert [entry["code"] for entry in values["dependents"]] == ["batch_estimate", "bucket_default"]
    assert _default_key(s3) == keys["source"]["Arn"]


def test_auto_uses_a_job_only_with_a_role_and_above_the_threshold(world):
    s3, keys, run, stub = world
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=keys["destination"]["Arn"])
    list_jobs(stub, [])
    create(stub, "job-0001")
    describe(stub, "job-0001", "Complete")
    assert run(method="auto", batch_threshold_versions=1).values["method_used"] == "batch"
    assert run(method="auto", batch_threshold_versions=1000).values["method_used"] != "batch"
    assert run(method="auto", batch_role_arn=None, batch_threshold_versions=1).values["method_used"] != "batch"


def test_noncurrent_versions_are_walked_once_the_job_is_complete(world):
    s3, keys, run, stub = world
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for key_id in (keys["destination"]["Arn"], keys["other"]["Arn"], keys["destination"]["Arn"]):
        s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    list_jobs(stub, [])
    create(stub, "job-0001")
    describe(stub, "job-0001", "Complete", total=1, succeeded=1)
    values = run().values
    # The job's one task, then the two noncurrent versions, each with one HeadObject; the current one is the job's.
    assert values["counts"]["scanned"] == 3 and values["requests"]["HeadObject"] == 2
    assert values["reasons"]["skipped"] == {"other_key": 1} and values["already_current"] == 1


def test_job_task_counts_go_to_the_progress_file(world, tmp_path):
    _s3, _keys, run, stub = world
    list_jobs(stub, [])
    create(stub, "job-0001")
    describe(stub, "job-0001", "Active", total=10, succeeded=4, failed=1)
    describe(stub, "job-0001", "Complete", total=10, succeeded=10)
    path = tmp_path / "progress.json"
    run(progress_file=str(path))
    written = json.loads(path.read_text())
    assert written["counts"] == {"tasks_succeeded": 10, "tasks_failed": 0, "tasks_total": 10}
    assert (written["done"], written["total"], written["finished"]) == (10, 10, True)
