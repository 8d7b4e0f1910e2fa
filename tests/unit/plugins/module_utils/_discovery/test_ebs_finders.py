"""EC2 for kms_key_usage_info: the region's EBS default key."""

REGION = "us-east-1"


def test_ebs_default_key_is_movable(clients, discover, key):
    clients("ec2").modify_ebs_default_kms_key_id(KmsKeyId=key["Arn"])
    result = discover("alias/app", services=["ebs_default_key"])
    assert [entry["id"] for entry in result["movable_resources"]] == [REGION]
    assert [(entry["resource"], entry["kind"]) for entry in result["dependents"]] == [(REGION, "to_move")]
