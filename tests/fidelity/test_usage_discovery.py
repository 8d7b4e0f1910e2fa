"""The usage-discovery fidelity layer: each read call moto lacks, checked over HTTP."""

import time


def test_ebs_default_kms_key_id_is_aws_managed_until_set_then_the_key_arn(aws):
    ec2 = aws.client("ec2")
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"
    key = aws.client("kms").create_key()["KeyMetadata"]
    ec2.modify_ebs_default_kms_key_id(KmsKeyId=key["KeyId"])
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == key["Arn"]


def test_secret_versions_are_dated_when_they_were_created_not_when_listed(aws):
    secretsmanager = aws.client("secretsmanager")
    created = secretsmanager.create_secret(Name="dated", SecretString="first")
    # Secrets Manager dates versions to the second: let one pass so the next version is visibly newer.
    time.sleep(1.1)
    secretsmanager.put_secret_value(SecretId="dated", SecretString="second")
    versions = dict((version["VersionId"], version)
                    for version in secretsmanager.list_secret_version_ids(SecretId="dated")["Versions"])
    first = versions[created["VersionId"]]
    assert first["VersionStages"] == ["AWSPREVIOUS"]
    assert first["CreatedDate"] == secretsmanager.describe_secret(SecretId="dated")["CreatedDate"]
    newest = [version for version in versions.values() if version["VersionStages"] == ["AWSCURRENT"]]
    assert newest[0]["CreatedDate"] > first["CreatedDate"]


def test_head_object_reads_the_null_version_of_a_bucket_never_versioned(aws):
    s3 = aws.client("s3")
    key = aws.client("kms").create_key()["KeyMetadata"]
    s3.create_bucket(Bucket="never-versioned")
    s3.put_object(Bucket="never-versioned", Key="data", Body=b"x", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    [version] = s3.list_object_versions(Bucket="never-versioned")["Versions"]
    assert version["VersionId"] == "null"
    head = s3.head_object(Bucket="never-versioned", Key="data", VersionId="null")
    assert head["SSEKMSKeyId"] == key["Arn"]
