"""The S3 re-key engine against moto in-process (copy method; UpdateObjectEncryption is an HTTP-level fidelity
interceptor, so the update method is covered by the integration tests)."""

import json

import pytest
from botocore.exceptions import ClientError

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3 import recopy
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.object_encryption import confirms_sse_c
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.recopy import BucketRecopy, RecopySpec, Tally
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import MIN_PART_SIZE, CopyBackend
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import ObjectChanged

BUCKET = "unit-bucket"
KEY_ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
OTHER_ARN = "arn:aws:kms:us-east-1:123456789012:key/66666666-7777-8888-9999-000000000000"


@pytest.fixture
def clients(aws_client):
    return aws_client("s3"), aws_client("kms")


@pytest.fixture
def keys(clients):
    kms = clients[1]
    return {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("source", "destination", "other")}


def _bucket(s3, versioned=True):
    s3.create_bucket(Bucket=BUCKET)
    if versioned:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _put(s3, key, key_id=None, body=b"x"):
    extra = {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": key_id} if key_id else {}
    s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)


def _run(make_clients, keys, check_mode=False, **options):
    """The engine's result values (with its own clients, so only its requests are counted)."""
    return _engine_run(make_clients, keys, check_mode, **options).values


def _engine_run(make_clients, keys, check_mode=False, **options):
    options.setdefault("method", "copy")
    engine_clients, limit = make_clients(concurrency=4)
    spec = RecopySpec(bucket=BUCKET, destination_key_id=keys["destination"]["KeyId"], **options)
    return BucketRecopy(engine_clients, limit).run(spec, check_mode=check_mode)


def test_copy_classifies_every_version_and_counts_what_blocks(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "moved", keys["source"]["KeyId"], b"v1")
    _put(s3, "moved", keys["source"]["KeyId"], b"v2")
    _put(s3, "current", keys["destination"]["Arn"])
    _put(s3, "foreign", keys["other"]["KeyId"])
    s3.put_object(Bucket=BUCKET, Key="managed", Body=b"x", ServerSideEncryption="AES256")

    result = _run(make_clients, keys, source_key_ids=[keys["source"]["Arn"]])

    assert result["counts"] == {"scanned": 5, "rekeyed": 1, "already_current": 1, "skipped": 3, "blocking": 2,
                                "failed": 0}
    assert result["reasons"]["skipped"] == {"noncurrent_copy": 1, "other_key": 1, "sse_s3": 1}
    assert result["reasons"]["blocking"] == {"noncurrent_copy": 1, "superseded_by_copy": 1}
    assert result["changed"] and result["method_used"] == "copy"
    assert s3.get_object(Bucket=BUCKET, Key="moved")["Body"].read() == b"v2"
    assert s3.head_object(Bucket=BUCKET, Key="moved")["SSEKMSKeyId"] == keys["destination"]["Arn"]


def test_unversioned_copy_leaves_nothing_behind(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    _put(s3, "doc", keys["source"]["KeyId"])
    result = _run(make_clients, keys)
    assert result["rekeyed"] == 1 and result["blocking"] == 0 and result["versioning"] == "Unversioned"


def _bucket_default(s3, key_id, algorithm="aws:kms"):
    by_default = {"SSEAlgorithm": algorithm}
    if key_id:
        by_default["KMSMasterKeyID"] = key_id
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": by_default}]})


def test_check_mode_changes_nothing_and_projects_blocking(clients, keys, make_clients, tmp_path):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "doc", keys["source"]["KeyId"])
    _bucket_default(s3, keys["source"]["Arn"])
    report = tmp_path / "report.jsonl"
    result = _run(make_clients, keys, check_mode=True, report_file=str(report))
    assert result["rekeyed"] == 1 and result["blocking"] == 1 and result["bucket_default"]["changed"]
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == keys["source"]["Arn"]
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 1
    assert "CopyObject" not in result["requests"] and "PutBucketEncryption" not in result["requests"]
    assert [json.loads(line)["planned"] for line in report.read_text().splitlines()] == [True]


def test_bucket_default_is_moved_and_blocks_when_left(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["source"]["Arn"]},
         "BucketKeyEnabled": True}]})
    left = _run(make_clients, keys, update_bucket_default=False)
    assert left["reasons"]["blocking"] == {"bucket_default": 1} and not left["bucket_default"]["changed"]
    moved = _run(make_clients, keys)
    assert moved["bucket_default"]["changed"] and moved["blocking"] == 0
    assert moved["bucket_default"]["after"] == {"sse_algorithm": "aws:kms", "kms_key_id": keys["destination"]["Arn"],
                                                "bucket_key_enabled": True}
    assert not _run(make_clients, keys)["changed"]


def test_destination_among_sources_is_refused(clients, keys, make_clients):
    _bucket(clients[0])
    with pytest.raises(RotationError, match="also listed in source_key_ids"):
        _run(make_clients, keys, source_key_ids=[keys["destination"]["KeyId"]])


def test_disabled_destination_is_refused(clients, keys, make_clients):
    _bucket(clients[0])
    clients[1].disable_key(KeyId=keys["destination"]["KeyId"])
    with pytest.raises(RotationError, match="not Enabled"):
        _run(make_clients, keys)


def _outcome(action, reason=None, blocking=False, key="k", version_id="v1", key_arn=KEY_ARN, **extra):
    outcome = {"key": key, "version_id": version_id, "is_latest": True, "action": action, "reason": reason,
               "from_kms_key_id": key_arn, "source_key_arn": key_arn, "blocking": blocking}
    outcome.update(extra)
    return outcome


def test_tally_counts_reasons_and_caps_the_sample():
    tally = Tally(sample_size=1)
    tally.add(_outcome("skipped", "locked", blocking=True))
    tally.add(_outcome("rekeyed", bytes_copied=5, also_blocking=["superseded_by_copy"]),
              [("superseded_by_copy", KEY_ARN, "k?versionId=v1")])
    tally.add(_outcome("failed", "rekey_failed", blocking=True))
    assert tally.scanned == 3 and len(tally.sample) == 1 and tally.bytes_copied == 5
    assert dict(tally.blocking_reasons) == {"locked": 1, "superseded_by_copy": 1, "rekey_failed": 1}
    assert dict(tally.failed_reasons) == {"rekey_failed": 1}


# dependents --------------------------------------------------------------------------------------------------


def _by_kind(dependents):
    return sorted((entry["kind"], entry["code"], entry["key_arn"], entry["count"]) for entry in dependents)


def _blocking_sum(values):
    return sum(entry["count"] for entry in values["dependents"] if entry["kind"] in ("blocking", "unknown"))


def test_tally_groups_dependents_per_kind_reason_and_key_with_a_few_examples():
    tally = Tally(sample_size=0)
    for index in range(7):
        tally.add(_outcome("skipped", "noncurrent_copy", blocking=True, version_id="v{0}".format(index)))
    tally.add(_outcome("skipped", "noncurrent_copy", blocking=True, key_arn=OTHER_ARN))
    tally.add(_outcome("skipped", "access_denied", blocking=True, key_arn=None))
    tally.add(_outcome("failed", "internal_error", blocking=True, key_arn=None, version_id=None))
    dependents = tally.dependents("s3://b")
    assert _by_kind(dependents) == [("blocking", "noncurrent_copy", KEY_ARN, 7),
                                    ("blocking", "noncurrent_copy", OTHER_ARN, 1),
                                    ("unknown", "access_denied", None, 1), ("unknown", "internal_error", None, 1)]
    grouped = dependents[0]
    assert grouped["resource"] == "s3://b" and grouped["service"] == "s3"
    assert grouped["examples"] == ["k?versionId=v{0}".format(index) for index in range(5)]
    assert grouped["reason"].startswith("7 object versions cannot be re-keyed by the copy method")
    assert next(entry for entry in dependents if entry["code"] == "internal_error")["examples"] == ["k"]
    assert sum(entry["count"] for entry in dependents) == sum(tally.blocking_reasons.values()) == 10


def test_run_reports_what_blocks_as_dependents_summing_to_the_blocking_count(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "moved", keys["source"]["KeyId"], b"v1")
    _put(s3, "moved", keys["source"]["KeyId"], b"v2")
    _put(s3, "foreign", keys["other"]["KeyId"])

    values = _run(make_clients, keys, source_key_ids=[keys["source"]["Arn"]])

    source = keys["source"]["Arn"]
    assert _by_kind(values["dependents"]) == [("blocking", "noncurrent_copy", source, 1),
                                              ("blocking", "superseded_by_copy", source, 1)]
    assert _blocking_sum(values) == values["counts"]["blocking"] == 2
    superseded = next(entry for entry in values["dependents"] if entry["code"] == "superseded_by_copy")
    assert superseded["examples"][0].startswith("moved?versionId=")
    assert superseded["reason"].startswith("1 object version replaced by a copy")


def test_check_mode_reports_what_a_run_would_move(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    _put(s3, "doc", keys["source"]["KeyId"])
    s3.put_object(Bucket=BUCKET, Key="managed", Body=b"x", ServerSideEncryption="AES256")
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["source"]["Arn"]}}]})

    values = _run(make_clients, keys, check_mode=True, include_sse_s3=True)

    source = keys["source"]["Arn"]
    # The SSE-S3 object would move too, but depends on no KMS key.
    assert values["rekeyed"] == 2
    assert _by_kind(values["dependents"]) == [("to_move", "bucket_default", source, 1), ("to_move", "rekeyed", source, 1)]
    assert _blocking_sum(values) == values["counts"]["blocking"] == 0
    planned = next(entry for entry in values["dependents"] if entry["code"] == "rekeyed")
    assert planned["examples"] == ["doc?versionId=null"] and planned["reason"].startswith("1 object version would be")
    assert _run(make_clients, keys)["dependents"] == []


def test_a_bucket_default_left_under_a_source_key_is_a_blocking_dependent(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["source"]["KeyId"]}}]})
    for check_mode in (False, True):
        values = _run(make_clients, keys, check_mode=check_mode, update_bucket_default=False)
        assert values["dependents"] == [{
            "resource": "s3://" + BUCKET, "service": "s3", "kind": "blocking", "code": "bucket_default",
            "key_arn": keys["source"]["Arn"], "count": 1, "examples": [],
            "reason": "the bucket's default encryption names this key, so new objects are written under it: run with "
                      "update_bucket_default: true or point the default at another key"}]
        assert _blocking_sum(values) == values["counts"]["blocking"] == 1


def test_a_version_changed_during_the_run_is_held_under_the_key_it_was_listed_with(clients, keys, make_clients,
                                                                                   monkeypatch):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "hot", keys["source"]["KeyId"], b"stale")
    (listed,) = s3.list_object_versions(Bucket=BUCKET)["Versions"]

    def rekey_after_a_writer(backend, item, head, destination_arn, bucket_key_enabled):
        # A writer puts a new version under the destination key between the listing and the copy.
        _put(s3, "hot", keys["destination"]["Arn"], b"fresh")
        raise ObjectChanged("PreconditionFailed: changed")

    monkeypatch.setattr(CopyBackend, "rekey", rekey_after_a_writer)
    values = _run(make_clients, keys)

    assert values["already_current"] == 1 and values["reasons"]["blocking"] == {"changed_during_run": 1}
    (outcome,) = values["objects"]
    assert outcome["reason"] == "changed_during_run" and outcome["also_blocking"] == ["changed_during_run"]
    assert outcome["source_key_arn"] == keys["destination"]["Arn"]
    (held,) = values["dependents"]
    assert (held["kind"], held["code"], held["key_arn"]) == ("blocking", "changed_during_run", keys["source"]["Arn"])
    assert held["examples"] == ["hot?versionId=" + listed["VersionId"]]
    assert _blocking_sum(values) == values["counts"]["blocking"] == 1


def test_unreadable_versions_are_unknown_dependents(clients, keys, make_clients, monkeypatch):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    for key in ("denied", "broken", "crashed", "fine"):
        _put(s3, key, keys["source"]["KeyId"])
    real_head = BucketRecopy._head  # pylint: disable=protected-access
    answers = {"denied": ClientError({"Error": {"Code": "403", "Message": "Forbidden"}}, "HeadObject"),
               "broken": ClientError({"Error": {"Code": "InternalError", "Message": "oops"}}, "HeadObject"),
               "crashed": RuntimeError("a bug")}

    def head(engine, item, current=False):
        if item.key in answers:
            raise answers[item.key]
        return real_head(engine, item, current)

    monkeypatch.setattr(BucketRecopy, "_head", head)
    result = _engine_run(make_clients, keys)

    values = result.values
    assert _by_kind(values["dependents"]) == [("unknown", "access_denied", None, 1), ("unknown", "head_failed", None, 1),
                                              ("unknown", "internal_error", None, 1)]
    assert values["reasons"]["failed"] == {"head_failed": 1, "internal_error": 1}
    assert _blocking_sum(values) == values["counts"]["blocking"] == 3
    assert result.failure.startswith("2 object version(s) in s3://unit-bucket/ could not be moved")


# The result vocabulary ---------------------------------------------------------------------------------------


def test_new_key_names_carry_the_same_values_as_their_aliases(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "doc", keys["source"]["KeyId"])
    result = _engine_run(make_clients, keys, source_key_ids=[keys["source"]["KeyId"]])
    values = result.values
    assert values["destination_key_arn"] == values["kms_key_id"] == keys["destination"]["Arn"]
    assert values["source_key_arns"] == values["source_kms_key_ids"] == [keys["source"]["Arn"]]
    (outcome,) = values["objects"]
    assert outcome["source_key_arn"] == outcome["from_kms_key_id"] == keys["source"]["Arn"]
    assert result.failure is None
    assert result.diff == {"before": {"bucket_default_encryption": None},
                           "after": {"bucket_default_encryption": values["bucket_default"]["after"]}}
    assert values["throttling"] == {"throttle_events": 0, "concurrency": 4, "lowest_concurrency": 4}


@pytest.mark.parametrize("option, value, accepted", [("concurrency", 0, "at least 1"),
                                                     ("multipart_chunksize", MIN_PART_SIZE - 1, "S3 accepts at least")])
def test_spec_refuses_values_out_of_range(option, value, accepted):
    with pytest.raises(RotationError, match="{0} is {1}; .*{2}".format(option, value, accepted)):
        RecopySpec(bucket=BUCKET, destination_key_id="alias/k", **{option: value})


# What cannot be read fails closed --------------------------------------------------------------------------------


def test_a_bare_400_not_confirmed_as_sse_c_is_an_unknown_dependent(clients, keys, make_clients, monkeypatch):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "plain", keys["source"]["KeyId"], b"v1")
    _put(s3, "plain", keys["source"]["KeyId"], b"v2")
    noncurrent = next(entry["VersionId"] for entry in s3.list_object_versions(Bucket=BUCKET)["Versions"]
                      if not entry["IsLatest"])
    real_head = BucketRecopy._head  # pylint: disable=protected-access
    asked = []

    def head(engine, item, current=False):
        if item.key == "plain" and not item.is_latest:
            # What HeadObject answers for any bad request: a status and no body.
            raise ClientError({"Error": {"Code": "400", "Message": "Bad Request"}}, "HeadObject")
        return real_head(engine, item, current)

    def confirms(s3_client, bucket, key, version_id=None):
        asked.append((bucket, key, version_id))
        return confirms_sse_c(s3_client, bucket, key, version_id)

    monkeypatch.setattr(BucketRecopy, "_head", head)
    monkeypatch.setattr(recopy, "confirms_sse_c", confirms)
    values = _run(make_clients, keys)

    # The version reads fine with no customer key, so it is not SSE-C: its key is unknown, and it blocks.
    assert asked == [(BUCKET, "plain", noncurrent)]
    assert values["reasons"]["skipped"] == {"head_unreadable": 1}
    assert ("unknown", "head_unreadable", None, 1) in _by_kind(values["dependents"])
    assert values["reasons"]["blocking"] == {"head_unreadable": 1, "superseded_by_copy": 1}
    assert _blocking_sum(values) == values["counts"]["blocking"] == 2


# The bucket default -------------------------------------------------------------------------------------------


def _default_key(s3):
    rule = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    return rule["ApplyServerSideEncryptionByDefault"].get("KMSMasterKeyID") or rule[
        "ApplyServerSideEncryptionByDefault"]["SSEAlgorithm"]


@pytest.mark.parametrize("default", ["sse_s3", "other_key"])
def test_a_default_out_of_scope_is_left_and_reported_unless_any_is_asked(clients, keys, make_clients, default):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    if default == "sse_s3":
        _bucket_default(s3, None, "AES256")
    else:
        _bucket_default(s3, keys["other"]["Arn"])
    before = _default_key(s3)

    for check_mode in (True, False):
        left = _run(make_clients, keys, check_mode=check_mode, source_key_ids=[keys["source"]["Arn"]])
        assert not left["changed"] and left["dependents"] == []
        assert left["bucket_default"]["changed"] is False and left["bucket_default"]["in_scope"] is False
        assert left["bucket_default"]["reason"].endswith("left as it is (bucket_default_scope: any moves it)")
        assert left["bucket_default"]["after"] == left["bucket_default"]["before"]
        assert _default_key(s3) == before

    moved = _run(make_clients, keys, source_key_ids=[keys["source"]["Arn"]], bucket_default_scope="any")
    assert moved["bucket_default"]["changed"] and moved["bucket_default"]["reason"] is None
    assert _default_key(s3) == keys["destination"]["Arn"]


def test_with_no_source_key_ids_a_default_under_any_other_kms_key_moves(clients, keys, make_clients):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    _bucket_default(s3, keys["other"]["Arn"])
    values = _run(make_clients, keys)
    assert values["bucket_default"]["changed"] and values["bucket_default"]["in_scope"]
    assert _default_key(s3) == keys["destination"]["Arn"]
