# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How one S3 object version moves to a new KMS key: the `update` and `copy` backends.

- UpdateBackend: UpdateObjectEncryption re-wraps the version's data key in
  place. No bytes move; ETag, dates, storage class, metadata, tags and
  checksums stay; noncurrent versions can be re-keyed too.
- CopyBackend: an in-place CopyObject (or multipart UploadPartCopy above the
  threshold) under the new key, carrying over everything S3 lets a copy
  carry. It writes a new current version; the old version, in a versioned
  bucket, stays under the old key. Both ends of a copy are conditional on
  the listed ETag: the source read (x-amz-copy-source-if-match, each part
  too) and the write (If-Match on CopyObject and CompleteMultipartUpload),
  so a writer's object that lands while the copy runs is never overwritten
  nor buried under stale bytes; the copy raises ObjectChanged instead.

`select_backend` implements `method: auto`. Support for UpdateObjectEncryption
is never learnt by sending it for a user's object: some S3-compatible stores
treat the unknown request as a plain PUT and would replace the object with the
request body. The probe names a key that cannot exist (a fresh UUID under the
prefix): AWS answers NoSuchKey; an endpoint without the API answers an error,
or, if it treats the request as a PUT, creates that probe object, which is
then deleted by its version id so nothing is left behind.
"""

import uuid
from urllib.parse import urlencode

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import bucket_resource
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ACCESS_DENIED, NOT_FOUND, UNSUPPORTED
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import ClientError, RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import error_code, error_message
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import http_status, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.object_lock import is_locked, lock_fields_for_copy

UPDATE = "update"
COPY = "copy"

PROBE_PREFIX = ".kmsrotate-probe-"
# S3's limits for copies.
MAX_SINGLE_COPY = 5 * 1024 ** 3
MIN_PART_SIZE = 5 * 1024 ** 2
MAX_PARTS = 10000
ARCHIVED_CLASSES = frozenset(["GLACIER", "DEEP_ARCHIVE"])
# The version id S3 gives what is written while versioning is Suspended (and what was there before versioning).
NULL_VERSION = "null"
# S3's answers to a conditional copy whose object changed since it was listed: the ETag differs (412), a
# conflicting write or delete landed meanwhile (409), or the object is gone.
_CHANGED_CODES = ("PreconditionFailed", "412", "ConditionalRequestConflict", "NoSuchKey")
# HeadObject answers a HEAD of a delete marker's version id this way: it holds no data.
_DELETE_MARKER_CODES = ("405", "MethodNotAllowed")
# HeadObject fields a multipart upload must be given again, since it starts empty.
_MULTIPART_HEADER_FIELDS = ("ContentType", "ContentEncoding", "ContentLanguage", "ContentDisposition", "CacheControl",
                            "Expires", "Metadata")


class ObjectChanged(Exception):
    """The object changed (or went) since it was listed, so the conditional copy wrote nothing: look again."""


class ConditionalWriteUnsupported(Exception):
    """The endpoint refused the copy's If-Match (not implemented): no copy is safe there, and none was made."""


def _kms_encryption(destination_arn, bucket_key_enabled):
    return {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": destination_arn, "BucketKeyEnabled": bucket_key_enabled}


class UpdateBackend(object):
    """UpdateObjectEncryption on each version, current or not."""

    name = UPDATE
    rekeys_noncurrent = True

    def __init__(self, s3, bucket):
        self._s3 = s3
        self._bucket = bucket

    def unsupported_reason(self, item, head):
        """Why this version cannot be re-keyed in place, or None; archived versions qualify."""
        del item
        # S3 refuses to change the encryption of a version it holds.
        return "locked" if is_locked(head) else None

    def keeps_old_version(self, item):
        del item  # re-keyed in place: there is no old version
        return False

    def rekey(self, item, head, destination_arn, bucket_key_enabled):
        """Re-key one version; returns the bytes copied (none)."""
        del head
        request = {"Bucket": self._bucket, "Key": item.key,
                   "ObjectEncryption": {"SSEKMS": {"KMSKeyArn": destination_arn,
                                                   "BucketKeyEnabled": bool(bucket_key_enabled)}}}
        if item.version_id is not None:
            request["VersionId"] = item.version_id
        self._s3.update_object_encryption(aws_retry=True, **request)
        return 0


class CopyBackend(object):
    """In-place CopyObject / multipart UploadPartCopy of current versions."""

    name = COPY
    rekeys_noncurrent = False

    def __init__(self, s3, bucket, multipart_threshold, multipart_chunksize, copy_acl, versioning):
        self._s3 = s3
        self._bucket = bucket
        self._threshold = min(int(multipart_threshold), MAX_SINGLE_COPY)
        self._chunksize = int(multipart_chunksize)
        self._copy_acl = copy_acl
        self._versioning = versioning

    def unsupported_reason(self, item, head):
        """Why this version cannot be copied, or None (a held version is copied with its hold)."""
        if head.get("ArchiveStatus"):
            return "archived"
        if head.get("StorageClass") in ARCHIVED_CLASSES and 'ongoing-request="false"' not in (head.get("Restore") or ""):
            return "archived"
        if self._versioning == "Suspended" and (head.get("VersionId") or NULL_VERSION) != NULL_VERSION \
                and self._null_version_may_exist(item.key):
            # The copy would be written as the `null` version, replacing the one there, whose data would be gone.
            return "suspended_null_version"
        return None

    def _null_version_may_exist(self, key):
        """Whether the key has a `null` version holding data; True when that cannot be ruled out."""
        try:
            self._s3.head_object(Bucket=self._bucket, Key=key, VersionId=NULL_VERSION, aws_retry=True)
        except ClientError as exc:
            return not (is_error(exc, NOT_FOUND) or is_error(exc, codes=_DELETE_MARKER_CODES))
        return True

    def keeps_old_version(self, item):
        """Whether the version a copy replaces stays behind as a noncurrent version (under the old key)."""
        if self._versioning == "Enabled":
            return True
        # Suspended versioning overwrites only the "null" version.
        return self._versioning == "Suspended" and item.version_id not in (None, NULL_VERSION)

    def rekey(self, item, head, destination_arn, bucket_key_enabled):
        """Copy the current version onto itself under the key; returns the bytes copied.

        Raises ObjectChanged when the object changed since it was listed
        (nothing was written; the caller looks again), ConditionalWriteUnsupported
        when the endpoint cannot make the write conditional, else botocore's errors.
        """
        grants = self._read_grants(item) if self._copy_acl else None
        try:
            if head["ContentLength"] > self._threshold:
                version_id = self._multipart_copy(item, head, destination_arn, bucket_key_enabled)
            else:
                version_id = self._single_copy(item, head, destination_arn, bucket_key_enabled)
        except ClientError as exc:
            if is_error(exc, codes=_CHANGED_CODES):
                raise ObjectChanged(error_message(exc)) from exc
            if is_error(exc, UNSUPPORTED):
                raise ConditionalWriteUnsupported(error_message(exc)) from exc
            raise
        if grants is not None:
            request = {"Bucket": self._bucket, "Key": item.key, "AccessControlPolicy": grants}
            # The copy's own version, where it has an id of its own: a writer's newer version keeps its ACL.
            if version_id not in (None, NULL_VERSION):
                request["VersionId"] = version_id
            self._s3.put_object_acl(aws_retry=True, **request)
        return head["ContentLength"]

    def _preserved_fields(self, item, head, destination_arn, bucket_key_enabled):
        fields = _kms_encryption(destination_arn, bucket_key_enabled)
        # A copy resets the class to STANDARD unless it is named.
        fields["StorageClass"] = head.get("StorageClass") or "STANDARD"
        if head.get("WebsiteRedirectLocation"):
            fields["WebsiteRedirectLocation"] = head["WebsiteRedirectLocation"]
        fields.update(lock_fields_for_copy(head))
        # From the listing: HeadObject reveals checksums only with ChecksumMode,
        # which needs kms:Decrypt and fails for an object under a disabled key.
        if item.checksum_algorithm:
            fields["ChecksumAlgorithm"] = item.checksum_algorithm
        return fields

    def _source(self, item):
        # The current version, never a pinned one: copying an old version id
        # would put stale bytes on top. The ETag condition guards the rest.
        return {"Bucket": self._bucket, "Key": item.key}

    def _single_copy(self, item, head, destination_arn, bucket_key_enabled):
        """CopyObject conditional at both ends; returns the new version's id (None unversioned)."""
        answer = self._s3.copy_object(Bucket=self._bucket, Key=item.key, CopySource=self._source(item),
                                      CopySourceIfMatch=item.etag, IfMatch=item.etag, MetadataDirective="COPY",
                                      TaggingDirective="COPY", aws_retry=True,
                                      **self._preserved_fields(item, head, destination_arn, bucket_key_enabled))
        return answer.get("VersionId")

    def _part_size(self, size):
        needed = -(-size // MAX_PARTS)
        return max(self._chunksize, needed, MIN_PART_SIZE)

    def _multipart_copy(self, item, head, destination_arn, bucket_key_enabled):
        fields = self._preserved_fields(item, head, destination_arn, bucket_key_enabled)
        for name in _MULTIPART_HEADER_FIELDS:
            if head.get(name):
                fields[name] = head[name]
        if head.get("TagCount"):
            tags = self._s3.get_object_tagging(Bucket=self._bucket, Key=item.key, aws_retry=True)["TagSet"]
            fields["Tagging"] = urlencode([(tag["Key"], tag["Value"]) for tag in tags])
        upload_id = self._s3.create_multipart_upload(Bucket=self._bucket, Key=item.key, aws_retry=True, **fields)["UploadId"]
        completed = None
        try:
            parts = self._copy_parts(item, head["ContentLength"], upload_id, fields.get("ChecksumAlgorithm"))
            # Each part was read under the listed ETag; the object must still be that one when they are joined.
            completed = self._s3.complete_multipart_upload(Bucket=self._bucket, Key=item.key, UploadId=upload_id,
                                                           MultipartUpload={"Parts": parts}, IfMatch=item.etag,
                                                           aws_retry=True)
        finally:
            if completed is None:
                # An unfinished upload would be billed forever, whatever stopped it: remove it; the error goes on.
                self._s3.abort_multipart_upload(Bucket=self._bucket, Key=item.key, UploadId=upload_id, aws_retry=True)
        return completed.get("VersionId")

    def _copy_parts(self, item, size, upload_id, algorithm):
        part_size = self._part_size(size)
        parts = []
        for number, start in enumerate(range(0, size, part_size), start=1):
            end = min(start + part_size, size) - 1
            answer = self._s3.upload_part_copy(Bucket=self._bucket, Key=item.key, UploadId=upload_id, PartNumber=number,
                                               CopySource=self._source(item), CopySourceIfMatch=item.etag,
                                               CopySourceRange="bytes={0}-{1}".format(start, end), aws_retry=True)
            part = {"ETag": answer["CopyPartResult"]["ETag"], "PartNumber": number}
            if algorithm and answer["CopyPartResult"].get("Checksum" + algorithm):
                part["Checksum" + algorithm] = answer["CopyPartResult"]["Checksum" + algorithm]
            parts.append(part)
        return parts

    def _read_grants(self, item):
        """The object's ACL as PutObjectAcl takes it, or None when it is the default (owner only)."""
        acl = self._s3.get_object_acl(Bucket=self._bucket, Key=item.key, aws_retry=True)
        owner_id = acl.get("Owner", {}).get("ID")
        grants = acl.get("Grants", [])
        if all(grant.get("Grantee", {}).get("ID") == owner_id and grant.get("Permission") == "FULL_CONTROL"
               for grant in grants):
            return None
        return {"Grants": grants, "Owner": acl["Owner"]}


def probe_update_support(s3, bucket, prefix, destination_arn):
    """(supported, detail): does this endpoint implement UpdateObjectEncryption?

    Sends the request for a key that cannot exist, never for a user's object.
    """
    probe_key = "{0}{1}{2}".format(prefix or "", PROBE_PREFIX, uuid.uuid4().hex)
    try:
        answer = s3.update_object_encryption(
            Bucket=bucket, Key=probe_key, aws_retry=True,
            ObjectEncryption={"SSEKMS": {"KMSKeyArn": destination_arn, "BucketKeyEnabled": False}})
    except ClientError as exc:
        # Only S3's own answer for a missing object proves the API exists. The NOT_FOUND kind is wider (NotFound,
        # NoSuchBucket, ...), and an endpoint without the API may answer an unknown route with one of those.
        if is_error(exc, codes=("NoSuchKey", "404")):
            return True, "UpdateObjectEncryption answered NoSuchKey for the probe key {0}: supported".format(probe_key)
        if is_error(exc, ACCESS_DENIED):
            return False, "access denied to s3:UpdateObjectEncryption (probe key {0})".format(probe_key)
        code = error_code(exc)
        if code is None:
            raise
        if is_error(exc, UNSUPPORTED):
            # A 501 (whatever its code: LocalStack says InternalFailure), NotImplemented, InvalidAction,
            # UnknownOperationException: final at the first answer, since aws_retry never retries them.
            return False, "the endpoint does not implement UpdateObjectEncryption ({0}, HTTP {1})".format(
                code, http_status(exc))
        return False, "the endpoint refused UpdateObjectEncryption ({0}): taken as unsupported".format(code)
    # Success for a key that did not exist: the endpoint stored the request as
    # an object. Remove exactly that version.
    version_id = answer.get("ResponseMetadata", {}).get("HTTPHeaders", {}).get("x-amz-version-id")
    request = {"Bucket": bucket, "Key": probe_key}
    if version_id:
        request["VersionId"] = version_id
    s3.delete_object(aws_retry=True, **request)
    return False, ("the endpoint treated UpdateObjectEncryption as a plain PUT (it would overwrite objects); "
                   "the probe object {0} it created was deleted".format(probe_key))


def select_backend(method, s3, bucket, prefix, destination_arn, copy_options):
    """(backend, probe detail) for `method` (auto, update or copy); `auto` falls back to copy where update is unsupported.

    copy_options: keyword arguments of CopyBackend besides s3 and bucket.
    """
    if method == COPY:
        return CopyBackend(s3, bucket, **copy_options), "method copy was asked for; no probe sent"
    supported, detail = probe_update_support(s3, bucket, prefix, destination_arn)
    if supported:
        return UpdateBackend(s3, bucket), detail
    if method == UPDATE:
        raise RotationError("UpdateObjectEncryption cannot be used: {0}.".format(detail), resource=bucket_resource(bucket),
                            fix="use method: copy (or auto), or grant s3:UpdateObjectEncryption.")
    return CopyBackend(s3, bucket, **copy_options), detail
