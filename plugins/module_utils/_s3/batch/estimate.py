# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A cheap estimate of how many object versions a bucket holds, for `method: auto` and check mode.

First the bucket's daily CloudWatch storage metric (AWS/S3 NumberOfObjects,
StorageType AllStorageTypes: every version, current or not, which S3
publishes once a day for every bucket, free): one GetMetricStatistics call.
A bucket too new to have a datapoint (or an endpoint without the metric)
gets a listing capped at LISTING_CAP versions instead: the estimate is then
exact below the cap and "at least the cap" above it.
"""

import datetime

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import pages

# Versions a fallback listing counts at most (10 ListObjectVersions pages).
LISTING_CAP = 10000
_PAGE_SIZE = 1000
# Days of datapoints asked for: S3 publishes the metric daily, a day or two late.
_METRIC_DAYS = 3


class Estimate(object):
    """versions: the estimate; source: `cloudwatch` or `listing`; at_least: True when the listing hit its cap."""

    __slots__ = ("versions", "source", "at_least")

    def __init__(self, versions, source, at_least=False):
        self.versions = versions
        self.source = source
        self.at_least = at_least

    def describe(self):
        if self.source == "cloudwatch":
            return "{0} object versions (CloudWatch AWS/S3 NumberOfObjects, the latest daily datapoint)".format(
                self.versions)
        if self.at_least:
            return "at least {0} object versions (a listing capped at {0})".format(self.versions)
        return "{0} object versions (a full listing, under the cap of {1})".format(self.versions, LISTING_CAP)

    def as_dict(self):
        return {"versions": self.versions, "source": self.source, "at_least": self.at_least}


def from_cloudwatch(cloudwatch, bucket, now):
    """The latest NumberOfObjects datapoint, or None when there is none (or CloudWatch could not be read)."""
    try:
        answer = cloudwatch.get_metric_statistics(
            Namespace="AWS/S3", MetricName="NumberOfObjects",
            Dimensions=[{"Name": "BucketName", "Value": bucket}, {"Name": "StorageType", "Value": "AllStorageTypes"}],
            StartTime=now - datetime.timedelta(days=_METRIC_DAYS), EndTime=now, Period=86400, Statistics=["Average"],
            aws_retry=True)
    except (BotoCoreError, ClientError):
        # The estimate only picks a method: the listing gives one without CloudWatch.
        return None
    points = sorted(answer.get("Datapoints", []), key=lambda point: point["Timestamp"])
    if not points:
        return None
    return Estimate(int(points[-1]["Average"]), "cloudwatch")


def from_listing(s3, bucket, prefix, cap=LISTING_CAP):
    """Versions counted by ListObjectVersions, stopping at the cap."""
    counted = 0
    for page in pages(s3, "list_object_versions", page_size=_PAGE_SIZE, Bucket=bucket, Prefix=prefix):
        counted += len(page.get("Versions", []))
        if counted >= cap:
            return Estimate(counted, "listing", at_least=True)
    return Estimate(counted, "listing")


def estimate_versions(cloudwatch, s3, bucket, prefix, now=None):
    """The metric when it has a datapoint (whole bucket: it knows no prefix), else the capped listing."""
    now = now or datetime.datetime.now(datetime.timezone.utc)
    if not prefix:
        estimate = from_cloudwatch(cloudwatch, bucket, now)
        if estimate is not None:
            return estimate
    return from_listing(s3, bucket, prefix)
