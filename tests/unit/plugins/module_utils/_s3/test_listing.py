"""The S3 listing: streamed page by page through _common.pagination, every version or the current ones."""

from ansible_collections.kmsrotate.aws.plugins.module_utils._s3 import listing
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.listing import list_versions

BUCKET = "unit-bucket"


def _bucket(s3, versioned=True):
    s3.create_bucket(Bucket=BUCKET)
    if versioned:
        s3.put_bucket_versioning(Bucket=BUCKET, VersioningConfiguration={"Status": "Enabled"})


def _put(s3, key):
    s3.put_object(Bucket=BUCKET, Key=key, Body=b"x")


def test_listing_is_streamed_page_by_page(make_clients, monkeypatch):
    clients, _limit = make_clients()
    s3 = clients("s3")
    _bucket(s3)
    for index in range(7):
        _put(s3, "k{0}".format(index))
    monkeypatch.setattr(listing, "PAGE_SIZE", 3)
    counts = clients.requests.counts
    listed = list_versions(s3, BUCKET, "", "all")
    first = next(listed)
    # Only the first page was fetched to yield the first entry.
    assert first.key == "k0" and counts["ListObjectVersions"] == 1
    assert [entry.key for entry in listed] == ["k{0}".format(index) for index in range(1, 7)]
    assert counts["ListObjectVersions"] == 3


def test_current_listing_uses_list_objects_v2(aws_client):
    s3 = aws_client("s3")
    _bucket(s3)
    _put(s3, "k")
    _put(s3, "k")
    entries = list(list_versions(s3, BUCKET, "", "current"))
    assert [(entry.key, entry.version_id, entry.is_latest) for entry in entries] == [("k", None, True)]
