"""The ReEncrypt switch that answers like LocalStack: off by default (as AWS), HTTP 500 without SourceKeyId when on."""

import pytest
from botocore.exceptions import ClientError

SWITCH = "kms_reencrypt_requires_source_key_id"


@pytest.fixture
def kms(aws):
    # One attempt per call, so the requests the endpoint counts are the calls made.
    return aws.client("kms", retries={"mode": "standard", "total_max_attempts": 1})


@pytest.fixture
def blob_and_keys(kms):
    source = kms.create_key()["KeyMetadata"]
    destination = kms.create_key()["KeyMetadata"]
    blob = kms.generate_data_key_without_plaintext(KeyId=source["KeyId"], KeySpec="AES_256")["CiphertextBlob"]
    return blob, source, destination


def test_the_switch_is_off_by_default(aws):
    assert aws.set_fidelity()[SWITCH] is False


def test_off_re_encrypt_without_source_key_id_works_as_on_aws(kms, blob_and_keys):
    blob, source, destination = blob_and_keys
    answer = kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    assert (answer["SourceKeyId"], answer["KeyId"]) == (source["Arn"], destination["Arn"])


def test_on_re_encrypt_without_source_key_id_is_http_500_internal_error(aws, kms, blob_and_keys):
    blob, _source, destination = blob_and_keys
    aws.set_fidelity(**{SWITCH: True})
    aws.clear_stats()
    with pytest.raises(ClientError) as excinfo:
        kms.re_encrypt(CiphertextBlob=blob, DestinationKeyId=destination["KeyId"])
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    assert excinfo.value.response["Error"]["Code"] == "InternalError"
    assert aws.stats() == {"kms:ReEncrypt": 1}


def test_on_re_encrypt_naming_the_source_key_still_works_and_checks_it(aws, kms, blob_and_keys):
    blob, source, destination = blob_and_keys
    aws.set_fidelity(**{SWITCH: True})
    answer = kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=source["Arn"], DestinationKeyId=destination["KeyId"])
    assert answer["KeyId"] == destination["Arn"]
    with pytest.raises(ClientError) as excinfo:
        kms.re_encrypt(CiphertextBlob=blob, SourceKeyId=destination["Arn"], DestinationKeyId=destination["KeyId"])
    assert excinfo.value.response["Error"]["Code"] == "IncorrectKeyException"


def test_a_reset_switches_it_off_again(aws, kms):
    aws.set_fidelity(**{SWITCH: True})
    aws.reset()
    assert aws.set_fidelity()[SWITCH] is False
