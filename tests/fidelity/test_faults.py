"""The fault layer: each fault in the wire format botocore expects."""

import pytest
from botocore.exceptions import ClientError, ConnectionClosedError, EndpointConnectionError

NO_RETRY = {"retries": {"mode": "standard", "total_max_attempts": 1}}


@pytest.mark.parametrize("service, call, code, status", [
    ("kms", lambda c: c.list_keys(), "ThrottlingException", 400),
    ("s3", lambda c: c.list_buckets(), "SlowDown", 503),
    ("ec2", lambda c: c.describe_volumes(), "RequestLimitExceeded", 503),
])
def test_throttling_in_each_services_format(aws, service, call, code, status):
    client = aws.client(service, **NO_RETRY)
    aws.set_faults([{"kind": "throttle", "service": service}])
    with pytest.raises(ClientError) as excinfo:
        call(client)
    assert excinfo.value.response["Error"]["Code"] == code
    assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == status


def test_rate_is_deterministic_with_a_seed(aws):
    kms = aws.client("kms", **NO_RETRY)

    def outcomes():
        aws.set_faults([{"kind": "throttle", "service": "kms", "rate": 0.3}], seed=42)
        results = []
        for _attempt in range(40):
            try:
                kms.list_keys()
                results.append(True)
            except ClientError:
                results.append(False)
        return results

    first = outcomes()
    assert first == outcomes()
    assert 4 <= first.count(False) <= 24


def test_count_and_after_fire_on_a_window_of_matching_requests(aws):
    kms = aws.client("kms", **NO_RETRY)
    aws.set_faults([{"kind": "error", "service": "kms", "action": "ListKeys", "after": 1, "count": 2}])
    kms.describe_key(KeyId="alias/aws/s3")  # other actions never match
    kms.list_keys()  # skipped by after=1
    for _attempt in range(2):
        with pytest.raises(ClientError) as excinfo:
            kms.list_keys()
        assert excinfo.value.response["ResponseMetadata"]["HTTPStatusCode"] == 500
    kms.list_keys()
    assert aws.faults()[0]["fired"] == 2


def test_dropped_connection_is_a_connection_error(aws):
    kms = aws.client("kms", **NO_RETRY)
    aws.set_faults([{"kind": "drop", "service": "kms", "count": 1}])
    with pytest.raises((ConnectionClosedError, EndpointConnectionError, ConnectionError)):
        kms.list_keys()
    kms.list_keys()


def test_latency_is_added(aws):
    import time

    kms = aws.client("kms", **NO_RETRY)
    aws.set_faults([{"kind": "latency", "ms": 300}])
    start = time.monotonic()
    kms.list_keys()
    assert time.monotonic() - start >= 0.3


def test_stats_count_requests_by_service_and_action(aws):
    s3 = aws.client("s3")
    s3.create_bucket(Bucket="stats-bucket")
    s3.put_object(Bucket="stats-bucket", Key="a", Body=b"1")
    s3.head_object(Bucket="stats-bucket", Key="a")
    s3.copy_object(Bucket="stats-bucket", Key="a", CopySource={"Bucket": "stats-bucket", "Key": "a"},
                   MetadataDirective="REPLACE")
    stats = aws.stats()
    assert stats["s3:CreateBucket"] == 1
    assert stats["s3:PutObject"] == 1
    assert stats["s3:HeadObject"] == 1
    assert stats["s3:CopyObject"] == 1


def _wait_for(condition, timeout=10.0):
    import time

    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline, "condition not met in {0} s".format(timeout)
        time.sleep(0.02)


def test_hold_parks_a_request_until_the_rules_are_replaced_then_serves_it(aws):
    import threading

    kms = aws.client("kms", **NO_RETRY)
    aws.set_faults([{"kind": "hold", "service": "kms", "action": "CreateKey", "after": 1, "count": 1}])
    kms.create_key(Description="first")  # skipped by after=1
    answers = []
    caller = threading.Thread(target=lambda: answers.append(kms.create_key(Description="held")))
    caller.start()
    _wait_for(lambda: aws.faults()[0]["holding"] == 1)
    # Parked before moto: the key does not exist yet, and the caller has no answer.
    descriptions = [kms.describe_key(KeyId=key["KeyId"])["KeyMetadata"]["Description"]
                    for key in kms.list_keys()["Keys"]]
    assert "held" not in descriptions and caller.is_alive() and not answers
    aws.set_faults([])
    caller.join(10)
    assert answers and answers[0]["KeyMetadata"]["Description"] == "held"
    kms.create_key(Description="after")  # count=1: nothing else is held


def test_hold_ends_after_ms(aws):
    kms = aws.client("kms", **NO_RETRY)
    aws.set_faults([{"kind": "hold", "service": "kms", "action": "ListKeys", "ms": 200}])
    kms.list_keys()  # answered once the 200 ms hold is over, rules unchanged
    assert aws.faults()[0] == dict(aws.faults()[0], fired=1, holding=0)
