"""s3_kms_recopy `method: batch` through ansible-playbook against the local endpoint's S3 Batch Operations.

The module's s3control client reaches the endpoint by dropping the account label botocore puts in front of an
IP endpoint's host (_common/clients.py); this file's own s3control client goes through the endpoint as its
HTTP proxy (LocalEndpoint.client).
"""

import json
import os
import signal
import subprocess
import time

import pytest
import yaml

from local_endpoint import ACCOUNT_ID

BUCKET = "rotation-data"
REPORTS = "rotation-reports"
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "batchoperations.s3.amazonaws.com"}}]}
TERMINAL = ("Complete", "Failed", "Cancelled")


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=REPORTS)
    return client


@pytest.fixture
def s3control(aws):
    return aws.client("s3control")


@pytest.fixture
def keys(aws):
    kms = aws.client("kms")
    return {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("source", "destination")}


@pytest.fixture
def role(aws):
    iam = aws.client("iam")
    return iam.create_role(RoleName="kmsrotate-batch", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


@pytest.fixture
def pace(aws):
    """Set the endpoint's task pace; cleared after the test, so no job stays parked."""
    yield lambda **settings: aws.control("s3control_batch_pace", settings)
    aws.control("s3control_batch_pace", method="DELETE")


def _bucket(s3, source_arn, object_lock=False, versioned=False):
    s3.create_bucket(Bucket=BUCKET, **({"ObjectLockEnabledForBucket": True} if object_lock else {}))
    if versioned and not object_lock:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": source_arn}}]})


def _put(s3, key, key_id, **extra):
    return s3.put_object(Bucket=BUCKET, Key=key, Body=b"data", ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id,
                         **extra).get("VersionId")


def _key_of(s3, key, version_id=None):
    extra = {"VersionId": version_id} if version_id else {}
    return s3.head_object(Bucket=BUCKET, Key=key, **extra).get("SSEKMSKeyId")


def _default_key(s3):
    rules = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"]
    return rules[0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"]


def _jobs(s3control):
    return s3control.list_jobs(AccountId=ACCOUNT_ID).get("Jobs", [])


def _task(keys, role, **options):
    args = {"bucket": BUCKET, "destination_key_id": keys["destination"]["Arn"], "method": "batch",
            "source_key_ids": [keys["source"]["Arn"]], "batch_role_arn": role, "batch_report_bucket": REPORTS,
            "batch_poll_interval": 1}
    args.update(options)
    return [{"name": "recopy", "kmsrotate.aws.s3_kms_recopy": args, "register": "recopy", "ignore_errors": True}]


def _wait_job(s3control, until, timeout=60):
    deadline = time.monotonic() + timeout
    while True:
        jobs = [s3control.describe_job(AccountId=ACCOUNT_ID, JobId=job["JobId"])["Job"] for job in _jobs(s3control)]
        if jobs and until(jobs[0]):
            return jobs[0]
        assert time.monotonic() < deadline, jobs
        time.sleep(0.2)


def test_locked_version_is_the_exact_blocking_list_and_a_rerun_changes_nothing(playbook, s3, s3control, keys, role):
    source = keys["source"]["Arn"]
    _bucket(s3, source, object_lock=True)
    moved = [_put(s3, "doc-{0}".format(index), source) for index in range(3)]
    held = _put(s3, "legal/held.pdf", source, ObjectLockLegalHoldStatus="ON")

    run = playbook.run(tasks=_task(keys, role))
    result = run.result("recopy")
    assert result["method_used"] == "batch" and result["changed"], result
    job = result["batch_job"]
    assert (job["status"], job["tasks_total"], job["tasks_succeeded"], job["tasks_failed"]) == ("Complete", 4, 3, 1)
    assert job["report_location"] == "s3://{0}/kmsrotate-batch/job-{1}/".format(REPORTS, job["job_id"])
    assert [(entry["kind"], entry["code"], entry["key_arn"], entry["examples"]) for entry in result["dependents"]] == [
        ("blocking", "locked", source, ["legal/held.pdf?versionId={0}".format(held)])]
    assert result["blocking"] == 1 and result["rekeyed"] == 3
    assert all(_key_of(s3, "doc-{0}".format(index), version) == keys["destination"]["Arn"]
               for index, version in enumerate(moved))
    assert _key_of(s3, "legal/held.pdf", held) == source and _default_key(s3) == keys["destination"]["Arn"]
    # The module's own requests: a constant handful, none per object.
    assert sum(result["requests"].values()) < 50 and "HeadObject" not in result["requests"]

    again = playbook.run(tasks=_task(keys, role)).result("recopy")
    assert not again["changed"] and again["batch_job"]["job_id"] == job["job_id"]
    assert again["reasons"]["blocking"] == {"locked": 1} and len(_jobs(s3control)) == 1


def test_object_rewritten_sse_c_before_its_task_blocks_and_a_later_call_follows_the_job(playbook, s3, s3control,
                                                                                        keys, role, pace):
    source = keys["source"]["Arn"]
    _bucket(s3, source)
    for key in ("doc", "customer"):
        _put(s3, key, source)
    pace(pause_after_tasks=0)

    first = playbook.run(tasks=_task(keys, role, batch_wait=False)).result("recopy")
    assert first["changed"] and first["batch_job"]["status"] not in TERMINAL
    assert first["blocking"] >= 1 and first["dependents"][0]["code"] == "batch_in_progress"
    _wait_job(s3control, lambda job: job["Status"] == "Active")
    # Listed under the source key, then rewritten by a writer with a customer key before its task ran.
    s3.put_object(Bucket=BUCKET, Key="customer", Body=b"secret", SSECustomerAlgorithm="AES256",
                  SSECustomerKey=os.urandom(32))
    pace(seconds_per_task=0)

    later = playbook.run(tasks=_task(keys, role)).result("recopy")
    assert later["batch_job"]["job_id"] == first["batch_job"]["job_id"] and not later["batch_job"]["created"]
    assert [(entry["kind"], entry["code"], entry["examples"]) for entry in later["dependents"]] == [
        ("blocking", "rekey_failed", ["customer?versionId=null"])]
    assert later["failed"] is True and len(_jobs(s3control)) == 1
    assert _key_of(s3, "doc") == keys["destination"]["Arn"]


def test_job_cancelled_midway_converges_on_a_rerun(playbook, s3, s3control, keys, role, pace):
    source = keys["source"]["Arn"]
    _bucket(s3, source)
    for index in range(5):
        _put(s3, "doc-{0}".format(index), source)
    pace(pause_after_tasks=2)
    first = playbook.run(tasks=_task(keys, role, batch_wait=False)).result("recopy")
    job = _wait_job(s3control, lambda job: job["ProgressSummary"].get("NumberOfTasksSucceeded") == 2)
    s3control.update_job_status(AccountId=ACCOUNT_ID, JobId=job["JobId"], RequestedJobStatus="Cancelled")
    _wait_job(s3control, lambda job: job["Status"] == "Cancelled")
    pace(seconds_per_task=0)

    rerun = playbook.run(tasks=_task(keys, role)).result("recopy")
    assert rerun["batch_job"]["attempt"] == 2 and rerun["batch_job"]["job_id"] != first["batch_job"]["job_id"]
    assert rerun["batch_job"]["status"] == "Complete" and rerun["blocking"] == 0 and rerun["rekeyed"] == 3
    assert all(_key_of(s3, "doc-{0}".format(index)) == keys["destination"]["Arn"] for index in range(5))
    assert not playbook.run(tasks=_task(keys, role)).result("recopy")["changed"]
    assert len(_jobs(s3control)) == 2


def test_run_killed_while_polling_converges_on_a_rerun_that_reuses_the_job(
        playbook, s3, s3control, keys, role, pace):
    source = keys["source"]["Arn"]
    _bucket(s3, source)
    for index in range(3):
        _put(s3, "doc-{0}".format(index), source)
    pace(pause_after_tasks=1)
    path = playbook.workdir / "killed.yml"
    path.write_text(yaml.safe_dump(playbook.play(_task(keys, role))))
    variables = playbook.workdir / "killed-vars.json"
    variables.write_text(json.dumps({"aws_endpoint_url": playbook.endpoint.url}))
    # Its own session, so the kill reaches the module process too, and only what this test started.
    process = subprocess.Popen([playbook.ansible_playbook, str(path), "-i", "localhost,", "-e", "@" + str(variables)],
                               env=playbook.environment(), cwd=str(playbook.workdir), stdout=subprocess.DEVNULL,
                               stderr=subprocess.DEVNULL, start_new_session=True)
    try:
        job = _wait_job(s3control, lambda job: job["ProgressSummary"].get("NumberOfTasksSucceeded") == 1)
        time.sleep(1.5)  # at least one DescribeJob poll of the module
    finally:
        os.killpg(process.pid, signal.SIGKILL)
        process.wait()
    pace(seconds_per_task=0)

    rerun = playbook.run(tasks=_task(keys, role)).result("recopy")
    assert rerun["batch_job"]["job_id"] == job["JobId"] and not rerun["batch_job"]["created"]
    assert rerun["batch_job"]["status"] == "Complete" and rerun["blocking"] == 0
    assert len(_jobs(s3control)) == 1


def test_check_mode_creates_no_job_and_says_it_estimates(playbook, s3, s3control, keys, role):
    _bucket(s3, keys["source"]["Arn"])
    _put(s3, "doc", keys["source"]["Arn"])
    result = playbook.run(tasks=_task(keys, role), check=True).result("recopy")
    assert result["batch_job"]["estimated"] and result["batch_job"]["job_id"] is None
    assert "estimate" in result["msg"] and result["batch_job"]["tasks_total"] >= 1
    assert _jobs(s3control) == [] and _default_key(s3) == keys["source"]["Arn"]
    assert _key_of(s3, "doc") == keys["source"]["Arn"]


@pytest.mark.parametrize("bad", ["no_role", "no_report_bucket", "untrusted_role"])
def test_bad_inputs_fail_before_any_change(playbook, aws, s3, s3control, keys, role, bad):
    _bucket(s3, keys["source"]["Arn"])
    _put(s3, "doc", keys["source"]["Arn"])
    options = {"no_role": {"batch_role_arn": None}, "no_report_bucket": {"batch_report_bucket": "no-such-reports"},
               "untrusted_role": {"batch_role_arn": aws.client("iam").create_role(
                   RoleName="not-for-batch", AssumeRolePolicyDocument=json.dumps({
                       "Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                               "Principal": {"Service": "ec2.amazonaws.com"}}]}))[
                   "Role"]["Arn"]}}[bad]
    result = playbook.run(tasks=_task(keys, role, **options)).result("recopy")
    assert result["failed"]
    expected = {"no_role": "batch_role_arn", "no_report_bucket": "no-such-reports",
                "untrusted_role": "batchoperations.s3.amazonaws.com"}[bad]
    assert expected in result["msg"], result["msg"]
    assert _jobs(s3control) == [] and _default_key(s3) == keys["source"]["Arn"]
    assert _key_of(s3, "doc") == keys["source"]["Arn"]


def test_noncurrent_versions_the_generator_does_not_list_are_rekeyed_after_the_job(playbook, s3, keys, role):
    source = keys["source"]["Arn"]
    _bucket(s3, source, versioned=True)
    versions = [_put(s3, "doc", source) for _generation in range(3)] + [_put(s3, "other", source)]
    result = playbook.run(tasks=_task(keys, role)).result("recopy")
    # The endpoint's generator lists current versions only (AWS does not say it lists more): two tasks.
    assert result["batch_job"]["tasks_total"] == 2 and result["blocking"] == 0, result
    assert result["requests"]["HeadObject"] == 2 and result["requests"]["UpdateObjectEncryption"] == 2
    assert [_key_of(s3, "doc", version) for version in versions[:3]] == [keys["destination"]["Arn"]] * 3
    assert _key_of(s3, "other", versions[3]) == keys["destination"]["Arn"]


def _gate(playbook, keys, role, **options):
    args = {"key_id": keys["source"]["Arn"], "for_retirement": True, "services": ["s3"],
            "targets": ["s3://" + BUCKET], "s3_verify": "batch", "batch_role_arn": role,
            "batch_report_bucket": REPORTS, "batch_poll_interval": 1}
    args.update(options)
    return playbook.run(tasks=[{"name": "gate", "kmsrotate.aws.kms_key_usage_info": args, "register": "gate"}])


def _bucket_entries(result):
    return [entry for entry in result["dependents"] if entry["resource"] == "s3://" + BUCKET]


def test_residue_proof_counts_what_is_left_and_clears_a_clean_bucket(playbook, s3, s3control, keys, role):
    source = keys["source"]["Arn"]
    _bucket(s3, keys["destination"]["Arn"])
    for index in range(3):
        _put(s3, "doc-{0}".format(index), source)
    _put(s3, "new", keys["destination"]["Arn"])

    gate = _gate(playbook, keys, role).result("gate")
    assert [(entry["kind"], entry["count"]) for entry in _bucket_entries(gate)] == [("blocking", 3)]
    proof = _bucket_entries(gate)[0]["residue_proof"]
    # Prepared, counted and cancelled: no task ran, nothing moved.
    job = s3control.describe_job(AccountId=ACCOUNT_ID, JobId=proof["job_id"])["Job"]
    assert job["Status"] == "Cancelled" and job["ProgressSummary"].get("NumberOfTasksSucceeded", 0) == 0
    assert _key_of(s3, "doc-0") == source

    playbook.run(tasks=_task(keys, role))
    cleared = _gate(playbook, keys, role).result("gate")
    assert _bucket_entries(cleared) == [], cleared["dependents"]


def test_residue_proof_reads_noncurrent_versions_and_check_mode_creates_no_job(playbook, s3, s3control, keys, role):
    _bucket(s3, keys["destination"]["Arn"], versioned=True)
    old = _put(s3, "doc", keys["source"]["Arn"])
    _put(s3, "doc", keys["destination"]["Arn"])
    gate = _gate(playbook, keys, role).result("gate")
    # The current version is clean (proof count 0); the noncurrent one, which a proof may not count, was read.
    entries = _bucket_entries(gate)
    assert [(entry["kind"], entry["count"], entry["examples"]) for entry in entries] == [
        ("to_move", 1, ["doc ({0})".format(old)])]
    assert [entry["resource"] for entry in gate["holding_back"]] == ["s3://" + BUCKET]

    jobs_before = len(_jobs(s3control))
    planned = playbook.run(tasks=[{"name": "gate", "kmsrotate.aws.kms_key_usage_info": {
        "key_id": keys["source"]["Arn"], "for_retirement": True, "services": ["s3"], "targets": ["s3://" + BUCKET],
        "s3_verify": "batch", "batch_role_arn": role, "batch_report_bucket": REPORTS}}], check=True).result("gate")
    assert "unknown" in [entry["kind"] for entry in _bucket_entries(planned)] and not planned["safe_to_retire"]
    assert len(_jobs(s3control)) == jobs_before
