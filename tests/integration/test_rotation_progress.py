"""Live progress in the rotation role's output: a paced bucket's counts move from poll to poll.

S3 requests are slowed with a `latency` fault so the bucket's phase spans
several polls; kmsrotate.aws.async_wait prints the module's progress file at
each one. Run on the pinned and on the oldest supported ansible-core.
"""

import json
import re

import pytest

from test_rotation_role import ROLE, key_state, rotate, write_inventory

LINE = re.compile(r"^\[paced\] S3 bucket paced-data: (\d+) object versions done, [0-9.]+/s[^;\n]*; (.*) \(running \d+ s",
                  re.MULTILINE)
OBJECTS = 30


@pytest.mark.slow
def test_each_poll_prints_the_bucket_counts_moving(aws, playbook_each_core, tmp_path):
    kms, s3 = aws.client("kms"), aws.client("s3")
    source = kms.create_key()["KeyMetadata"]["Arn"]
    s3.create_bucket(Bucket="paced-data")
    for number in range(OBJECTS):
        s3.put_object(Bucket="paced-data", Key="o{0:03d}".format(number), Body=b"x", ServerSideEncryption="aws:kms",
                      SSEKMSKeyId=source)
    inventory = write_inventory(tmp_path / "inventory.yml", {"paced": {
        "kms_rotation_source_key": source, "kms_rotation_retire": "none",
        "kms_rotation_s3_buckets": [{"name": "paced-data", "concurrency": 1}]}})
    aws.set_faults([{"kind": "latency", "service": "s3", "action": "HeadObject", "ms": 250}])
    run = rotate(playbook_each_core, inventory, tmp_path)
    aws.clear_faults()
    assert run.rc == 0, run
    lines = [(int(done), dict((name, int(value)) for name, value in
                              (count.split(" ") for count in counts.split(", "))))
             for done, counts in LINE.findall(run.stdout)]
    # The S3 phase's polls (verify's check-mode pass re-keys nothing) saw the bucket part-way, counts growing.
    moving = [done for done, counts in lines if counts["rekeyed"] > 0]
    assert len(set(moving)) >= 2 and moving == sorted(moving), run.stdout[:5000]
    assert all(done == counts["scanned"] and counts["blocking"] == 0 for done, counts in lines), lines
    waits = run.results(ROLE + "Wait | S3 bucket paced-data", host="paced")
    assert waits and waits[0]["polls"] >= 2 and waits[0]["progress"]["finished"] is True, waits
    recorded = [json.loads(path.read_text()) for path in (tmp_path / "reports").glob("*-s3-paced-data.progress.json")]
    assert len(recorded) == 1 and recorded[0]["finished"] is True, recorded
    assert recorded[0]["counts"]["rekeyed"] == OBJECTS
    assert key_state(kms, source) == "Enabled"
