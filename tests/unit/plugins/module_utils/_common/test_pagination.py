"""The one pagination helper: streamed in chunks, each chunk retried on its own from its token."""

from botocore.exceptions import ClientError
from botocore.paginate import Paginator

from ansible_collections.kmsrotate.aws.plugins.module_utils._common import pagination


def test_items_stream_a_long_listing_in_chunks(aws_client, monkeypatch):
    monkeypatch.setattr(pagination, "CHUNK_ITEMS", 7)
    kms = aws_client("kms")
    created = sorted(kms.create_key()["KeyMetadata"]["KeyId"] for _index in range(20))
    listed = sorted(key["KeyId"] for key in pagination.items(kms, "list_keys", "Keys"))
    assert listed == created


def test_a_throttled_chunk_is_fetched_again_from_its_own_token(aws_client, monkeypatch):
    monkeypatch.setattr("time.sleep", lambda seconds: None)
    s3 = aws_client("s3")
    s3.create_bucket(Bucket="bucket-b")
    for index in range(25):
        s3.put_object(Bucket="bucket-b", Key="k{0:02d}".format(index), Body=b"x")
    calls = []
    real_paginate = Paginator.paginate

    def throttling_paginate(self, **kwargs):
        calls.append(kwargs["PaginationConfig"].get("StartingToken"))
        if len(calls) == 2:
            raise ClientError({"Error": {"Code": "SlowDown", "Message": "slow"}}, "ListObjectsV2")
        return real_paginate(self, **kwargs)

    monkeypatch.setattr(Paginator, "paginate", throttling_paginate)
    keys = [entry["Key"] for entry in pagination.items(s3, "list_objects_v2", "Contents", page_size=10, Bucket="bucket-b")]
    assert keys == ["k{0:02d}".format(index) for index in range(25)]
    # The throttled second chunk was asked for again with the same token, not from the start.
    assert calls[1] is not None and calls[2] == calls[1] and calls[0] is None
