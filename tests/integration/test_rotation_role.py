"""The rotation role through the collection's own playbook, on the local endpoint.

Runs are few and share their estate where they can: each one is a real
`ansible-playbook` of playbooks/rotate.yml (several seconds of module start-up
per task on a small machine).
"""

import base64
import json
import pathlib
import sys

import pytest
import yaml

REPO = pathlib.Path(__file__).resolve().parents[2]
sys.path.insert(0, str(REPO / "tools"))

import demo_estate  # noqa: E402  pylint: disable=wrong-import-position

ROTATE = REPO / "playbooks" / "rotate.yml"
ROLE = "kmsrotate.aws.rotation : "
FAIL_TASK = ROLE + "Rotation | fail the host where the rotation stopped"
SOURCE_TAG = "kmsrotate:source-key-arn"


def write_inventory(path, hosts):
    path.write_text(yaml.safe_dump({"kms_rotation": {"hosts": hosts}}))
    return path


def rotate(playbook, inventory, tmp_path, **kwargs):
    extra = {"kms_rotation_report_dir": str(tmp_path / "reports"), "kms_rotation_poll_interval": 1}
    extra.update(kwargs.pop("extra_vars", {}))
    return playbook.run(playbook=ROTATE, inventory=inventory, extra_vars=extra, **kwargs)


def key_state(kms, arn):
    return kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]


def customer_keys(kms):
    """Customer-managed keys only: AWS-managed ones appear when a service is first asked about them."""
    return [key["KeyArn"] for key in kms.list_keys()["Keys"]
            if kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["KeyManager"] == "CUSTOMER"]


def successors(kms, source_arn):
    found = []
    for key in kms.list_keys()["Keys"]:
        tags = kms.list_resource_tags(KeyId=key["KeyId"])["Tags"]
        if {"TagKey": SOURCE_TAG, "TagValue": source_arn} in tags:
            found.append(key["KeyArn"])
    return found


def alias_target_arn(kms, name):
    target = next(a["TargetKeyId"] for a in kms.list_aliases()["Aliases"] if a["AliasName"] == name)
    return kms.describe_key(KeyId=target)["KeyMetadata"]["Arn"]


def blob_keys(kms, estate):
    keys = set()
    for path in estate.data_key_plaintexts:
        blob = base64.b64decode(pathlib.Path(path).read_bytes())
        keys.add(kms.decrypt(CiphertextBlob=blob)["KeyId"])
    return keys


def object_keys(s3, bucket):
    keys = set()
    for version in s3.list_object_versions(Bucket=bucket)["Versions"]:
        # An unversioned bucket lists its objects as version "null": asked for without a VersionId.
        by_version = {"VersionId": version["VersionId"]} if version["VersionId"] != "null" else {}
        head = s3.head_object(Bucket=bucket, Key=version["Key"], **by_version)
        keys.add(head.get("SSEKMSKeyId"))
    return keys


def volume_keys(ec2, volume_ids):
    return set(v.get("KmsKeyId") for v in ec2.describe_volumes(VolumeIds=volume_ids)["Volumes"])


def latest_report(tmp_path, suffix=".json"):
    reports = sorted((tmp_path / "reports").glob("rotation-*" + suffix), key=lambda p: p.stat().st_mtime)
    assert reports, "no report written"
    return reports[-1]


@pytest.mark.slow
def test_plan_then_phase_by_phase_interrupted_then_converges(aws, playbook, tmp_path):
    """Check mode, then a run stopped after each phase (tags, then a fault), then convergence and changed=0."""
    estate = demo_estate.seed(aws, tmp_path, data_keys=3, objects=4, versions=2)
    inventory = write_inventory(tmp_path / "inventory.yml", {"unit": estate.host_vars()})
    kms, s3, ec2 = aws.client("kms"), aws.client("s3"), aws.client("ec2")
    source = estate.source_key_arn
    keys_before = customer_keys(kms)

    plan = rotate(playbook, inventory, tmp_path, check=True)
    assert plan.rc == 0, plan
    assert customer_keys(kms) == keys_before and alias_target_arn(kms, estate.alias) == source
    assert blob_keys(kms, estate) == {source} and object_keys(s3, estate.bucket) == {source}
    assert key_state(kms, source) == "Enabled"
    shown = plan.result(ROLE + "Verify | show what still depends on the source key", host="unit")["msg"]
    assert any(estate.bucket in line and "[to_move]" in line for line in shown), shown
    assert any(estate.attached_volume_id in line for line in shown), shown
    assert json.loads(latest_report(tmp_path).read_text())["summary"]["status"] == "planned (check mode)"

    key_only = rotate(playbook, inventory, tmp_path, tags=["key"])
    assert key_only.rc == 0, key_only
    [destination] = successors(kms, source)
    assert alias_target_arn(kms, estate.alias) == destination
    assert blob_keys(kms, estate) == {source}

    data_keys = rotate(playbook, inventory, tmp_path, tags=["data_keys"])
    assert data_keys.rc == 0, data_keys
    assert blob_keys(kms, estate) == {destination} and object_keys(s3, estate.bucket) == {source}

    buckets = rotate(playbook, inventory, tmp_path, tags=["s3"])
    assert buckets.rc == 0, buckets
    assert object_keys(s3, estate.bucket) == {destination}
    assert volume_keys(ec2, estate.volume_ids) == {source}

    # The EBS phase fails part-way: the run stops, the report says where, the old key stays usable.
    aws.set_faults([{"kind": "error", "service": "ec2", "action": "CreateVolume", "status": 400,
                     "code": "UnauthorizedOperation", "message": "injected by the test"}])
    broken = rotate(playbook, inventory, tmp_path)
    aws.clear_faults()
    assert broken.rc != 0, broken
    assert "EBS" in broken.result(FAIL_TASK, host="unit")["msg"]
    assert json.loads(latest_report(tmp_path).read_text())["summary"]["status"] == "failed"
    assert key_state(kms, source) == "Enabled"

    finished = rotate(playbook, inventory, tmp_path)
    assert finished.rc == 0, finished
    assert successors(kms, source) == [destination]
    assert demo_estate.prove(aws, estate, destination) == []
    assert key_state(kms, source) == "Disabled"
    report = json.loads(latest_report(tmp_path).read_text())
    assert report["summary"]["status"] == "complete" and report["summary"]["counts"]["dependents_left"] == 0
    assert "Nothing:" in latest_report(tmp_path, ".md").read_text()

    again = rotate(playbook, inventory, tmp_path)
    assert again.rc == 0 and again.stats("unit")["changed"] == 0, again
    assert key_state(kms, source) == "Disabled"


@pytest.mark.slow
def test_locked_version_holds_retirement_back_until_forced(aws, playbook, tmp_path):
    kms, s3 = aws.client("kms"), aws.client("s3")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="locked-data", ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket="locked-data", Key="free.txt", Body=b"free", ServerSideEncryption="aws:kms", SSEKMSKeyId=source)
    s3.put_object(Bucket="locked-data", Key="held.txt", Body=b"held", ServerSideEncryption="aws:kms", SSEKMSKeyId=source,
                  ObjectLockLegalHoldStatus="ON")
    inventory = write_inventory(tmp_path / "inventory.yml", {"locked": {
        "kms_rotation_source_key": source, "kms_rotation_s3_buckets": ["locked-data"]}})

    refused = rotate(playbook, inventory, tmp_path)
    assert refused.rc != 0, refused
    message = refused.result(ROLE + "Retire | refuse while something still needs the source key", host="locked")["msg"]
    assert "s3://locked-data" in message and "kms_rotation_force_retire" in message
    assert key_state(kms, source) == "Enabled"

    forced = rotate(playbook, inventory, tmp_path, extra_vars={"kms_rotation_force_retire": True})
    assert forced.rc == 0, forced
    assert key_state(kms, source) == "Disabled"
    shout = forced.result(ROLE + "Retire | FORCED - retire the source key although something still depends on it", host="locked")
    assert "kms_rotation_force_retire is set" in shout["msg"][0]
    report = json.loads(latest_report(tmp_path).read_text())
    assert report["summary"]["forced"] is True
    assert "RETIREMENT FORCED" in latest_report(tmp_path, ".md").read_text()


def test_preflight_refuses_bad_input_before_any_change(aws, playbook, tmp_path):
    """One run, one host per bad input: each fails in preflight naming the problem; nothing changes."""
    kms, ec2 = aws.client("kms"), aws.client("ec2")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/preflight-app", TargetKeyId=source)
    disabled = kms.create_key()["KeyMetadata"]["Arn"]
    kms.disable_key(KeyId=disabled)
    asymmetric = kms.create_key(KeySpec="RSA_2048", KeyUsage="SIGN_VERIFY")["KeyMetadata"]["Arn"]
    keys_before = customer_keys(kms)
    volumes_before = len(ec2.describe_volumes()["Volumes"])
    missing_key = source[:-12] + "000000000000"
    hosts = {
        "source_missing": ({"kms_rotation_source_key": missing_key}, "KMS key not found"),
        "destination_missing": ({"kms_rotation_destination_key": missing_key}, "KMS key not found"),
        "destination_disabled": ({"kms_rotation_destination_key": disabled}, "not Enabled"),
        "destination_asymmetric": ({"kms_rotation_destination_key": asymmetric}, "SYMMETRIC_DEFAULT"),
        "destination_other_region": ({"kms_rotation_destination_key": disabled.replace("us-east-1", "eu-west-1")},
                                     "not in us-east-1"),
        "same_key": ({"kms_rotation_destination_key": "alias/preflight-app"}, "same key"),
        "aws_managed_retired": ({"kms_rotation_source_key": "alias/aws/s3"}, "managed by AWS"),
        "bucket_missing": ({"kms_rotation_s3_buckets": ["no-such-bucket"]}, "no-such-bucket does not exist"),
        "volume_missing": ({"kms_rotation_ebs_volume_ids": ["vol-0123456789abcdef0"]}, "vol-0123456789abcdef0 not found"),
        "snapshot_missing": ({"kms_rotation_ebs_snapshot_ids": ["snap-0123456789abcdef0"]}, "snap-0123456789abcdef0 not found"),
        "path_missing": ({"kms_rotation_data_key_paths": [str(tmp_path / "nothing-*.key")]}, "matches no file"),
        "watch_days_negative": ({"kms_rotation_watch_days": -1}, "whole numbers of days"),
        "deletion_never_disabled": ({"kms_rotation_retire": "schedule_deletion"}, "must first be Disabled"),
        "guard_on_aws_managed": ({"kms_rotation_source_key": "alias/aws/s3", "kms_rotation_retire": "none",
                                  "kms_rotation_key_policy_guard_days": 7}, "no guard can be added"),
        "bucket_dict_unnamed": ({"kms_rotation_s3_buckets": [{"prefix": "in/"}]}, "must name its bucket"),
        "services_not_arns": ({"kms_rotation_services": ["my-queue"]}, "list of resource ARNs or the string discover"),
        "bucket_dict_two_names": ({"kms_rotation_s3_buckets": [{"name": "one-bucket", "bucket": "another-bucket"}]},
                                  "not with two different names"),
    }
    inventory = write_inventory(tmp_path / "inventory.yml", dict(
        (name, dict({"kms_rotation_source_key": source}, **case[0])) for name, case in hosts.items()))

    run = rotate(playbook, inventory, tmp_path, extra_args=["--forks", "6"])
    for name, (_overrides, expected) in hosts.items():
        failure = run.result(FAIL_TASK, host=name)
        assert expected in failure["msg"], (name, failure["msg"])
        # It stopped inside preflight: the phase never finished.
        assert not run.results(ROLE + "Preflight | record the phase", host=name), name
    assert customer_keys(kms) == keys_before
    assert alias_target_arn(kms, "alias/preflight-app") == source
    assert key_state(kms, source) == "Enabled"
    assert len(ec2.describe_volumes()["Volumes"]) == volumes_before


@pytest.mark.slow
def test_bucket_dicts_by_name_or_bucket_and_a_second_rotation_by_alias(aws, playbook, tmp_path):
    """A bucket dict names its bucket with `name` (documented) or `bucket`; alias/app after A -> B finished rotates B."""
    kms, s3 = aws.client("kms"), aws.client("s3")
    key_a = kms.create_key()["KeyMetadata"]["Arn"]
    kms.create_alias(AliasName="alias/second-app", TargetKeyId=key_a)
    for bucket in ("by-name", "by-bucket"):
        s3.create_bucket(Bucket=bucket)
        s3.put_object(Bucket=bucket, Key="data.txt", Body=bucket.encode(), ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=key_a)
    inventory = write_inventory(tmp_path / "inventory.yml", {"unit": {
        "kms_rotation_source_key": "alias/second-app",
        "kms_rotation_s3_buckets": [{"name": "by-name", "versions": "all"}, {"bucket": "by-bucket"}]}})

    first = rotate(playbook, inventory, tmp_path)
    assert first.rc == 0, first
    [key_b] = successors(kms, key_a)
    assert object_keys(s3, "by-name") == object_keys(s3, "by-bucket") == {key_b}
    assert key_state(kms, key_a) == "Disabled"
    why = first.result(ROLE + "Preflight | say which key is the source and why", host="unit")["msg"]
    assert why == "alias/second-app names {0}.".format(key_a)

    second = rotate(playbook, inventory, tmp_path)
    assert second.rc == 0, second
    why = second.result(ROLE + "Preflight | say which key is the source and why", host="unit")["msg"]
    assert "finished" in why and key_a in why and key_b in why, why
    [key_c] = successors(kms, key_b)
    assert alias_target_arn(kms, "alias/second-app") == key_c
    assert object_keys(s3, "by-name") == object_keys(s3, "by-bucket") == {key_c}
    assert key_state(kms, key_b) == "Disabled"
