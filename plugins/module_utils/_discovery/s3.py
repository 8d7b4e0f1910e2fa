# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""S3 for kms_key_usage_info: buckets whose default encryption names the key, and the reading of their object versions.

A version's key is only known from its HeadObject. A refusal is read without
guessing: a version deleted since the listing holds nothing; S3's bodiless
400 is SSE-C (no KMS key) only when a GetObject confirms it in words
(_s3/object_encryption); any other refusal leaves the version unreadable,
which the retirement gate counts as unknown.
"""

import collections
import itertools

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, BotoCoreError, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import error_message, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.pagination import items
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.context import Found
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.object_encryption import confirms_sse_c
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.object_encryption import is_bare_bad_request

BUCKET_DEFAULT_ENCRYPTION = "s3_bucket_default_encryption"

# GetBucketEncryption's answer for a bucket without default encryption: no default key, not a failure.
_NO_DEFAULT_ENCRYPTION = "ServerSideEncryptionConfigurationNotFoundError"
# HeadObject's bodiless answer for a version that is a delete marker: it holds no data, so no key.
_DELETE_MARKER = "405"
_KMS = "aws:kms"
_DSSE_KMS = "aws:kms:dsse"

# What one version is, read against the key: not under it (None), under it (by its encryption), or unreadable.
UNDER_KMS = "kms"
UNDER_DSSE_KMS = "dsse_kms"
UNREADABLE = "unreadable"
# Versions (or distinct reasons) named in a reason, at most.
EXAMPLES = 5


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


def bucket_region(s3, bucket):
    """The region a bucket lives in (GetBucketLocation says None for us-east-1 and EU for eu-west-1)."""
    location = s3.get_bucket_location(Bucket=bucket, aws_retry=True).get("LocationConstraint")
    return {None: "us-east-1", "": "us-east-1", "EU": "eu-west-1"}.get(location, location)


def _version_reader(ctx, bucket, matcher):
    """read(version) -> (version, what it is: None / UNDER_KMS / UNDER_DSSE_KMS / UNREADABLE, why unreadable)."""
    s3 = ctx.client("s3")

    def read(version):
        key, version_id = version["Key"], version["VersionId"]
        try:
            head = s3.head_object(Bucket=bucket, Key=key, VersionId=version_id, aws_retry=True)
        except ClientError as exc:
            if is_error(exc, NOT_FOUND, codes=(_DELETE_MARKER,)):
                # Deleted since the listing (or become a delete marker): it holds nothing.
                return version, None, None
            if not is_bare_bad_request(exc):
                return version, UNREADABLE, "HeadObject refused it: " + error_message(exc)
            if confirms_sse_c(s3, bucket, key, version_id):
                return version, None, None
            return version, UNREADABLE, "HeadObject answered a bare 400 that a GetObject did not confirm as SSE-C"
        except BotoCoreError as exc:
            return version, UNREADABLE, "HeadObject failed: {0}".format(exc)
        encryption = head.get("ServerSideEncryption")
        if encryption not in (_KMS, _DSSE_KMS) or not matcher.matches(head.get("SSEKMSKeyId")):
            return version, None, None
        return version, UNDER_DSSE_KMS if encryption == _DSSE_KMS else UNDER_KMS, None

    return read


class VersionTally(object):
    """Versions counted per class, with a few examples (`key (version)`) and the distinct reasons of each."""

    def __init__(self):
        self.scanned = 0
        self.truncated = False
        self.counts = collections.Counter()
        self.examples = collections.defaultdict(list)
        self.reasons = collections.defaultdict(list)

    def add(self, outcome, version, reason=None):
        self.counts[outcome] += 1
        if len(self.examples[outcome]) < EXAMPLES:
            self.examples[outcome].append("{0} ({1})".format(version["Key"], version["VersionId"]))
        if reason and reason not in self.reasons[outcome] and len(self.reasons[outcome]) < EXAMPLES:
            self.reasons[outcome].append(reason)


def read_versions(ctx, bucket, matcher, limit, classify, select=None):
    """Every version of the bucket (at most `limit`), read through the engine's pool: a VersionTally.

    classify(version, what) names the class of a version under the key
    (what: UNDER_KMS or UNDER_DSSE_KMS); unreadable versions are UNREADABLE.
    select(version), when given, keeps only the listed versions it is true for.
    """
    listed = items(ctx.client("s3"), "list_object_versions", "Versions", Bucket=bucket)
    if select is not None:
        listed = (version for version in listed if select(version))
    tally = VersionTally()
    for version, what, reason in ctx.read_each(itertools.islice(listed, limit), _version_reader(ctx, bucket, matcher)):
        tally.scanned += 1
        if what == UNREADABLE:
            tally.add(UNREADABLE, version, reason)
        elif what is not None:
            tally.add(classify(version, what), version)
    tally.truncated = next(listed, None) is not None
    return tally


def scan_objects(ctx, bucket, matcher, object_scan_limit):
    """Object versions of a bucket under the key, streamed, examining at most `object_scan_limit` versions."""
    tally = read_versions(ctx, bucket, matcher, object_scan_limit, lambda version, what: what)
    return {"object_versions_scanned": tally.scanned,
            "object_versions_under_key": tally.counts[UNDER_KMS] + tally.counts[UNDER_DSSE_KMS],
            "object_versions_unreadable": tally.counts[UNREADABLE],
            "scan_truncated": tally.truncated}
