"""The bucket default encryption: whether it moves, and the rule it is moved to."""

from types import SimpleNamespace

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import RekeyScope
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.bucket_default import ANY, AWS_MANAGED_KEY, SOURCE_KEYS
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.bucket_default import desired_bucket_default
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.bucket_default import plan_bucket_default


@pytest.mark.parametrize("before, bucket_key, expected", [
    (None, None, {"sse_algorithm": "aws:kms", "kms_key_id": "arn:new", "bucket_key_enabled": False}),
    ({"sse_algorithm": "aws:kms", "kms_key_id": "arn:old", "bucket_key_enabled": True}, None,
     {"sse_algorithm": "aws:kms", "kms_key_id": "arn:new", "bucket_key_enabled": True}),
    ({"sse_algorithm": "aws:kms:dsse", "kms_key_id": "arn:old", "bucket_key_enabled": False}, True,
     {"sse_algorithm": "aws:kms:dsse", "kms_key_id": "arn:new", "bucket_key_enabled": True}),
])
def test_desired_bucket_default_keeps_bucket_key_and_dual_layer(before, bucket_key, expected):
    assert desired_bucket_default(before, "arn:new", bucket_key) == expected


# Which default moves --------------------------------------------------------------------------------------------

SOURCE = "arn:aws:kms:us-east-1:123456789012:key/source"
OTHER = "arn:aws:kms:us-east-1:123456789012:key/other"
DESTINATION = "arn:aws:kms:us-east-1:123456789012:key/destination"
MANAGED = "arn:aws:kms:us-east-1:123456789012:key/aws-s3"


def _scope(sources):
    return RekeyScope(SimpleNamespace(arn=DESTINATION), frozenset(sources))


def _rule(algorithm, key=None):
    return {"sse_algorithm": algorithm, "kms_key_id": key, "bucket_key_enabled": False}


def _key_arn_of(reference):
    return MANAGED if reference == AWS_MANAGED_KEY else reference


@pytest.mark.parametrize("before, sources, which, moved, in_scope, left_because", [
    (_rule("aws:kms", SOURCE), [SOURCE], SOURCE_KEYS, True, True, None),
    (_rule("aws:kms:dsse", SOURCE), [SOURCE], SOURCE_KEYS, True, True, None),
    # No source_key_ids: every KMS key but the destination is a source.
    (_rule("aws:kms", OTHER), [], SOURCE_KEYS, True, True, None),
    (_rule("aws:kms"), [], SOURCE_KEYS, True, True, None),
    (_rule("AES256"), [SOURCE], SOURCE_KEYS, False, False, "AES256, under no KMS key"),
    (_rule("AES256"), [], SOURCE_KEYS, False, False, "AES256, under no KMS key"),
    (_rule("aws:kms", OTHER), [SOURCE], SOURCE_KEYS, False, False, "under {0}, which is not a source key".format(OTHER)),
    (_rule("aws:kms"), [SOURCE], SOURCE_KEYS, False, False, "under {0}, which is not a source key".format(MANAGED)),
    (None, [SOURCE], SOURCE_KEYS, False, False, "not configured"),
    (_rule("AES256"), [SOURCE], ANY, True, False, None),
    (_rule("aws:kms", OTHER), [SOURCE], ANY, True, False, None),
    (None, [], ANY, True, False, None),
])
def test_only_a_default_under_a_source_key_moves_unless_any_is_asked(before, sources, which, moved, in_scope,
                                                                     left_because):
    plan = plan_bucket_default(before, _scope(sources), _key_arn_of, True, which, None)
    assert (plan["changed"], plan["in_scope"], plan["blocking"]) == (moved, in_scope, False)
    assert plan["after"] == (desired_bucket_default(before, DESTINATION, None) if moved else before)
    if left_because is None:
        assert plan["reason"] is None
    else:
        assert plan["reason"] == ("the bucket default encryption is {0}: left as it is (bucket_default_scope: any "
                                  "moves it)".format(left_because))


def test_a_default_left_by_request_blocks_only_when_it_names_a_source_key():
    asked_not_to = plan_bucket_default(_rule("aws:kms", SOURCE), _scope([SOURCE]), _key_arn_of, False, ANY, None)
    assert (asked_not_to["changed"], asked_not_to["blocking"], asked_not_to["reason"]) == (
        False, True, "update_bucket_default is false")
    other = plan_bucket_default(_rule("aws:kms", OTHER), _scope([SOURCE]), _key_arn_of, False, SOURCE_KEYS, None)
    assert not other["blocking"] and other["key_arn"] == OTHER


def test_a_default_already_under_the_destination_changes_only_its_bucket_key_setting():
    current = _rule("aws:kms", DESTINATION)
    assert plan_bucket_default(current, _scope([SOURCE]), _key_arn_of, True, SOURCE_KEYS, None)["changed"] is False
    plan = plan_bucket_default(current, _scope([SOURCE]), _key_arn_of, True, SOURCE_KEYS, True)
    assert plan["changed"] and plan["after"]["bucket_key_enabled"] and plan["reason"] is None
