"""The ways the retirement gate was fooled, each run through kms_key_usage_info's engine on moto with the fidelity layer.

Every case ends with safe_to_retire false and a reason naming what holds the key.
"""

import datetime
import types

import boto3
import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import dependent
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._discovery.usage import UsageSpec
from local_endpoint import fidelity

REGION = "us-east-1"


def _utc(moment):
    return moment.strftime("%Y-%m-%dT%H:%M:%SZ")


def _ago(**delta):
    return _utc(datetime.datetime.now(datetime.timezone.utc) - datetime.timedelta(**delta))


def _gate(engine, key, check_mode=False, **options):
    spec = UsageSpec(key_id=key["KeyId"], for_retirement=True, **options)
    return engine.run(spec, check_mode=check_mode).values


def _held(result):
    return [(entry["resource"], entry["kind"]) for entry in result["holding_back"]]


def _versioned_bucket(clients, name, default_key):
    s3 = clients("s3")
    s3.create_bucket(Bucket=name)
    s3.put_bucket_versioning(Bucket=name, VersioningConfiguration={"Status": "Enabled"})
    # The S3 phase pointed the bucket's default at the new key: discovery of the default finds nothing.
    s3.put_bucket_encryption(Bucket=name, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": default_key["Arn"]}}]})
    return s3


def _put(s3, bucket, name, key):
    s3.put_object(Bucket=bucket, Key=name, Body=b"data", ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])


# 1. A narrowed bucket target --------------------------------------------------------------------------------


@pytest.mark.parametrize("target", ["s3://data", {"resource": "s3://data", "prefix": "in/"}])
def test_objects_outside_the_phases_prefix_hold_the_key_after_the_move(engine, clients, key, other_key, target):
    s3 = _versioned_bucket(clients, "data", other_key)
    _put(s3, "data", "in/moved", other_key)
    _put(s3, "data", "out/left", key)
    # The narrowed re-check (prefix in/) found nothing left to move.
    result = _gate(engine, key, services=["s3"], targets=[target], known_dependents=[])
    assert not result["safe_to_retire"]
    assert _held(result) == [("s3://data", "to_move")]
    assert "out/left" in result["holding_back"][0]["reason"]
    assert result["holding_back"][0]["count"] == 1


def test_in_check_mode_the_phase_moves_its_prefix_and_what_lies_outside_it_holds(engine, clients, key, other_key):
    s3 = _versioned_bucket(clients, "data", other_key)
    _put(s3, "data", "in/waiting", key)
    _put(s3, "data", "out/never", key)
    result = _gate(engine, key, check_mode=True, services=["s3"],
                   targets=[{"resource": "s3://data", "prefix": "in/", "versions": "all"}])
    assert not result["safe_to_retire"]
    [held] = result["holding_back"]
    assert "outside the prefix 'in/'" in held["reason"] and held["examples"][0].startswith("out/never ")
    planned = [entry for entry in result["dependents"] if entry["planned"]]
    assert [entry["examples"][0].split(" ")[0] for entry in planned] == ["in/waiting"]


def test_noncurrent_versions_hold_the_key_when_the_phase_moved_current_ones_only(engine, clients, key, other_key):
    s3 = _versioned_bucket(clients, "data", other_key)
    _put(s3, "data", "report", key)
    _put(s3, "data", "report", other_key)
    result = _gate(engine, key, services=["s3"], targets=[{"resource": "s3://data", "versions": "current"}])
    assert _held(result) == [("s3://data", "to_move")]
    assert "noncurrent" in result["holding_back"][0]["reason"]


def test_a_bucket_larger_than_one_run_can_examine_is_unknown(engine, clients, key, other_key):
    s3 = _versioned_bucket(clients, "data", other_key)
    for number in range(3):
        _put(s3, "data", "object-{0}".format(number), other_key)
    result = _gate(engine, key, services=["s3"], targets=["s3://data"], retirement_scan_limit=2)
    assert _held(result) == [("s3://data", "unknown")]
    assert "only 2 of the bucket's object versions examined" in result["holding_back"][0]["reason"]
    assert _gate(engine, key, services=["s3"], targets=["s3://data"], retirement_scan_limit=3)["safe_to_retire"]


def test_targets_are_refused_when_their_narrowing_cannot_be_read(engine, key):
    with pytest.raises(RotationError, match="versions is 'some'"):
        _gate(engine, key, targets=[{"resource": "s3://data", "versions": "some"}])
    with pytest.raises(RotationError, match="only a bucket"):
        _gate(engine, key, targets=[{"resource": "vol-1", "prefix": "in/"}])


# 2. A reference through an alias ----------------------------------------------------------------------------


def _seed_through_alias(clients):
    """A secret, a SecureString parameter and a queue given alias/app (the source key), as applications do."""
    secret = clients("secretsmanager").create_secret(Name="db", SecretString="s3cr3t", KmsKeyId="alias/app")["ARN"]
    clients("ssm").put_parameter(Name="/app/token", Value="t0ken", Type="SecureString", KeyId="alias/app")
    # Dependents name a parameter by its ARN, by its name where the endpoint (moto) gives none.
    parameter = clients("ssm").describe_parameters()["Parameters"][0].get("ARN", "/app/token")
    sqs = clients("sqs")
    url = sqs.create_queue(QueueName="jobs", Attributes={"KmsMasterKeyId": "alias/app"})["QueueUrl"]
    queue = sqs.get_queue_attributes(QueueUrl=url, AttributeNames=["QueueArn"])["Attributes"]["QueueArn"]
    return secret, parameter, queue


_ALIAS_SERVICES = ["secretsmanager", "ssm", "sqs"]


def test_resources_given_a_moved_alias_hold_the_key_they_were_encrypted_under(engine, clients, key, other_key):
    secret, parameter, queue = _seed_through_alias(clients)
    moved_at = _ago(seconds=0)
    clients("kms").update_alias(AliasName="alias/app", TargetKeyId=other_key["KeyId"])
    # Without the history the alias names the new key: nothing is found (the hole the history closes).
    assert _gate(engine, key, services=_ALIAS_SERVICES)["safe_to_retire"]
    result = _gate(engine, key, services=_ALIAS_SERVICES,
                   alias_history=[{"alias_name": "alias/app", "until": moved_at}])
    assert not result["safe_to_retire"]
    assert sorted(resource for resource, _kind in _held(result)) == sorted([secret, parameter, queue])
    for entry in result["holding_back"]:
        assert "references alias/app, which pointed at the source key until " + moved_at in entry["reason"]
    assert result["services"]["secretsmanager"]["resources"][0]["alias_reference"]["until"] == moved_at


def test_an_alias_reference_whose_service_shows_it_written_after_the_move_holds_nothing(engine, clients, key,
                                                                                        other_key):
    _seed_through_alias(clients)
    clients("kms").update_alias(AliasName="alias/app", TargetKeyId=other_key["KeyId"])
    # The alias left the key long ago: every secret version, parameter version and message is newer.
    result = _gate(engine, key, services=_ALIAS_SERVICES,
                   alias_history=[{"alias_name": "alias/app", "until": _ago(days=30)}])
    assert result["safe_to_retire"], result["holding_back"]


def test_a_secret_holds_until_its_labelled_versions_are_all_newer_than_the_move(engine, clients, key, other_key):
    from moto.secretsmanager.models import secretsmanager_backends

    secretsmanager = clients("secretsmanager")
    secretsmanager.create_secret(Name="db", SecretString="one", KmsKeyId="alias/app")
    # The first version was written an hour before the alias moved (half an hour ago).
    for version in secretsmanager_backends["123456789012"][REGION].secrets["db"].versions.values():
        version["createdate"] -= 3600
    clients("kms").update_alias(AliasName="alias/app", TargetKeyId=other_key["KeyId"])
    history = [{"alias_name": "alias/app", "until": _ago(minutes=30)}]
    secretsmanager.put_secret_value(SecretId="db", SecretString="two")
    result = _gate(engine, key, services=["secretsmanager"], alias_history=history)
    assert "labelled AWSPREVIOUS were created before then" in result["holding_back"][0]["reason"]
    secretsmanager.put_secret_value(SecretId="db", SecretString="three")
    assert _gate(engine, key, services=["secretsmanager"], alias_history=history)["safe_to_retire"]


def test_a_queue_holds_until_its_retention_and_data_key_reuse_have_passed(engine, clients, key, other_key):
    clients("sqs").create_queue(QueueName="jobs", Attributes={
        "KmsMasterKeyId": "alias/app", "MessageRetentionPeriod": "3600", "KmsDataKeyReusePeriodSeconds": "300"})
    clients("kms").update_alias(AliasName="alias/app", TargetKeyId=other_key["KeyId"])
    recent = _gate(engine, key, services=["sqs"], alias_history=[{"alias_name": "alias/app", "until": _ago(minutes=30)}])
    assert "retention period (3600 s)" in recent["holding_back"][0]["reason"]
    assert _gate(engine, key, services=["sqs"],
                 alias_history=[{"alias_name": "alias/app", "until": _ago(minutes=75)}])["safe_to_retire"]


def test_an_unreadable_version_history_makes_the_resource_unknown(engine, clients, key, other_key):
    secret = clients("secretsmanager").create_secret(Name="db", SecretString="s", KmsKeyId="alias/app")["ARN"]
    clients("kms").update_alias(AliasName="alias/app", TargetKeyId=other_key["KeyId"])
    _refuse(clients("secretsmanager"), "ListSecretVersionIds", "AccessDeniedException", "not authorized")
    result = _gate(engine, key, services=["secretsmanager"], alias_history=[{"alias_name": "alias/app", "until": _ago(days=1)}])
    assert _held(result) == [(secret, "unknown")]
    assert "could not be read: access denied" in result["holding_back"][0]["reason"]


def test_an_alias_history_entry_is_checked(engine, key):
    with pytest.raises(RotationError, match="alias_history entry"):
        _gate(engine, key, alias_history=[{"alias": "alias/app"}])
    with pytest.raises(RotationError, match="without a time zone"):
        _gate(engine, key, alias_history=[{"alias_name": "alias/app", "until": "2026-12-01T10:00:00"}])


# 3. A snapshot as the only EBS target -----------------------------------------------------------------------


def test_the_volume_a_snapshot_target_was_made_from_still_holds_the_key(engine, clients, key):
    ec2 = clients("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=key["Arn"])["VolumeId"]
    snapshot = ec2.create_snapshot(VolumeId=volume)["SnapshotId"]
    # The EBS re-check reports the snapshot (its result names the volume it was made from too).
    rechecked = dependent(snapshot, "ebs_snapshots", "to_move", "a run copies it under the destination key",
                          key_arn=key["Arn"], volume_id=volume)
    result = _gate(engine, key, check_mode=True, services=["ebs_volumes", "ebs_snapshots"],
                   known_dependents=[rechecked], targets=[snapshot])
    assert _held(result) == [(volume, "to_move")]
    assert result["holding_back"][0]["reason"].endswith("add it to this rotation's targets")


# 4. A replaced volume put back in use -----------------------------------------------------------------------


def test_a_volume_kept_as_replaced_but_attached_again_blocks(engine, clients, key):
    ec2 = clients("ec2")
    volume = ec2.create_volume(AvailabilityZone="us-east-1a", Size=1, Encrypted=True, KmsKeyId=key["Arn"],
                               TagSpecifications=[{"ResourceType": "volume", "Tags": [
                                   {"Key": "kmsrotate:replaced-by", "Value": "vol-new"}]}])["VolumeId"]
    image = ec2.describe_images(Owners=["amazon"])["Images"][0]["ImageId"]
    instance = ec2.run_instances(ImageId=image, MinCount=1, MaxCount=1, Placement={"AvailabilityZone": "us-east-1a"})[
        "Instances"][0]["InstanceId"]
    ec2.attach_volume(VolumeId=volume, InstanceId=instance, Device="/dev/sdf")
    retained = dependent(volume, "ebs_volumes", "retained", "replaced by vol-new; kept as asked (source_volume=keep)",
                         key_arn=key["Arn"])
    result = _gate(engine, key, check_mode=True, services=["ebs_volumes"], known_dependents=[retained],
                   targets=[volume])
    assert _held(result) == [(volume, "blocking")]
    assert "attached to {0}".format(instance) in result["holding_back"][0]["reason"]
    assert [entry["kind"] for entry in result["dependents"]] == ["retained", "blocking"]


# 5. An object whose encryption nobody read ------------------------------------------------------------------


def _answer(client, operation, status, parsed, only=None):
    """Make `client` answer `operation` with `parsed`, as botocore parses an answer (for the requests `only` accepts)."""
    def answer(params, **_kwargs):
        if only is not None and not only(params):
            return None
        return types.SimpleNamespace(status_code=status, headers={}), dict(parsed, ResponseMetadata={
            "HTTPStatusCode": status})
    client.client.meta.events.register("before-call.{0}.{1}".format(
        client.client.meta.service_model.service_id.hyphenize(), operation), answer)


def _refuse(client, operation, code, message, only=None):
    _answer(client, operation, 400, {"Error": {"Code": code, "Message": message}}, only=only)


def _object(name):
    return lambda params: params["url_path"].endswith("/" + name)


def test_a_bare_400_that_is_not_confirmed_sse_c_is_unknown(engine, clients, key, other_key):
    s3 = _versioned_bucket(clients, "data", other_key)
    for name in ("unreadable", "customer-keyed", "moved"):
        _put(s3, "data", name, other_key)
    # HeadObject gives both a bare 400; only the GetObject of the SSE-C one says why.
    _refuse(s3, "HeadObject", "400", "Bad Request", only=lambda params: not params["url_path"].endswith("/moved"))
    _refuse(s3, "GetObject", "InvalidRequest", "The object was stored using a form of Server Side Encryption. "
            "The correct parameters must be provided to retrieve the object.", only=_object("customer-keyed"))
    result = _gate(engine, key, services=["s3"], targets=["s3://data"])
    assert _held(result) == [("s3://data", "unknown")]
    [held] = result["holding_back"]
    assert held["count"] == 1 and held["examples"][0].startswith("unreadable ")
    assert "bare 400 that a GetObject did not confirm as SSE-C" in held["reason"]


# 7. A use of the key after the rotation started -------------------------------------------------------------


def _intruder_kms(clients):
    """A KMS client of another IAM user of the account, with its own access key."""
    iam = clients("iam")
    iam.create_user(UserName="intruder")
    access_key = iam.create_access_key(UserName="intruder")["AccessKey"]
    return boto3.client("kms", region_name=REGION, aws_access_key_id=access_key["AccessKeyId"],
                        aws_secret_access_key=access_key["SecretAccessKey"])


def test_a_use_by_another_caller_after_the_rotation_started_holds_the_key(engine, clients, key):
    blob = clients("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"data key")["CiphertextBlob"]
    started = _ago(minutes=1)
    _intruder_kms(clients).decrypt(CiphertextBlob=blob)
    # The rotation's own use of the key is not someone else's.
    clients("kms").decrypt(CiphertextBlob=blob)
    result = _gate(engine, key, services=["grants"], rotation_started_at=started)
    assert _held(result) == [("arn:aws:iam::123456789012:user/intruder", "blocking")]
    reason = result["holding_back"][0]["reason"]
    assert "arn:aws:iam::123456789012:user/intruder Decrypt at " in reason and started in reason
    assert result["last_usage"]["foreign_uses"] == 1 and result["last_usage"]["cloudtrail_read"] is True


def test_a_use_last_usage_reports_that_cloudtrail_cannot_show_is_unknown(engine, clients, key):
    clients("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"data key")
    _refuse(clients("cloudtrail"), "LookupEvents", "AccessDeniedException", "not authorized to LookupEvents")
    result = _gate(engine, key, services=["grants"], rotation_started_at=_ago(minutes=1))
    assert _held(result) == [(key["Arn"], "unknown")]
    assert "GetKeyLastUsage reports Encrypt at" in result["holding_back"][0]["reason"]
    assert "CloudTrail could not be read" in result["holding_back"][0]["reason"]


def test_a_use_cloudtrail_does_not_show_yet_is_unknown_and_says_when_to_look_again(engine, clients, key):
    clients("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"data key")
    # CloudTrail delivers events minutes late: the use GetKeyLastUsage reports is not in it yet.
    _answer(clients("cloudtrail"), "LookupEvents", 200, {"Events": []})
    result = _gate(engine, key, services=["grants"], rotation_started_at=_ago(minutes=1))
    assert _held(result) == [(key["Arn"], "unknown")]
    reason = result["holding_back"][0]["reason"]
    assert "CloudTrail does not show that event yet" in reason and "look again after " in reason


def test_more_events_than_one_run_examines_are_unknown(engine, clients, key):
    for _use in range(3):
        clients("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"data key")
    result = _gate(engine, key, services=["grants"], rotation_started_at=_ago(minutes=1), retirement_scan_limit=2)
    assert _held(result) == [(key["Arn"], "unknown")]
    assert result["holding_back"][0]["reason"].startswith("more than 2 CloudTrail events name the source key")


def test_a_last_use_before_the_rotation_started_holds_nothing(engine, clients, key):
    blob = clients("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"data key")["CiphertextBlob"]
    _intruder_kms(clients).decrypt(CiphertextBlob=blob)
    fidelity.CONTROL_ROUTES["kms-pass-days"]("POST", {"days": 1})
    started = _ago(hours=2)
    result = _gate(engine, key, services=["grants"], rotation_started_at=started)
    assert result["safe_to_retire"], result["holding_back"]
    # GetKeyLastUsage may miss the last hour: CloudTrail covers it.
    assert result["last_usage"]["examined_since"] > started
    assert result["last_usage"]["finding"].startswith("no use of the key by other callers")


def test_without_get_key_last_usage_cloudtrail_still_speaks(engine, clients, key):
    blob = clients("kms").encrypt(KeyId=key["KeyId"], Plaintext=b"data key")["CiphertextBlob"]
    started = _ago(minutes=1)
    _intruder_kms(clients).decrypt(CiphertextBlob=blob)
    _refuse(clients("kms"), "GetKeyLastUsage", "UnknownOperationException", "not implemented")
    result = _gate(engine, key, services=["grants"], rotation_started_at=started)
    assert result["last_usage"]["available"] is False
    assert _held(result) == [("arn:aws:iam::123456789012:user/intruder", "blocking")]
    _refuse(clients("cloudtrail"), "LookupEvents", "AccessDeniedException", "not authorized")
    unread = _gate(engine, key, services=["grants"], rotation_started_at=started)
    assert unread["safe_to_retire"]
    assert "uses of the key since the rotation started were not examined" in unread["last_usage"]["finding"]


def test_rotation_options_without_for_retirement_are_refused(discover, key):
    with pytest.raises(RotationError, match="rotation_started_at, retirement_scan_limit describe a rotation"):
        discover(key["KeyId"], rotation_started_at="2026-12-01T10:00:00Z", retirement_scan_limit=5)


def test_the_object_of_a_bucket_never_versioned_is_read_as_its_null_version(engine, clients, key):
    s3 = clients("s3")
    s3.create_bucket(Bucket="flat")
    _put(s3, "flat", "left", key)
    result = _gate(engine, key, services=["s3"], targets=["s3://flat"])
    assert _held(result) == [("s3://flat", "to_move")]
    assert result["holding_back"][0]["examples"] == ["left (null)"]
