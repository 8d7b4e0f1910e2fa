"""KMS for kms_key_usage_info: the key's last cryptographic use."""


def test_last_usage_is_reported(clients, discover, key):
    clients("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"x")
    result = discover(key["KeyId"], services=["s3"])
    assert result["last_usage"]["available"] is True
    assert result["last_usage"]["operation"] == "Encrypt"
