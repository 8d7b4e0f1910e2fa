"""kms_key_rotation through ansible-playbook on the local endpoint."""


def test_strategy_of_every_key_type_moto_can_create(playbook, aws):
    kms = aws.client("kms")
    keys = {
        "symmetric": kms.create_key()["KeyMetadata"],
        "imported": kms.create_key(Origin="EXTERNAL")["KeyMetadata"],
        "rsa": kms.create_key(KeySpec="RSA_2048", KeyUsage="ENCRYPT_DECRYPT")["KeyMetadata"],
        "hmac": kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"],
    }
    kms.create_alias(AliasName="alias/symmetric", TargetKeyId=keys["symmetric"]["KeyId"])
    refs = {"symmetric": "alias/symmetric", "imported": keys["imported"]["Arn"], "rsa": keys["rsa"]["KeyId"],
            "hmac": keys["hmac"]["Arn"], "aws_managed": "alias/aws/ebs"}
    tasks = [{"name": "Strategy " + name, "kmsrotate.aws.kms_key_rotation": {"key_id": ref}} for name, ref in refs.items()]
    run = playbook.run(tasks)
    assert run.rc == 0, run
    strategies = dict((name, run.result("Strategy " + name)["strategy"]) for name in refs)
    assert strategies == {"symmetric": "automatic", "imported": "rekey", "rsa": "rekey", "hmac": "rekey",
                          "aws_managed": "none"}
    symmetric = run.result("Strategy symmetric")
    assert symmetric["key_arn"] == keys["symmetric"]["Arn"]
    assert symmetric["aliases"] == ["alias/symmetric"]
    assert (symmetric["key_manager"], symmetric["origin"], symmetric["key_spec"], symmetric["key_usage"]) == (
        "CUSTOMER", "AWS_KMS", "SYMMETRIC_DEFAULT", "ENCRYPT_DECRYPT")
    assert symmetric["multi_region"] is False
    assert run.result("Strategy aws_managed")["key_manager"] == "AWS"
    assert run.changed == 0


def test_enable_automatic_rotation_idempotent_with_check_mode_and_diff(playbook, aws):
    key = aws.client("kms").create_key()["KeyMetadata"]
    task = [{"name": "Rotate yearly-ish", "kmsrotate.aws.kms_key_rotation": {
        "key_id": key["Arn"], "enable_automatic_rotation": True, "rotation_period_days": 180}}]
    planned = playbook.run(task, check=True, diff=True)
    assert planned.rc == 0, planned
    assert planned.result("Rotate yearly-ish")["changed"] is True
    assert planned.result("Rotate yearly-ish")["diff"]["after"]["rotation_period_days"] == 180
    assert aws.client("kms").get_key_rotation_status(KeyId=key["KeyId"])["KeyRotationEnabled"] is False
    first = playbook.run(task)
    assert first.rc == 0, first
    assert first.result("Rotate yearly-ish")["changed"] is True
    status = aws.client("kms").get_key_rotation_status(KeyId=key["KeyId"])
    assert (status["KeyRotationEnabled"], status["RotationPeriodInDays"]) == (True, 180)
    second = playbook.run(task)
    assert second.rc == 0, second
    assert second.changed == 0


def test_on_demand_rotation_and_clear_refusals(playbook, aws):
    kms = aws.client("kms")
    key = kms.create_key()["KeyMetadata"]
    hmac = kms.create_key(KeySpec="HMAC_256", KeyUsage="GENERATE_VERIFY_MAC")["KeyMetadata"]
    tasks = [
        {"name": "Rotate now", "kmsrotate.aws.kms_key_rotation": {"key_id": key["KeyId"], "rotate_on_demand": True}},
        {"name": "Rotate again unless fresh", "kmsrotate.aws.kms_key_rotation": {
            "key_id": key["KeyId"], "rotate_on_demand": True, "on_demand_min_age_days": 1}},
        {"name": "Rotate HMAC", "kmsrotate.aws.kms_key_rotation": {"key_id": hmac["KeyId"], "rotate_on_demand": True},
         "ignore_errors": True},
        {"name": "Stop rotating AWS managed", "kmsrotate.aws.kms_key_rotation": {
            "key_id": "alias/aws/s3", "enable_automatic_rotation": False}, "ignore_errors": True},
    ]
    run = playbook.run(tasks)
    assert run.rc == 0, run
    rotated = run.result("Rotate now")
    assert rotated["changed"] is True
    assert [rotation["rotation_type"] for rotation in rotated["rotations"]] == ["ON_DEMAND"]
    assert run.result("Rotate again unless fresh")["changed"] is False
    assert [entry["RotationType"] for entry in kms.list_key_rotations(KeyId=key["KeyId"])["Rotations"]] == [
        "ON_DEMAND"]
    refused = run.result("Rotate HMAC")
    assert refused["failed"] is True
    assert "HMAC" in refused["msg"] and refused["resource"] == hmac["Arn"]
    assert "AWS managed" in run.result("Stop rotating AWS managed")["msg"]
