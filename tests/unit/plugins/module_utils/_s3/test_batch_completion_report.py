"""A Batch Operations completion report, read by content whatever the column order after VersionId."""

import json

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import error_code, http_status
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.completion_report import parse_row, read_report

REPORTS = "reports"


@pytest.mark.parametrize("row", [
    # The schema line's order: TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage.
    ["data", "a.txt", "v1", "failed", "AccessDenied", "403", "protected by S3 Object Lock, sorry"],
    # AWS's published examples: TaskStatus, HTTPStatusCode, ErrorCode, ResultMessage.
    ["data", "a.txt", "v1", "failed", "403", "AccessDenied", "protected by S3 Object Lock, sorry"],
])
def test_row_is_read_by_content(row):
    task = parse_row(row)
    assert (task.bucket, task.key, task.version_id, task.status) == ("data", "a.txt", "v1", "failed")
    assert (task.error_code, task.http_status) == ("AccessDenied", 403)
    assert task.message == "protected by S3 Object Lock, sorry"


def test_succeeded_row_without_error_and_version():
    task = parse_row(["data", "b.txt", "", "succeeded", "200", "", "Successful"])
    assert task.version_id is None and task.status == "succeeded" and task.error_code is None
    assert task.http_status == 200 and task.message == "Successful"


def test_key_is_url_decoded_and_version_id_kept_as_it_is():
    task = parse_row(["data", "reports/q1+2024%2C+final.pdf", "3HL4k+rm", "failed", "403", "AccessDenied", "x"])
    assert task.key == "reports/q1 2024, final.pdf" and task.version_id == "3HL4k+rm"


def test_blank_row_is_skipped_and_a_row_without_status_refused():
    assert parse_row(["", ""]) is None
    with pytest.raises(ValueError):
        parse_row(["data", "c.txt", "", "maybe", "200", "Successful"])


def test_task_failure_becomes_the_client_error_the_request_would_raise():
    exc = parse_row(["data", "a", "v", "failed", "400", "InvalidRequest", "not supported"]).as_client_error()
    assert error_code(exc) == "InvalidRequest" and http_status(exc) == 400


def test_report_is_read_through_its_manifest(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=REPORTS)
    result_key = "kmsrotate-batch/job-J1/results/abc.csv"
    s3.put_object(Bucket=REPORTS, Key="kmsrotate-batch/job-J1/manifest.json", Body=json.dumps({
        "Format": "Report_CSV_20180820",
        "ReportSchema": "Bucket, Key, VersionId, TaskStatus, ErrorCode, HTTPStatusCode, ResultMessage",
        "Results": [{"TaskExecutionStatus": "failed", "Bucket": REPORTS, "Key": result_key}]}).encode())
    s3.put_object(Bucket=REPORTS, Key=result_key, Body=(
        'data,locked.txt,v1,failed,403,AccessDenied,"Object Lock, retention"\n'
        'data,comma%2C+key.txt,v2,failed,400,InvalidRequest,not supported\n').encode())
    tasks = list(read_report(s3, REPORTS, "kmsrotate-batch", "J1"))
    assert [(task.key, task.version_id, task.error_code) for task in tasks] == [
        ("locked.txt", "v1", "AccessDenied"), ("comma, key.txt", "v2", "InvalidRequest")]
    assert tasks[0].message == "Object Lock, retention"


def test_no_report_reads_as_no_tasks(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=REPORTS)
    assert list(read_report(s3, REPORTS, "kmsrotate-batch", "J2")) == []
