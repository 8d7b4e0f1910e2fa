# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The bucket default encryption s3_kms_recopy moves: read it, the rule it should become, write it.

A rule is {sse_algorithm, kms_key_id, bucket_key_enabled}; None means the
bucket has no default encryption configured.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import bucket_resource
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, is_error


def read_bucket_default(s3, bucket):
    """The bucket's default encryption rule, or None."""
    try:
        rules = s3.get_bucket_encryption(Bucket=bucket, aws_retry=True)["ServerSideEncryptionConfiguration"]["Rules"]
    except ClientError as exc:
        # S3's answer for a bucket without default encryption: not a failure, an empty configuration.
        if is_error(exc, codes=("ServerSideEncryptionConfigurationNotFoundError",)):
            return None
        if is_error(exc, NOT_FOUND):
            raise RotationError("Bucket not found.", resource=bucket_resource(bucket), fix="check the bucket name and region.")
        raise
    default = rules[0].get("ApplyServerSideEncryptionByDefault", {})
    return {"sse_algorithm": default.get("SSEAlgorithm"), "kms_key_id": default.get("KMSMasterKeyID"),
            "bucket_key_enabled": bool(rules[0].get("BucketKeyEnabled", False))}


def desired_bucket_default(before, destination_arn, bucket_key_enabled):
    """The rule naming the destination key; bucket_key_enabled None keeps the current Bucket Key setting."""
    # Dual-layer (DSSE-KMS) stays dual-layer: moving keys must not weaken it.
    algorithm = "aws:kms:dsse" if before and before["sse_algorithm"] == "aws:kms:dsse" else "aws:kms"
    if bucket_key_enabled is None:
        bucket_key_enabled = bool(before and before["bucket_key_enabled"])
    return {"sse_algorithm": algorithm, "kms_key_id": destination_arn, "bucket_key_enabled": bucket_key_enabled}


def write_bucket_default(s3, bucket, rule):
    by_default = {"SSEAlgorithm": rule["sse_algorithm"], "KMSMasterKeyID": rule["kms_key_id"]}
    s3.put_bucket_encryption(Bucket=bucket, aws_retry=True, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": by_default, "BucketKeyEnabled": rule["bucket_key_enabled"]}]})
