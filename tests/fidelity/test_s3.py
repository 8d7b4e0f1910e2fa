"""The S3 fidelity layer: each behaviour AWS documents, checked over HTTP."""

import datetime
import os

import pytest
from botocore.exceptions import ClientError

BUCKET = "fidelity-bucket"


def _code(excinfo):
    return excinfo.value.response["Error"]["Code"]


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    client.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    return client


@pytest.fixture
def key_pair(kms):
    return kms.create_key()["KeyMetadata"], kms.create_key()["KeyMetadata"]


def _put_kms(s3, key_id, key="doc", body=b"payload", **extra):
    return s3.put_object(Bucket=BUCKET, Key=key, Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key_id, **extra)


def _update(s3, key_arn, key="doc", **extra):
    return s3.update_object_encryption(Bucket=BUCKET, Key=key, ObjectEncryption={"SSEKMS": {"KMSKeyArn": key_arn}},
                                       **extra)


def test_update_object_encryption_rekeys_one_version_keeping_everything(s3, key_pair):
    source, destination = key_pair
    first = _put_kms(s3, source["KeyId"], body=b"first", StorageClass="STANDARD_IA", Metadata={"a": "1"},
                     Tagging="t=1", ChecksumAlgorithm="SHA256")["VersionId"]
    second = _put_kms(s3, source["KeyId"], body=b"second")["VersionId"]
    before = s3.head_object(Bucket=BUCKET, Key="doc", VersionId=first, ChecksumMode="ENABLED")

    _update(s3, destination["Arn"], VersionId=first)

    after = s3.head_object(Bucket=BUCKET, Key="doc", VersionId=first, ChecksumMode="ENABLED")
    assert after["SSEKMSKeyId"] == destination["Arn"]
    for field in ("ETag", "LastModified", "StorageClass", "Metadata", "ChecksumSHA256", "ContentLength"):
        assert after[field] == before[field], field
    assert s3.get_object(Bucket=BUCKET, Key="doc", VersionId=first)["Body"].read() == b"first"
    assert s3.get_object_tagging(Bucket=BUCKET, Key="doc", VersionId=first)["TagSet"] == [{"Key": "t", "Value": "1"}]
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert sorted(version["VersionId"] for version in versions) == sorted([first, second])
    assert s3.head_object(Bucket=BUCKET, Key="doc", VersionId=second)["SSEKMSKeyId"] == source["Arn"]


def test_update_object_encryption_sets_bucket_key_and_accepts_sse_s3_sources(s3, key_pair):
    _source, destination = key_pair
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x", ServerSideEncryption="AES256")
    s3.update_object_encryption(Bucket=BUCKET, Key="doc", ObjectEncryption={
        "SSEKMS": {"KMSKeyArn": destination["Arn"], "BucketKeyEnabled": True}})
    head = s3.head_object(Bucket=BUCKET, Key="doc")
    assert (head["ServerSideEncryption"], head["SSEKMSKeyId"], head["BucketKeyEnabled"]) == (
        "aws:kms", destination["Arn"], True)


def test_update_object_encryption_requires_a_key_arn(s3, key_pair):
    source, destination = key_pair
    _put_kms(s3, source["KeyId"])
    with pytest.raises(ClientError) as excinfo:
        _update(s3, destination["KeyId"])
    assert _code(excinfo) == "InvalidRequest" and "ARN" in str(excinfo.value)


@pytest.mark.parametrize("sse", ["unencrypted", "sse_c", "dsse_kms"])
def test_update_object_encryption_rejects_unsupported_sources(s3, key_pair, sse):
    source, destination = key_pair
    if sse == "unencrypted":
        s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x")
    elif sse == "sse_c":
        s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=os.urandom(32))
    else:
        s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x", ServerSideEncryption="aws:kms:dsse", SSEKMSKeyId=source["Arn"])
    with pytest.raises(ClientError) as excinfo:
        _update(s3, destination["Arn"])
    assert _code(excinfo) == "InvalidRequest"


@pytest.mark.parametrize("lock", ["legal_hold", "retention"])
def test_update_object_encryption_refuses_locked_versions(aws, key_pair, lock):
    source, destination = key_pair
    s3 = aws.client("s3")
    s3.create_bucket(Bucket=BUCKET, ObjectLockEnabledForBucket=True)
    if lock == "legal_hold":
        extra = {"ObjectLockLegalHoldStatus": "ON"}
    else:
        extra = {"ObjectLockMode": "GOVERNANCE",
                 "ObjectLockRetainUntilDate": datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=1)}
    _put_kms(s3, source["KeyId"], **extra)
    with pytest.raises(ClientError) as excinfo:
        _update(s3, destination["Arn"])
    assert _code(excinfo) == "AccessDenied" and "Object Lock" in str(excinfo.value)
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == source["Arn"]


def test_update_object_encryption_of_a_missing_key_is_no_such_key(s3, key_pair):
    with pytest.raises(ClientError) as excinfo:
        _update(s3, key_pair[1]["Arn"], key="never-written")
    assert _code(excinfo) == "NoSuchKey"


def test_update_object_encryption_switched_off_is_not_implemented(aws, s3, key_pair):
    source, destination = key_pair
    _put_kms(s3, source["KeyId"])
    aws.set_fidelity(s3_update_object_encryption=False)
    with pytest.raises(ClientError) as excinfo:
        _update(s3, destination["Arn"])
    assert _code(excinfo) == "NotImplemented"
    assert s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == b"payload"


def test_update_object_encryption_as_put_destroys_the_object(aws, s3, key_pair):
    """The dangerous S3-compatible variant the module must never trigger on a user's object."""
    source, destination = key_pair
    _put_kms(s3, source["KeyId"])
    aws.set_fidelity(s3_update_object_encryption=False, s3_update_object_encryption_as_put=True)
    _update(s3, destination["Arn"])
    assert b"ObjectEncryption" in s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read()


@pytest.mark.parametrize("state, expected", [("Disabled", "KMS.DisabledException"),
                                             ("PendingDeletion", "KMS.KMSInvalidStateException")])
def test_reads_of_an_object_under_an_unusable_key_fail_but_head_works(s3, kms, key_pair, state, expected):
    source, _destination = key_pair
    _put_kms(s3, source["KeyId"], body=b"x" * (6 * 1024 * 1024))
    if state == "Disabled":
        kms.disable_key(KeyId=source["KeyId"])
    else:
        kms.schedule_key_deletion(KeyId=source["KeyId"], PendingWindowInDays=7)
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="copy")["UploadId"]
    calls = [lambda: s3.get_object(Bucket=BUCKET, Key="doc"),
             lambda: s3.copy_object(Bucket=BUCKET, Key="copy", CopySource={"Bucket": BUCKET, "Key": "doc"}),
             lambda: s3.upload_part_copy(Bucket=BUCKET, Key="copy", UploadId=upload_id, PartNumber=1,
                                         CopySource={"Bucket": BUCKET, "Key": "doc"})]
    for call in calls:
        with pytest.raises(ClientError) as excinfo:
            call()
        assert _code(excinfo) == expected
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == source["Arn"]


@pytest.mark.parametrize("operation", ["put_object", "copy_object", "create_multipart_upload"])
def test_sse_kms_writes_naming_a_missing_key_fail(s3, key_pair, operation):
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"x")
    missing = key_pair[0]["Arn"].rsplit("/", 1)[0] + "/00000000-0000-0000-0000-000000000000"
    arguments = {"Bucket": BUCKET, "Key": "dst", "ServerSideEncryption": "aws:kms", "SSEKMSKeyId": missing}
    if operation == "put_object":
        arguments["Body"] = b"x"
    if operation == "copy_object":
        arguments["CopySource"] = {"Bucket": BUCKET, "Key": "src"}
    with pytest.raises(ClientError) as excinfo:
        getattr(s3, operation)(**arguments)
    assert _code(excinfo) == "KMS.NotFoundException"
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="dst")


@pytest.mark.parametrize("reference", ["KeyId", "alias"])
def test_head_object_reports_the_key_arn(s3, kms, key_pair, reference):
    source, _destination = key_pair
    if reference == "alias":
        kms.create_alias(AliasName="alias/fidelity", TargetKeyId=source["KeyId"])
        key_ref = "alias/fidelity"
    else:
        key_ref = source["KeyId"]
    _put_kms(s3, key_ref)
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == source["Arn"]


def test_bucket_default_writes_report_the_key_arn(s3, key_pair):
    source, _destination = key_pair
    s3.put_bucket_encryption(Bucket=BUCKET, ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": source["KeyId"]}}]})
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x")
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == source["Arn"]


def test_copy_source_if_match_is_honoured(s3, key_pair):
    source, destination = key_pair
    _put_kms(s3, source["KeyId"])
    with pytest.raises(ClientError) as excinfo:
        s3.copy_object(Bucket=BUCKET, Key="doc", CopySource={"Bucket": BUCKET, "Key": "doc"}, CopySourceIfMatch='"0"',
                       ServerSideEncryption="aws:kms", SSEKMSKeyId=destination["Arn"])
    assert _code(excinfo) == "PreconditionFailed"
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 1
    etag = s3.head_object(Bucket=BUCKET, Key="doc")["ETag"]
    s3.copy_object(Bucket=BUCKET, Key="doc", CopySource={"Bucket": BUCKET, "Key": "doc"}, CopySourceIfMatch=etag,
                   ServerSideEncryption="aws:kms", SSEKMSKeyId=destination["Arn"])
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == destination["Arn"]


def test_sse_c_objects_need_the_customer_key(s3):
    customer_key = os.urandom(32)
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x", SSECustomerAlgorithm="AES256", SSECustomerKey=customer_key)
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="doc")
    assert _code(excinfo) == "400"
    with pytest.raises(ClientError) as excinfo:
        s3.get_object(Bucket=BUCKET, Key="doc")
    assert _code(excinfo) == "InvalidRequest"
    head = s3.head_object(Bucket=BUCKET, Key="doc", SSECustomerAlgorithm="AES256", SSECustomerKey=customer_key)
    assert head["SSECustomerAlgorithm"] == "AES256" and "ServerSideEncryption" not in head


def test_list_object_versions_reports_checksum_algorithms(aws, s3):
    s3.put_object(Bucket=BUCKET, Key="summed", Body=b"x", ChecksumAlgorithm="SHA256")
    # Seeded in-process, with no checksum at all.
    aws.control("s3_seed", {"bucket": BUCKET, "count": 1, "prefix": "plain"})
    versions = {entry["Key"]: entry for entry in s3.list_object_versions(Bucket=BUCKET)["Versions"]}
    assert versions["summed"]["ChecksumAlgorithm"] == ["SHA256"]
    assert "ChecksumAlgorithm" not in versions["plain0"]


def test_completed_multipart_uploads_have_an_acl(s3):
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key="doc")["UploadId"]
    part = s3.upload_part(Bucket=BUCKET, Key="doc", UploadId=upload_id, PartNumber=1, Body=b"x")
    s3.complete_multipart_upload(Bucket=BUCKET, Key="doc", UploadId=upload_id,
                                 MultipartUpload={"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]})
    grants = s3.get_object_acl(Bucket=BUCKET, Key="doc")["Grants"]
    assert [grant["Permission"] for grant in grants] == ["FULL_CONTROL"]


def test_seed_route_creates_objects_in_process(aws, s3, key_pair):
    source, _destination = key_pair
    aws.control("s3_seed", {"bucket": BUCKET, "count": 25, "prefix": "seeded/", "kms_key_id": source["KeyId"],
                            "versions": 2})
    versions = s3.list_object_versions(Bucket=BUCKET)["Versions"]
    assert len(versions) == 50
    assert s3.head_object(Bucket=BUCKET, Key=versions[0]["Key"])["SSEKMSKeyId"] == source["Arn"]


def test_armed_writer_overwrites_just_before_the_request(aws, s3):
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"old")
    aws.control("s3_writer", {"bucket": BUCKET, "key": "doc", "body": "new", "action": "HeadObject"})
    etag = s3.head_object(Bucket=BUCKET, Key="doc")["ETag"]
    assert s3.get_object(Bucket=BUCKET, Key="doc")["Body"].read() == b"new"
    assert s3.head_object(Bucket=BUCKET, Key="doc")["ETag"] == etag
    assert len(s3.list_object_versions(Bucket=BUCKET)["Versions"]) == 2


def test_copy_of_an_object_under_object_lock_needs_no_body_checksum(aws, key_pair):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="locked-bucket", ObjectLockEnabledForBucket=True)
    s3.put_object(Bucket="locked-bucket", Key="held", Body=b"evidence", ObjectLockLegalHoldStatus="ON",
                  ServerSideEncryption="aws:kms", SSEKMSKeyId=key_pair[0]["KeyId"])
    s3.copy_object(Bucket="locked-bucket", Key="held", CopySource={"Bucket": "locked-bucket", "Key": "held"},
                   ServerSideEncryption="aws:kms", SSEKMSKeyId=key_pair[1]["Arn"], ObjectLockLegalHoldStatus="ON")
    head = s3.head_object(Bucket="locked-bucket", Key="held")
    assert head["SSEKMSKeyId"] == key_pair[1]["Arn"]
    assert head["ObjectLockLegalHoldStatus"] == "ON"
    keys_by_version = {version["VersionId"]: s3.head_object(Bucket="locked-bucket", Key="held",
                                                            VersionId=version["VersionId"])["SSEKMSKeyId"]
                       for version in s3.list_object_versions(Bucket="locked-bucket")["Versions"]}
    assert sorted(keys_by_version.values()) == sorted([key_pair[0]["Arn"], key_pair[1]["Arn"]])


def test_update_object_encryption_as_localstack_answers_501_internal_failure(aws, s3, key_pair):
    source, destination = key_pair
    _put_kms(s3, source["KeyId"])
    aws.set_fidelity(s3_update_object_encryption=False, s3_update_object_encryption_localstack=True)
    with pytest.raises(ClientError) as excinfo:
        _update(s3, destination["Arn"])
    assert (_code(excinfo), excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"]) == ("InternalFailure", 501)
    assert "not yet been emulated" in str(excinfo.value)
    assert s3.head_object(Bucket=BUCKET, Key="doc")["SSEKMSKeyId"] == source["Arn"]


@pytest.fixture
def locked_bucket(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket="locked-bucket", ObjectLockEnabledForBucket=True)
    return client


def _in_days(days):
    return datetime.datetime.now(datetime.timezone.utc) + datetime.timedelta(days=days)


@pytest.mark.parametrize("operation", ["put_object", "copy_object", "create_multipart_upload"])
def test_writes_naming_a_past_retain_until_date_fail(locked_bucket, operation):
    locked_bucket.put_object(Bucket="locked-bucket", Key="src", Body=b"x")
    arguments = {"Bucket": "locked-bucket", "Key": "dst", "ObjectLockMode": "GOVERNANCE",
                 "ObjectLockRetainUntilDate": _in_days(-1)}
    if operation == "put_object":
        arguments.update(Body=b"x", ChecksumAlgorithm="SHA256")
    if operation == "copy_object":
        arguments["CopySource"] = {"Bucket": "locked-bucket", "Key": "src"}
    with pytest.raises(ClientError) as excinfo:
        getattr(locked_bucket, operation)(**arguments)
    assert _code(excinfo) == "InvalidArgument" and "must be in the future" in str(excinfo.value)
    with pytest.raises(ClientError):
        locked_bucket.head_object(Bucket="locked-bucket", Key="dst")


def test_expire_retention_route_moves_the_date_into_the_past(aws, locked_bucket):
    version = locked_bucket.put_object(Bucket="locked-bucket", Key="held", Body=b"x", ChecksumAlgorithm="SHA256",
                                       ObjectLockMode="GOVERNANCE", ObjectLockRetainUntilDate=_in_days(1))["VersionId"]
    aws.control("s3_expire_retention", {"bucket": "locked-bucket", "key": "held", "version_id": version})
    head = locked_bucket.head_object(Bucket="locked-bucket", Key="held", VersionId=version)
    assert head["ObjectLockMode"] == "GOVERNANCE"
    assert head["ObjectLockRetainUntilDate"] < datetime.datetime.now(datetime.timezone.utc)


ALL_USERS_READ = {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
                  "Permission": "READ"}
OTHER_USER_READ = {"Grantee": {"Type": "CanonicalUser", "ID": "b" * 64}, "Permission": "READ"}


def test_put_object_acl_applies_the_grants_of_its_body(s3):
    s3.put_object(Bucket=BUCKET, Key="old", Body=b"x")
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"x")
    acl = s3.get_object_acl(Bucket=BUCKET, Key="doc")
    owner_grant = {"Grantee": {"Type": "CanonicalUser", "ID": acl["Owner"]["ID"]}, "Permission": "FULL_CONTROL"}
    s3.put_object_acl(Bucket=BUCKET, Key="doc", AccessControlPolicy={
        "Owner": acl["Owner"], "Grants": [owner_grant, ALL_USERS_READ, OTHER_USER_READ]})
    assert [(grant["Grantee"].get("URI") or grant["Grantee"]["ID"], grant["Permission"])
            for grant in s3.get_object_acl(Bucket=BUCKET, Key="doc")["Grants"]] == [
        (acl["Owner"]["ID"], "FULL_CONTROL"), (ALL_USERS_READ["Grantee"]["URI"], "READ"), ("b" * 64, "READ")]
    # A canned ACL header still works, and wins.
    s3.put_object_acl(Bucket=BUCKET, Key="doc", ACL="private")
    assert len(s3.get_object_acl(Bucket=BUCKET, Key="doc")["Grants"]) == 1


def test_put_object_acl_body_applies_to_the_version_named(s3):
    first = s3.put_object(Bucket=BUCKET, Key="doc", Body=b"1")["VersionId"]
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"2")
    owner = s3.get_object_acl(Bucket=BUCKET, Key="doc")["Owner"]
    s3.put_object_acl(Bucket=BUCKET, Key="doc", VersionId=first, AccessControlPolicy={
        "Owner": owner, "Grants": [ALL_USERS_READ]})
    assert s3.get_object_acl(Bucket=BUCKET, Key="doc", VersionId=first)["Grants"][0]["Permission"] == "READ"
    assert s3.get_object_acl(Bucket=BUCKET, Key="doc")["Grants"][0]["Permission"] == "FULL_CONTROL"


def test_seed_route_gives_every_nth_object_a_public_read_acl(aws, s3):
    aws.control("s3_seed", {"bucket": BUCKET, "count": 4, "prefix": "p", "public_read_every": 2})
    public = [key for key in ("p0", "p1", "p2", "p3")
              if any(grant["Grantee"].get("URI") == ALL_USERS_READ["Grantee"]["URI"]
                     for grant in s3.get_object_acl(Bucket=BUCKET, Key=key)["Grants"])]
    assert public == ["p0", "p2"]
