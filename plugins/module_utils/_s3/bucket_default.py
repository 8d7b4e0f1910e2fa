# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The bucket default encryption s3_kms_recopy moves: read it, decide whether it moves, write it.

A rule is {sse_algorithm, kms_key_id, bucket_key_enabled}; None means the
bucket has no default encryption configured.

The default is in scope when it names a source key (any KMS key but the
destination when no sources are named). Only then does it move by default:
pointing an SSE-S3 default, or one under a key the rotation does not touch,
at the destination would make every writer without kms:GenerateDataKey on
that key fail. `bucket_default_scope: any` moves it whatever it is.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import bucket_resource
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, is_error

# bucket_default_scope: what update_bucket_default moves.
SOURCE_KEYS = "source_keys"
ANY = "any"
KMS_ALGORITHMS = ("aws:kms", "aws:kms:dsse")
# The key S3 uses for an SSE-KMS default that names none.
AWS_MANAGED_KEY = "alias/aws/s3"


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


def plan_bucket_default(before, scope, key_arn_of, update, which, bucket_key_enabled):
    """What the task does to the bucket default encryption `before`, as a dict.

    scope: the RekeyScope; key_arn_of(reference): a key's ARN; update: update_bucket_default; which:
    bucket_default_scope. Keys: after (the rule the task leaves), changed, in_scope (it names a source
    key), key_arn (its key's ARN, None without a KMS key), blocking (it still names a source key after the
    task) and reason (why it is left as it is, None when it is moved or already the destination's).
    """
    key_arn = key_arn_of(before["kms_key_id"] or AWS_MANAGED_KEY) if before and before["sse_algorithm"] in \
        KMS_ALGORITHMS else None
    destination = scope.destination.arn
    in_scope = key_arn is not None and scope.moves(key_arn)
    moves = update and (in_scope or which == ANY or key_arn == destination)
    desired = desired_bucket_default(before, destination, bucket_key_enabled)
    current = dict(before, kms_key_id=key_arn) if before and key_arn else before
    return {"after": desired if moves else before, "changed": bool(moves and current != desired),
            "in_scope": in_scope, "key_arn": key_arn, "blocking": in_scope and not moves,
            "reason": None if moves else _left_because(before, key_arn, update)}


def _left_because(before, key_arn, update):
    """Why a default that does not move is left: asked for, or out of scope (a default in scope moves)."""
    if not update:
        return "update_bucket_default is false"
    if before is None:
        what = "not configured"
    elif key_arn is None:
        what = "{0}, under no KMS key".format(before["sse_algorithm"])
    else:
        what = "under {0}, which is not a source key".format(key_arn)
    return "the bucket default encryption is {0}: left as it is (bucket_default_scope: any moves it)".format(what)
