"""The action group: one module_defaults entry reaches our modules and amazon.aws's."""


def test_group_defaults_reach_amazon_aws_modules_through_extend_group(playbook, aws):
    key = aws.client("kms").create_key(Description="found through module_defaults")["KeyMetadata"]
    # playbook.run wraps tasks in module_defaults for group/kmsrotate.aws.aws only,
    # and points the environment's AWS_ENDPOINT_URL at a dead port: amazon.aws.kms_key_info
    # can only reach the local endpoint through our group's extend_group.
    run = playbook.run([{"name": "List keys", "amazon.aws.kms_key_info": {"key_id": key["KeyId"]}}])
    assert run.rc == 0, run
    keys = run.result("List keys")["kms_keys"]
    assert [found["key_arn"] for found in keys] == [key["Arn"]]
