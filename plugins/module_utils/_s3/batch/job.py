# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Create, find and follow S3 Batch Operations jobs (S3 Control CreateJob, ListJobs, DescribeJob, UpdateJobStatus).

A job is found again by its Description (job_request.description), which
ListJobs returns: S3 Control has no lookup by client request token. ListJobs
reaches back 90 days, as AWS keeps jobs that long.
"""

import time

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import attempt_of

# Statuses after which a job changes no more.
TERMINAL = frozenset(["Complete", "Failed", "Cancelled"])
# A job that ended so did not do its work: a rerun starts the next attempt.
REPLACEABLE = frozenset(["Failed", "Cancelled"])
# Where a job waits for UpdateJobStatus Ready: its manifest is prepared, no task has run.
AWAITING_CONFIRMATION = "Suspended"
# Seconds between two DescribeJob calls while waiting.
POLL_INTERVAL = 15
TRUST_POLICY_FIX = ("give batch_role_arn a role S3 Batch Operations can assume: its trust policy must allow "
                    "sts:AssumeRole to the service principal batchoperations.s3.amazonaws.com, and its permissions "
                    "those in docs/s3_batch.md (the JSON of both is there)")


class JobState(object):
    """What DescribeJob says of one job, reduced to what a run reports."""

    __slots__ = ("job_id", "status", "total", "succeeded", "failed", "failure_reasons", "manifest_location",
                 "status_reason")

    def __init__(self, job):
        progress = job.get("ProgressSummary") or {}
        self.job_id = job["JobId"]
        self.status = job.get("Status")
        self.total = progress.get("TotalNumberOfTasks", 0)
        self.succeeded = progress.get("NumberOfTasksSucceeded", 0)
        self.failed = progress.get("NumberOfTasksFailed", 0)
        self.failure_reasons = ["{0}: {1}".format(reason.get("FailureCode"), reason.get("FailureReason"))
                                for reason in job.get("FailureReasons") or []]
        self.status_reason = job.get("StatusUpdateReason")
        location = (job.get("GeneratedManifestDescriptor") or {}).get("Location") or {}
        self.manifest_location = _s3_url(location.get("ObjectArn"))

    @property
    def ended(self):
        return self.status in TERMINAL


def _s3_url(object_arn):
    """arn:aws:s3:::bucket/key as s3://bucket/key (None stays None)."""
    if not object_arn:
        return None
    return "s3://" + object_arn.split(":::", 1)[-1]


class Jobs(object):
    """The S3 Control calls on one account's jobs; sleep and clock (time's by default) are injectable for tests."""

    def __init__(self, s3control, account, resource, sleep=None, clock=None):
        self._s3control = s3control
        self._account = account
        self._resource = resource
        self._sleep = sleep or time.sleep
        self._clock = clock or time.monotonic

    def attempts(self, kind, base):
        """{attempt: job id} of every job ListJobs knows for this base (any status)."""
        found = {}
        request = {"AccountId": self._account, "MaxResults": 1000}
        while True:
            page = self._s3control.list_jobs(aws_retry=True, **request)
            for job in page.get("Jobs", []):
                attempt = attempt_of(kind, base, job.get("Description"))
                if attempt is not None:
                    found[attempt] = job["JobId"]
            if not page.get("NextToken"):
                return found
            request["NextToken"] = page["NextToken"]

    def describe(self, job_id):
        return JobState(self._s3control.describe_job(AccountId=self._account, JobId=job_id, aws_retry=True)["Job"])

    def create(self, request):
        """The id of the job CreateJob made (or, for a token S3 has seen with the same request, the one it made)."""
        try:
            return self._s3control.create_job(aws_retry=True, **request)["JobId"]
        except ClientError as exc:
            raise self._create_refused(exc, request) from None

    def _create_refused(self, exc, request):
        message = error_message(exc)
        if error_code(exc) == "IdempotencyException":
            fix = ("a job with client request token {0} exists with another request: look at it with `aws s3control "
                   "describe-job`, cancel it if it is not wanted, then run the task again".format(
                       request["ClientRequestToken"]))
        elif "role" in message.lower() or "assume" in message.lower():
            fix = TRUST_POLICY_FIX
        else:
            fix = "check batch_role_arn, batch_report_bucket and the caller's s3:CreateJob and iam:PassRole " \
                  "permissions (docs/s3_batch.md), then run the task again"
        return RotationError("S3 Batch Operations refused to create the job ({0}).".format(message),
                             resource=self._resource, fix=fix, details={"role_arn": request["RoleArn"]})

    def cancel(self, job_id, reason):
        self._s3control.update_job_status(AccountId=self._account, JobId=job_id, RequestedJobStatus="Cancelled",
                                          StatusUpdateReason=reason, aws_retry=True)

    def wait(self, job_id, until, interval=POLL_INTERVAL, on_poll=None, timeout=None):
        """DescribeJob every `interval` seconds until until(state) holds or the job ended; the last state.

        on_poll(state) is called after every DescribeJob (progress); timeout: seconds, None waits as long as the
        job runs.
        """
        deadline = None if timeout is None else self._clock() + timeout
        while True:
            state = self.describe(job_id)
            if on_poll is not None:
                on_poll(state)
            if until(state) or state.ended:
                return state
            if deadline is not None and self._clock() >= deadline:
                raise RotationError("S3 Batch Operations job {0} is still {1} after {2} seconds.".format(
                    job_id, state.status, timeout), resource=self._resource,
                    fix="look at the job with `aws s3control describe-job`; cancel it if it is stuck")
            self._sleep(interval)
