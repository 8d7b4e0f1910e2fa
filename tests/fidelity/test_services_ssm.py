"""SSM SecureString reads and writes and the state of their key (fidelity/services_ssm.py), over HTTP."""

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def ssm(aws):
    return aws.client("ssm")


def _code_and_message(call):
    with pytest.raises(ClientError) as refused:
        call()
    return refused.value.response["Error"]["Code"], refused.value.response["Error"]["Message"]


def test_a_value_under_a_disabled_key_cannot_be_read_and_the_history_tells_each_version(ssm, kms):
    old = kms.create_key()["KeyMetadata"]
    new = kms.create_key()["KeyMetadata"]
    ssm.put_parameter(Name="/app/token", Value="one", Type="SecureString", KeyId=old["Arn"])
    ssm.put_parameter(Name="/app/token", Value="two", Type="SecureString", KeyId=new["Arn"], Overwrite=True)
    kms.disable_key(KeyId=old["KeyId"])
    # The current version is under the new key: readable. The first one is not, and says why.
    assert ssm.get_parameter(Name="/app/token", WithDecryption=True)["Parameter"]["Value"] == "two"
    code, message = _code_and_message(lambda: ssm.get_parameter(Name="/app/token:1", WithDecryption=True))
    assert code == "InvalidKeyId" and old["Arn"] + " is disabled." in message and "DisabledException" in message
    code, _message = _code_and_message(lambda: ssm.get_parameter_history(Name="/app/token", WithDecryption=True))
    assert code == "InvalidKeyId"
    # Without decryption nothing needs the key.
    history = ssm.get_parameter_history(Name="/app/token")["Parameters"]
    assert [version["KeyId"] for version in history] == [old["Arn"], new["Arn"]]


def test_a_key_pending_deletion_refuses_reads(ssm, kms):
    key = kms.create_key()["KeyMetadata"]
    ssm.put_parameter(Name="/app/token", Value="one", Type="SecureString", KeyId=key["KeyId"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    code, message = _code_and_message(lambda: ssm.get_parameters(Names=["/app/token"], WithDecryption=True))
    assert code == "InvalidKeyId" and "pending deletion" in message


@pytest.mark.parametrize("state", ["missing", "disabled"])
def test_a_write_under_a_key_that_cannot_be_used_is_refused(ssm, kms, state):
    key = kms.create_key()["KeyMetadata"]
    named = key["Arn"]
    if state == "missing":
        named = key["Arn"][:-12] + "000000000000"
    else:
        kms.disable_key(KeyId=key["KeyId"])
    code, _message = _code_and_message(
        lambda: ssm.put_parameter(Name="/app/token", Value="one", Type="SecureString", KeyId=named))
    assert code == "InvalidKeyId"
    assert ssm.describe_parameters()["Parameters"] == []
