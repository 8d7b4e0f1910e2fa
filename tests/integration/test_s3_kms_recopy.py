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


def _bucket_default(s3, key_id):
    """A default under key_id: one the module moves, since it names a source key."""
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key_id}}]})


def _put(s3, key, body, key_id=None, **extra):
    if key_id:
        extra.update(ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id)
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, **extra).get("VersionId")


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
    _bucket_default(s3, keys["source"]["Arn"])
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
        assert result["blocking"] == 9
        assert result["reasons"]["blocking"] == {"noncurrent_copy": 6, "superseded_by_copy": 3}
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


def _sha256(s3, key, version_id=None):
    extra = {"VersionId": version_id} if version_id else {}
    return hashlib.sha256(s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read()).hexdigest()


def _grant_text(grant):
    return json.dumps(grant, sort_keys=True)


def _preserved_fields(s3, key):
    head = s3.head_object(Bucket=BUCKET, Key=key, ChecksumMode="ENABLED")
    names = ("ContentType", "ContentEncoding", "ContentLanguage", "ContentDisposition", "CacheControl", "Expires",
             "WebsiteRedirectLocation", "Metadata", "StorageClass", "ChecksumSHA256", "ContentLength")
    fields = {name: head.get(name) for name in names}
    fields["tags"] = s3.get_object_tagging(Bucket=BUCKET, Key=key)["TagSet"]
    fields["grants"] = sorted(_grant_text(grant) for grant in s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"])
    fields["sha256"] = _sha256(s3, key)
    return fields


def test_copy_preserves_metadata_tags_grants_class_and_bytes_multipart_too(playbook, s3, keys):
    _bucket(s3, versioned=False)
    described = {"ContentType": "application/pdf", "ContentEncoding": "identity", "ContentLanguage": "fr",
                 "ContentDisposition": "attachment", "CacheControl": "max-age=60", "Metadata": {"owner": "billing"},
                 "WebsiteRedirectLocation": "/moved", "StorageClass": "STANDARD_IA", "Tagging": "team=billing&tier=2",
                 "ChecksumAlgorithm": "SHA256"}
    _put(s3, "small.pdf", b"%PDF small", keys["source"]["KeyId"], **described)
    _put(s3, "large.bin", bytes(range(256)) * (11 * 4096), keys["source"]["KeyId"], **described)  # 11 MiB
    owner = s3.get_object_acl(Bucket=BUCKET, Key="small.pdf")["Owner"]
    public_read = {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                   "Permission": "READ"}
    other_user_read = {"Grantee": {"Type": "CanonicalUser", "ID": "c" * 64}, "Permission": "READ"}
    for key in ("small.pdf", "large.bin"):
        s3.put_object_acl(Bucket=BUCKET, Key=key, AccessControlPolicy={"Owner": owner, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": owner["ID"]}, "Permission": "FULL_CONTROL"}, public_read,
            other_user_read]})
    before = {key: _preserved_fields(s3, key) for key in ("small.pdf", "large.bin")}
    # The grants landed (a copy resets an object's ACL to private, so the module must put them back).
    assert all(_grant_text(public_read) in fields["grants"] and _grant_text(other_user_read) in fields["grants"]
               for fields in before.values())

    run = playbook.run(tasks=_task(keys, method="copy", multipart_threshold=5 * 1024 * 1024,
                                   multipart_chunksize=5 * 1024 * 1024))
    assert run.rc == 0, run
    result = run.result("recopy")
    assert result["rekeyed"] == 2 and result["blocking"] == 0
    assert result["requests"]["UploadPartCopy"] == 3 and result["requests"]["CopyObject"] == 1
    assert result["requests"]["GetObjectAcl"] == result["requests"]["PutObjectAcl"] == 2
    assert result["bytes_copied"] == 11 * 1024 * 1024 + len(b"%PDF small")
    for key, fields in before.items():
        after = _preserved_fields(s3, key)
        if key == "large.bin":
            # A multipart copy keeps the algorithm; its value becomes a per-part (composite) checksum, as on AWS.
            assert after.pop("ChecksumSHA256") and fields.pop("ChecksumSHA256")
        assert after == fields, key
        assert s3.head_object(Bucket=BUCKET, Key=key)["SSEKMSKeyId"] == keys["destination"]["Arn"]


def test_sse_s3_moves_only_when_included(playbook, s3, keys):
    _bucket(s3, versioned=False)
    s3.put_object(Bucket=BUCKET, Key="managed", Body=b"s3-managed", ServerSideEncryption="AES256")

    left = playbook.run(tasks=_task(keys, method="update"))
    assert left.rc == 0, left
    assert left.result("recopy")["reasons"]["skipped"] == {"sse_s3": 1}
    assert s3.head_object(Bucket=BUCKET, Key="managed")["ServerSideEncryption"] == "AES256"

    moved = playbook.run(tasks=_task(keys, method="update", include_sse_s3=True))
    assert moved.rc == 0, moved
    assert moved.result("recopy")["rekeyed"] == 1 and moved.result("recopy")["blocking"] == 0
    assert s3.head_object(Bucket=BUCKET, Key="managed")["SSEKMSKeyId"] == keys["destination"]["Arn"]


def test_locked_version_blocks_and_sse_c_is_reported(playbook, s3, keys):
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    _put(s3, "held", b"evidence", keys["source"]["KeyId"], ObjectLockLegalHoldStatus="ON")
    _put(s3, "free", b"movable", keys["source"]["KeyId"])
    s3.put_object(Bucket=BUCKET, Key="customer", Body=b"own key", SSECustomerAlgorithm="AES256",
                  SSECustomerKey="k" * 32)

    run = playbook.run(tasks=_task(keys, method="update", report_file="{{ playbook_dir }}/report.jsonl"))
    assert run.rc == 0, run
    result = run.result("recopy")
    assert result["rekeyed"] == 1
    assert result["reasons"]["skipped"] == {"locked": 1, "sse_c": 1}
    assert result["blocking"] == 1 and result["reasons"]["blocking"] == {"locked": 1}
    lines = [json.loads(line) for line in (playbook.workdir / "report.jsonl").read_text().splitlines()]
    assert sorted((line["key"], line["action"], line["reason"]) for line in lines) == [
        ("customer", "skipped", "sse_c"), ("free", "rekeyed", None), ("held", "skipped", "locked")]
    assert s3.head_object(Bucket=BUCKET, Key="held")["SSEKMSKeyId"] == keys["source"]["Arn"]


def test_copy_of_a_legal_held_object_keeps_the_hold_and_blocks_on_the_old_version(playbook, s3, keys):
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    held_version = _put(s3, "held", b"evidence", keys["source"]["KeyId"], ObjectLockLegalHoldStatus="ON")

    run = playbook.run(tasks=_task(keys, method="copy"))
    assert run.rc == 0, run
    result = run.result("recopy")
    assert result["rekeyed"] == 1
    assert result["blocking"] == 1 and result["reasons"]["blocking"] == {"superseded_by_copy": 1}
    current = s3.head_object(Bucket=BUCKET, Key="held")
    assert current["SSEKMSKeyId"] == keys["destination"]["Arn"]
    assert current["ObjectLockLegalHoldStatus"] == "ON"
    assert s3.get_object(Bucket=BUCKET, Key="held")["Body"].read() == b"evidence"
    old = s3.head_object(Bucket=BUCKET, Key="held", VersionId=held_version)
    assert old["SSEKMSKeyId"] == keys["source"]["Arn"]


def test_object_changed_during_copy_is_never_overwritten(playbook, aws, s3, keys):
    _bucket(s3)
    _bucket_default(s3, keys["source"]["Arn"])
    first = _put(s3, "hot", b"stale", keys["source"]["KeyId"])
    aws.control("s3_writer", {"bucket": BUCKET, "key": "hot", "body": "fresh", "action": "CopyObject"})

    run = playbook.run(tasks=_task(keys, method="copy"))
    assert run.rc == 0, run
    result = run.result("recopy")
    assert s3.get_object(Bucket=BUCKET, Key="hot")["Body"].read() == b"fresh"
    # The writer's version went under the new bucket default; the stale one stays and blocks.
    assert s3.head_object(Bucket=BUCKET, Key="hot")["SSEKMSKeyId"] == keys["destination"]["Arn"]
    assert result["already_current"] == 1 and result["objects"][0]["reason"] == "changed_during_run"
    assert result["reasons"]["blocking"] == {"changed_during_run": 1}
    assert s3.get_object(Bucket=BUCKET, Key="hot", VersionId=first)["Body"].read() == b"stale"
    assert aws.stats()["s3:CopyObject"] == 1


@pytest.mark.parametrize("as_put", [False, True], ids=["not-implemented", "treated-as-put"])
def test_auto_falls_back_to_copy_without_touching_user_objects(playbook, aws, s3, keys, as_put):
    _bucket(s3)
    _put(s3, "doc", b"precious", keys["source"]["KeyId"])
    aws.set_fidelity(s3_update_object_encryption=False, s3_update_object_encryption_as_put=as_put)
    before = _versions(s3)

    run = playbook.run(tasks=_task(keys, prefix="", method="auto"))
    assert run.rc == 0, run
    result = run.result("recopy")
    assert result["method_used"] == "copy" and result["rekeyed"] == 1
    assert ("plain PUT" in result["method_probe"]) is as_put
    # The probe was the only UpdateObjectEncryption request, and it left nothing behind.
    assert aws.stats()["s3:UpdateObjectEncryption"] == 1
    after = _versions(s3)
    assert set(before) <= set(after) and len(after) == 2
    assert s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == b"precious"
    assert all(s3.get_object(Bucket=BUCKET, Key=key, VersionId=version)["Body"].read() == b"precious"
               for key, version in after)


def test_update_refuses_an_endpoint_without_the_api(playbook, aws, s3, keys):
    _bucket(s3)
    _put(s3, "doc", b"precious", keys["source"]["KeyId"])
    aws.set_fidelity(s3_update_object_encryption=False, s3_update_object_encryption_as_put=True)
    run = playbook.run(tasks=_task(keys, method="update"))
    assert run.rc != 0
    assert "method: copy" in run.result("recopy")["msg"]
    assert s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == b"precious"


def test_check_mode_plans_and_changes_nothing(playbook, aws, s3, keys):
    _bucket(s3)
    _bucket_default(s3, keys["source"]["Arn"])
    for generation in range(2):
        _put(s3, "doc", "v{0}".format(generation).encode(), keys["source"]["KeyId"])
    before = _versions(s3)
    aws.clear_stats()

    run = playbook.run(tasks=_task(keys, method="auto"), check=True, diff=True)
    assert run.rc == 0, run
    result = run.result("recopy")
    assert result["changed"] and result["check_mode"] and result["method_used"] == "update"
    assert result["rekeyed"] == 2 and result["blocking"] == 0 and result["bucket_default"]["changed"]
    assert result["diff"]["after"]["bucket_default_encryption"]["kms_key_id"] == keys["destination"]["Arn"]
    assert result["diff"]["before"]["bucket_default_encryption"]["kms_key_id"] == keys["source"]["Arn"]
    assert _versions(s3) == before
    assert not any(action in aws.stats() for action in ("s3:CopyObject", "s3:PutBucketEncryption", "s3:PutObject"))


def test_throttling_converges(playbook, aws, s3, keys):
    _bucket(s3)
    for index in range(20):
        _put(s3, "doc-{0:02d}".format(index), b"x", keys["source"]["KeyId"])
    # S3's own SlowDown (a bare 503 for HEAD), and KMS throttling as S3 relays it.
    aws.set_faults([{"kind": "error", "service": "s3", "action": "UpdateObjectEncryption", "status": 400,
                     "code": "KMS.ThrottlingException", "message": "Rate exceeded", "rate": 0.1},
                    {"kind": "throttle", "service": "s3", "rate": 0.1}], seed=7)

    run = playbook.run(tasks=_task(keys, method="update", concurrency=8))
    assert run.rc == 0, run
    result = run.result("recopy")
    assert result["rekeyed"] == 20 and result["blocking"] == 0
    assert result["throttling"]["throttle_events"] > 0
    assert result["throttling"]["lowest_concurrency"] < 8
    aws.clear_faults()
    assert set(_versions(s3).values()) == {keys["destination"]["Arn"]}


def test_old_key_disabled_after_update_leaves_every_version_readable(playbook, aws, s3, kms, keys):
    _bucket(s3)
    bodies = {}
    for generation in range(3):
        body = "generation {0}".format(generation).encode()
        bodies[_put(s3, "doc", body, keys["source"]["KeyId"])] = body
    _put(s3, "plain", b"managed", ServerSideEncryption="AES256")

    run = playbook.run(tasks=_task(keys, method="update"))
    assert run.rc == 0, run
    assert run.result("recopy")["blocking"] == 0
    kms.disable_key(KeyId=keys["source"]["KeyId"])
    for version, body in bodies.items():
        assert s3.get_object(Bucket=BUCKET, Key="doc", VersionId=version)["Body"].read() == body
    assert s3.get_object(Bucket=BUCKET, Key="plain")["Body"].read() == b"managed"
