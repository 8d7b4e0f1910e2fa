"""The CreateJob request of a re-key job: byte-stable, valid against botocore's model, and found again by name."""

import json

import boto3
import pytest
from botocore.stub import Stubber

from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch import job_request

ACCOUNT = "123456789012"
SOURCE = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
DESTINATION = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"
OPTIONS = {"role_arn": "arn:aws:iam::123456789012:role/batch", "report_bucket": "reports",
           "report_prefix": "kmsrotate-batch", "priority": 10}


def _target(**extra):
    target = {"bucket": "data", "prefix": "", "source_arn": SOURCE, "operation_key_arn": DESTINATION}
    target.update(extra)
    return target


def _request(attempt=1, **target):
    base = job_request.job_base(ACCOUNT, "data", target.get("prefix", ""), SOURCE, DESTINATION)
    return job_request.create_job_request(job_request.RECOPY_DESCRIPTION, base, attempt, ACCOUNT, _target(**target),
                                          OPTIONS)


def test_request_is_byte_stable_and_names_no_time():
    first = json.dumps(_request(), sort_keys=True)
    second = json.dumps(_request(), sort_keys=True)
    assert first == second
    request = _request()
    assert request["Description"] == "kmsrotate.aws s3_kms_recopy {0} attempt 1".format(
        job_request.job_base(ACCOUNT, "data", "", SOURCE, DESTINATION))
    assert len(request["ClientRequestToken"]) <= 64
    assert request["ClientRequestToken"].endswith("-1")


def test_base_differs_for_every_part_of_what_the_job_does():
    base = job_request.job_base(ACCOUNT, "data", "", SOURCE, DESTINATION)
    others = [job_request.job_base("210987654321", "data", "", SOURCE, DESTINATION),
              job_request.job_base(ACCOUNT, "other", "", SOURCE, DESTINATION),
              job_request.job_base(ACCOUNT, "data", "logs/", SOURCE, DESTINATION),
              job_request.job_base(ACCOUNT, "data", "", DESTINATION, SOURCE),
              job_request.job_base(ACCOUNT, "data", "", SOURCE, DESTINATION, manifest="residue")]
    assert base not in others and len(set(others)) == len(others)


def test_generator_filters_by_source_key_and_prefix_and_saves_its_manifest():
    generator = _request(prefix="logs/")["ManifestGenerator"]["S3JobManifestGenerator"]
    assert generator["SourceBucket"] == "arn:aws:s3:::data"
    assert generator["Filter"] == {"MatchAnyObjectEncryption": [{"SSEKMS": {"KmsKeyArn": SOURCE}}],
                                   "KeyNameConstraint": {"MatchAnyPrefix": ["logs/"]}}
    assert generator["EnableManifestOutput"] is True
    assert generator["ManifestOutputLocation"]["Bucket"] == "arn:aws:s3:::reports"
    assert "KeyNameConstraint" not in _request()["ManifestGenerator"]["S3JobManifestGenerator"]["Filter"]


def test_operation_names_the_destination_and_bucket_key_only_when_asked():
    assert _request()["Operation"] == {"S3UpdateObjectEncryption": {"ObjectEncryption": {
        "SSEKMS": {"KMSKeyArn": DESTINATION}}}}
    operation = _request(bucket_key_enabled=True)["Operation"]
    assert operation["S3UpdateObjectEncryption"]["ObjectEncryption"]["SSEKMS"]["BucketKeyEnabled"] is True


def test_partition_follows_the_keys():
    china = SOURCE.replace("arn:aws:", "arn:aws-cn:")
    base = job_request.job_base(ACCOUNT, "data", "", china, DESTINATION)
    request = job_request.create_job_request(job_request.RECOPY_DESCRIPTION, base, 1, ACCOUNT,
                                             _target(source_arn=china), OPTIONS)
    assert request["Report"]["Bucket"] == "arn:aws-cn:s3:::reports"


def test_request_is_valid_for_botocore():
    """Stubber validates parameters against the s3control model: a misspelt member fails here."""
    client = boto3.client("s3control", region_name="us-east-1", aws_access_key_id="a", aws_secret_access_key="b")
    request = _request(prefix="p/", bucket_key_enabled=False)
    with Stubber(client) as stub:
        stub.add_response("create_job", {"JobId": "job-1"}, request)
        assert client.create_job(**request)["JobId"] == "job-1"


@pytest.mark.parametrize("text, attempt", [
    ("kmsrotate.aws s3_kms_recopy BASE attempt 3", 3),
    ("kmsrotate.aws s3_kms_recopy OTHER attempt 3", None),
    ("kmsrotate.aws residue BASE attempt 3", None),
    ("kmsrotate.aws s3_kms_recopy BASE attempt x", None),
    (None, None),
])
def test_attempt_of_reads_only_this_base(text, attempt):
    assert job_request.attempt_of(job_request.RECOPY_DESCRIPTION, "BASE", text) == attempt


def test_report_location_is_awss_layout():
    assert job_request.report_location("reports", "kmsrotate-batch", "J1") == "s3://reports/kmsrotate-batch/job-J1/"
    assert job_request.report_key("", "J1", "manifest.json") == "job-J1/manifest.json"
