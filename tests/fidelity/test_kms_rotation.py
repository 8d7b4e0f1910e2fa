"""The KMS rotation fidelity layer: each behaviour AWS documents, checked over HTTP."""

import pytest
from botocore.exceptions import ClientError


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


def test_aws_managed_alias_is_the_listed_aws_managed_key(kms):
    listed = {alias["AliasName"]: alias["TargetKeyId"] for alias in kms.list_aliases()["Aliases"]}
    metadata = kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]
    assert metadata["KeyId"] == listed["alias/aws/ebs"]
    assert metadata["KeyManager"] == "AWS"
    assert metadata["Arn"].endswith(":key/" + listed["alias/aws/ebs"])


def test_aws_managed_key_reports_yearly_rotation(kms):
    status = kms.get_key_rotation_status(KeyId=kms.describe_key(KeyId="alias/aws/s3")["KeyMetadata"]["Arn"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 365


def test_enable_key_rotation_keeps_the_period(kms):
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["Arn"], RotationPeriodInDays=180)
    status = kms.get_key_rotation_status(KeyId=key["KeyId"])
    assert status["KeyRotationEnabled"] is True
    assert status["RotationPeriodInDays"] == 180
    assert "NextRotationDate" in status


def test_enable_key_rotation_default_period_is_365(kms):
    key = kms.create_key()["KeyMetadata"]
    kms.enable_key_rotation(KeyId=key["KeyId"])
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["RotationPeriodInDays"] == 365


@pytest.mark.parametrize("days", [89, 2561])
def test_rotation_period_outside_90_to_2560_is_validation_error(aws, kms, days):
    key = kms.create_key()["KeyMetadata"]
    unchecked = aws.client("kms", parameter_validation=False)  # botocore itself refuses < 90
    with pytest.raises(ClientError) as excinfo:
        unchecked.enable_key_rotation(KeyId=key["KeyId"], RotationPeriodInDays=days)
    assert _code(excinfo) == "ValidationException"
    assert kms.get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False


@pytest.mark.parametrize("create", [{"Origin": "EXTERNAL"},
                                    {"KeySpec": "RSA_2048", "KeyUsage": "ENCRYPT_DECRYPT"},
                                    {"KeySpec": "HMAC_256", "KeyUsage": "GENERATE_VERIFY_MAC"}],
                         ids=["imported", "asymmetric", "hmac"])
def test_automatic_rotation_unsupported_for_keys_kms_cannot_rotate(kms, create):
    key = kms.create_key(**create)["KeyMetadata"]
    with pytest.raises(ClientError) as excinfo:
        kms.enable_key_rotation(KeyId=key["KeyId"])
    assert _code(excinfo) == "UnsupportedOperationException"


def test_automatic_rotation_unsupported_for_aws_managed_key(kms):
    with pytest.raises(ClientError) as excinfo:
        kms.enable_key_rotation(KeyId=kms.describe_key(KeyId="alias/aws/ebs")["KeyMetadata"]["KeyId"])
    assert _code(excinfo) == "UnsupportedOperationException"


def test_disable_key_rotation_unsupported_for_asymmetric_key(kms):
    key = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]
    with pytest.raises(ClientError) as excinfo:
        kms.disable_key_rotation(KeyId=key["KeyId"])
    assert _code(excinfo) == "UnsupportedOperationException"


@pytest.mark.parametrize("state, expected", [("Disabled", "DisabledException"),
                                             ("PendingDeletion", "KMSInvalidStateException")])
def test_rotation_refuses_unusable_key(kms, state, expected):
    key = kms.create_key()["KeyMetadata"]
    if state == "Disabled":
        kms.disable_key(KeyId=key["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    with pytest.raises(ClientError) as excinfo:
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert _code(excinfo) == expected


def test_rotate_on_demand_on_replica_names_primary(aws, kms):
    primary = kms.create_key(MultiRegion=True)["KeyMetadata"]
    kms.replicate_key(KeyId=primary["KeyId"], ReplicaRegion="eu-west-1")
    replica_kms = aws.client("kms", region="eu-west-1")
    with pytest.raises(ClientError) as excinfo:
        replica_kms.rotate_key_on_demand(KeyId=primary["KeyId"])
    assert _code(excinfo) == "UnsupportedOperationException"
    assert primary["Arn"] in excinfo.value.response["Error"]["Message"]


def test_rotate_on_demand_records_a_rotation(kms):
    key = kms.create_key()["KeyMetadata"]
    kms.rotate_key_on_demand(KeyId=key["Arn"])
    rotations = kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]
    assert [rotation["RotationType"] for rotation in rotations] == ["ON_DEMAND"]


def test_rotate_on_demand_limit_is_25(kms):
    key = kms.create_key()["KeyMetadata"]
    for _rotation in range(25):
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    with pytest.raises(ClientError) as excinfo:
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert _code(excinfo) == "LimitExceededException"


def test_imported_material_rotates_only_once_new_material_is_pending(aws, kms):
    key = kms.create_key(Origin="EXTERNAL")["KeyMetadata"]
    with pytest.raises(ClientError) as excinfo:
        kms.rotate_key_on_demand(KeyId=key["KeyId"])
    assert _code(excinfo) == "UnsupportedOperationException"
    aws.control("kms-import-new-key-material", {"key_id": key["KeyId"]})
    listed = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [entry["KeyMaterialState"] for entry in listed] == ["PENDING_ROTATION"]
    kms.rotate_key_on_demand(KeyId=key["KeyId"])
    listed = kms.list_key_rotations(KeyId=key["KeyId"], IncludeKeyMaterial="ALL_KEY_MATERIAL")["Rotations"]
    assert [(entry["RotationType"], entry["KeyMaterialState"]) for entry in listed] == [("ON_DEMAND", "CURRENT")]
