"""The update/copy backends and the `auto` probe, with a recording stand-in for the S3 client."""

import datetime

import pytest
from botocore.exceptions import ClientError

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.listing import ListedVersion
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.rekey_backends import (
    MIN_PART_SIZE, PROBE_PREFIX, CopyBackend, UpdateBackend, probe_update_support, select_backend)

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
    assert backend.unsupported_reason({"StorageClass": "GLACIER"}) == "archived"
    assert backend.unsupported_reason({"StorageClass": "DEEP_ARCHIVE",
                                       "Restore": 'ongoing-request="false", expiry-date="x"'}) is None
    assert backend.unsupported_reason({"StorageClass": "INTELLIGENT_TIERING", "ArchiveStatus": "ARCHIVE_ACCESS"}) == \
        "archived"
    assert backend.unsupported_reason({"StorageClass": "STANDARD_IA"}) is None


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
