"""How writes land on the local endpoint's S3: conditional writes and Suspended versioning, as AWS documents them."""

import pytest
from botocore.exceptions import ClientError

BUCKET = "writes-bucket"
PART = 5 * 1024 * 1024


def _status(excinfo):
    error = excinfo.value.response
    return error["Error"]["Code"], error["ResponseMetadata"]["HTTPStatusCode"]


@pytest.fixture
def s3(aws):
    client = aws.client("s3")
    client.create_bucket(Bucket=BUCKET)
    return client


def _body(s3, key, version_id=None):
    extra = {"VersionId": version_id} if version_id else {}
    return s3.get_object(Bucket=BUCKET, Key=key, **extra)["Body"].read()


def _etag(s3, key):
    return s3.head_object(Bucket=BUCKET, Key=key)["ETag"]


def _copy(s3, **conditions):
    return s3.copy_object(Bucket=BUCKET, Key="dst", CopySource={"Bucket": BUCKET, "Key": "src"}, **conditions)


# Conditional writes ------------------------------------------------------------------------------------------

def test_copy_object_if_match_checks_the_destination(s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"source")
    with pytest.raises(ClientError) as excinfo:
        _copy(s3, IfMatch='"0123"')
    assert _status(excinfo) == ("NoSuchKey", 404)
    s3.put_object(Bucket=BUCKET, Key="dst", Body=b"destination")
    with pytest.raises(ClientError) as excinfo:
        _copy(s3, IfMatch='"0123"')
    assert _status(excinfo) == ("PreconditionFailed", 412)
    assert _body(s3, "dst") == b"destination"
    _copy(s3, IfMatch=_etag(s3, "dst").strip('"'))
    assert _body(s3, "dst") == b"source"


def test_copy_object_if_none_match_refuses_an_existing_destination(s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"source")
    _copy(s3, IfNoneMatch="*")
    s3.put_object(Bucket=BUCKET, Key="dst", Body=b"kept")
    with pytest.raises(ClientError) as excinfo:
        _copy(s3, IfNoneMatch="*")
    assert _status(excinfo) == ("PreconditionFailed", 412)
    assert _body(s3, "dst") == b"kept"


def _upload(s3, key="doc"):
    upload_id = s3.create_multipart_upload(Bucket=BUCKET, Key=key)["UploadId"]
    part = s3.upload_part(Bucket=BUCKET, Key=key, UploadId=upload_id, PartNumber=1, Body=b"assembled")
    return upload_id, {"Parts": [{"ETag": part["ETag"], "PartNumber": 1}]}


def test_complete_multipart_upload_if_match_leaves_a_refused_upload_in_place(s3):
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"current")
    upload_id, parts = _upload(s3)
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="doc", UploadId=upload_id, MultipartUpload=parts,
                                     IfMatch='"0123"')
    assert _status(excinfo) == ("PreconditionFailed", 412)
    assert _body(s3, "doc") == b"current"
    assert [part["PartNumber"] for part in s3.list_parts(Bucket=BUCKET, Key="doc", UploadId=upload_id)["Parts"]] == [1]
    s3.complete_multipart_upload(Bucket=BUCKET, Key="doc", UploadId=upload_id, MultipartUpload=parts,
                                 IfMatch=_etag(s3, "doc"))
    assert _body(s3, "doc") == b"assembled"


def test_complete_multipart_upload_if_match_of_a_missing_key_is_no_such_key(s3):
    upload_id, parts = _upload(s3, "never-written")
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="never-written", UploadId=upload_id, MultipartUpload=parts,
                                     IfMatch='"0123"')
    assert _status(excinfo) == ("NoSuchKey", 404)
    s3.abort_multipart_upload(Bucket=BUCKET, Key="never-written", UploadId=upload_id)


def test_a_delete_during_a_conditional_upload_is_a_conflict(s3):
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"current")
    etag = _etag(s3, "doc")
    upload_id, parts = _upload(s3)
    s3.delete_object(Bucket=BUCKET, Key="doc")
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"current")
    # Same ETag again, but a delete succeeded while the upload was in progress.
    assert _etag(s3, "doc") == etag
    with pytest.raises(ClientError) as excinfo:
        s3.complete_multipart_upload(Bucket=BUCKET, Key="doc", UploadId=upload_id, MultipartUpload=parts, IfMatch=etag)
    assert _status(excinfo) == ("ConditionalRequestConflict", 409)
    # Unconditional, the same upload completes.
    s3.complete_multipart_upload(Bucket=BUCKET, Key="doc", UploadId=upload_id, MultipartUpload=parts)
    assert _body(s3, "doc") == b"assembled"


def test_a_delete_during_a_conditional_copy_is_a_conflict(aws, s3):
    s3.put_object(Bucket=BUCKET, Key="src", Body=b"source")
    s3.put_object(Bucket=BUCKET, Key="dst", Body=b"destination")
    etag = _etag(s3, "dst")
    aws.control("s3_writer", {"bucket": BUCKET, "key": "dst", "action": "CopyObject", "phase": "during",
                              "delete": True})
    with pytest.raises(ClientError) as excinfo:
        _copy(s3, IfMatch=etag)
    assert _status(excinfo) == ("ConditionalRequestConflict", 409)
    with pytest.raises(ClientError):
        s3.head_object(Bucket=BUCKET, Key="dst")


# Armed writers in the middle of a request --------------------------------------------------------------------

@pytest.mark.parametrize("conditional", [False, True])
def test_a_writer_during_a_copy_lands_after_the_source_was_read(aws, s3, conditional):
    """Without If-Match the copy commits the bytes it read over the writer's; with it, the writer's object stays."""
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"stale")
    etag = _etag(s3, "doc")
    aws.control("s3_writer", {"bucket": BUCKET, "key": "doc", "body": "fresh", "action": "CopyObject",
                              "phase": "during"})
    request = {"Bucket": BUCKET, "Key": "doc", "CopySource": {"Bucket": BUCKET, "Key": "doc"}, "CopySourceIfMatch": etag,
               "StorageClass": "STANDARD_IA"}
    if conditional:
        with pytest.raises(ClientError) as excinfo:
            s3.copy_object(IfMatch=etag, **request)
        assert _status(excinfo) == ("PreconditionFailed", 412)
        assert _body(s3, "doc") == b"fresh"
    else:
        s3.copy_object(**request)
        assert _body(s3, "doc") == b"stale"
    # The writer's version is there either way: current when refused, buried under the stale copy when not.
    bodies = [_body(s3, "doc", entry["VersionId"]) for entry in s3.list_object_versions(Bucket=BUCKET)["Versions"]]
    assert sorted(bodies) == sorted([b"stale", b"fresh"] + ([] if conditional else [b"stale"]))


def test_writer_phase_is_checked(aws):
    with pytest.raises(Exception, match="400"):
        aws.control("s3_writer", {"bucket": BUCKET, "key": "doc", "phase": "after"})


# Suspended versioning ------------------------------------------------------------------------------------------

def _suspended_bucket_with_an_older_null_version(s3):
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"written before versioning")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    versioned = s3.put_object(Bucket=BUCKET, Key="doc", Body=b"versioned")["VersionId"]
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    return versioned


def _versions(s3):
    return [(entry["VersionId"], entry["IsLatest"]) for entry in s3.list_object_versions(Bucket=BUCKET)["Versions"]]


def test_a_write_in_a_suspended_bucket_replaces_only_the_null_version(s3):
    versioned = _suspended_bucket_with_an_older_null_version(s3)
    assert sorted(_versions(s3)) == sorted([(versioned, True), ("null", False)])
    answer = s3.put_object(Bucket=BUCKET, Key="doc", Body=b"written while suspended")
    assert answer["VersionId"] == "null"
    assert sorted(_versions(s3)) == sorted([(versioned, False), ("null", True)])
    assert _body(s3, "doc", "null") == b"written while suspended"
    assert _body(s3, "doc", versioned) == b"versioned"
    s3.copy_object(Bucket=BUCKET, Key="doc", CopySource={"Bucket": BUCKET, "Key": "doc", "VersionId": versioned},
                   StorageClass="STANDARD_IA")
    assert sorted(_versions(s3)) == sorted([(versioned, False), ("null", True)])
    assert _body(s3, "doc", "null") == b"versioned"


def test_a_suspended_bucket_answers_for_its_versions(s3):
    versioned = _suspended_bucket_with_an_older_null_version(s3)
    assert s3.head_object(Bucket=BUCKET, Key="doc", VersionId="null")["ContentLength"] == len(b"written before versioning")
    assert s3.head_object(Bucket=BUCKET, Key="doc", VersionId=versioned)["VersionId"] == versioned
    s3.put_object(Bucket=BUCKET, Key="fresh", Body=b"x")
    assert s3.head_object(Bucket=BUCKET, Key="fresh")["VersionId"] == "null"


def test_a_suspended_bucket_without_a_null_version_answers_404_for_it(s3):
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})
    s3.put_object(Bucket=BUCKET, Key="doc", Body=b"versioned")
    s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Suspended"})
    with pytest.raises(ClientError) as excinfo:
        s3.head_object(Bucket=BUCKET, Key="doc", VersionId="null")
    assert _status(excinfo)[1] == 404


def test_multipart_writes_in_a_suspended_bucket_keep_other_versions_too(s3):
    versioned = _suspended_bucket_with_an_older_null_version(s3)
    upload_id, parts = _upload(s3)
    s3.complete_multipart_upload(Bucket=BUCKET, Key="doc", UploadId=upload_id, MultipartUpload=parts)
    assert _body(s3, "doc", "null") == b"assembled" and _body(s3, "doc", versioned) == b"versioned"
