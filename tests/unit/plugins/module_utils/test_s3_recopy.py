"""The S3 re-key engine against moto in-process (copy method; UpdateObjectEncryption is an HTTP-level fidelity
interceptor, so the update method is covered by the integration tests)."""

import json

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils import s3_recopy
from ansible_collections.kmsrotate.aws.plugins.module_utils.concurrency import AdaptiveLimit
from ansible_collections.kmsrotate.aws.plugins.module_utils.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils.s3_recopy import (
    RecopyRequest, RequestCounter, Tally, desired_bucket_default, list_versions, recopy_bucket)

BUCKET = "unit-bucket"


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


def _run(clients, keys, **options):
    options.setdefault("method", "copy")
    limit = AdaptiveLimit(4)
    request = RecopyRequest(bucket=BUCKET, destination_key_id=keys["destination"]["KeyId"], **options)
    return recopy_bucket(clients[0], clients[1], request, limit, RequestCounter(limit))


def test_listing_is_streamed_page_by_page(clients, monkeypatch):
    s3 = clients[0]
    _bucket(s3)
    for index in range(7):
        _put(s3, "k{0}".format(index))
    monkeypatch.setattr(s3_recopy, "PAGE_SIZE", 3)
    counter = RequestCounter(AdaptiveLimit(1))
    counter.attach(s3.client)
    listing = list_versions(s3, BUCKET, "", "all")
    first = next(listing)
    # Only the first page was fetched to yield the first entry.
    assert first.key == "k0" and counter.counts["ListObjectVersions"] == 1
    assert [entry.key for entry in listing] == ["k{0}".format(index) for index in range(1, 7)]
    assert counter.counts["ListObjectVersions"] == 3


def test_current_listing_uses_list_objects_v2(clients):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "k")
    _put(s3, "k")
    entries = list(list_versions(s3, BUCKET, "", "current"))
    assert [(entry.key, entry.version_id, entry.is_latest) for entry in entries] == [("k", None, True)]


def test_copy_classifies_every_version_and_counts_what_blocks(clients, keys):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "moved", keys["source"]["KeyId"], b"v1")
    _put(s3, "moved", keys["source"]["KeyId"], b"v2")
    _put(s3, "current", keys["destination"]["Arn"])
    _put(s3, "foreign", keys["other"]["KeyId"])
    s3.put_object(Bucket=BUCKET, Key="managed", Body=b"x", ServerSideEncryption="AES256")

    result = _run(clients, keys, source_key_ids=[keys["source"]["Arn"]])

    assert result["counts"] == {"scanned": 5, "rekeyed": 1, "already_current": 1, "skipped": 3, "blocking": 2,
                                "failed": 0}
    assert result["reasons"]["skipped"] == {"noncurrent_copy": 1, "other_key": 1, "sse_s3": 1}
    assert result["reasons"]["blocking"] == {"noncurrent_copy": 1, "superseded_by_copy": 1}
    assert result["changed"] and result["method_used"] == "copy"
    assert s3.get_object(Bucket=BUCKET, Key="moved")["Body"].read() == b"v2"
    assert s3.head_object(Bucket=BUCKET, Key="moved")["SSEKMSKeyId"] == keys["destination"]["Arn"]


def test_unversioned_copy_leaves_nothing_behind(clients, keys):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    _put(s3, "doc", keys["source"]["KeyId"])
    result = _run(clients, keys)
    assert result["rekeyed"] == 1 and result["blocking"] == 0 and result["versioning"] == "Unversioned"


def test_check_mode_changes_nothing_and_projects_blocking(clients, keys, tmp_path):
    s3 = clients[0]
    _bucket(s3)
    _put(s3, "doc", keys["source"]["KeyId"])
    report = tmp_path / "report.jsonl"
    result = _run(clients, keys, check_mode=True, report_file=str(report))
    assert result["rekeyed"] == 1 and result["blocking"] == 1 and result["bucket_default"]["changed"]
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == keys["source"]["Arn"]
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 1
    assert "CopyObject" not in result["requests"] and "PutBucketEncryption" not in result["requests"]
    assert [json.loads(line)["planned"] for line in report.read_text().splitlines()] == [True]


def test_bucket_default_is_moved_and_blocks_when_left(clients, keys):
    s3 = clients[0]
    _bucket(s3, versioned=False)
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["source"]["Arn"]},
         "BucketKeyEnabled": True}]})
    left = _run(clients, keys, update_bucket_default=False)
    assert left["reasons"]["blocking"] == {"bucket_default": 1} and not left["bucket_default"]["changed"]
    moved = _run(clients, keys)
    assert moved["bucket_default"]["changed"] and moved["blocking"] == 0
    assert moved["bucket_default"]["after"] == {"sse_algorithm": "aws:kms", "kms_key_id": keys["destination"]["Arn"],
                                                "bucket_key_enabled": True}
    assert not _run(clients, keys)["changed"]


def test_destination_among_sources_is_refused(clients, keys):
    _bucket(clients[0])
    with pytest.raises(RotationError, match="also listed in source_key_ids"):
        _run(clients, keys, source_key_ids=[keys["destination"]["KeyId"]])


def test_disabled_destination_is_refused(clients, keys):
    _bucket(clients[0])
    clients[1].disable_key(KeyId=keys["destination"]["KeyId"])
    with pytest.raises(RotationError, match="not Enabled"):
        _run(clients, keys)


@pytest.mark.parametrize("before, bucket_key, expected", [
    (None, None, {"sse_algorithm": "aws:kms", "kms_key_id": "arn:new", "bucket_key_enabled": False}),
    ({"sse_algorithm": "aws:kms", "kms_key_id": "arn:old", "bucket_key_enabled": True}, None,
     {"sse_algorithm": "aws:kms", "kms_key_id": "arn:new", "bucket_key_enabled": True}),
    ({"sse_algorithm": "aws:kms:dsse", "kms_key_id": "arn:old", "bucket_key_enabled": False}, True,
     {"sse_algorithm": "aws:kms:dsse", "kms_key_id": "arn:new", "bucket_key_enabled": True}),
])
def test_desired_bucket_default_keeps_bucket_key_and_dual_layer(before, bucket_key, expected):
    assert desired_bucket_default(before, "arn:new", bucket_key) == expected


def test_tally_counts_reasons_and_caps_the_sample():
    tally = Tally(sample_size=1)
    tally.add({"action": "skipped", "reason": "locked", "blocking": True})
    tally.add({"action": "rekeyed", "reason": None, "blocking": False, "bytes_copied": 5,
               "also_blocking": ["superseded_by_copy"]})
    tally.add({"action": "failed", "reason": "rekey_failed", "blocking": True})
    assert tally.scanned == 3 and len(tally.sample) == 1 and tally.bytes_copied == 5
    assert dict(tally.blocking_reasons) == {"locked": 1, "superseded_by_copy": 1, "rekey_failed": 1}
    assert dict(tally.failed_reasons) == {"rekey_failed": 1}
