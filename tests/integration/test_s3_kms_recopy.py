"""s3_kms_recopy through ansible-playbook against the local endpoint."""

import hashlib
import json

import pytest

BUCKET = "rotation-data"


@pytest.fixture
def s3(aws):
    return aws.client("s3")


@pytest.fixture
def kms(aws):
    return aws.client("kms")


@pytest.fixture
def keys(kms):
    """Source, destination and an unrelated key, as DescribeKey metadata."""
    return {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("source", "destination", "other")}


def _bucket(s3, versioned=True, ownership=None):
    s3.create_bucket(Bucket=BUCKET)
    if versioned:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    if ownership:
        s3.put_bucket_ownership_controls(Bucket=BUCKET, OwnershipControls={"Rules": [{"ObjectOwnership": ownership}]})


def _put(s3, key, body, key_id=None, **extra):
    if key_id:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra)["VersionId"]


def _versions(s3):
    """{(key, version id): key ARN or algorithm} for every version in the bucket."""
    found = {}
    for page in s3.get_paginator("list_object_versions").paginate(Bucket=BUCKET):
        for entry in page.get("Versions", []):
            head = s3.head_object(Bucket=BUCKET, Key=entry["Key"], VersionId=entry["VersionId"])
            found[(entry["Key"], entry["VersionId"])] = head.get("SSEKMSKeyId") or head.get("ServerSideEncryption")
    return found


def _task(keys, **options):
    args = {"bucket": BUCKET, "destination_key_id": keys["destination"]["KeyId"]}
    args.update(options)
    return [{"name": "recopy", "kmsrotate.aws.s3_kms_recopy": args, "register": "recopy"}]


@pytest.mark.parametrize("method", ["update", "copy"])
def test_versioned_bucket_moves_and_rerun_changes_nothing(playbook, s3, keys, method):
    _bucket(s3)
    for index in range(3):
        for generation in range(3):
            _put(s3, "doc-{0}".format(index), "v{0}".format(generation).encode(), keys["source"]["KeyId"])
    _put(s3, "elsewhere", b"other", keys["other"]["KeyId"])
    before = _versions(s3)

    run = playbook.run(tasks=_task(keys, method=method, source_key_ids=[keys["source"]["Arn"]]))
    assert run.rc == 0, run
    result = run.result("recopy")
    assert result["changed"] and result["method_used"] == method
    after = _versions(s3)
    destination = keys["destination"]["Arn"]
    if method == "update":
        assert set(after) == set(before)
        assert result["rekeyed"] == 9 and result["blocking"] == 0
        assert all(arn == destination for (key, _v), arn in after.items() if key != "elsewhere")
    else:
        # One new current version per object; every old version kept under the source key and reported.
        assert set(before) <= set(after) and len(after) == len(before) + 3
        assert all(after[version] == before[version] for version in before)
        assert result["rekeyed"] == 3 and result["reasons"]["skipped"] == {"noncurrent_copy": 6, "other_key": 1}
        assert result["blocking"] == 9 and result["reasons"]["blocking"] == {"noncurrent_copy": 6,
                                                                            "superseded_by_copy": 3}
    assert after[("elsewhere", next(v for k, v in before if k == "elsewhere"))] == keys["other"]["Arn"]
    encryption = s3.get_bucket_encryption(Bucket=BUCKET)["ServerSideEncryptionConfiguration"]["Rules"][0]
    assert encryption["ApplyServerSideEncryptionByDefault"]["KMSMasterKeyID"] == destination

    rerun = playbook.run(tasks=_task(keys, method=method, source_key_ids=[keys["source"]["Arn"]]))
    assert rerun.rc == 0, rerun
    again = rerun.result("recopy")
    assert not again["changed"] and rerun.changed == 0
    assert again["blocking"] == result["blocking"]
    assert again["requests"]["HeadObject"] == again["scanned"]
    assert "CopyObject" not in again["requests"]
    # The update method's only UpdateObjectEncryption on a rerun is its support probe.
    assert again["requests"].get("UpdateObjectEncryption", 0) == (1 if method == "update" else 0)
