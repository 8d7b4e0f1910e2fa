"""Faults: a whole role run with 10% throttling, 2% 5xx and 1% dropped connections on every service.

The run either completes, or fails naming exactly what failed: the task it
stopped at, and, for a data phase, exactly the items that phase did not
move. A rerun without faults then converges and the ledger holds.
"""

import re
import time

from .harness import FAILED_TASK, HOST, key_state, reports
from .ledger import SOURCE_SNAPSHOT_TAG, SOURCE_VOLUME_TAG, list_versions, read_blob

# The endpoint consults failing rules in order and the first that fires wins, so each rule's rate is the
# probability given that none before it fired: a request is dropped 1%, answered 5xx 2%, throttled 10% of the time.
# A small estate makes a few hundred requests, where 1% may never fire: the first two rules add one drop and one
# 5xx at fixed requests, so that every kind surely happens.
DROP, ERROR, THROTTLE = 0.01, 0.02, 0.10
FAULTS = [
    {"kind": "drop", "after": 60, "count": 1},
    {"kind": "error", "after": 120, "count": 1},
    {"kind": "drop", "rate": DROP},
    {"kind": "error", "rate": ERROR / (1 - DROP)},
    {"kind": "throttle", "rate": THROTTLE / (1 - DROP - ERROR)},
]
SEED = 11
# How many failed items a module's failure message names.
NAMED = 5


def _unmoved(aws, estate, destination):
    """What is not under the destination key now: data-key paths, S3 version counts per bucket, EBS ids."""
    kms, s3, ec2 = aws.client("kms"), aws.client("s3"), aws.client("ec2")
    paths = set(path for path in estate.data_key_paths
                if kms.decrypt(CiphertextBlob=read_blob(path))["KeyId"] != destination)
    versions = {}
    for bucket in estate.buckets:
        for key, version_id in list_versions(s3, bucket)[0]:
            if s3.head_object(Bucket=bucket, Key=key, VersionId=version_id).get("SSEKMSKeyId") != destination:
                versions[bucket] = versions.get(bucket, 0) + 1
    replaced = set(tag["Value"] for volume in ec2.describe_volumes()["Volumes"] for tag in volume.get("Tags", [])
                   if tag["Key"] == SOURCE_VOLUME_TAG)
    copied = set(tag["Value"] for snapshot in ec2.describe_snapshots(OwnerIds=["self"])["Snapshots"]
                 for tag in snapshot.get("Tags", []) if tag["Key"] == SOURCE_SNAPSHOT_TAG)
    ebs = (set(estate.volume_ids) - replaced) | (set(estate.snapshot_ids) - copied)
    return paths, versions, ebs


def _check_names(kind, message, count, named, unmoved):
    """A module's failure: `count` items failed, the first (up to) 5 named; they must be exactly what it left."""
    assert count == len(unmoved), "{0}: the failure counts {1}, {2} are not moved: {3}\n{4}".format(
        kind, count, len(unmoved), sorted(unmoved), message)
    assert named <= unmoved and len(named) == min(count, NAMED), "{0}: names {1}, not moved {2}\n{3}".format(
        kind, sorted(named), sorted(unmoved), message)


def check_failure_names_what_failed(aws, estate, failure, destination):
    """The role's failure names the task it stopped at, and a data phase's message exactly what it left.

    A data module fails after every item was tried, with "N ... failed ...; see failures: <first 5>"
    (S3: "N object version(s) in s3://bucket/ could not be moved"): N must be what is not moved now.
    """
    task, message = failure["task"], failure["msg"]
    assert task and message and "see the task output above" not in message, failure
    if destination is None:
        return  # stopped before the key phase had a destination: nothing was moved
    paths, versions, ebs = _unmoved(aws, estate, destination)
    blobs = re.match(r"(\d+) of \d+ blobs failed", message)
    s3 = re.match(r"(\d+) object version\(s\) in s3://([^/]+)/", message)
    volumes = re.match(r"(\d+) volume\(s\) or snapshot\(s\) failed", message)
    if blobs:
        _check_names("data keys", message, int(blobs.group(1)),
                     set(path for path in estate.data_key_paths if path in message), paths)
    elif s3:
        assert int(s3.group(1)) == versions.get(s3.group(2), 0), (versions, message)
    elif volumes:
        _check_names("EBS", message, int(volumes.group(1)),
                     set(item for item in estate.volume_ids + estate.snapshot_ids if item in message), ebs)


def test_role_run_under_faults_completes_or_names_what_failed_then_converges(aws, estate, ledger, role_runs, report_dir):
    aws.set_faults(FAULTS, seed=SEED)
    started = time.monotonic()
    faulted = role_runs.run()
    fired = {}
    for rule in aws.faults():
        fired[rule["kind"]] = fired.get(rule["kind"], 0) + rule["fired"]
    matched = aws.faults()[0]["matched"]
    aws.clear_faults()
    print("faulted run: rc {0} in {1:.0f} s; {2} requests, faults fired {3}".format(
        faulted.rc, time.monotonic() - started, matched, fired))
    # Every kind of fault really happened during the run, or the run proves nothing about it.
    assert all(fired[kind] > 0 for kind in ("drop", "error", "throttle")), fired

    summary = reports(report_dir)[-1]["summary"]
    if faulted.rc != 0:
        assert summary["status"] == "failed", summary
        failure = faulted.result(FAILED_TASK, host=HOST)["msg"]
        print("it stopped, naming: {0}".format(failure))
        check_failure_names_what_failed(aws, estate, summary["failure"], summary["destination_key_arn"])
        assert key_state(aws.client("kms"), estate.source_key_arn) == "Enabled"
    else:
        assert summary["status"] == "complete", summary

    rerun = role_runs.run()
    assert rerun.rc == 0, rerun
    destination = reports(report_dir)[-1]["summary"]["destination_key_arn"]
    assert ledger.problems(destination) == []
    assert key_state(aws.client("kms"), estate.source_key_arn) == "Disabled"
