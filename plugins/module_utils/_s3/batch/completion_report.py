# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A Batch Operations completion report (Report_CSV_20180820), read back by content.

S3 writes `<prefix>/job-<id>/manifest.json`, whose `Results` name the CSV
files under `results/`, one per task outcome. The rows have no header, and
AWS's published examples and the schema line it prints disagree on the order
of the status and error columns; so only Bucket, Key and VersionId are taken
by position (the first three, as both agree), and the rest by what the values
are: TaskStatus is `succeeded` or `failed`, HTTPStatusCode three digits,
ErrorCode a word without spaces; ResultMessage is the last column. Keys are
URL-encoded (form encoding), as in S3's manifests and inventory reports.
Files are streamed, a row at a time.
"""

import codecs
import csv
import json
import re
from urllib.parse import unquote_plus

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import report_key

TASK_STATUSES = ("succeeded", "failed")
_HTTP_STATUS = re.compile(r"^[1-5][0-9][0-9]$")
_ERROR_CODE = re.compile(r"^[A-Za-z][A-Za-z0-9.]*$")


class Task(object):
    """One row of a completion report."""

    __slots__ = ("bucket", "key", "version_id", "status", "error_code", "http_status", "message")

    def __init__(self, bucket, key, version_id, status, error_code, http_status, message):
        self.bucket = bucket
        self.key = key
        self.version_id = version_id
        self.status = status
        self.error_code = error_code
        self.http_status = http_status
        self.message = message

    def as_client_error(self, operation="UpdateObjectEncryption"):
        """The task's failure as the ClientError the same request would have raised, for one classification."""
        error = {"Code": self.error_code or "TaskFailed", "Message": self.message}
        return ClientError({"Error": error, "ResponseMetadata": {"HTTPStatusCode": self.http_status}}, operation)


def parse_row(row):
    """A Task from one CSV row, whatever the order of its columns after VersionId; None for a blank row."""
    if not any(cell.strip() for cell in row):
        return None
    if len(row) < 4:
        raise ValueError("a completion report row has {0} columns, at least 4 expected: {1!r}".format(len(row), row))
    bucket, key, version_id = row[0], unquote_plus(row[1]), row[2] or None
    rest = list(enumerate(row[3:]))
    status_at = next((at for at, value in rest if value.strip().lower() in TASK_STATUSES), None)
    if status_at is None:
        raise ValueError("a completion report row names no task status (succeeded or failed): {0!r}".format(row))
    http_at = next((at for at, value in rest if at != status_at and _HTTP_STATUS.match(value.strip())), None)
    others = [value for at, value in rest if at not in (status_at, http_at)]
    message = others.pop() if others else ""
    # What is left between status and message is the error code, when it looks like one.
    error_code = next((value.strip() for value in others if _ERROR_CODE.match(value.strip())), None)
    http_status = int(rest[http_at][1]) if http_at is not None else None
    return Task(bucket, key, version_id, rest[status_at][1].strip().lower(), error_code, http_status, message)


def result_keys(manifest):
    """The keys of the CSV files a report's manifest.json names."""
    return [result["Key"] for result in manifest.get("Results", [])]


def read_report(s3, report_bucket, report_prefix, job_id):
    """Every Task of a job's completion report, streamed; nothing when S3 wrote no report (no task ran)."""
    try:
        body = s3.get_object(Bucket=report_bucket, Key=report_key(report_prefix, job_id, "manifest.json"),
                             aws_retry=True)["Body"]
    except ClientError as exc:
        if is_error(exc, NOT_FOUND):
            return
        raise
    with body:
        manifest = json.loads(body.read().decode("utf-8"))
    for key in result_keys(manifest):
        csv_body = s3.get_object(Bucket=report_bucket, Key=key, aws_retry=True)["Body"]
        with csv_body:
            lines = codecs.iterdecode(csv_body.iter_lines(keepends=True), "utf-8")
            for row in csv.reader(lines):
                task = parse_row(row)
                if task is not None:
                    yield task
