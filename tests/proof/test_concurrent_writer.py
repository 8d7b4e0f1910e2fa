"""A writer keeps writing into the bucket while the S3 phase re-keys it: no write is lost, none goes unaccounted.

The writer starts when the S3 task starts and stops once the phase has
recorded its bucket. It writes new objects and new versions of existing
ones, a third each under the bucket default, under the alias (which the key
phase moved to the destination key) and under the source key's ARN (an
application that never moved). Afterwards:

- every version it wrote, and every version of the ledger, still exists with its bytes, and each key it wrote
  shows its last write as its current content (a stale copy landing on top would bury it);
- each version the S3 job could have seen (recorded before the run, or
  written before the job's last listing request reached the endpoint) that is
  not under the destination key is counted in that bucket's S3 result as a
  dependent holding the source key (blocking or unknown), so the retirement
  gate holds the key back.

Versions written after the job's last listing request cannot be known to the
job; the verify phase's fresh look finds them (the gate then refuses too).

`copy` is where a writer races the job: a copy is conditional on the listed
ETag, and a version the writer replaced must be re-checked. `update`
re-keys each version in place by its id; the large size runs it too, then a
rerun without the writer, which must converge.
"""

import hashlib
import threading
import time

import pytest

from .estate import ALIAS
from .harness import POLL_SECONDS, key_state, reports
from .ledger import list_versions, read_version

S3_STARTS = "S3 | start re-keying a bucket"
S3_RECORDED = "S3 | record the bucket"
LISTING = "s3:ListObjectVersions"
HOLDING_KINDS = ("blocking", "unknown")
# Per request of the re-key job, so that the phase lasts long enough for the writer to overlap it.
SLOW_MS = 100
# Between two writes: a few hundred writes keep the bucket's listing to one page.
WRITE_PAUSE = 0.05


class Writer(threading.Thread):
    def __init__(self, s3, bucket, existing_keys, source_arn):
        super().__init__(daemon=True)
        self.s3 = s3
        self.bucket = bucket
        self.existing_keys = existing_keys
        self.encryptions = ({}, {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": ALIAS},
                            {"ServerSideEncryption": "aws:kms", "SSEKMSKeyId": source_arn})
        self.stop = threading.Event()
        self.written = []  # (key, version id, sha256 of the body, monotonic time the write was acknowledged)
        self.errors = []

    def run(self):
        number = 0
        while not self.stop.wait(WRITE_PAUSE):
            if number % 2:
                key = self.existing_keys[number // 2 % len(self.existing_keys)]
            else:
                key = "incoming/{0:05d}.dat".format(number)
            body = "written while re-keying: {0} #{1}\n".format(key, number).encode()
            try:
                answer = self.s3.put_object(Bucket=self.bucket, Key=key, Body=body,
                                            **self.encryptions[number % len(self.encryptions)])
                self.written.append((key, answer["VersionId"], hashlib.sha256(body).hexdigest(), time.monotonic()))
            except Exception as exc:  # noqa: BLE001  # pylint: disable=broad-exception-caught  # reported, never retried
                self.errors.append("{0}: {1}".format(key, exc))
            number += 1


def _write_during_the_s3_phase(aws, run, writer):
    """Run the writer through the S3 phase; the latest time before which the job's last listing had not begun."""
    while run.alive() and not run.saw(S3_STARTS):
        time.sleep(POLL_SECONDS)
    writer.start()
    previous = time.monotonic()
    listings, last_listing = aws.stats().get(LISTING, 0), None
    while run.alive() and not run.saw(S3_RECORDED):
        asked = time.monotonic()
        count = aws.stats().get(LISTING, 0)
        if count > listings:
            # The request arrived after the previous poll was answered, so after `previous`.
            listings, last_listing = count, previous
        previous = asked
        time.sleep(POLL_SECONDS)
    writer.stop.set()
    writer.join(30)
    return last_listing


def _holding(record, source_arn):
    return sum(entry["count"] for entry in record["dependents"]
               if entry["kind"] in HOLDING_KINDS and entry["key_arn"] == source_arn)


@pytest.mark.parametrize("s3_method", ["copy", pytest.param("update", marks=pytest.mark.proof_large)])
def test_writes_during_the_s3_phase_are_kept_and_accounted_for(aws, estate, ledger, role_runs, report_dir, s3_method):
    bucket = estate.buckets[0]
    source = estate.source_key_arn
    s3 = aws.client("s3")
    existing = sorted(set(key for name, key, _version in ledger.versions if name == bucket))
    writer = Writer(s3, bucket, existing, source)
    aws.set_faults([{"kind": "latency", "service": "s3", "action": action, "ms": SLOW_MS}
                    for action in ("HeadObject", "UpdateObjectEncryption", "CopyObject")])
    run = role_runs.start()
    last_listing = _write_during_the_s3_phase(aws, run, writer)
    aws.clear_faults()
    first = run.finish()
    assert not writer.errors, writer.errors
    assert last_listing is not None, "the S3 job made no listing request while the writer ran\n{0!r}".format(first)

    lost = [entry for entry in writer.written if (read_version(s3, bucket, entry[0], entry[1]) or {}).get("sha256")
            != entry[2]]
    assert lost == [] and ledger.lost() == [], (lost, ledger.lost())
    last_write = dict((key, sha) for key, _version, sha, _done in writer.written)
    current = dict((key, version_id) for (key, version_id), latest in list_versions(s3, bucket)[0].items() if latest)
    buried = sorted(key for key, sha in last_write.items()
                    if key not in current or read_version(s3, bucket, key, current[key])["sha256"] != sha)
    assert buried == [], "keys whose current content is not their last write: {0}".format(buried)

    record = reports(report_dir)[-1]["phases"]["s3"][bucket]
    destination = record["destination_key_arn"]
    written_before = set((key, version_id) for key, version_id, _sha, done in writer.written if done < last_listing)
    seen = written_before | set((key, version_id) for name, key, version_id in ledger.versions if name == bucket)
    not_moved = set(version for version in list_versions(s3, bucket)[0]
                    if s3.head_object(Bucket=bucket, Key=version[0], VersionId=version[1]).get("SSEKMSKeyId")
                    != destination)
    left = sorted("{0}?versionId={1}".format(key, version_id) for key, version_id in not_moved & seen)
    print("method {0}: {1} writes ({2} before the job's last listing), {3} versions it could see left under the source "
          "key, {4} counted as holding it; run rc {5}".format(
              s3_method, len(writer.written), len(written_before), len(left), _holding(record, source),
              first.rc))
    assert len(writer.written) >= 10, "the writer overlapped the phase with only {0} writes".format(len(writer.written))
    assert len(left) <= _holding(record, source), (
        "{0} version(s) the S3 job could see are still under the source key, {1} counted as holding it:\n{2}\n"
        "dependents: {3}".format(len(left), _holding(record, source), "\n".join(left), record["dependents"]))
    if not_moved:
        # What is still under the source key holds the key: the gate refused to retire it.
        assert first.rc != 0 and key_state(aws.client("kms"), source) == "Enabled", first

    if s3_method == "update":
        second = role_runs.run()
        assert second.rc == 0, second
        written = set((bucket, key, version_id) for key, version_id, _sha, _done in writer.written)
        assert ledger.problems(destination, written=written) == []
        for key, version_id, fingerprint, _done in writer.written:
            now = read_version(s3, bucket, key, version_id)
            assert (now["sha256"], now["kms_key"]) == (fingerprint, destination), (key, version_id, now)
        assert key_state(aws.client("kms"), source) == "Disabled"
