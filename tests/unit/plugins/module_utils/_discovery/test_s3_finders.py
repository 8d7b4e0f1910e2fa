"""S3 for kms_key_usage_info: the object scan of buckets whose default encryption uses the key."""


def test_scan_objects_counts_versions_under_the_key_with_a_cap(clients, discover, key):
    s3 = clients("s3")
    s3.create_bucket(Bucket="scanned")
    s3.put_bucket_versioning(Bucket="scanned", VersioningConfiguration={"Status": "Enabled"})
    s3.put_bucket_encryption(Bucket="scanned", ServerSideEncryptionConfiguration={"Rules": [
        {"ApplyServerSideEncryptionByDefault": {"SSEAlgorithm": "aws:kms", "KMSMasterKeyID": key["Arn"]}}]})
    for body in (b"one", b"two", b"three"):
        s3.put_object(Bucket="scanned", Key="object", Body=body, ServerSideEncryption="aws:kms", SSEKMSKeyId=key["Arn"])
    s3.put_object(Bucket="scanned", Key="plain", Body=b"x", ServerSideEncryption="AES256")
    full = discover(key["Arn"], services=["s3"], scan_objects=True)
    bucket = full["services"]["s3"]["resources"][0]
    assert (bucket["object_versions_scanned"], bucket["object_versions_under_key"], bucket["scan_truncated"]) == (
        4, 3, False)
    assert [(entry["resource"], entry["kind"], entry["count"]) for entry in full["dependents"]] == [
        ("s3://scanned", "to_move", 3)]
    capped = discover(key["Arn"], services=["s3"], scan_objects=True, object_scan_limit=2)
    assert capped["services"]["s3"]["resources"][0]["object_versions_scanned"] == 2
    assert capped["services"]["s3"]["resources"][0]["scan_truncated"] is True
