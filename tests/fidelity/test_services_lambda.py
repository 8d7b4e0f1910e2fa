"""Lambda UpdateFunctionConfiguration KMSKeyArn (fidelity/services_lambda.py), over HTTP."""

import io
import zipfile

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def awslambda(aws):
    return aws.client("lambda")


def _function(aws, awslambda, key_arn):
    role = aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return 1\n")
    awslambda.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="fn.handler",
                              Code={"ZipFile": code.getvalue()}, KMSKeyArn=key_arn,
                              Environment={"Variables": {"MODE": "test"}}, Publish=True)


def test_latest_moves_to_the_new_key_and_published_versions_keep_theirs(aws, awslambda, kms):
    old = kms.create_key()["KeyMetadata"]["Arn"]
    new = kms.create_key()["KeyMetadata"]["Arn"]
    _function(aws, awslambda, old)
    awslambda.update_function_configuration(FunctionName="fn", KMSKeyArn=new)
    latest = awslambda.get_function_configuration(FunctionName="fn")
    assert latest["KMSKeyArn"] == new
    assert latest["LastUpdateStatus"] == "Successful"
    awslambda.publish_version(FunctionName="fn")
    keys = dict((version["Version"], version.get("KMSKeyArn"))
                for version in awslambda.list_versions_by_function(FunctionName="fn")["Versions"])
    assert keys == {"$LATEST": new, "1": old, "2": new}


def test_an_empty_key_goes_back_to_the_aws_managed_key(aws, awslambda, kms):
    _function(aws, awslambda, kms.create_key()["KeyMetadata"]["Arn"])
    awslambda.update_function_configuration(FunctionName="fn", KMSKeyArn="")
    assert not awslambda.get_function_configuration(FunctionName="fn").get("KMSKeyArn")


@pytest.mark.parametrize("state", ["missing", "disabled", "alias"])
def test_a_key_that_cannot_be_used_is_refused_and_nothing_changes(aws, awslambda, kms, state):
    old = kms.create_key()["KeyMetadata"]["Arn"]
    other = kms.create_key()["KeyMetadata"]
    named = other["Arn"]
    if state == "missing":
        named = other["Arn"][:-12] + "000000000000"
    elif state == "disabled":
        kms.disable_key(KeyId=other["KeyId"])
    else:
        kms.create_alias(AliasName="alias/fn", TargetKeyId=other["KeyId"])
        named = other["Arn"].split(":key/")[0] + ":alias/fn"
    _function(aws, awslambda, old)
    with pytest.raises(ClientError) as refused:
        awslambda.update_function_configuration(FunctionName="fn", KMSKeyArn=named)
    assert refused.value.response["Error"]["Code"] == "InvalidParameterValueException"
    assert "KMS Exception" in refused.value.response["Error"]["Message"]
    assert awslambda.get_function_configuration(FunctionName="fn")["KMSKeyArn"] == old
