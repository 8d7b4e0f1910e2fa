"""The rule the bucket default encryption is moved to."""

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.bucket_default import desired_bucket_default


@pytest.mark.parametrize("before, bucket_key, expected", [
    (None, None, {"sse_algorithm": "aws:kms", "kms_key_id": "arn:new", "bucket_key_enabled": False}),
    ({"sse_algorithm": "aws:kms", "kms_key_id": "arn:old", "bucket_key_enabled": True}, None,
     {"sse_algorithm": "aws:kms", "kms_key_id": "arn:new", "bucket_key_enabled": True}),
    ({"sse_algorithm": "aws:kms:dsse", "kms_key_id": "arn:old", "bucket_key_enabled": False}, True,
     {"sse_algorithm": "aws:kms:dsse", "kms_key_id": "arn:new", "bucket_key_enabled": True}),
])
def test_desired_bucket_default_keeps_bucket_key_and_dual_layer(before, bucket_key, expected):
    assert desired_bucket_default(before, "arn:new", bucket_key) == expected
