"""Secrets Manager's key per version (fidelity/services_secretsmanager.py), over HTTP."""

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def secretsmanager(aws):
    return aws.client("secretsmanager")


def _three_versions(secretsmanager, key_arn):
    """A secret with an unlabelled version, AWSPREVIOUS and AWSCURRENT, all under key_arn: their ids, oldest first."""
    ids = [secretsmanager.create_secret(Name="db", SecretString="one", KmsKeyId=key_arn)["VersionId"]]
    for value in ("two", "three"):
        ids.append(secretsmanager.put_secret_value(SecretId="db", SecretString=value)["VersionId"])
    stages = secretsmanager.describe_secret(SecretId="db")["VersionIdsToStages"]
    assert [stages.get(version_id, []) for version_id in ids] == [[], ["AWSPREVIOUS"], ["AWSCURRENT"]]
    return ids


def _readable(secretsmanager, version_id):
    try:
        secretsmanager.get_secret_value(SecretId="db", VersionId=version_id)
    except ClientError as exc:
        assert exc.response["Error"]["Code"] == "DecryptionFailure"
        return exc.response["Error"]["Message"]
    return True


def test_update_secret_re_encrypts_only_the_labelled_versions(aws, secretsmanager, kms):
    old = kms.create_key()["KeyMetadata"]
    new = kms.create_key()["KeyMetadata"]
    unlabelled, previous, current = _three_versions(secretsmanager, old["Arn"])
    secretsmanager.update_secret(SecretId="db", KmsKeyId=new["Arn"])
    assert aws.control("secret-version-keys", {"secret_id": "db"}) == {
        unlabelled: old["Arn"], previous: new["Arn"], current: new["Arn"]}
    kms.disable_key(KeyId=old["KeyId"])
    assert _readable(secretsmanager, current) is True
    assert _readable(secretsmanager, previous) is True
    refused = _readable(secretsmanager, unlabelled)
    assert refused is not True and old["Arn"] + " is disabled." in refused


def test_a_version_under_a_key_pending_deletion_cannot_be_read(secretsmanager, kms):
    key = kms.create_key()["KeyMetadata"]
    _unlabelled, _previous, current = _three_versions(secretsmanager, key["Arn"])
    kms.schedule_key_deletion(KeyId=key["KeyId"], PendingWindowInDays=7)
    refused = _readable(secretsmanager, current)
    assert refused is not True and "pending deletion" in refused


def test_new_versions_after_the_change_are_under_the_new_key(aws, secretsmanager, kms):
    old = kms.create_key()["KeyMetadata"]
    new = kms.create_key()["KeyMetadata"]
    _three_versions(secretsmanager, old["Arn"])
    secretsmanager.update_secret(SecretId="db", KmsKeyId=new["KeyId"])
    latest = secretsmanager.put_secret_value(SecretId="db", SecretString="four")["VersionId"]
    assert aws.control("secret-version-keys", {"secret_id": "db"})[latest] == new["Arn"]
    kms.disable_key(KeyId=new["KeyId"])
    assert _readable(secretsmanager, latest) is not True
