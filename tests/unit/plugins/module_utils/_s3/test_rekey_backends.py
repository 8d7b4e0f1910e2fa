"""The update/copy backends and the `auto` probe, with a recording stand-in for the S3 client."""

import datetime

import pytest
from botocore.exceptions import ClientError

from ansible_collections.amazon.aws.plugins.module_utils.retries import RetryingBotoClientWrapper
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.retries import aws_retry
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.listing import ListedVersion
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import (
    MIN_PART_SIZE, PROBE_PREFIX, ConditionalWriteUnsupported, CopyBackend, ObjectChanged, UpdateBackend,
    probe_update_support, select_backend)

ARN = "arn:aws:kms:us-east-1:123456789012:key/11111111-2222-3333-4444-555555555555"
COPY_OPTIONS = {"multipart_threshold": 5 * 1024 ** 3, "multipart_chunksize": 8 * 1024 ** 2, "copy_acl": False,
                "versioning": "Enabled"}


class RecordingS3(object):
    """Records calls; answers UpdateObjectEncryption as the configured endpoint would."""

    def __init__(self, update_answer):
        self.calls = []
        self._update_answer = update_answer

    def update_object_encryption(self, **kwargs):
        self.calls.append(("update_object_encryption", kwargs))
        if isinstance(self._update_answer, str):
            raise ClientError({"Error": {"Code": self._update_answer, "Message": ""}}, "UpdateObjectEncryption")
        if isinstance(self._update_answer, ClientError):
            raise self._update_answer
        return self._update_answer

    def delete_object(self, **kwargs):
        self.calls.append(("delete_object", kwargs))


def test_probe_supported_when_the_key_is_reported_missing():
    s3 = RecordingS3("NoSuchKey")
    supported, detail = probe_update_support(s3, "b", "data/", ARN)
    assert supported and "NoSuchKey" in detail
    (name, request), = s3.calls
    assert name == "update_object_encryption" and request["Key"].startswith("data/" + PROBE_PREFIX)


@pytest.mark.parametrize("code", ["NotImplemented", "InvalidArgument", "MethodNotAllowed", "AccessDenied"])
def test_probe_unsupported_on_other_errors(code):
    supported, _detail = probe_update_support(RecordingS3(code), "b", "", ARN)
    assert not supported


def test_probe_treated_as_put_deletes_exactly_what_it_created():
    s3 = RecordingS3({"ResponseMetadata": {"HTTPHeaders": {"x-amz-version-id": "v-probe"}}})
    supported, detail = probe_update_support(s3, "b", "", ARN)
    assert not supported and "plain PUT" in detail
    (_name, probe), (name, deletion) = s3.calls
    assert name == "delete_object" and deletion["Key"] == probe["Key"] and deletion["VersionId"] == "v-probe"


def test_select_backend_update_refuses_when_unsupported_and_copy_sends_no_probe():
    with pytest.raises(RotationError, match="method: copy"):
        select_backend("update", RecordingS3("NotImplemented"), "b", "", ARN, COPY_OPTIONS)
    s3 = RecordingS3("NoSuchKey")
    backend, _detail = select_backend("copy", s3, "b", "", ARN, COPY_OPTIONS)
    assert isinstance(backend, CopyBackend) and s3.calls == []
    backend, _detail = select_backend("auto", RecordingS3("NotImplemented"), "b", "", ARN, COPY_OPTIONS)
    assert isinstance(backend, CopyBackend)
    backend, _detail = select_backend("auto", RecordingS3("NoSuchKey"), "b", "", ARN, COPY_OPTIONS)
    assert isinstance(backend, UpdateBackend)


@pytest.mark.parametrize("versioning, version_id, kept", [("Enabled", "v1", True), ("Suspended", "null", False),
                                                          ("Suspended", "v1", True), ("Unversioned", "null", False)])
def test_copy_knows_when_the_old_version_stays(versioning, version_id, kept):
    backend = CopyBackend(None, "b", 1, MIN_PART_SIZE, False, versioning)
    assert backend.keeps_old_version(ListedVersion("k", version_id, True, '"e"')) is kept


def test_copy_refuses_archived_objects_unless_restored():
    backend = CopyBackend(None, "b", 1, MIN_PART_SIZE, False, "Enabled")
    item = ListedVersion("k", "v1", True, '"e"')
    assert backend.unsupported_reason(item, {"StorageClass": "GLACIER"}) == "archived"
    assert backend.unsupported_reason(item, {"StorageClass": "DEEP_ARCHIVE",
                                             "Restore": 'ongoing-request="false", expiry-date="x"'}) is None
    assert backend.unsupported_reason(item, {"StorageClass": "INTELLIGENT_TIERING",
                                             "ArchiveStatus": "ARCHIVE_ACCESS"}) == "archived"
    assert backend.unsupported_reason(item, {"StorageClass": "STANDARD_IA"}) is None


def test_part_size_grows_to_stay_within_ten_thousand_parts():
    backend = CopyBackend(None, "b", 1, MIN_PART_SIZE, False, "Enabled")
    assert backend._part_size(10 * MIN_PART_SIZE) == MIN_PART_SIZE  # pylint: disable=protected-access
    huge = 5 * 1024 ** 4
    assert huge / backend._part_size(huge) <= 10000  # pylint: disable=protected-access


def test_copy_fields_keep_class_lock_redirect_and_checksum():
    backend = CopyBackend(None, "b", 1, MIN_PART_SIZE, False, "Enabled")
    until = datetime.datetime(2030, 1, 1, tzinfo=datetime.timezone.utc)
    head = {"StorageClass": "STANDARD_IA", "WebsiteRedirectLocation": "/x", "ObjectLockMode": "GOVERNANCE",
            "ObjectLockRetainUntilDate": until, "ObjectLockLegalHoldStatus": "ON"}
    item = ListedVersion("k", "v1", True, '"e"', "CRC32C")
    fields = backend._preserved_fields(item, head, ARN, True)  # pylint: disable=protected-access
    assert fields == {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": ARN, "BucketKeyEnabled": True,
                      "StorageClass": "STANDARD_IA", "WebsiteRedirectLocation": "/x", "ObjectLockMode": "GOVERNANCE",
                      "ObjectLockRetainUntilDate": until, "ObjectLockLegalHoldStatus": "ON",
                      "ChecksumAlgorithm": "CRC32C"}
    plain = backend._preserved_fields(ListedVersion("k", "v1", True, '"e"'), {}, ARN, False)  # pylint: disable=protected-access
    assert plain["StorageClass"] == "STANDARD" and "ChecksumAlgorithm" not in plain


def test_probe_learns_unsupported_from_a_501_at_the_first_answer():
    """LocalStack's answer: 501 InternalFailure, a code AWSRetry would retry; aws_retry sends it once."""
    error = ClientError({"Error": {"Code": "InternalFailure", "Message": "not yet emulated"},
                         "ResponseMetadata": {"HTTPStatusCode": 501}}, "UpdateObjectEncryption")
    s3 = RecordingS3(error)
    supported, detail = probe_update_support(RetryingBotoClientWrapper(s3, aws_retry), "b", "", ARN)
    assert not supported and detail == "the endpoint does not implement UpdateObjectEncryption (InternalFailure, HTTP 501)"
    assert [name for name, _request in s3.calls] == ["update_object_encryption"]


class CopyingS3(object):
    """Records the copy backend's calls; `failures` maps an operation to the ClientError it raises once."""

    def __init__(self, failures=None, version_id="v-new", null_version=None):
        self.calls = []
        self._failures = dict(failures or {})
        self._version_id = version_id
        self._null_version = null_version

    def _call(self, name, kwargs, answer):
        self.calls.append((name, kwargs))
        if name in self._failures:
            raise self._failures.pop(name)
        return answer

    def copy_object(self, **kwargs):
        return self._call("copy_object", kwargs, {"VersionId": self._version_id})

    def create_multipart_upload(self, **kwargs):
        return self._call("create_multipart_upload", kwargs, {"UploadId": "u1"})

    def upload_part_copy(self, **kwargs):
        return self._call("upload_part_copy", kwargs, {"CopyPartResult": {"ETag": '"p"'}})

    def complete_multipart_upload(self, **kwargs):
        return self._call("complete_multipart_upload", kwargs, {"VersionId": self._version_id})

    def abort_multipart_upload(self, **kwargs):
        return self._call("abort_multipart_upload", kwargs, {})

    def get_object_acl(self, **kwargs):
        owner = {"ID": "owner"}
        return self._call("get_object_acl", kwargs, {"Owner": owner, "Grants": [
            {"Grantee": {"Type": "CanonicalUser", "ID": "owner"}, "Permission": "FULL_CONTROL"},
            {"Grantee": {"Type": "Group", "URI": "http://acs.amazonaws.com/groups/global/AllUsers"},
             "Permission": "READ"}]})

    def put_object_acl(self, **kwargs):
        return self._call("put_object_acl", kwargs, {})

    def head_object(self, **kwargs):
        if isinstance(self._null_version, ClientError):
            self._failures["head_object"] = self._null_version
        return self._call("head_object", kwargs, {"VersionId": "null"})


def _error(code, status, operation):
    return ClientError({"Error": {"Code": code, "Message": ""}, "ResponseMetadata": {"HTTPStatusCode": status}}, operation)


LISTED = ListedVersion("k", "v1", True, '"listed"')
SMALL = {"ContentLength": 10, "StorageClass": "STANDARD"}
LARGE = {"ContentLength": 3 * MIN_PART_SIZE, "StorageClass": "STANDARD"}


def _copy(s3, head, copy_acl=False, versioning="Enabled"):
    backend = CopyBackend(s3, "b", MIN_PART_SIZE, MIN_PART_SIZE, copy_acl, versioning)
    return backend.rekey(LISTED, head, ARN, False)


def test_both_ends_of_a_copy_are_conditional_on_the_listed_etag():
    s3 = CopyingS3()
    _copy(s3, SMALL)
    ((name, request),) = s3.calls
    assert name == "copy_object" and request["CopySourceIfMatch"] == request["IfMatch"] == '"listed"'
    s3 = CopyingS3()
    _copy(s3, LARGE)
    parts = [request for name, request in s3.calls if name == "upload_part_copy"]
    assert len(parts) == 3 and all(part["CopySourceIfMatch"] == '"listed"' for part in parts)
    (complete,) = [request for name, request in s3.calls if name == "complete_multipart_upload"]
    assert complete["IfMatch"] == '"listed"'


@pytest.mark.parametrize("code, status", [("PreconditionFailed", 412), ("ConditionalRequestConflict", 409),
                                          ("NoSuchKey", 404)])
def test_a_write_refused_because_the_object_changed_writes_nothing_and_says_so(code, status):
    with pytest.raises(ObjectChanged):
        _copy(CopyingS3({"copy_object": _error(code, status, "CopyObject")}), SMALL, copy_acl=True)
    s3 = CopyingS3({"complete_multipart_upload": _error(code, status, "CompleteMultipartUpload")})
    with pytest.raises(ObjectChanged):
        _copy(s3, LARGE, copy_acl=True)
    names = [name for name, _request in s3.calls]
    # The upload is aborted; the grants are never put on what a writer wrote.
    assert names[-1] == "abort_multipart_upload" and "put_object_acl" not in names


def test_a_copy_the_endpoint_cannot_make_conditional_is_refused_and_other_errors_go_on():
    with pytest.raises(ConditionalWriteUnsupported):
        _copy(CopyingS3({"copy_object": _error("NotImplemented", 501, "CopyObject")}), SMALL)
    with pytest.raises(ClientError):
        _copy(CopyingS3({"copy_object": _error("AccessDenied", 403, "CopyObject")}), SMALL)


@pytest.mark.parametrize("version_id, pinned", [("v-new", True), ("null", False), (None, False)])
def test_grants_go_back_on_the_copy_own_version(version_id, pinned):
    s3 = CopyingS3(version_id=version_id)
    _copy(s3, SMALL, copy_acl=True)
    (acl,) = [request for name, request in s3.calls if name == "put_object_acl"]
    assert ("VersionId" in acl) is pinned and acl.get("VersionId", version_id) == version_id
    assert acl["AccessControlPolicy"]["Grants"][1]["Permission"] == "READ"


@pytest.mark.parametrize("null_version, head_version, reason", [
    ("exists", "v1", "suspended_null_version"),
    (_error("404", 404, "HeadObject"), "v1", None),
    # A `null` delete marker holds no data.
    (_error("405", 405, "HeadObject"), "v1", None),
    # Whatever hides it (here: access denied), it may be there: no copy.
    (_error("403", 403, "HeadObject"), "v1", "suspended_null_version"),
    # The current version is the `null` one: the copy replaces only itself.
    ("exists", "null", None),
    ("exists", None, None),
])
def test_a_suspended_bucket_copies_only_when_no_older_null_version_would_be_replaced(
        null_version, head_version, reason):
    s3 = CopyingS3(null_version=null_version)
    backend = CopyBackend(s3, "b", MIN_PART_SIZE, MIN_PART_SIZE, False, "Suspended")
    head = dict(SMALL, VersionId=head_version) if head_version else dict(SMALL)
    assert backend.unsupported_reason(LISTED, head) == reason
    heads = [request for name, request in s3.calls if name == "head_object"]
    assert heads == ([{"Bucket": "b", "Key": "k", "VersionId": "null", "aws_retry": True}]
                     if head_version not in (None, "null") else [])


def test_enabled_buckets_need_no_look_at_the_null_version():
    s3 = CopyingS3(null_version="exists")
    assert CopyBackend(s3, "b", MIN_PART_SIZE, MIN_PART_SIZE, False, "Enabled").unsupported_reason(
        LISTED, dict(SMALL, VersionId="v1")) is None
    assert s3.calls == []
