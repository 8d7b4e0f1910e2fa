"""S3 Batch Operations jobs (fidelity/s3control_batch.py): each behaviour, over HTTP through an s3control client."""

import csv
import gzip
import io
import json
import os
import time

import boto3
import pytest
from botocore.exceptions import ClientError

from local_endpoint import ACCOUNT_ID, CREDENTIALS, REGION

SOURCE = "batch-source"
REPORTS = "batch-reports"
TERMINAL = ("Complete", "Failed", "Cancelled")
TRUST = {"Version": "2012-10-17", "Statement": [{"Effect": "Allow", "Action": "sts:AssumeRole",
                                                 "Principal": {"Service": "batchoperations.s3.amazonaws.com"}}]}


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    for bucket in (SOURCE, REPORTS):
        client.create_bucket(Bucket=bucket)
    client.put_bucket_versioning(Bucket=SOURCE, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def s3control(aws):
    return aws.client("s3control")


@pytest.fixture
def keys(kms):
    return kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]


@pytest.fixture
def role(aws):
    iam = aws.client("iam")
    return iam.create_role(RoleName="batch-ops", AssumeRolePolicyDocument=json.dumps(TRUST))["Role"]["Arn"]


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def _put(s3, key, key_id=None, bucket=SOURCE, **extra):
    sse = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id} if key_id else {}
    return s3.put_object(Bucket=bucket, Key=key, Body=b"data", **sse, **extra)["VersionId"]


def _key_of(s3, key, version_id=None, bucket=SOURCE):
    extra = {"VersionId": version_id} if version_id else {}
    return s3.head_object(Bucket=bucket, Key=key, **extra).get("SSEKMSKeyId")


def _generator(source_key, **filters):
    return {"S3JobManifestGenerator": {
        "SourceBucket": f"arn:aws:s3:::{SOURCE}", "EnableManifestOutput": False,
        "Filter": {"MatchAnyObjectEncryption": [{"SSEKMS": {"KmsKeyArn": source_key["Arn"]}}], **filters}}}


def _job_request(role, destination, token="token-1", scope="AllTasks", **extra):
    request = {
        "AccountId": ACCOUNT_ID, "ConfirmationRequired": False, "ClientRequestToken": token, "Priority": 10,
        "RoleArn": role,
        "Operation": {"S3UpdateObjectEncryption": {"ObjectEncryption": {"SSEKMS": {"KMSKeyArn": destination["Arn"]}}}},
        "Report": {"Enabled": True, "Bucket": f"arn:aws:s3:::{REPORTS}", "Format": "Report_CSV_20180820",
                   "ReportScope": scope, "Prefix": "reports"},
    }
    request.update(extra)
    return request


def _wait(s3control, job_id, statuses=TERMINAL, until=None):
    deadline = time.monotonic() + 20
    while True:
        job = s3control.describe_job(AccountId=ACCOUNT_ID, JobId=job_id)["Job"]
        if job["Status"] in statuses and (until is None or until(job)):
            return job
        assert time.monotonic() < deadline, job
        time.sleep(0.05)


def _run(s3control, request):
    return _wait(s3control, s3control.create_job(**request)["JobId"])


def _report(s3, job_id):
    """{"succeeded"|"failed": rows} of the job's completion report, and its manifest.json."""
    manifest = json.loads(s3.get_object(Bucket=REPORTS, Key=f"reports/job-{job_id}/manifest.json")["Body"].read())
    rows = {}
    for result in manifest["Results"]:
        body = s3.get_object(Bucket=result["Bucket"], Key=result["Key"])["Body"].read().decode()
        rows[result["TaskExecutionStatus"]] = list(csv.reader(io.StringIO(body)))
    return manifest, rows


def _manifest_object(s3, rows):
    body = "".join(f"{bucket},{key},{version or ''}\n" for bucket, key, version in rows).encode()
    etag = s3.put_object(Bucket=REPORTS, Key="manifests/tasks.csv", Body=body)["ETag"]
    return {"Spec": {"Format": "S3BatchOperations_CSV_20180820", "Fields": ["Bucket", "Key", "VersionId"]},
            "Location": {"ObjectArn": f"arn:aws:s3:::{REPORTS}/manifests/tasks.csv", "ETag": etag}}


def test_generator_selects_objects_under_the_source_key_only(aws, s3, s3control, keys, role, kms):
    source, destination = keys
    other = kms.create_key()["KeyMetadata"]
    _put(s3, "mine-1", source["KeyId"])
    _put(s3, "mine-2", source["Arn"])
    _put(s3, "other", other["KeyId"])
    _put(s3, "sse-s3", ServerSideEncryption="AES256")
    _put(s3, "plain")

    job = _run(s3control, _job_request(role, destination, ManifestGenerator=_generator(source)))

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 2
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2
    assert [_key_of(s3, key) for key in ("mine-1", "mine-2")] == [destination["Arn"]] * 2
    assert _key_of(s3, "other") == other["Arn"]
    assert _key_of(s3, "sse-s3") is None and _key_of(s3, "plain") is None
    stats = aws.stats()
    assert stats["s3control:CreateJob"] == 1 and stats["s3control:DescribeJob"] >= 1


def test_generator_prefix_filter(s3, s3control, keys, role):
    source, destination = keys
    _put(s3, "a/one", source["KeyId"])
    _put(s3, "b/two", source["KeyId"])

    generator = _generator(source, KeyNameConstraint={"MatchAnyPrefix": ["a/"]})
    job = _run(s3control, _job_request(role, destination, ManifestGenerator=generator))

    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 1
    assert _key_of(s3, "a/one") == destination["Arn"] and _key_of(s3, "b/two") == source["Arn"]


@pytest.mark.parametrize("noncurrent", [False, True])
def test_generator_lists_current_versions_unless_switched(aws, s3, s3control, keys, role, noncurrent):
    source, destination = keys
    old = _put(s3, "doc", source["KeyId"])
    current = _put(s3, "doc", source["KeyId"])
    aws.set_fidelity(s3control_generator_includes_noncurrent=noncurrent)

    job = _run(s3control, _job_request(role, destination, ManifestGenerator=_generator(source)))

    assert job["ProgressSummary"]["TotalNumberOfTasks"] == (2 if noncurrent else 1)
    assert _key_of(s3, "doc", current) == destination["Arn"]
    assert _key_of(s3, "doc", old) == (destination["Arn"] if noncurrent else source["Arn"])
    _manifest, rows = _report(s3, job["JobId"])
    assert {row[2] for row in rows["succeeded"]} == ({old, current} if noncurrent else {current})


def test_generated_manifest_output(s3, s3control, keys, role):
    source, destination = keys
    versions = {key: _put(s3, key, source["KeyId"]) for key in ("x 1", "x/2")}
    generator = _generator(source)
    generator["S3JobManifestGenerator"].update(EnableManifestOutput=True, ManifestOutputLocation={
        "Bucket": f"arn:aws:s3:::{REPORTS}", "ManifestPrefix": "generated",
        "ManifestFormat": "S3InventoryReport_CSV_20211130"})
    request = _job_request(role, destination, ManifestGenerator=generator, ConfirmationRequired=True)

    job = _wait(s3control, s3control.create_job(**request)["JobId"], statuses=("Suspended",))

    descriptor = job["GeneratedManifestDescriptor"]
    assert descriptor["Format"] == "S3InventoryReport_CSV_20211130"
    assert descriptor["Location"]["ObjectArn"] == f"arn:aws:s3:::{REPORTS}/generated/job-{job['JobId']}/manifest.json"
    manifest_object = s3.get_object(Bucket=REPORTS, Key=f"generated/job-{job['JobId']}/manifest.json")
    assert manifest_object["ETag"].strip('"') == descriptor["Location"]["ETag"].strip('"')
    manifest = json.loads(manifest_object["Body"].read())
    assert manifest["fileFormat"] == "CSV" and manifest["fileSchema"] == "Bucket, Key, VersionId"
    assert manifest["sourceBucket"] == SOURCE and manifest["destinationBucket"] == f"arn:aws:s3:::{REPORTS}"
    [data_file] = manifest["files"]
    assert data_file["key"].startswith(f"generated/job-{job['JobId']}/data/") and data_file["key"].endswith(".csv.gz")
    data = gzip.decompress(s3.get_object(Bucket=REPORTS, Key=data_file["key"])["Body"].read()).decode()
    assert list(csv.reader(io.StringIO(data))) == [[SOURCE, "x+1", versions["x 1"]], [SOURCE, "x/2", versions["x/2"]]]


@pytest.mark.parametrize("scope", ["AllTasks", "FailedTasksOnly"])
def test_completion_report_and_failed_tasks(aws, s3, s3control, keys, role, scope):
    source, destination = keys
    s3.create_bucket(Bucket="batch-locked", ObjectLockEnabledForBucket=True)
    locked = _put(s3, "held", source["KeyId"], bucket="batch-locked", ObjectLockLegalHoldStatus="ON")
    customer = _put(s3, "customer", SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32))
    fine = _put(s3, "fine", source["KeyId"])
    manifest = _manifest_object(s3, [("batch-locked", "held", locked), (SOURCE, "customer", customer),
                                     (SOURCE, "fine", fine), (SOURCE, "missing", None)])

    job = _run(s3control, _job_request(role, destination, scope=scope, Manifest=manifest))

    assert job["Status"] == "Complete"
    assert job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1 and job["ProgressSummary"]["NumberOfTasksFailed"] == 3
    report, rows = _report(s3, job["JobId"])
    assert report["Format"] == "Report_CSV_20180820"
    assert report["ReportSchema"] == "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage"
    assert sorted(result["TaskExecutionStatus"] for result in report["Results"]) == (
        ["failed", "succeeded"] if scope == "AllTasks" else ["failed"])
    failures = {row[1]: row for row in rows["failed"]}
    # Bucket, Key, VersionId, TaskStatus, HTTPStatusCode, ErrorCode, ResultMessage (AWS's example order).
    assert failures["held"][:6] == ["batch-locked", "held", locked, "failed", "403", "AccessDenied"]
    assert "Object Lock" in failures["held"][6]
    assert failures["customer"][3:6] == ["failed", "400", "InvalidRequest"]
    assert failures["missing"][2:6] == ["", "failed", "404", "NoSuchKey"]
    if scope == "AllTasks":
        assert rows["succeeded"] == [[SOURCE, "fine", fine, "succeeded", "200", "", "Successful"]]
    assert _key_of(s3, "fine", fine) == destination["Arn"]
    assert _key_of(s3, "held", locked, bucket="batch-locked") == source["Arn"]


def test_manifest_etag_must_match(s3, s3control, keys, role):
    source, destination = keys
    manifest = _manifest_object(s3, [(SOURCE, "doc", _put(s3, "doc", source["KeyId"]))])
    manifest["Location"]["ETag"] = "0" * 32
    with pytest.raises(ClientError) as excinfo:
        s3control.create_job(**_job_request(role, destination, Manifest=manifest))
    assert _code(excinfo) == "BadRequestException" and "ETag" in str(excinfo.value)


def test_client_request_token_is_idempotent(s3, s3control, keys, role):
    source, destination = keys
    request = _job_request(role, destination, ManifestGenerator=_generator(source), ConfirmationRequired=True)
    first = s3control.create_job(**request)["JobId"]
    assert s3control.create_job(**request)["JobId"] == first

    with pytest.raises(ClientError) as excinfo:
        s3control.create_job(**{**request, "Priority": 11})
    assert _code(excinfo) == "IdempotencyException"
    assert len(s3control.list_jobs(AccountId=ACCOUNT_ID)["Jobs"]) == 1


def test_confirmation_flow(s3, s3control, keys, role):
    source, destination = keys
    _put(s3, "doc", source["KeyId"])
    job_id = s3control.create_job(**_job_request(role, destination, ManifestGenerator=_generator(source),
                                                 ConfirmationRequired=True))["JobId"]

    suspended = _wait(s3control, job_id, statuses=("Suspended",))
    assert suspended["ProgressSummary"]["TotalNumberOfTasks"] == 1 and "SuspendedDate" in suspended
    assert _key_of(s3, "doc") == source["Arn"]
    answer = s3control.update_job_status(AccountId=ACCOUNT_ID, JobId=job_id, RequestedJobStatus="Ready",
                                         StatusUpdateReason="confirmed")
    assert answer["Status"] in ("Ready", "Active", "Complete") and answer["StatusUpdateReason"] == "confirmed"

    done = _wait(s3control, job_id)
    assert done["Status"] == "Complete" and done["StatusUpdateReason"] == "confirmed" and "TerminationDate" in done
    assert _key_of(s3, "doc") == destination["Arn"]
    for requested in ("Ready", "Cancelled"):
        with pytest.raises(ClientError) as excinfo:
            s3control.update_job_status(AccountId=ACCOUNT_ID, JobId=job_id, RequestedJobStatus=requested)
        assert _code(excinfo) == "JobStatusException"


def test_cancel_midway_writes_the_report_of_the_tasks_run(aws, s3, s3control, keys, role):
    source, destination = keys
    for index in range(5):
        _put(s3, f"doc-{index}", source["KeyId"])
    aws.control("s3control_batch_pace", {"pause_after_tasks": 2})
    job_id = s3control.create_job(**_job_request(role, destination, ManifestGenerator=_generator(source)))["JobId"]
    _wait(s3control, job_id, statuses=("Active",),
          until=lambda job: job["ProgressSummary"]["NumberOfTasksSucceeded"] == 2)

    answer = s3control.update_job_status(AccountId=ACCOUNT_ID, JobId=job_id, RequestedJobStatus="Cancelled")

    assert answer["Status"] in ("Cancelling", "Cancelled")
    job = _wait(s3control, job_id)
    assert job["Status"] == "Cancelled"
    assert job["ProgressSummary"] == {**job["ProgressSummary"], "TotalNumberOfTasks": 5, "NumberOfTasksSucceeded": 2}
    _manifest, rows = _report(s3, job_id)
    assert [row[1] for row in rows["succeeded"]] == ["doc-0", "doc-1"]
    moved = [_key_of(s3, f"doc-{index}") == destination["Arn"] for index in range(5)]
    assert moved == [True, True, False, False, False]


def test_role_must_exist_and_trust_batch_operations(aws, s3, s3control, keys, role):
    source, destination = keys
    untrusting = aws.client("iam").create_role(RoleName="lambda-only", AssumeRolePolicyDocument=json.dumps(
        {**TRUST, "Statement": [{**TRUST["Statement"][0], "Principal": {"Service": "lambda.amazonaws.com"}}]}))["Role"]
    for role_arn in (role.replace("batch-ops", "no-such-role"), untrusting["Arn"]):
        with pytest.raises(ClientError) as excinfo:
            s3control.create_job(**_job_request(role_arn, destination, ManifestGenerator=_generator(source)))
        assert _code(excinfo) == "BadRequestException" and role_arn in str(excinfo.value)
    assert s3control.list_jobs(AccountId=ACCOUNT_ID)["Jobs"] == []


def test_report_bucket_must_exist(s3, s3control, keys, role):
    source, destination = keys
    request = _job_request(role, destination, ManifestGenerator=_generator(source))
    request["Report"]["Bucket"] = "arn:aws:s3:::no-such-reports"
    with pytest.raises(ClientError) as excinfo:
        s3control.create_job(**request)
    assert _code(excinfo) == "BadRequestException" and "no-such-reports" in str(excinfo.value)
    assert s3control.list_jobs(AccountId=ACCOUNT_ID)["Jobs"] == []


def test_other_operations_are_not_implemented(aws, s3, keys, role):
    source, _destination = keys
    s3control = aws.client("s3control", retries={"total_max_attempts": 1})
    request = _job_request(role, source, ManifestGenerator=_generator(source),
                           Operation={"S3PutObjectTagging": {"TagSet": [{"Key": "a", "Value": "b"}]}})
    with pytest.raises(ClientError) as excinfo:
        s3control.create_job(**request)
    assert _code(excinfo) == "NotImplemented" and excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 501


def test_list_jobs_filter_and_pagination(s3, s3control, keys, role):
    source, destination = keys
    requests = [_job_request(role, destination, token=f"token-{index}", ConfirmationRequired=True,
                             ManifestGenerator=_generator(source)) for index in range(3)]
    job_ids = [s3control.create_job(**request)["JobId"] for request in requests]
    for job_id in job_ids:
        _wait(s3control, job_id, statuses=("Suspended",))
    s3control.update_job_status(AccountId=ACCOUNT_ID, JobId=job_ids[0], RequestedJobStatus="Cancelled")

    cancelled = s3control.list_jobs(AccountId=ACCOUNT_ID, JobStatuses=["Cancelled"])["Jobs"]
    assert [job["JobId"] for job in cancelled] == [job_ids[0]]
    assert cancelled[0]["Operation"] == "S3UpdateObjectEncryption"
    first = s3control.list_jobs(AccountId=ACCOUNT_ID, MaxResults=2)
    second = s3control.list_jobs(AccountId=ACCOUNT_ID, MaxResults=2, NextToken=first["NextToken"])
    assert [job["JobId"] for job in first["Jobs"] + second["Jobs"]] == job_ids[::-1]
    assert "NextToken" not in second
    with pytest.raises(ClientError) as excinfo:
        s3control.list_jobs(AccountId=ACCOUNT_ID, NextToken="bm90LWEtdG9rZW4=")
    assert _code(excinfo) == "InvalidNextTokenException"


def test_update_job_priority(s3, s3control, keys, role):
    source, destination = keys
    job_id = s3control.create_job(**_job_request(role, destination, ManifestGenerator=_generator(source),
                                                 ConfirmationRequired=True))["JobId"]
    assert s3control.update_job_priority(AccountId=ACCOUNT_ID, JobId=job_id, Priority=42)["Priority"] == 42
    assert s3control.describe_job(AccountId=ACCOUNT_ID, JobId=job_id)["Job"]["Priority"] == 42
    with pytest.raises(ClientError) as excinfo:
        s3control.update_job_priority(AccountId=ACCOUNT_ID, JobId="no-such-job", Priority=1)
    assert _code(excinfo) == "NotFoundException"


def test_reset_forgets_jobs(aws, s3, s3control, keys, role):
    source, destination = keys
    _put(s3, "doc", source["KeyId"])
    aws.control("s3control_batch_pace", {"pause_after_tasks": 0})
    job_id = s3control.create_job(**_job_request(role, destination, ManifestGenerator=_generator(source)))["JobId"]
    _wait(s3control, job_id, statuses=("Active",))

    aws.reset()

    with pytest.raises(ClientError) as excinfo:
        s3control.describe_job(AccountId=ACCOUNT_ID, JobId=job_id)
    assert _code(excinfo) == "NotFoundException"
    assert s3control.list_jobs(AccountId=ACCOUNT_ID)["Jobs"] == []


def test_a_generated_manifest_can_be_given_to_a_later_job(s3, s3control, keys, role):
    source, destination = keys
    version = _put(s3, "doc", source["KeyId"])
    generator = _generator(source)
    generator["S3JobManifestGenerator"].update(EnableManifestOutput=True, ManifestOutputLocation={
        "Bucket": f"arn:aws:s3:::{REPORTS}", "ManifestFormat": "S3InventoryReport_CSV_20211130"})
    listing = _wait(s3control, s3control.create_job(**_job_request(
        role, destination, token="listing", ManifestGenerator=generator, ConfirmationRequired=True))["JobId"],
        statuses=("Suspended",))
    s3control.update_job_status(AccountId=ACCOUNT_ID, JobId=listing["JobId"], RequestedJobStatus="Cancelled")
    assert _key_of(s3, "doc") == source["Arn"]

    manifest = {"Spec": {"Format": "S3InventoryReport_CSV_20161130"},
                "Location": listing["GeneratedManifestDescriptor"]["Location"]}
    job = _run(s3control, _job_request(role, destination, token="rekey", Manifest=manifest))

    assert job["Status"] == "Complete" and job["ProgressSummary"]["NumberOfTasksSucceeded"] == 1
    assert _key_of(s3, "doc", version) == destination["Arn"]


def test_a_job_fails_when_most_of_its_first_thousand_tasks_fail(aws, s3, s3control, keys, role, kms):
    _source, destination = keys
    aws.control("s3_seed", {"bucket": SOURCE, "count": 1100})
    kms.disable_key(KeyId=destination["KeyId"])
    generator = {"S3JobManifestGenerator": {"SourceBucket": f"arn:aws:s3:::{SOURCE}", "EnableManifestOutput": False,
                                            "Filter": {"MatchAnyObjectEncryption": [{"SSES3": {}}]}}}

    job = _run(s3control, _job_request(role, destination, scope="FailedTasksOnly", ManifestGenerator=generator))

    assert job["Status"] == "Failed"
    assert [reason["FailureCode"] for reason in job["FailureReasons"]] == ["TaskFailureThresholdExceeded"]
    assert job["ProgressSummary"]["TotalNumberOfTasks"] == 1100
    assert job["ProgressSummary"]["NumberOfTasksFailed"] == 1000
    _manifest, rows = _report(s3, job["JobId"])
    assert len(rows["failed"]) == 1000 and {row[5] for row in rows["failed"]} == {"KMS.DisabledException"}


def test_served_without_the_account_host_label(aws):
    direct = boto3.client("s3control", region_name=REGION, endpoint_url=aws.url,
                          aws_access_key_id=CREDENTIALS["AWS_ACCESS_KEY_ID"],
                          aws_secret_access_key=CREDENTIALS["AWS_SECRET_ACCESS_KEY"])

    def drop_account_label(request, **_kwargs):
        request.url = request.url.replace(f"//{ACCOUNT_ID}.", "//", 1)

    # Host 127.0.0.1:<port>, as a client that drops the unresolvable account label sends it.
    direct.meta.events.register("before-sign.s3-control", drop_account_label)
    assert direct.list_jobs(AccountId=ACCOUNT_ID)["Jobs"] == []
    assert aws.stats()["s3control:ListJobs"] == 1


def test_paced_tasks_leave_time_to_cancel(aws, s3, s3control, keys, role):
    source, destination = keys
    for index in range(2):
        _put(s3, f"doc-{index}", source["KeyId"])
    aws.control("s3control_batch_pace", {"seconds_per_task": 5})
    job_id = s3control.create_job(**_job_request(role, destination, ManifestGenerator=_generator(source)))["JobId"]
    active = _wait(s3control, job_id, statuses=("Active",))
    assert active["ProgressSummary"]["NumberOfTasksSucceeded"] < 2

    s3control.update_job_status(AccountId=ACCOUNT_ID, JobId=job_id, RequestedJobStatus="Cancelled")

    job = _wait(s3control, job_id)
    assert job["Status"] == "Cancelled" and job["ProgressSummary"]["NumberOfTasksSucceeded"] < 2
    assert aws.control("s3control_batch_pace", method="DELETE") == {"seconds_per_task": 0.0, "pause_after_tasks": None}
