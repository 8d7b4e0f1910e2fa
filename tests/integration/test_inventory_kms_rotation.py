"""The kms_rotation inventory plugin through ansible-inventory and ansible-playbook on the local endpoint."""

import json
import os
import pathlib
import subprocess
import sys

import pytest
import yaml

from ansible_collections.kmsrotate.aws.plugins.inventory import kms_rotation
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import SERVICES

REPO = pathlib.Path(__file__).resolve().parents[2]
ROTATE_PLAYBOOK = REPO / "playbooks" / "rotate.yml"
ANSIBLE_INVENTORY = os.path.join(os.path.dirname(sys.executable), "ansible-inventory")


def _seed(aws):
    kms = aws.client("kms")
    app = kms.create_key(Description="app", Tags=[{"TagKey": "rotation", "TagValue": "planned"}])["KeyMetadata"]
    kms.create_alias(AliasName="alias/app-data", TargetKeyId=app["KeyId"])
    other = kms.create_key(Description="not selected")["KeyMetadata"]
    kms.create_alias(AliasName="alias/other", TargetKeyId=other["KeyId"])
    signing = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY",
                             Tags=[{"TagKey": "rotation", "TagValue": "planned"}])["KeyMetadata"]
    kms.create_alias(AliasName="alias/app-signing", TargetKeyId=signing["KeyId"])
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="app-bucket")
    s3.put_bucket_encryption(Bucket="app-bucket", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": app["Arn"]}}]})
    s3.put_object(Bucket="app-bucket", Key="object", Body=b"content", ServerSideEncryption="aws:kms",
                  SSEKMSKeyId=app["Arn"])
    ec2 = aws.client("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=app["Arn"])["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    aws.client("secretsmanager").create_secret(Name="app-secret", SecretString="x", KmsKeyId=app["Arn"])
    return app, signing, volume, snapshot


def _inventory_file(tmp_path, **options):
    config = {"plugin": "kmsrotate.aws.kms_rotation", "regions": ["us-east-1"], "aliases": ["app-*"],
              "tags": {"rotation": "planned"}}
    config.update(options)
    path = tmp_path / "demo.kms_rotation.yml"
    path.write_text(json.dumps(config))
    return path


def _plain(value):
    """ansible-inventory marks strings from inventory plugins untrusted: {"__ansible_unsafe": text}."""
    if isinstance(value, dict):
        if set(value) == {"__ansible_unsafe"}:
            return value["__ansible_unsafe"]
        return dict((name, _plain(item)) for name, item in value.items())
    if isinstance(value, list):
        return [_plain(item) for item in value]
    return value


def _list(playbook, inventory):
    completed = subprocess.run([ANSIBLE_INVENTORY, "-i", str(inventory), "--list"], capture_output=True, text=True,
                               env=playbook.environment(endpoint_in_env=True), timeout=300, check=False)
    assert completed.returncode == 0, completed.stderr
    return _plain(json.loads(completed.stdout))


def test_hosts_carry_the_rotation_role_variables(playbook, aws, tmp_path):
    app, signing, volume, snapshot = _seed(aws)
    origin_groups = [{"key": "kms_rotation_origin", "prefix": "origin"}]
    inventory = _list(playbook, _inventory_file(tmp_path, keyed_groups=origin_groups))
    assert sorted(inventory["kms_rotation"]["hosts"]) == ["app-data_us-east-1", "app-signing_us-east-1"]
    host = inventory["_meta"]["hostvars"]["app-data_us-east-1"]
    assert host["kms_rotation_source_key"] == app["Arn"]
    assert host["kms_rotation_region"] == "us-east-1"
    assert host["kms_rotation_aliases"] == ["alias/app-data"]
    assert host["kms_rotation_s3_buckets"] == ["app-bucket"]
    assert host["kms_rotation_ebs_volume_ids"] == [volume]
    assert host["kms_rotation_ebs_snapshot_ids"] == [snapshot]
    assert host["kms_rotation_strategy"] == "automatic"
    assert host["kms_rotation_blocking"] == 1
    assert [entry["id"] for entry in host["kms_rotation_blocking_resources"]] == ["app-secret"]
    signing_host = inventory["_meta"]["hostvars"]["app-signing_us-east-1"]
    assert signing_host["kms_rotation_source_key"] == signing["Arn"]
    assert signing_host["kms_rotation_strategy"] == "rekey"
    assert inventory["region_us_east_1"]["hosts"] == sorted(inventory["kms_rotation"]["hosts"])
    assert inventory["strategy_rekey"]["hosts"] == ["app-signing_us-east-1"]
    assert sorted(inventory["origin_AWS_KMS"]["hosts"]) == sorted(inventory["kms_rotation"]["hosts"])


def test_key_ids_filter_and_no_usage_discovery(playbook, aws, tmp_path):
    app = _seed(aws)[0]
    inventory = _list(playbook, _inventory_file(tmp_path, aliases=[], tags={}, key_ids=["alias/app-data"],
                                                discover_usage=False))
    assert inventory["kms_rotation"]["hosts"] == ["app-data_us-east-1"]
    host = inventory["_meta"]["hostvars"]["app-data_us-east-1"]
    assert host["kms_rotation_source_key"] == app["Arn"]
    assert "kms_rotation_s3_buckets" not in host


def test_unknown_usage_service_is_refused_naming_the_valid_ones(playbook, tmp_path):
    environment = dict(playbook.environment(endpoint_in_env=True), ANSIBLE_INVENTORY_UNPARSED_FAILED="true")
    completed = subprocess.run([ANSIBLE_INVENTORY, "-i", str(_inventory_file(tmp_path, usage_services=["s3", "s4"])),
                                "--list"], capture_output=True, text=True, env=environment, timeout=300, check=False)
    assert completed.returncode != 0
    # ansible-core's config manager checks each element against the documented choices.
    assert "Invalid value" in completed.stderr and "'s4'" in completed.stderr and "usage_services" in completed.stderr
    assert ", ".join(SERVICES) in completed.stderr


def test_usage_services_choices_are_the_discovery_services():
    options = yaml.safe_load(kms_rotation.DOCUMENTATION)["options"]
    assert options["usage_services"]["choices"] == list(SERVICES)


@pytest.mark.skipif(not ROTATE_PLAYBOOK.exists(), reason="playbooks/rotate.yml (issue 6) has not landed")
def test_rotation_playbook_accepts_the_hosts_in_check_mode(playbook, aws, tmp_path):
    app = _seed(aws)[0]
    inventory = _inventory_file(tmp_path, aliases=["app-data"], tags={})
    run = playbook.run(playbook=ROTATE_PLAYBOOK, inventory=inventory, check=True,
                       extra_vars={"kms_rotation_create_key": True, "kms_rotation_report_dir": str(tmp_path / "reports")})
    assert run.rc == 0, run
    assert run.data["stats"]["app-data_us-east-1"]["failures"] == 0, run
    assert aws.client("kms").describe_key(KeyId=app["KeyId"])["KeyMetadata"]["KeyState"] == "Enabled"
    assert aws.client("s3").get_bucket_encryption(Bucket="app-bucket")["ServerSideEncryptionConfiguration"][
        "Rules"][0]["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == app["Arn"]
