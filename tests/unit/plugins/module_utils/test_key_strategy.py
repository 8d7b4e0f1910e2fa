"""key_strategy: the rotation strategy of every key type, and the rotation actions, on moto in-process."""

import datetime

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils import key_strategy
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils.keys import KeyResolver
from local_endpoint.fidelity.kms_rotation import import_new_key_material


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


def _describe(kms, key_ref):
    return key_strategy.describe_key_rotation(kms, KeyResolver(kms), key_ref)


def _manage(kms, key_ref, **wanted):
    return key_strategy.manage_key_rotation(kms, KeyResolver(kms), key_ref, **wanted)


@pytest.mark.parametrize("create, strategy, words", [
    ({}, "automatic", "enable automatic rotation"),
    ({"Origin": "EXTERNAL"}, "rekey", "import new key material"),
    ({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}, "rekey", "asymmetric"),
    ({"KeySpec": "ECC_NIST_P256", "KeyUsage": "SIGN_VERIFY"}, "rekey", "asymmetric"),
    ({"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}, "rekey", "HMAC"),
], ids=["symmetric", "imported", "rsa", "ecc", "hmac"])
def test_strategy_by_key_type(kms, create, strategy, words):
    key = kms.create_key(**create)["KeyMetadata"]
    facts = _describe(kms, key["KeyId"])
    assert facts["strategy"] == strategy
    assert words in facts["strategy_reason"]
    assert facts["origin"] == key["Origin"]
    assert facts["key_manager"] == "CUSTOMER"


def test_aws_managed_key_strategy_is_none(kms):
    facts = _describe(kms, "alias/aws/s3")
    assert facts["key_manager"] == "AWS"
    assert facts["strategy"] == "none"
    assert "customer managed" in facts["strategy_reason"]
    assert facts["aliases"] == ["alias/aws/s3"]


def test_imported_key_with_pending_material_is_on_demand(kms):
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    import_new_key_material("POST", {"key_id": key["KeyId"]})
    facts = _describe(kms, key["Arn"])
    assert facts["pending_key_material"] is True
    assert facts["strategy"] == "on_demand"


def test_pending_deletion_strategy_is_none(kms):
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    facts = _describe(kms, key["KeyId"])
    assert facts["strategy"] == "none"
    assert "pending deletion" in facts["strategy_reason"]


def test_facts_name_aliases_and_multi_region_role(kms):
    key = kms.create_key(MultiRegion=True)["KeyMetadata"]
    kms.create_alias(AliasName="alias/app", TargetKeyId=key["KeyId"])
    facts = _describe(kms, "alias/app")
    assert facts["key_arn"] == key["Arn"]
    assert facts["aliases"] == ["alias/app"]
    assert facts["multi_region"] is True
    assert facts["multi_region_key_type"] == "PRIMARY"
    assert facts["primary_key_arn"] == key["Arn"]


@pytest.mark.parametrize("overrides, words", [
    ({"custom_key_store_id": "cks-1234567890abcdef0", "origin": "AWS_CLOUDHSM"}, "custom key store"),
    ({"origin": "EXTERNAL_KEY_STORE", "custom_key_store_id": "cks-1"}, "custom key store"),
    ({"multi_region_key_type": "REPLICA", "primary_key_arn": "arn:aws:kms:us-east-1:1:key/mrk-1"},
     "arn:aws:kms:us-east-1:1:key/mrk-1"),
])
def test_strategy_of_keys_moto_cannot_create(overrides, words):
    facts = {"key_manager": "CUSTOMER", "key_state": "Enabled", "origin": "AWS_KMS", "key_spec": "SYMMETRIC_DEFAULT",
             "key_usage": "ENCRYPT_DECRYPT", "custom_key_store_id": None, "multi_region_key_type": None,
             "primary_key_arn": None, "pending_key_material": False, "rotation_enabled": False,
             "rotation_period_days": None}
    facts.update(overrides)
    strategy, reason = key_strategy.choose_strategy(facts)
    assert strategy == ("automatic" if "REPLICA" in overrides.values() else "rekey")
    assert words in reason


def test_enable_automatic_rotation_with_period_is_idempotent(kms):
    key = kms.create_key()["KeyMetadata"]
    first = _manage(kms, key["KeyId"], enable_automatic_rotation=True, rotation_period_days=180)
    assert first["changed"] is True
    assert first["actions"] == ["enable_automatic_rotation"]
    assert first["rotation_enabled"] is True
    assert first["rotation_period_days"] == 180
    assert first["diff"]["before"]["rotation_enabled"] is False
    assert "nothing to do" in first["strategy_reason"]
    second = _manage(kms, key["KeyId"], enable_automatic_rotation=True, rotation_period_days=180)
    assert second["changed"] is False
    assert second["actions"] == []


def test_changing_the_period_is_a_change(kms):
    key = kms.create_key()["KeyMetadata"]
    _manage(kms, key["KeyId"], enable_automatic_rotation=True)
    changed = _manage(kms, key["KeyId"], enable_automatic_rotation=True, rotation_period_days=730)
    assert changed["changed"] is True
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == 730


def test_disable_automatic_rotation(kms):
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    assert _manage(kms, key["KeyId"], enable_automatic_rotation=False)["changed"] is True
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    assert _manage(kms, key["KeyId"], enable_automatic_rotation=False)["changed"] is False


def test_check_mode_predicts_and_changes_nothing(kms):
    key = kms.create_key()["KeyMetadata"]
    result = _manage(kms, key["KeyId"], check_mode=True, enable_automatic_rotation=True, rotation_period_days=90,
                     rotate_on_demand=True)
    assert result["changed"] is True
    assert result["actions"] == ["enable_automatic_rotation", "rotate_on_demand"]
    assert result["rotation_period_days"] == 90
    assert len(result["rotations"]) == 1
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    assert kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"] == []


def test_rotate_on_demand_and_min_age(kms):
    key = kms.create_key()["KeyMetadata"]
    first = _manage(kms, key["KeyId"], rotate_on_demand=True, on_demand_min_age_days=30)
    assert first["changed"] is False, "a key created now is younger than 30 days"
    rotated = _manage(kms, key["KeyId"], rotate_on_demand=True)
    assert rotated["changed"] is True
    assert [rotation["rotation_type"] for rotation in rotated["rotations"]] == ["ON_DEMAND"]
    assert rotated["last_rotation_date"] == rotated["rotations"][0]["rotation_date"]
    again = _manage(kms, key["KeyId"], rotate_on_demand=True, on_demand_min_age_days=1)
    assert again["changed"] is False


def test_material_age_counts_from_last_rotation():
    now = datetime.datetime(2025, 1, 31, tzinfo=datetime.timezone.utc)
    facts = {"last_rotation_date": "2025-01-01T00:00:00+00:00", "creation_date": "2020-01-01T00:00:00+00:00"}
    assert key_strategy._material_age_days(facts, now) == 30  # pylint: disable=protected-access


@pytest.mark.parametrize("create, wanted, words", [
    ({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}, {"enable_automatic_rotation": True}, "asymmetric"),
    ({"KeySpec": "HMAC_384", "KeyUsage": "GENERATE_VERIFY_MAC"}, {"rotate_on_demand": True}, "HMAC"),
    ({"Origin": "EXTERNAL"}, {"enable_automatic_rotation": True}, "imported key material"),
    ({"Origin": "EXTERNAL"}, {"rotate_on_demand": True}, "no new material is pending"),
], ids=["asymmetric", "hmac", "imported-automatic", "imported-on-demand"])
def test_actions_refused_with_reason(kms, create, wanted, words):
    key = kms.create_key(**create)["KeyMetadata"]
    with pytest.raises(RotationError) as excinfo:
        _manage(kms, key["KeyId"], **wanted)
    assert words in str(excinfo.value)
    assert excinfo.value.resource == key["Arn"]
    assert excinfo.value.fix


def test_aws_managed_key_refused(kms):
    with pytest.raises(RotationError) as excinfo:
        _manage(kms, "alias/aws/ebs", rotate_on_demand=True)
    assert "AWS managed" in str(excinfo.value)


def test_pending_deletion_refused(kms):
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(RotationError) as excinfo:
        _manage(kms, key["KeyId"], enable_automatic_rotation=True)
    assert "pending deletion" in str(excinfo.value)
    assert "cancel-key-deletion" in excinfo.value.fix


def test_replica_refused_naming_primary(aws_client):
    import boto3
    from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
    from ansible_collections.kmsrotate.aws.plugins.module_utils.aws import aws_retry

    primary = aws_client("kms").create_key(MultiRegion=True)["KeyMetadata"]
    aws_client("kms").replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")
    replica_kms = RetryingBotoClientWrapper(boto3.client("kms", region_name="eu-west-1"), aws_retry)
    with pytest.raises(RotationError) as excinfo:
        _manage(replica_kms, primary["KeyId"], rotate_on_demand=True)
    assert primary["Arn"] in str(excinfo.value)


@pytest.mark.parametrize("wanted", [{"rotation_period_days": 180},
                                    {"enable_automatic_rotation": True, "rotation_period_days": 89},
                                    {"enable_automatic_rotation": True, "rotation_period_days": 2561}])
def test_bad_period_refused_before_any_call(kms, wanted):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(RotationError) as excinfo:
        _manage(kms, key["KeyId"], **wanted)
    assert "rotation_period_days" in str(excinfo.value)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
