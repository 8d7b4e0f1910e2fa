"""The cheap estimate of a bucket's versions: CloudWatch's daily metric, else a capped listing."""

import datetime

from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch import estimate

BUCKET = "data"


def _metric(cloudwatch, value, when):
    cloudwatch.put_metric_data(Namespace="AWS/S3", MetricData=[{
        "MetricName": "NumberOfObjects", "Value": value, "Timestamp": when, "Unit": "Count",
        "Dimensions": [{"Name": "BucketName", "Value": BUCKET}, {"Name": "StorageType", "Value": "AllStorageTypes"}]}])


class _NoDatapoints(object):
    """CloudWatch for a bucket too new to have a datapoint (moto publishes one for every bucket it holds)."""

    @staticmethod
    def get_metric_statistics(**request):
        assert request["Dimensions"][1] == {"Name": "StorageType", "Value": "AllStorageTypes"}
        return {"Datapoints": []}


def test_latest_daily_datapoint_is_the_estimate(aws_client):
    # No bucket in moto's S3, so only these datapoints exist (moto adds its own for each bucket it holds).
    cloudwatch, s3 = aws_client("cloudwatch"), aws_client("s3")
    now = datetime.datetime.now(datetime.timezone.utc)
    _metric(cloudwatch, 2000000, now - datetime.timedelta(days=2))
    _metric(cloudwatch, 3500000, now - datetime.timedelta(hours=2))
    found = estimate.estimate_versions(cloudwatch, s3, BUCKET, "", now=now)
    assert (found.versions, found.source, found.at_least) == (3500000, "cloudwatch", False)
    assert "CloudWatch" in found.describe()


def test_without_a_datapoint_the_listing_counts_every_version(aws_client):
    cloudwatch, s3 = _NoDatapoints(), aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    for body in (b"1", b"2", b"3"):
        s3.put_object(Bucket=BUCKET, Key="doc", Body=body)
    found = estimate.estimate_versions(cloudwatch, s3, BUCKET, "")
    assert (found.versions, found.source, found.at_least) == (3, "listing", False)


def test_listing_stops_at_its_cap(aws_client):
    s3 = aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    for index in range(5):
        s3.put_object(Bucket=BUCKET, Key="doc-{0}".format(index), Body=b"x")
    found = estimate.from_listing(s3, BUCKET, "", cap=2)
    assert found.at_least and found.versions >= 2 and "at least" in found.describe()


def test_a_prefix_is_listed_since_the_metric_covers_the_whole_bucket(aws_client):
    cloudwatch, s3 = aws_client("cloudwatch"), aws_client("s3")
    s3.create_bucket(Bucket=BUCKET)
    _metric(cloudwatch, 999, datetime.datetime.now(datetime.timezone.utc))
    assert estimate.estimate_versions(cloudwatch, s3, BUCKET, "").source == "cloudwatch"
    s3.put_object(Bucket=BUCKET, Key="logs/a", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="other", Body=b"x")
    assert estimate.estimate_versions(cloudwatch, s3, BUCKET, "logs/").versions == 1
