"""DynamoDB UpdateTable SSESpecification (fidelity/services_dynamodb.py), over HTTP."""

import pytest
from botocore.exceptions import ClientError


@pytest.fixture
def dynamodb(aws):
    return aws.client("dynamodb")


def _table(dynamodb, key_arn):
    dynamodb.create_table(TableName="orders", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          SSESpecification={"Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": key_arn})


def test_a_key_change_is_applied_updating_then_enabled(dynamodb, kms):
    old = kms.create_key()["KeyMetadata"]["Arn"]
    new = kms.create_key()["KeyMetadata"]
    _table(dynamodb, old)
    answer = dynamodb.update_table(TableName="orders", SSESpecification={
        "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": new["KeyId"]})["TableDescription"]
    assert answer["TableStatus"] == "UPDATING"
    assert answer["SSEDescription"] == {"Status": "UPDATING", "SSEType": "KMS", "KMSMasterKeyArn": new["Arn"]}
    table = dynamodb.describe_table(TableName="orders")["Table"]
    assert table["TableStatus"] == "ACTIVE"
    assert table["SSEDescription"] == {"Status": "ENABLED", "SSEType": "KMS", "KMSMasterKeyArn": new["Arn"]}
    # The same key again is no update.
    again = dynamodb.update_table(TableName="orders", SSESpecification={
        "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": new["Arn"]})["TableDescription"]
    assert (again["TableStatus"], again["SSEDescription"]["Status"]) == ("ACTIVE", "ENABLED")


def test_a_disabled_key_is_refused_and_nothing_changes(dynamodb, kms):
    old = kms.create_key()["KeyMetadata"]["Arn"]
    new = kms.create_key()["KeyMetadata"]
    kms.disable_key(KeyId=new["KeyId"])
    _table(dynamodb, old)
    with pytest.raises(ClientError) as refused:
        dynamodb.update_table(TableName="orders", SSESpecification={
            "Enabled": True, "SSEType": "KMS", "KMSMasterKeyId": new["Arn"]})
    assert refused.value.response["Error"]["Code"] == "ValidationException"
    assert dynamodb.describe_table(TableName="orders")["Table"]["SSEDescription"]["KMSMasterKeyArn"] == old


def test_disabling_sse_goes_back_to_the_aws_owned_key(dynamodb, kms):
    _table(dynamodb, kms.create_key()["KeyMetadata"]["Arn"])
    dynamodb.update_table(TableName="orders", SSESpecification={"Enabled": False})
    assert "SSEDescription" not in dynamodb.describe_table(TableName="orders")["Table"]
