"""s3_kms_recopy's progress file: the counts of the versions looked at, the same as the result's at the end."""

import json

from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.recopy import BucketRecopy, RecopySpec

BUCKET = "progress-bucket"


def test_progress_file_ends_with_the_result_counts(aws_client, make_clients, tmp_path):
    s3, kms = aws_client("s3"), aws_client("kms")
    source = kms.create_key()["KeyMetadata"]
    destination = kms.create_key()["KeyMetadata"]
    s3.create_bucket(Bucket=BUCKET)
    for number in range(5):
        s3.put_object(Bucket=BUCKET, Key="k{0}".format(number), Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=source["Arn"])
    s3.put_object(Bucket=BUCKET, Key="plain", Body=b"x")
    path = tmp_path / "bucket.progress.json"
    engine_clients, limit = make_clients(concurrency=2)
    spec = RecopySpec(bucket=BUCKET, destination_key_id=destination["KeyId"], method="copy", progress_file=str(path))
    result = BucketRecopy(engine_clients, limit).run(spec).values
    progress = json.loads(path.read_text())
    assert progress["counts"] == result["counts"] and progress["counts"]["rekeyed"] == 5
    assert progress["done"] == 6 and progress["total"] is None and progress["eta_seconds"] == 0
    assert progress["finished"] is True and progress["target"] == "s3://progress-bucket/"
