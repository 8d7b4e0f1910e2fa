"""kms_service_rekey's plans: resources it never changes get what AWS requires, and block."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._services.retention import NEVER


def test_rds_instance_under_the_source_key_gets_a_plan_and_blocks(aws_client, keys, rekey, by_resource):
    source, destination = keys
    rds = aws_client("rds")
    for name, key in (("orders", source), ("billing", destination)):
        rds.create_db_instance(DBInstanceIdentifier=name, DBInstanceClass="db.t3.micro", Engine="postgres",
                               MasterUsername="admin", MasterUserPassword="password123", AllocatedStorage=20,
                               StorageEncrypted=True, KmsKeyId=key)
    ours = "arn:aws:rds:us-east-1:123456789012:db:orders"
    moved = "arn:aws:rds:us-east-1:123456789012:db:billing"
    values, _diff, failure = rekey([ours, moved, "arn:aws:rds:us-east-1:123456789012:db:gone"])
    found = by_resource(values)
    assert failure is None and values["changed"] is False
    assert found[ours]["action"] == "planned" and found[ours]["needed_until"] == NEVER
    [plan] = values["plans"]
    assert plan["resource"] == ours and any("copy-db-snapshot" in step for step in plan["steps"])
    assert [(item["resource"], item["kind"]) for item in values["dependents"]] == [(ours, "blocking")]
    assert found[moved]["action"] == "unchanged"
    assert found["arn:aws:rds:us-east-1:123456789012:db:gone"]["action"] == "not_found"
    assert rds.describe_db_instances(DBInstanceIdentifier="orders")["DBInstances"][0]["KmsKeyId"] == source


def test_backup_vault_and_efs_plans(aws_client, keys, rekey, by_resource):
    source, _destination = keys
    vault = aws_client("backup").create_backup_vault(BackupVaultName="vault", EncryptionKeyArn=source)[
        "BackupVaultArn"]
    efs = aws_client("efs").create_file_system(CreationToken="t", Encrypted=True, KmsKeyId=source)
    values, _diff, _failure = rekey([vault, efs["FileSystemArn"]])
    found = by_resource(values)
    assert found[vault]["action"] == "planned" and found[efs["FileSystemArn"]]["action"] == "planned"
    assert sorted(plan["service"] for plan in values["plans"]) == ["backup", "efs"]
