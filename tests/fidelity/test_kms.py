"""The KMS fidelity layer: each behaviour AWS documents, checked over HTTP."""

import pytest
from botocore.exceptions import ClientError


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def key_pair(kms):
    source = kms.create_key()["KeyMetadata"]
    destination = kms.create_key()["KeyMetadata"]
    blob = kms.encrypt(KeyId=source["KeyId"], Plaintext=b"secret")["CiphertextBlob"]
    return source, destination, blob


@pytest.mark.parametrize("operation", ["decrypt", "re_encrypt_from", "re_encrypt_to", "encrypt", "generate_data_key",
                                       "generate_data_key_without_plaintext"])
@pytest.mark.parametrize("state, expected", [("Disabled", "DisabledException"),
                                             ("PendingDeletion", "KMSInvalidStateException")])
def test_crypto_operations_refuse_unusable_keys(kms, key_pair, operation, state, expected):
    source, destination, blob = key_pair
    target = destination if operation == "re_encrypt_to" else source
    if state == "Disabled":
        kms.disable_key(KeyId=target["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=target["KeyId"], PendingWindowInDays=7)
    calls = {
        "decrypt": lambda: kms.decrypt(CiphertextBlob=blob),
        "re_encrypt_from": lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"]),
        "re_encrypt_to": lambda: kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"]),
        "encrypt": lambda: kms.encrypt(KeyId=source["KeyId"], Plaintext=b"x"),
        "generate_data_key": lambda: kms.generate_data_key(KeyId=source["KeyId"], KeySpec="AES_256"),
        "generate_data_key_without_plaintext": lambda: kms.generate_data_key_without_plaintext(
            KeyId=source["KeyId"], KeySpec="AES_256"),
    }
    with pytest.raises(ClientError) as excinfo:
        calls[operation]()
    assert _code(excinfo) == expected
    assert target["Arn"] in excinfo.value.response["Error"]["Message"]


def test_enabled_keys_still_work(kms, key_pair):
    source, destination, blob = key_pair
    answer = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"], SourceKeyId=source["Arn"])
    assert answer["SourceKeyId"] == source["Arn"]
    assert answer["KeyId"] == destination["Arn"]
    assert kms.decrypt(CiphertextBlob=answer["CiphertextBlob"])["Plaintext"] == b"secret"


def test_re_encrypt_with_wrong_source_key_is_incorrect_key(kms, key_pair):
    _source, destination, blob = key_pair
    with pytest.raises(ClientError) as excinfo:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"], SourceKeyId=destination["KeyId"])
    assert _code(excinfo) == "IncorrectKeyException"


def test_decrypt_with_wrong_key_id_is_incorrect_key(kms, key_pair):
    _source, destination, blob = key_pair
    with pytest.raises(ClientError) as excinfo:
        kms.decrypt(CiphertextBlob=blob, KeyId=destination["Arn"])
    assert _code(excinfo) == "IncorrectKeyException"


def test_key_state_changes_accept_arns(kms, key_pair):
    source = key_pair[0]
    kms.disable_key(KeyId=source["Arn"])
    assert kms.describe_key(KeyId=source["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"
    kms.enable_key(KeyId=source["Arn"])
    assert kms.describe_key(KeyId=source["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    kms.schedule_key_deletion(KeyId=source["Arn"], PendingWindowInDays=7)
    assert kms.describe_key(KeyId=source["KeyId"])["KeyMetadata"]["KeyState"] == "PendingDeletion"
    kms.cancel_key_deletion(KeyId=source["Arn"])
    assert kms.describe_key(KeyId=source["KeyId"])["KeyMetadata"]["KeyState"] == "Disabled"


@pytest.mark.parametrize("days", [6, 31])
def test_pending_window_outside_7_to_30_is_validation_error(kms, key_pair, days):
    source = key_pair[0]
    with pytest.raises(ClientError) as excinfo:
        kms.schedule_key_deletion(KeyId=source["Arn"], PendingWindowInDays=days)
    assert _code(excinfo) == "ValidationException"
    assert kms.describe_key(KeyId=source["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"


def test_key_usage_defaults_to_encrypt_decrypt(kms):
    created = kms.create_key()["KeyMetadata"]
    assert created["KeyUsage"] == "ENCRYPT_DECRYPT"
    assert kms.describe_key(KeyId=created["KeyId"])["KeyMetadata"]["KeyUsage"] == "ENCRYPT_DECRYPT"
