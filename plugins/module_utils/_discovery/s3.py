# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""S3 for kms_key_usage_info: buckets whose default encryption names the key, and the scan of their objects."""

import itertools

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found

BUCKET_DEFAULT_ENCRYPTION = "s3_bucket_default_encryption"

# GetBucketEncryption's answer for a bucket without default encryption: no default key, not a failure.
_NO_DEFAULT_ENCRYPTION = "ServerSideEncryptionConfigurationNotFoundError"
# HeadObject's bodiless answer for a version that is a delete marker: it holds no data, so no key.
_DELETE_MARKER = "405"


def bucket_default_encryption(ctx):
    s3 = ctx.client("s3")

    def default_key(bucket):
        rules = s3.get_bucket_encryption(Bucket=bucket["Name"], aws_retry=True)[
            "ServerSideEncryptionConfiguration"]["Rules"]
        for rule in rules:
            default = rule.get("ApplyServerSideEncryptionByDefault") or {}
            if default.get("KMSMasterKeyID"):
                return bucket["Name"], default["KMSMasterKeyID"], rule.get("BucketKeyEnabled", False)
        return None

    # A bucket is listed in every region; it is searched in its own (when S3 says which).
    buckets = (bucket for bucket in items(s3, "list_buckets", "Buckets")
               if bucket.get("BucketRegion", ctx.region) == ctx.region)
    for name, key_ref, bucket_key in ctx.read_each(buckets, default_key, codes=(_NO_DEFAULT_ENCRYPTION,)):
        yield Found(BUCKET_DEFAULT_ENCRYPTION, name, "arn:aws:s3:::" + name, key_ref, {"bucket_key_enabled": bucket_key})


def scan_objects(ctx, bucket, matcher, object_scan_limit):
    """Object versions of a bucket under the key, streamed, examining at most `object_scan_limit` versions."""
    s3 = ctx.client("s3")

    def under_key(version):
        try:
            head = s3.head_object(Bucket=bucket, Key=version["Key"], VersionId=version["VersionId"], aws_retry=True)
        except ClientError as exc:
            # A version deleted since the listing (or become a delete marker) holds nothing under the key.
            if is_error(exc, NOT_FOUND, codes=(_DELETE_MARKER,)):
                return False
            raise
        return head.get("ServerSideEncryption") == "aws:kms" and matcher.matches(head.get("SSEKMSKeyId"))

    versions = itertools.islice(items(s3, "list_object_versions", "Versions", Bucket=bucket), object_scan_limit)
    scanned = under = 0
    for found_under in ctx.read_each(versions, under_key):
        scanned += 1
        under += 1 if found_under else 0
    return {"object_versions_scanned": scanned, "object_versions_under_key": under,
            "scan_truncated": scanned >= object_scan_limit}
