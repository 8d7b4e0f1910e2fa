"""The usage-discovery fidelity layer: each read call moto lacks, checked over HTTP."""


def test_ebs_default_kms_key_id_is_aws_managed_until_set_then_the_key_arn(aws):
    ec2 = aws.client("ec2")
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == "alias/aws/ebs"
    key = aws.client("kms").create_key()["KeyMetadata"]
    ec2.modify_ebs_default_kms_key_id(KmsKeyId=key["KeyId"])
    assert ec2.get_ebs_default_kms_key_id()["KmsKeyId"] == key["Arn"]
