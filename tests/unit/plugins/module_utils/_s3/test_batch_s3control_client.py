"""The S3 Control client of _common.clients: the account label dropped for IP/localhost endpoints only."""

import boto3
import pytest
from botocore.awsrequest import AWSResponse

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.clients import Clients
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit

EMPTY_LIST_JOBS = b'<?xml version="1.0"?><ListJobsResult xmlns="http://awss3control.amazonaws.com/doc/2018-08-20/"/>'


def _sent(endpoint_url):
    """(URL, Authorization header) of a ListJobs sent through Clients' s3control client."""
    seen = {}

    def connect(service, region, config):
        return boto3.client(service, endpoint_url=endpoint_url, region_name="us-east-1", aws_access_key_id="a",
                            aws_secret_access_key="b", config=config)

    def answer(request=None, **kwargs):
        seen["url"], seen["auth"] = request.url, request.headers["Authorization"]
        seen["account"] = request.headers["x-amz-account-id"]
        response = AWSResponse(request.url, 200, {}, None)
        response._content = EMPTY_LIST_JOBS  # pylint: disable=protected-access
        return response

    client = Clients(connect, AdaptiveLimit(1))("s3control")
    client.meta.events.register("before-send", answer)
    client.list_jobs(AccountId="123456789012")
    return seen


@pytest.mark.parametrize("endpoint, expected", [
    ("http://127.0.0.1:4566", "http://127.0.0.1:4566/v20180820/jobs"),
    ("http://localhost:4566", "http://localhost:4566/v20180820/jobs"),
    ("http://[::1]:4566", "http://[::1]:4566/v20180820/jobs"),
])
def test_account_label_is_dropped_before_signing_for_local_hosts(endpoint, expected):
    seen = _sent(endpoint)
    assert seen["url"] == expected and seen["account"] == b"123456789012"
    # Signed for the host reached: botocore signs after before-sign, with the URL as it is then.
    assert b"SignedHeaders=host;" in seen["auth"]


@pytest.mark.parametrize("endpoint, expected", [
    (None, "https://123456789012.s3-control.us-east-1.amazonaws.com/v20180820/jobs"),
    ("https://s3-control.example.com", "https://123456789012.s3-control.example.com/v20180820/jobs"),
])
def test_any_other_host_is_left_as_botocore_built_it(endpoint, expected):
    assert _sent(endpoint)["url"] == expected


def test_account_id_is_asked_once(aws_client, make_clients):
    clients, _limit = make_clients()
    assert clients.account_id() == clients.account_id() == "123456789012"
    assert clients.requests.counts["GetCallerIdentity"] == 1
