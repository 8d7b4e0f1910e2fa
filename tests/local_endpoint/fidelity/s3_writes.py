"""How a write lands on an S3 key, as AWS documents it, where moto 5.2 differs.

Every object write (PutObject, CopyObject, CompleteMultipartUpload) reaches
moto's S3Backend.put_object (a copy and a completed upload write through it
too); this module wraps that choke point.

- Conditional writes: If-Match and If-None-Match on PutObject, on the
  destination of CopyObject and on CompleteMultipartUpload. If-Match fails
  with 404 NoSuchKey when there is no current object (or the current version
  is a delete marker) and with 412 PreconditionFailed when its ETag differs
  (quotes ignored); If-None-Match: * fails with 412 when a current object
  exists. The check and the write are atomic (one lock around both, and
  around every write). When a delete of the key succeeded while the
  conditional write was in progress (after the request arrived; for a
  multipart upload, after CreateMultipartUpload), the write fails with 409
  ConditionalRequestConflict. A failed CompleteMultipartUpload leaves the
  upload in place, to be retried or aborted. moto checks If-Match only on
  PutObject and If-None-Match only on PutObject and CompleteMultipartUpload,
  never atomically.
- Suspended versioning: a write stores the version `null`, replacing only
  an existing `null` version; the other versions stay ("Adding objects to
  versioning-suspended buckets"). moto drops every version of the key.
  HeadObject with a versionId works in a Suspended bucket (moto answers a
  bare 400, as for a never-versioned bucket).
- Armed writers of phase `during` (the `s3_writer` route in s3.py) fire
  here: after a copy read its source or an upload assembled its parts,
  before the condition is checked and the write committed.
"""

import functools
import itertools
import threading

from moto.s3 import models as s3_models
from moto.s3 import responses as s3_responses

from . import s3

_installed = False
# One lock for every write and delete: a condition is checked and its write committed with nothing in between.
_write_lock = threading.RLock()
# Orders request arrivals, upload creations and deletes.
_clock = itertools.count()
# (bucket, key) -> clock at the key's last successful delete; upload id -> clock at its creation.
_deleted_at = {}
_upload_started_at = {}
# The write request the current thread is serving, for the backend wrappers.
_request = threading.local()


class WriteRequest(object):
    """One PutObject, CopyObject or CompleteMultipartUpload: what it writes, under which conditions."""

    def __init__(self, action, bucket, key, if_match, if_none_match, started):
        self.action = action
        self.bucket = bucket
        self.key = key
        self.if_match = if_match
        self.if_none_match = if_none_match
        self.started = started

    def check(self, backend):
        """Raise what S3 answers when the conditions do not hold for the key as it is now."""
        if self.if_match is None and self.if_none_match is None:
            return
        if _deleted_at.get((self.bucket, self.key), -1) > self.started:
            raise s3.S3Error(409, "ConditionalRequestConflict", "A conflicting operation occurred. If using "
                                                                "PutObject you can retry the request.")
        current = backend.get_object(self.bucket, self.key)
        if self.if_match is not None:
            if current is None:
                raise s3.S3Error(404, "NoSuchKey", "The specified key does not exist.")
            if self.if_match.strip('"') != current.etag.strip('"'):
                raise s3.S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did "
                                                            "not hold")
        if self.if_none_match == "*" and current is not None:
            raise s3.S3Error(412, "PreconditionFailed", "At least one of the pre-conditions you specified did not hold")


def _begin(action, bucket, key, headers, started=None):
    _request.current = WriteRequest(action, bucket, key, headers.get("If-Match"), headers.get("If-None-Match"),
                                    next(_clock) if started is None else started)


def _take(bucket, key):
    """The write request being served for bucket/key, once: a nested write (a copy's put) finds none."""
    current = getattr(_request, "current", None)
    if current is None or (current.bucket, current.key) != (bucket, key):
        return None
    _request.current = None
    return current


def _answer(error):
    status_line, headers, body = error.answer
    return int(status_line.split()[0]), dict(headers), body


# S3Response: which write this request is ------------------------------------------------------------------

def _patch_key_response_put(original):
    @functools.wraps(original)
    def _key_response_put(self, query, key_name):
        sub_resource = query.get("uploadId") or any(
            name in query for name in ("acl", "tagging", "retention", "legal-hold", "encryption"))
        if not sub_resource:
            action = "CopyObject" if "x-amz-copy-source" in self.headers else "PutObject"
            _begin(action, self.bucket_name, key_name, self.headers)
        try:
            return original(self, query, key_name)
        except s3.S3Error as error:
            return _answer(error)
        finally:
            _request.current = None
    return _key_response_put


def _patch_key_response_post(original):
    @functools.wraps(original)
    def _key_response_post(self, request, body, bucket_name, query, key_name):
        if query.get("uploadId"):
            upload_id = query["uploadId"][0]
            _begin("CompleteMultipartUpload", bucket_name, key_name, request.headers,
                   started=_upload_started_at.get(upload_id, -1))
        try:
            return original(self, request, body, bucket_name, query, key_name)
        except s3.S3Error as error:
            return _answer(error)
        finally:
            _request.current = None
    return _key_response_post


# S3Backend: the writes themselves --------------------------------------------------------------------------

def _patch_put_object(original):
    @functools.wraps(original)
    def put_object(self, bucket_name, key_name, value, *args, **kwargs):
        request = _take(bucket_name, key_name)
        if request is not None:
            s3.run_armed_writer(request.action, bucket_name, key_name, phase="during")
        with _write_lock:
            if request is not None:
                request.check(self)
            bucket = self.get_bucket(bucket_name)
            if bucket.versioning_status != "Suspended":
                return original(self, bucket_name, key_name, value, *args, **kwargs)
            return _put_suspended(
                bucket, key_name, lambda: original(self, bucket_name, key_name, value, *args, **kwargs))
    return put_object


def _put_suspended(bucket, key_name, put):
    """put() into a Suspended bucket, where moto keeps (and disposes of) nothing but the new version.

    S3 replaces only the `null` version and reports the new one's id, `null`.
    """
    versions = bucket.keys.getlist(key_name, [])
    # Out of moto's sight (a plain dict pop, not the key store's disposing one) while it writes.
    dict.pop(bucket.keys, key_name, None)
    try:
        new_key = put()
    except Exception:
        dict.__setitem__(bucket.keys, key_name, versions)
        raise
    new_key._is_versioned = True  # pylint: disable=protected-access
    bucket.keys.setlist(key_name, [stored for stored in versions if str(stored.version_id) != "null"] + [new_key])
    for replaced in versions:
        if str(replaced.version_id) == "null" and hasattr(replaced, "dispose"):
            replaced.dispose()
    return new_key


def _patch_complete_multipart_upload(original):
    @functools.wraps(original)
    def complete_multipart_upload(self, bucket_name, multipart_id, body):
        multipart = self.get_bucket(bucket_name).multiparts.get(multipart_id)
        request = _take(bucket_name, multipart.key_name) if multipart is not None else None
        if request is not None:
            s3.run_armed_writer(request.action, bucket_name, request.key, phase="during")
        with _write_lock:
            if request is not None:
                # Before moto consumes the upload: a failed condition leaves it to be retried or aborted.
                request.check(self)
            key = original(self, bucket_name, multipart_id, body)
            _upload_started_at.pop(multipart_id, None)
        return key
    return complete_multipart_upload


def _patch_create_multipart_upload(original):
    @functools.wraps(original)
    def create_multipart_upload(self, *args, **kwargs):
        multipart = original(self, *args, **kwargs)
        _upload_started_at[multipart.id] = next(_clock)
        return multipart
    return create_multipart_upload


def _patch_delete_object(original):
    @functools.wraps(original)
    def delete_object(self, bucket_name, key_name, *args, **kwargs):
        with _write_lock:
            deleted, meta = original(self, bucket_name, key_name, *args, **kwargs)
            if deleted:
                _deleted_at[(bucket_name, key_name)] = next(_clock)
        return deleted, meta
    return delete_object


# Suspended versioning: reads of a version ----------------------------------------------------------------

_version_reads = threading.local()


def _patch_is_versioned(original):
    """While a HeadObject is served, a Suspended bucket still answers for its versions."""
    @functools.wraps(original.fget)
    def is_versioned(self):
        if getattr(_version_reads, "allowed", False) and self.versioning_status == "Suspended":
            return True
        return original.fget(self)
    return property(is_versioned)


def _patch_key_response(original):
    """Mark a HeadObject from its dispatch on, so every patch of head_object sees a Suspended bucket as versioned."""
    @functools.wraps(original)
    def _key_response(self, request, full_url):
        _version_reads.allowed = request.method == "HEAD"
        try:
            return original(self, request, full_url)
        finally:
            _version_reads.allowed = False
    return _key_response


def install():
    global _installed
    if _installed:
        return
    responses = s3_responses.S3Response
    responses._key_response_put = _patch_key_response_put(responses._key_response_put)  # pylint: disable=protected-access
    responses._key_response_post = _patch_key_response_post(responses._key_response_post)  # pylint: disable=protected-access
    responses._key_response = _patch_key_response(responses._key_response)  # pylint: disable=protected-access
    backend = s3_models.S3Backend
    backend.put_object = _patch_put_object(backend.put_object)
    backend.complete_multipart_upload = _patch_complete_multipart_upload(backend.complete_multipart_upload)
    backend.create_multipart_upload = _patch_create_multipart_upload(backend.create_multipart_upload)
    backend.delete_object = _patch_delete_object(backend.delete_object)
    s3_models.FakeBucket.is_versioned = _patch_is_versioned(s3_models.FakeBucket.is_versioned)
    _installed = True
