"""A botocore-Stubbed S3 Control client for the batch tests: moto has no Batch Operations in process."""

import boto3
from botocore.stub import ANY, Stubber

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry

ACCOUNT = "123456789012"


def stubbed_s3control():
    """(wrapped client as an engine gets it, its Stubber, activated); stub.assert_no_pending_responses() at the end."""
    raw = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="testing",
                       aws_secret_access_key="testing")
    stub = Stubber(raw)
    stub.activate()
    return RetryingBotoClientWrapper(raw, aws_retry), stub


def job(job_id, status, total=0, succeeded=0, failed=0, **extra):
    descriptor = {"JobId": job_id, "Status": status, "Priority": 10,
                  "ProgressSummary": {"TotalNumberOfTasks": total, "NumberOfTasksSucceeded": succeeded,
                                      "NumberOfTasksFailed": failed}}
    descriptor.update(extra)
    return {"Job": descriptor}


def describe(stub, job_id, status, **counts):
    stub.add_response("describe_job", job(job_id, status, **counts), {"AccountId": ACCOUNT, "JobId": job_id})


def list_jobs(stub, jobs, next_token=None, token_sent=None):
    answer = {"Jobs": [{"JobId": job_id, "Description": description, "Status": status}
                       for job_id, description, status in jobs]}
    if next_token:
        answer["NextToken"] = next_token
    expected = {"AccountId": ACCOUNT, "MaxResults": 1000}
    if token_sent:
        expected["NextToken"] = token_sent
    stub.add_response("list_jobs", answer, expected)


def create(stub, job_id, confirmation=None):
    expected = {"AccountId": ACCOUNT, "Operation": ANY, "Report": ANY, "ClientRequestToken": ANY, "Priority": ANY,
                "RoleArn": ANY, "Description": ANY, "ManifestGenerator": ANY, "ConfirmationRequired": ANY}
    if confirmation is not None:
        expected["ConfirmationRequired"] = confirmation
    stub.add_response("create_job", {"JobId": job_id}, expected)


def cancel(stub, job_id):
    stub.add_response("update_job_status", {"JobId": job_id, "Status": "Cancelling"},
                      {"AccountId": ACCOUNT, "JobId": job_id, "RequestedJobStatus": "Cancelled",
                       "StatusUpdateReason": ANY})
