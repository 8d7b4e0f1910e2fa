"""CloudWatch Logs AssociateKmsKey / DisassociateKmsKey (fidelity/services_logs.py), over HTTP."""

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def logs(aws):
    return aws.client("logs")


def _group(logs, name):
    [group] = logs.describe_log_groups(logGroupNamePrefix=name)["logGroups"]
    return group


def test_associate_sets_the_key_that_describe_shows_and_disassociate_removes_it(logs, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    logs.create_log_group(logGroupName="app")
    logs.associate_kms_key(logGroupName="app", kmsKeyId=key)
    assert _group(logs, "app")["kmsKeyId"] == key
    logs.disassociate_kms_key(logGroupName="app")
    assert "kmsKeyId" not in _group(logs, "app")


@pytest.mark.parametrize("state", ["missing", "disabled", "alias"])
def test_a_key_that_cannot_be_used_is_refused_and_nothing_changes(logs, kms, state):
    key = kms.create_key()["KeyMetadata"]
    logs.create_log_group(logGroupName="app", kmsKeyId=key["Arn"])
    other = kms.create_key()["KeyMetadata"]
    named = other["Arn"]
    if state == "missing":
        named = other["Arn"][:-12] + "000000000000"
    elif state == "disabled":
        kms.disable_key(KeyId=other["KeyId"])
    else:
        kms.create_alias(AliasName="alias/logs", TargetKeyId=other["KeyId"])
        named = other["Arn"].split(":key/")[0] + ":alias/logs"
    with pytest.raises(ClientError) as refused:
        logs.associate_kms_key(logGroupName="app", kmsKeyId=named)
    assert refused.value.response["Error"]["Code"] == "AccessDeniedException"
    assert "log-group:app'" in refused.value.response["Error"]["Message"]
    assert _group(logs, "app")["kmsKeyId"] == key["Arn"]


def test_a_group_that_does_not_exist_is_not_found(logs, kms):
    key = kms.create_key()["KeyMetadata"]["Arn"]
    for call in (lambda: logs.associate_kms_key(logGroupName="nothing", kmsKeyId=key),
                 lambda: logs.disassociate_kms_key(logGroupName="nothing")):
        with pytest.raises(ClientError) as missing:
            call()
        assert missing.value.response["Error"]["Code"] == "ResourceNotFoundException"
