"""The age-rekeyed-tags control route (fidelity/services_aging.py), over HTTP."""

import io
import zipfile

TAG = "kmsrotate:rekeyed-at"
AT = "2026-12-01T14:00:00Z"
FIVE_DAYS_EARLIER = "2026-11-26T14:00:00Z"


def test_every_rekeyed_at_tag_moves_back_and_other_tags_stay(aws):
    sqs = aws.client("sqs")
    url = sqs.create_queue(QueueName="q", tags={TAG: AT, "team": AT})["QueueUrl"]
    logs = aws.client("logs")
    logs.create_log_group(logGroupName="g", tags={TAG: AT})
    kinesis = aws.client("kinesis")
    kinesis.create_stream(StreamName="s", ShardCount=1)
    kinesis.add_tags_to_stream(StreamName="s", Tags={TAG: AT})
    secretsmanager = aws.client("secretsmanager")
    created = secretsmanager.create_secret(Name="x", SecretString="v", Tags=[{"Key": TAG, "Value": AT}])
    before = secretsmanager.list_secret_version_ids(SecretId="x")["Versions"][0]["CreatedDate"]
    dynamodb = aws.client("dynamodb")
    dynamodb.create_table(TableName="t", BillingMode="PAY_PER_REQUEST",
                          KeySchema=[{"AttributeName": "id", "KeyType": "HASH"}],
                          AttributeDefinitions=[{"AttributeName": "id", "AttributeType": "S"}],
                          Tags=[{"Key": TAG, "Value": AT}])

    sns = aws.client("sns")
    topic = sns.create_topic(Name="t", Tags=[{"Key": TAG, "Value": AT}])["TopicArn"]
    ssm = aws.client("ssm")
    ssm.put_parameter(Name="/p", Value="v", Type="SecureString", Tags=[{"Key": TAG, "Value": AT}])

    assert aws.control("age-rekeyed-tags", {"days": 5}) == {"aged": 7}

    assert sqs.list_queue_tags(QueueUrl=url)["Tags"] == {TAG: FIVE_DAYS_EARLIER, "team": AT}
    assert logs.list_tags_log_group(logGroupName="g")["tags"] == {TAG: FIVE_DAYS_EARLIER}
    assert kinesis.list_tags_for_stream(StreamName="s")["Tags"] == [{"Key": TAG, "Value": FIVE_DAYS_EARLIER}]
    assert secretsmanager.describe_secret(SecretId=created["ARN"])["Tags"] == [{"Key": TAG, "Value": FIVE_DAYS_EARLIER}]
    after = secretsmanager.list_secret_version_ids(SecretId="x")["Versions"][0]["CreatedDate"]
    assert (before - after).days == 5
    assert sns.list_tags_for_resource(ResourceArn=topic)["Tags"] == [{"Key": TAG, "Value": FIVE_DAYS_EARLIER}]
    assert ssm.list_tags_for_resource(ResourceType="Parameter", ResourceId="/p")["TagList"] == [
        {"Key": TAG, "Value": FIVE_DAYS_EARLIER}]
    table = dynamodb.describe_table(TableName="t")["Table"]["TableArn"]
    assert dynamodb.list_tags_of_resource(ResourceArn=table)["Tags"] == [{"Key": TAG, "Value": FIVE_DAYS_EARLIER}]


def test_lambda_tags_move_too(aws):
    awslambda = aws.client("lambda")
    role = aws.client("iam").create_role(RoleName="fn", AssumeRolePolicyDocument="{}")["Role"]["Arn"]
    code = io.BytesIO()
    with zipfile.ZipFile(code, "w") as archive:
        archive.writestr("fn.py", "def handler(event, context):\n    return 1\n")
    arn = awslambda.create_function(FunctionName="fn", Runtime="python3.12", Role=role, Handler="fn.handler",
                                    Code={"ZipFile": code.getvalue()}, Tags={TAG: AT})["FunctionArn"]
    assert aws.control("age-rekeyed-tags", {"hours": 24 * 5}) == {"aged": 1}
    assert awslambda.list_tags(Resource=arn)["Tags"] == {TAG: FIVE_DAYS_EARLIER}
