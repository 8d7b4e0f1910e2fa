"""The rotation role's S3 method and S3 Batch Operations settings (issue 12, "The role").

What the role itself decides is tested here: which method and batch settings
reach s3_kms_recopy and the retirement gate, preflight's refusals, and what
the report records. The batch job itself is s3_kms_recopy's (its own tests).
"""

import json

import pytest

from local_endpoint import ACCOUNT_ID
from test_rotation_role import (FAIL_TASK, ROLE, customer_keys, key_state, latest_report, object_keys, rotate,
                                write_inventory)

BUCKET = "batch-wiring"


def _bucket_under(aws, key_arn, name=BUCKET, objects=2):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=name)
    for number in range(objects):
        s3.put_object(Bucket=name, Key="obj-{0}.txt".format(number), Body=b"data",
                      ServerSideEncryption="aws:kms", SSEKMSKeyId=key_arn)


def _batch_role(aws):
    """A role S3 Batch Operations may assume, as the endpoint checks."""
    trust = {"Version": "2012-10-17", "Statement": [
        {"Effect": "Allow", "Action": "sts:AssumeRole", "Principal": {"Service": "batchoperations.s3.amazonaws.com"}}]}
    return aws.client("iam").create_role(RoleName="kmsrotate-batch", AssumeRolePolicyDocument=json.dumps(trust))["Role"]["Arn"]


def _module_args_of_finished_jobs(run, host):
    """The arguments s3_kms_recopy ran with, from the polls (async_status) that saw each bucket's job finish."""
    found = []
    for task in run.data["plays"][0]["tasks"]:
        result = task["hosts"].get(host, {})
        if task["task"]["name"].startswith(ROLE + "Wait | S3 bucket") and result.get("finished"):
            found.append(result["invocation"]["module_args"])
    return found


def test_preflight_refuses_batch_without_a_role_before_any_change(aws, playbook, tmp_path):
    kms = aws.client("kms")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    _bucket_under(aws, source)
    keys_before = customer_keys(kms)
    hosts = {
        "role_wide_batch": ({"kms_rotation_s3_method": "batch", "kms_rotation_s3_buckets": [BUCKET]},
                            "Bucket {0} is to be re-keyed by an S3 Batch Operations job".format(BUCKET)),
        "bucket_batch": ({"kms_rotation_s3_buckets": [{"name": BUCKET, "method": "batch"}]},
                         "Fix: set kms_rotation_s3_batch_role_arn and kms_rotation_s3_batch_report_bucket"),
        "batch_no_report_bucket": ({"kms_rotation_s3_method": "batch", "kms_rotation_s3_buckets": [BUCKET],
                                    "kms_rotation_s3_batch_role_arn": "arn:aws:iam::123456789012:role/s3-batch"},
                                   "needs an IAM role for S3 to run it as and a bucket for its manifest and report"),
        "bucket_method_unknown": ({"kms_rotation_s3_buckets": [{"name": BUCKET, "method": "bach"}]},
                                  "method bach is not one of auto, update, copy, batch"),
        "verify_batch": ({"kms_rotation_s3_verify": "batch", "kms_rotation_s3_buckets": [BUCKET]},
                         "kms_rotation_s3_verify is batch"),
    }
    inventory = write_inventory(tmp_path / "inventory.yml", dict(
        (name, dict({"kms_rotation_source_key": source}, **case[0])) for name, case in hosts.items()))

    run = rotate(playbook, inventory, tmp_path, extra_args=["--forks", "5"])
    for name, (_overrides, expected) in hosts.items():
        failure = run.result(FAIL_TASK, host=name)
        assert expected in failure["msg"], (name, failure["msg"])
        assert not run.results(ROLE + "Preflight | record the phase", host=name), name
    assert customer_keys(kms) == keys_before
    assert key_state(kms, source) == "Enabled"
    assert object_keys(aws.client("s3"), BUCKET) == {source}


@pytest.mark.slow
def test_role_wide_method_reaches_each_bucket_and_a_bucket_dict_overrides_it(aws, playbook, tmp_path):
    """kms_rotation_s3_method: update in check mode, then copy for real, with one bucket dict keeping update."""
    kms, s3 = aws.client("kms"), aws.client("s3")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    destination = kms.create_key()["KeyMetadata"]["Arn"]
    _bucket_under(aws, source)
    _bucket_under(aws, source, name=BUCKET + "-own")
    inventory = write_inventory(tmp_path / "inventory.yml", {"unit": {
        "kms_rotation_source_key": source, "kms_rotation_destination_key": destination, "kms_rotation_retire": "none",
        "kms_rotation_s3_buckets": [BUCKET, {"name": BUCKET + "-own", "method": "update"}]}})

    plan = rotate(playbook, inventory, tmp_path, check=True, tags=["s3"],
                  extra_vars={"kms_rotation_s3_method": "update"})
    assert plan.rc == 0, plan
    planned = json.loads(latest_report(tmp_path).read_text())
    assert dict((name, bucket["method"]) for name, bucket in planned["phases"]["s3"].items()) == {
        BUCKET: "update", BUCKET + "-own": "update"}
    assert object_keys(s3, BUCKET) == {source}

    run = rotate(playbook, inventory, tmp_path, tags=["s3"], extra_vars={"kms_rotation_s3_method": "copy"})
    assert run.rc == 0, run
    report = json.loads(latest_report(tmp_path).read_text())
    assert dict((name, bucket["method_used"]) for name, bucket in report["phases"]["s3"].items()) == {
        BUCKET: "copy", BUCKET + "-own": "update"}
    assert object_keys(s3, BUCKET) == {destination} and object_keys(s3, BUCKET + "-own") == {destination}
    # No batch role: no job, none in the summary, and no batch option reached the module.
    assert report["summary"]["s3_batch_jobs"] == {}
    finished = _module_args_of_finished_jobs(run, "unit")
    assert [args["bucket"] for args in finished] == [BUCKET, BUCKET + "-own"]
    assert [args["method"] for args in finished] == ["copy", "update"]
    assert [args.get("batch_role_arn") for args in finished] == [None, None]


@pytest.mark.slow
def test_bucket_dict_method_batch_runs_one_job_and_the_reports_record_it(aws, playbook_each_core, tmp_path):
    """On every supported ansible-core: the templates that pass the batch settings and record the job."""
    playbook = playbook_each_core
    kms, s3 = aws.client("kms"), aws.client("s3")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    destination = kms.create_key()["KeyMetadata"]["Arn"]
    _bucket_under(aws, source, objects=3)
    s3.create_bucket(Bucket="batch-reports")
    role = _batch_role(aws)
    inventory = write_inventory(tmp_path / "inventory.yml", {"unit": {
        "kms_rotation_source_key": source, "kms_rotation_destination_key": destination, "kms_rotation_retire": "none",
        "kms_rotation_s3_batch_role_arn": role, "kms_rotation_s3_batch_report_bucket": "batch-reports",
        "kms_rotation_s3_buckets": [{"name": BUCKET, "method": "batch", "batch_poll_interval": 1}]}})

    plan = rotate(playbook, inventory, tmp_path, check=True, tags=["s3"])
    assert plan.rc == 0, plan
    assert aws.client("s3control").list_jobs(AccountId=ACCOUNT_ID).get("Jobs", []) == []
    planned = plan.result(ROLE + "S3 | show the counts of the bucket", host="unit")["msg"]
    assert "No batch job created (check mode): about 3 versions to re-key" in planned, planned
    assert json.loads(latest_report(tmp_path).read_text())["summary"]["s3_batch_jobs"] == {}

    run = rotate(playbook, inventory, tmp_path, tags=["s3"])
    assert run.rc == 0, run
    assert object_keys(s3, BUCKET) == {destination}
    [args] = _module_args_of_finished_jobs(run, "unit")
    assert (args["method"], args["batch_role_arn"], args["batch_report_bucket"], args["batch_wait"]) == (
        "batch", role, "batch-reports", True)
    job = json.loads(latest_report(tmp_path).read_text())["summary"]["s3_batch_jobs"][BUCKET]
    assert (job["status"], job["tasks_total"], job["tasks_succeeded"], job["tasks_failed"]) == ("Complete", 3, 3, 0)
    assert job["report_location"].startswith("s3://batch-reports/")
    shown = run.result(ROLE + "S3 | show the counts of the bucket", host="unit")["msg"]
    assert "Batch job {0} Complete: 3 of 3 tasks succeeded, 0 failed".format(job["job_id"]) in shown, shown
    markdown = latest_report(tmp_path, ".md").read_text()
    assert "| `{0}` | `{1}` | Complete | 3 | 0 | 3 | `{2}` |".format(BUCKET, job["job_id"], job["report_location"]) \
        in markdown, markdown


@pytest.mark.slow
def test_verify_batch_proves_the_bucket_with_a_cancelled_job_then_retires(aws, playbook, tmp_path):
    """The whole rotation: the S3 phase re-keys by a batch job, the gate's residue proof finds nothing left."""
    kms, s3 = aws.client("kms"), aws.client("s3")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    _bucket_under(aws, source, objects=2)
    s3.create_bucket(Bucket="batch-reports")
    role = _batch_role(aws)
    inventory = write_inventory(tmp_path / "inventory.yml", {"unit": {
        "kms_rotation_source_key": source, "kms_rotation_s3_buckets": [BUCKET],
        "kms_rotation_s3_method": "batch", "kms_rotation_s3_verify": "batch",
        "kms_rotation_s3_batch_role_arn": role, "kms_rotation_s3_batch_report_bucket": "batch-reports"}})

    run = rotate(playbook, inventory, tmp_path)
    assert run.rc == 0, run
    assert key_state(kms, source) == "Disabled"
    gate = run.result(ROLE + "Verify | decide what still holds the source key", host="unit")
    assert (gate["invocation"]["module_args"]["s3_verify"], gate["invocation"]["module_args"]["batch_role_arn"]) == (
        "batch", role)
    jobs = aws.client("s3control").list_jobs(AccountId=ACCOUNT_ID)["Jobs"]
    # The re-key job ran; the proof job was prepared and cancelled, never run.
    assert sorted(job["Status"] for job in jobs) == ["Cancelled", "Complete"], jobs
    report = json.loads(latest_report(tmp_path).read_text())
    assert report["phases"]["verify"]["s3_verify"] == "batch" and report["summary"]["status"] == "complete"
    assert "S3 verification (`kms_rotation_s3_verify`): batch" in latest_report(tmp_path, ".md").read_text()
