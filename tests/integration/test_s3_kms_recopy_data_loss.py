"""s3_kms_recopy where a copy could lose data: writers racing it, Suspended versioning, Object Lock, retries."""

import datetime

import pytest

BUCKET = "guarded-data"
MIB = 1024 * 1024


@pytest.fixture
def s3(aws):
    return aws.client("s3")


@pytest.fixture
def keys(aws):
    kms = aws.client("kms")
    return {name: kms.create_key(Description=name)["KeyMetadata"] for name in ("source", "destination")}


def _bucket(s3, keys, versioning="Enabled", object_lock=False):
    if object_lock:
        s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    else:
        s3.create_bucket(Bucket=BUCKET)
    if versioning != "Unversioned" and not object_lock:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": versioning})
    # Under the source key, so the module points it at the destination and writers' new objects go there.
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": keys["source"]["Arn"]}}]})


def _put(s3, keys, key, body, **extra):
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, ServerSideEncryption="aws:kms",
                         SSEKMSKeyId=keys["source"]["Arn"], **extra).get("VersionId")


def _run(playbook, keys, **options):
    args = {"bucket": BUCKET, "destination_key_id": keys["destination"]["Arn"], "method": "copy",
            "source_key_ids": [keys["source"]["Arn"]]}
    args.update(options)
    run = playbook.run(tasks=[{"name": "recopy", "kmsrotate.aws.s3_kms_recopy": args, "register": "recopy"}])
    assert run.rc == 0, run
    return run.result("recopy")


def _body(s3, key, version_id=None):
    extra = {"VersionId": version_id} if version_id else {}
    return s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read()


# A writer racing the copy ------------------------------------------------------------------------------------------

def _assert_the_writer_won(s3, keys, result, versioning, listed, stale):
    """The writer's object is the current one, under the new default; the run says it changed, not that it moved it."""
    assert _body(s3, "hot") == b"fresh"
    assert s3.head_object(Bucket=BUCKET, Key="hot")["SSEKMSKeyId"] == keys["destination"]["Arn"]
    assert result["rekeyed"] == 0 and result["already_current"] == 1
    assert result["objects"][0]["reason"] == "changed_during_run"
    if versioning == "Enabled":
        # The version first listed is still there, under the old key, and holds the key's retirement back.
        assert _body(s3, "hot", listed) == stale
        assert result["blocking"] == 1 and result["reasons"]["blocking"] == {"changed_during_run": 1}
        (held,) = result["dependents"]
        assert (held["kind"], held["code"], held["key_arn"]) == ("blocking", "changed_during_run", keys["source"]["Arn"])
    else:
        assert result["blocking"] == 0


@pytest.mark.parametrize("versioning", ["Enabled", "Unversioned"])
def test_a_writer_landing_while_the_copy_runs_keeps_its_object(playbook, aws, s3, keys, versioning):
    """The writer's PUT lands after CopyObject read its source and before it writes: If-Match refuses the write."""
    _bucket(s3, keys, versioning)
    listed = _put(s3, keys, "hot", b"stale")
    aws.control("s3_writer", {"bucket": BUCKET, "key": "hot", "body": "fresh", "action": "CopyObject",
                              "phase": "during"})

    result = _run(playbook, keys)

    _assert_the_writer_won(s3, keys, result, versioning, listed, b"stale")
    assert aws.stats()["s3:CopyObject"] == 1


@pytest.mark.parametrize("versioning", ["Enabled", "Unversioned"])
def test_a_writer_landing_between_the_part_copies_and_complete_keeps_its_object(playbook, aws, s3, keys, versioning):
    _bucket(s3, keys, versioning)
    listed = _put(s3, keys, "hot", b"s" * (11 * MIB))
    aws.control("s3_writer", {"bucket": BUCKET, "key": "hot", "body": "fresh", "action": "CompleteMultipartUpload"})

    result = _run(playbook, keys, multipart_threshold=5 * MIB, multipart_chunksize=5 * MIB)

    _assert_the_writer_won(s3, keys, result, versioning, listed, b"s" * (11 * MIB))
    stats = aws.stats()
    assert (stats["s3:UploadPartCopy"], stats["s3:CompleteMultipartUpload"], stats["s3:AbortMultipartUpload"]) == (
        3, 1, 1)
    assert s3.list_multipart_uploads(Bucket=BUCKET).get("Uploads", []) == []


def test_an_endpoint_refusing_conditional_copies_gets_no_copy(playbook, aws, s3, keys):
    """A store answering If-Match with 501 NotImplemented: the task fails, the object stays as it was, and blocks."""
    _bucket(s3, keys)
    listed = _put(s3, keys, "doc", b"precious")
    aws.set_faults([{"kind": "error", "service": "s3", "action": "CopyObject", "status": 501, "code": "NotImplemented",
                     "message": "A header you provided implies functionality that is not implemented"}])
    run = playbook.run(tasks=[{"name": "recopy", "kmsrotate.aws.s3_kms_recopy": {
        "bucket": BUCKET, "destination_key_id": keys["destination"]["Arn"], "method": "copy"}, "register": "recopy"}])
    assert run.rc != 0
    result = run.result("recopy")
    assert result["counts"]["failed"] == 1 and result["reasons"]["failed"] == {"conditional_write_unsupported": 1}
    assert result["reasons"]["blocking"] == {"conditional_write_unsupported": 1}
    assert aws.stats()["s3:CopyObject"] == 1
    assert [entry["VersionId"] for entry in s3.list_object_versions(Bucket=BUCKET)["Versions"]] == [listed]


# Suspended versioning ----------------------------------------------------------------------------------------------

def test_a_suspended_bucket_never_loses_its_older_null_version(playbook, s3, keys):
    _bucket(s3, keys, "Unversioned")
    _put(s3, keys, "doc", b"written before versioning")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    current = _put(s3, keys, "doc", b"written while versioned")
    fresh = _put(s3, keys, "fresh", b"no null version")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})

    result = _run(playbook, keys)

    # The copy of `doc` would have become its `null` version and replaced the older one: it is not made.
    assert _body(s3, "doc", "null") == b"written before versioning"
    assert _body(s3, "doc") == b"written while versioned"
    assert s3.head_object(Bucket=BUCKET, Key="doc", VersionId=current)["SSEKMSKeyId"] == keys["source"]["Arn"]
    # `fresh` has no `null` version: its copy is the `null` version now, and the version it replaced stays.
    assert s3.head_object(Bucket=BUCKET, Key="fresh")["VersionId"] == "null"
    assert s3.head_object(Bucket=BUCKET, Key="fresh")["SSEKMSKeyId"] == keys["destination"]["Arn"]
    assert _body(s3, "fresh", fresh) == b"no null version"
    assert result["versioning"] == "Suspended" and result["rekeyed"] == 1
    assert result["reasons"]["skipped"] == {"noncurrent_copy": 1, "suspended_null_version": 1}
    assert result["reasons"]["blocking"] == {"noncurrent_copy": 1, "suspended_null_version": 1, "superseded_by_copy": 1}
    held = next(entry for entry in result["dependents"] if entry["code"] == "suspended_null_version")
    assert held["examples"] == ["doc?versionId=" + current] and "enable versioning" in held["reason"]


# Object Lock -----------------------------------------------------------------------------------------------------

def test_a_copy_of_an_object_whose_retention_ended_sends_no_past_date(playbook, aws, s3, keys):
    _bucket(s3, keys, object_lock=True)
    until = datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)
    listed = _put(s3, keys, "expired", b"kept for a while", ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=until,
                  ChecksumAlgorithm="SHA256")
    held = _put(s3, keys, "held", b"kept for a while", ObjectLockMode="COMPLIANCE", ObjectLockRetainUntilDate=until,
                ChecksumAlgorithm="SHA256")
    # Time passes: the retention of `expired` ends.
    aws.control("s3_expire_retention", {"bucket": BUCKET, "key": "expired", "version_id": listed})

    result = _run(playbook, keys)

    assert result["rekeyed"] == 2 and result["counts"]["failed"] == 0
    copied = s3.head_object(Bucket=BUCKET, Key="expired")
    assert copied["SSEKMSKeyId"] == keys["destination"]["Arn"] and "ObjectLockRetainUntilDate" not in copied
    still_held = s3.head_object(Bucket=BUCKET, Key="held")
    assert still_held["ObjectLockMode"] == "COMPLIANCE"
    assert still_held["ObjectLockRetainUntilDate"] > datetime.datetime.now(datetime.timezone.utc)
    assert _body(s3, "expired", listed) == _body(s3, "held", held) == b"kept for a while"


# What the run reports ----------------------------------------------------------------------------------------------

def test_requests_are_every_http_request_the_endpoint_received(playbook, aws, s3, keys):
    """Under throttling and dropped connections, `requests` equals the endpoint's own count, operation by operation."""
    _bucket(s3, keys)
    for index in range(12):
        _put(s3, keys, "doc-{0:02d}".format(index), b"x")
    aws.clear_stats()
    # One worker, so the seeded faults hit the same requests on every run; one drop, which botocore always retries.
    aws.set_faults([{"kind": "throttle", "service": "s3", "rate": 0.15},
                    {"kind": "drop", "service": "s3", "action": "CopyObject", "count": 1, "after": 3}], seed=11)

    result = _run(playbook, keys, concurrency=1)

    received = {}
    for name, count in aws.stats().items():
        operation = name.split(":", 1)[1]
        received[operation] = received.get(operation, 0) + count
    assert result["rekeyed"] == 12
    assert result["throttling"]["throttle_events"] > 0
    assert result["requests"] == received
    faults = {rule["kind"]: rule["fired"] for rule in aws.faults()}
    # Some requests were retried, so more went out than the run's calls.
    assert faults["throttle"] > 0 and faults["drop"] == 1
    assert result["requests"]["CopyObject"] > 12


def test_auto_learns_from_a_localstack_501_at_once_and_copies(playbook, aws, s3, keys):
    _bucket(s3, keys)
    _put(s3, keys, "doc", b"precious")
    aws.set_fidelity(s3_update_object_encryption=False, s3_update_object_encryption_localstack=True)
    aws.clear_stats()

    result = _run(playbook, keys, method="auto")

    assert result["method_used"] == "copy" and result["rekeyed"] == 1
    assert result["method_probe"].startswith("the endpoint does not implement UpdateObjectEncryption (InternalFailure, "
                                             "HTTP 501)")
    assert aws.stats()["s3:UpdateObjectEncryption"] == result["requests"]["UpdateObjectEncryption"] == 1
    assert _body(s3, "doc") == b"precious"
