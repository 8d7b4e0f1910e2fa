"""key_rotation: the rotation strategy of every key type, and the rotation actions, on moto in-process."""

import datetime

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms import key_rotation
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.key_rotation import KeyRotation, KeyRotationSpec
from ansible_collections.kmsrotate.aws.plugins.module_utils._kms.keys import KeyResolver
from local_endpoint.fidelity.kms_rotation import import_new_key_material


@pytest.fixture
def kms(aws_client):
    return aws_client("kms")


def _describe(kms, key_ref):
    return key_rotation.describe_key_rotation(kms, KeyResolver(kms), key_ref)


@pytest.fixture
def run(make_clients):
    """Run the engine as the module would: the values, with the diff under `diff` as --diff returns it."""
    def run(key_ref, check_mode=False, connect=None, **wanted):
        clients, limit = make_clients(connect=connect)
        result = KeyRotation(clients, limit).run(KeyRotationSpec(key_id=key_ref, **wanted), check_mode=check_mode)
        return result.for_module(diff_wanted=True)
    return run


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
    strategy, reason = key_rotation.choose_strategy(facts)
    assert strategy == ("automatic" if "REPLICA" in overrides.values() else "rekey")
    assert words in reason


def test_enable_automatic_rotation_with_period_is_idempotent(run, kms):
    key = kms.create_key()["KeyMetadata"]
    first = run(key["KeyId"], enable_automatic_rotation=True, rotation_period_days=180)
    assert first["changed"] is True
    assert first["actions"] == ["enable_automatic_rotation"]
    assert first["rotation_enabled"] is True
    assert first["rotation_period_days"] == 180
    assert first["diff"]["before"]["rotation_enabled"] is False
    assert "nothing to do" in first["strategy_reason"]
    second = run(key["KeyId"], enable_automatic_rotation=True, rotation_period_days=180)
    assert second["changed"] is False
    assert second["actions"] == []


def test_changing_the_period_is_a_change(run, kms):
    key = kms.create_key()["KeyMetadata"]
    run(key["KeyId"], enable_automatic_rotation=True)
    changed = run(key["KeyId"], enable_automatic_rotation=True, rotation_period_days=730)
    assert changed["changed"] is True
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == 730


def test_disable_automatic_rotation(run, kms):
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    assert run(key["KeyId"], enable_automatic_rotation=False)["changed"] is True
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    assert run(key["KeyId"], enable_automatic_rotation=False)["changed"] is False


def test_check_mode_predicts_and_changes_nothing(run, kms):
    key = kms.create_key()["KeyMetadata"]
    result = run(key["KeyId"], check_mode=True, enable_automatic_rotation=True, rotation_period_days=90,
                 rotate_on_demand=True)
    assert result["changed"] is True
    assert result["actions"] == ["enable_automatic_rotation", "rotate_on_demand"]
    assert result["rotation_period_days"] == 90
    assert len(result["rotations"]) == 1
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    assert kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"] == []


def test_rotate_on_demand_and_min_age(run, kms):
    key = kms.create_key()["KeyMetadata"]
    first = run(key["KeyId"], rotate_on_demand=True, on_demand_min_age_days=30)
    assert first["changed"] is False, "a key created now is younger than 30 days"
    rotated = run(key["KeyId"], rotate_on_demand=True)
    assert rotated["changed"] is True
    assert [rotation["rotation_type"] for rotation in rotated["rotations"]] == ["ON_DEMAND"]
    assert rotated["last_rotation_date"] == rotated["rotations"][0]["rotation_date"]
    again = run(key["KeyId"], rotate_on_demand=True, on_demand_min_age_days=1)
    assert again["changed"] is False


def test_material_age_counts_from_last_rotation():
    now = datetime.datetime(2025, 1, 31, tzinfo=datetime.timezone.utc)
    facts = {"last_rotation_date": "2025-01-01T00:00:00+00:00", "creation_date": "2020-01-01T00:00:00+00:00"}
    assert key_rotation._material_age_days(facts, now) == 30  # pylint: disable=protected-access


@pytest.mark.parametrize("create, wanted, words", [
    ({"KeySpec": "RSA_2048", "KeyUsage": "SIGN_VERIFY"}, {"enable_automatic_rotation": True}, "asymmetric"),
    ({"KeySpec": "HMAC_384", "KeyUsage": "GENERATE_VERIFY_MAC"}, {"rotate_on_demand": True}, "HMAC"),
    ({"Origin": "EXTERNAL"}, {"enable_automatic_rotation": True}, "imported key material"),
    ({"Origin": "EXTERNAL"}, {"rotate_on_demand": True}, "no new material is pending"),
], ids=["asymmetric", "hmac", "imported-automatic", "imported-on-demand"])
def test_actions_refused_with_reason(run, kms, create, wanted, words):
    key = kms.create_key(**create)["KeyMetadata"]
    with pytest.raises(RotationError) as excinfo:
        run(key["KeyId"], **wanted)
    assert words in str(excinfo.value)
    assert excinfo.value.resource == key["Arn"]
    assert excinfo.value.fix


def test_aws_managed_key_refused(run):
    with pytest.raises(RotationError) as excinfo:
        run("alias/aws/ebs", rotate_on_demand=True)
    assert "AWS managed" in str(excinfo.value)


def test_pending_deletion_refused(run, kms):
    key = kms.create_key()["KeyMetadata"]
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(RotationError) as excinfo:
        run(key["KeyId"], enable_automatic_rotation=True)
    assert "pending deletion" in str(excinfo.value)
    assert "cancel-key-deletion" in excinfo.value.fix


def test_replica_refused_naming_primary(run, aws_client):
    primary = aws_client("kms").create_key(MultiRegion=True)["KeyMetadata"]
    aws_client("kms").replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")

    def in_the_replica_region(service, region, config):
        return aws_client(service, region or "eu-west-1", config)

    with pytest.raises(RotationError) as excinfo:
        run(primary["KeyId"], connect=in_the_replica_region, rotate_on_demand=True)
    assert primary["Arn"] in str(excinfo.value)


@pytest.mark.parametrize("wanted", [{"rotation_period_days": 180},
                                    {"enable_automatic_rotation": True, "rotation_period_days": 89},
                                    {"enable_automatic_rotation": True, "rotation_period_days": 2561}])
def test_bad_period_refused_before_any_call(run, kms, wanted):
    key = kms.create_key()["KeyMetadata"]
    with pytest.raises(RotationError) as excinfo:
        run(key["KeyId"], **wanted)
    assert "rotation_period_days" in str(excinfo.value)
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


def test_period_outside_what_kms_accepts_names_the_range():
    with pytest.raises(RotationError, match="rotation_period_days is 89; KMS accepts 90 to 2560"):
        KeyRotationSpec(key_id="alias/app", enable_automatic_rotation=True, rotation_period_days=89)


def test_a_key_is_described_once_per_run(kms, make_clients):
    key = kms.create_key()["KeyMetadata"]
    kms.create_alias(AliasName="alias/once", TargetKeyId=key["KeyId"])
    clients, limit = make_clients()
    facts = KeyRotation(clients, limit).run(KeyRotationSpec(key_id="alias/once")).values
    assert facts["creation_date"] and facts["multi_region"] is False
    assert clients.requests.counts["DescribeKey"] == 1
