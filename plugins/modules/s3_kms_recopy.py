#!/usr/bin/python
# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

DOCUMENTATION = r"""
---
module: s3_kms_recopy
short_description: Move every object and version of an S3 bucket to a new KMS key, losing nothing
version_added: 0.1.0
description:
  - Re-keys the SSE-KMS (and optionally SSE-S3) objects of O(bucket), under O(prefix), to O(destination_key_id),
    current and noncurrent versions alike, and points the bucket's default encryption at the key when it names a
    source key (see O(bucket_default_scope)).
  - The listing (C(ListObjectVersions), or C(ListObjectsV2) with O(versions=current)) is streamed page by page into a
    bounded pool of workers, so memory stays flat however large the bucket is. One C(HeadObject) per version tells
    its encryption; the key it reports is compared as a resolved key ARN.
  - With O(method=update), each version is re-keyed in place with C(UpdateObjectEncryption). No data moves. The ETag,
    dates, storage class, metadata, tags and checksums stay as they were, and no version is created.
  - With O(method=copy), the current version of each object is copied onto itself under the key (C(CopyObject), or
    multipart C(UploadPartCopy) above O(multipart_threshold)). The copy keeps user metadata, Content-Type,
    Content-Encoding, Content-Language, Content-Disposition, Cache-Control, Expires, the website redirect, the storage
    class (passed explicitly, since a copy would reset it), tags, ACL grants (read before and re-applied after, unless
    the bucket enforces C(BucketOwnerEnforced) ownership), the checksum algorithm and the Object Lock settings (a
    retention that still runs, a legal hold, and an event hold with its duration). A retention whose date has passed
    is not carried, since it holds nothing and S3 refuses a retain-until date in the past.
  - Copies are conditional on the listed ETag at both ends, the source read (C(x-amz-copy-source-if-match), each part
    of a multipart copy too) and the write (C(If-Match) on C(CopyObject) and C(CompleteMultipartUpload)). An object a
    writer changes during the run is never overwritten with stale bytes, nor buried under them as a noncurrent
    version. It is looked at again and, if it is still under a source key, copied again (up to three times); the
    version first listed counts as C(changed_during_run) where it stays behind.
  - In a bucket whose versioning is Suspended, a copy is written as the C(null) version and replaces the one there.
    A current version with a version id of its own is therefore copied only when the key has no C(null) version
    holding data (one C(HeadObject) of C(versionId=null) tells), and otherwise blocks as C(suspended_null_version).
  - A copy cannot re-key a noncurrent version in place. In a versioning-enabled bucket, the version a copy supersedes
    stays under the old key. Such versions are reported as blocking the old key's retirement, and are never deleted.
  - With O(method=auto), the module uses C(update) where the endpoint supports it and C(copy) otherwise, and returns
    which it used in RV(method_used). Support is never learnt by sending C(UpdateObjectEncryption) for a user's
    object, since some S3-compatible stores treat the unknown request as a plain PUT and would overwrite the object
    with the request body. The module sends one probe request for a key that cannot exist (C(<prefix>.kmsrotate-probe-<uuid>)).
    AWS answers C(NoSuchKey). An endpoint that answers with another error does not support it. An endpoint that
    answers success has created that probe object, and the module deletes that exact version and uses C(copy).
    O(method=update) sends the same probe and fails rather than fall back.
  - Versions that cannot be moved are reported per reason, never skipped silently (see RV(reasons)). RV(blocking)
    counts what, in the bucket, prefix and O(versions) scope, still depends on a source key after the run. The
    C(kmsrotate.aws.rotation) role refuses to retire the key while it is not zero.
  - Idempotent, and resumable by running it again. A version already under the destination key costs one
    C(HeadObject) and nothing else.
  - Throttling (C(SlowDown), bare 503 answers to HEAD, KMS C(ThrottlingException)) is retried with jittered backoff,
    and the pool shrinks while S3 throttles and grows back after.
  - The task fails when any version failed, after finishing all the others. The result then still carries every
    count.
  - With O(method=batch), S3 Batch Operations does the work server-side. One job per bucket and source key runs
    C(S3UpdateObjectEncryption) over a manifest S3 generates itself (C(S3JobManifestGenerator) filtered by the
    source key, and O(prefix)), so the module sends a few dozen requests whatever the bucket's size. A rerun finds
    its job again (by its Description, which carries a hash of account, bucket, prefix and keys) instead of starting
    another, and starts a new one only when the last ended C(Cancelled) or C(Failed). The completion report's failed
    tasks become RV(dependents) entries with the reasons of O(method=update) (C(locked), C(kms_key_unusable),
    C(rekey_failed), ...). AWS does not document that the generator lists noncurrent versions, so with
    O(versions=all) in a versioned bucket, once the job is C(Complete), the noncurrent versions are walked and
    re-keyed with C(UpdateObjectEncryption) as O(method=update) does. See docs/s3_batch.md.
author:
  - kmsrotate.aws maintainers (@kmsrotate)
options:
  bucket:
    description:
      - The bucket whose objects move.
    type: str
    required: true
  prefix:
    description:
      - Only objects whose key starts with this prefix are looked at.
    type: str
    default: ""
  include_sse_s3:
    description:
      - Also move objects encrypted with SSE-S3 (C(AES256)) to the key. They do not depend on a KMS key, so they never
        count as blocking.
    type: bool
    default: false
  versions:
    description:
      - V(all) looks at every version (C(ListObjectVersions)); V(current) only at current ones (C(ListObjectsV2)).
      - With V(current), noncurrent versions are outside the scope of RV(blocking). Use V(all) before retiring a key.
    type: str
    choices: [all, current]
    default: all
  method:
    description:
      - V(update) re-keys each version in place with C(UpdateObjectEncryption), V(copy) copies current versions onto
        themselves, V(auto) uses V(update) where the endpoint supports it and V(copy) otherwise.
      - V(batch) runs an S3 Batch Operations job per source key (needs O(batch_role_arn), O(batch_report_bucket) and
        O(source_key_ids)). V(auto) uses V(batch) when O(batch_role_arn) is given and the bucket's estimated
        versions reach O(batch_threshold_versions); without O(batch_role_arn) it never does.
    type: str
    choices: [auto, update, copy, batch]
    default: auto
  update_bucket_default:
    description:
      - Set the bucket's default encryption to the destination key (done first, so that objects written during the
        run are already under it), when it is in the scope of O(bucket_default_scope). Its Bucket Key setting is kept
        unless O(bucket_key_enabled) is given. A DSSE-KMS default stays DSSE-KMS.
      - When false and the default still names a source key, it counts as one in RV(blocking).
    type: bool
    default: true
  bucket_default_scope:
    description:
      - Which bucket default encryption O(update_bucket_default=true) points at the destination key.
      - V(source_keys) moves it only when it names a source key (one of O(source_key_ids), or any KMS key but the
        destination when O(source_key_ids) is empty). A default that is SSE-S3, not configured, or under another key
        is left as it is, and RV(bucket_default.reason) says why. Pointing it at the destination would make every
        writer without C(kms:GenerateDataKey) on that key fail.
      - V(any) moves it whatever it is, as this module did before this option existed.
      - No effect with O(update_bucket_default=false).
    type: str
    choices: [source_keys, any]
    default: source_keys
  bucket_key_enabled:
    description:
      - Whether re-keyed objects and the bucket default use an S3 Bucket Key.
      - When omitted, each object keeps its own setting and the bucket default keeps its own.
    type: bool
  concurrency:
    default: 32
  multipart_threshold:
    description:
      - Objects larger than this many bytes are copied with multipart C(UploadPartCopy) (copy method only).
      - S3 copies at most 5 GiB in one C(CopyObject); larger values are capped there.
    type: int
    default: 5368709120
  multipart_chunksize:
    description:
      - Part size in bytes for multipart copies. At least 5 MiB. Raised where an object would need more than 10,000
        parts.
    type: int
    default: 536870912
  report_file:
    description:
      - Write one JSON line per object version looked at (re-keyed, already current, skipped or failed, with the
        reason) to this file, replacing it.
    type: path
  sample_size:
    description:
      - How many per-version results to return in RV(objects). The full list goes to O(report_file).
    type: int
    default: 100
  batch_role_arn:
    description:
      - The IAM role S3 Batch Operations assumes to run the job (O(method=batch), or V(auto) above the threshold).
        Its trust policy must allow C(batchoperations.s3.amazonaws.com); docs/s3_batch.md has the JSON of its trust
        policy and permissions.
    type: str
  batch_report_bucket:
    description:
      - An existing bucket, in the bucket's region, where the job writes its generated manifest and its completion
        report (failed tasks only). Required with O(method=batch).
    type: str
  batch_report_prefix:
    description:
      - The key prefix of the manifest and the report in O(batch_report_bucket). The report of job C(ID) is under
        C(<prefix>/job-ID/).
    type: str
    default: kmsrotate-batch
  batch_priority:
    description:
      - The job's priority (S3 runs higher numbers first).
    type: int
    default: 10
  batch_wait:
    description:
      - V(true) waits (DescribeJob every O(batch_poll_interval) seconds) until the job ends and reads its report.
      - V(false) returns the job id and status at once. A later call with the same options follows the same job and,
        once it has ended, reads its report. Until then RV(blocking) counts the versions the job has not reached.
    type: bool
    default: true
  batch_poll_interval:
    description:
      - Seconds between two C(DescribeJob) calls while waiting.
    type: int
    default: 15
  batch_threshold_versions:
    description:
      - With O(method=auto) and O(batch_role_arn), the estimated number of object versions from which the bucket is
        re-keyed by a job. The estimate is the bucket's CloudWatch metric C(AWS/S3 NumberOfObjects) (C(StorageType
        AllStorageTypes), its latest daily datapoint), or, for a bucket without a datapoint yet or with O(prefix), a
        C(ListObjectVersions) listing capped at 10,000 versions.
    type: int
    default: 1000000
notes:
  - "Permissions: C(s3:ListBucketVersions) (or C(s3:ListBucket)), C(s3:GetObject), C(s3:GetObjectVersion),
    C(s3:GetEncryptionConfiguration), C(s3:PutEncryptionConfiguration), C(s3:GetBucketVersioning), C(kms:DescribeKey);
    for V(update) C(s3:UpdateObjectEncryption) and C(s3:PutObject) (AWS asks for both); for V(copy) C(s3:PutObject), C(s3:GetObjectTagging),
    C(s3:PutObjectTagging), C(s3:GetObjectAcl), C(s3:PutObjectAcl), C(s3:PutObjectVersionAcl) (grants go back on
    the copy's own version), C(s3:GetBucketOwnershipControls); in a bucket with
    Object Lock, C(s3:GetObjectRetention) and C(s3:GetObjectLegalHold) (without them C(HeadObject) hides the locks,
    and a copy could not carry them); and C(kms:Decrypt) on the source keys and
    C(kms:GenerateDataKey)/C(kms:Encrypt)/C(kms:ReEncrypt*) on the destination for S3 to use them. The module itself
    never calls KMS Decrypt or GenerateDataKey."
  - "Requests per object version to move: V(update) one C(HeadObject) and one C(UpdateObjectEncryption); V(copy)
    one C(HeadObject) and one C(CopyObject), plus one C(GetObjectAcl) when the bucket has ACLs enabled and one
    C(PutObjectAcl) for an object with grants beyond its owner (so 2, 3 or 4), plus one C(HeadObject) of the
    C(null) version in a bucket whose versioning is Suspended. A multipart copy replaces the C(CopyObject) with
    C(CreateMultipartUpload), one C(UploadPartCopy) per part and C(CompleteMultipartUpload) (and
    C(GetObjectTagging) for a tagged object). A version already under the key costs one C(HeadObject); an SSE-C
    version one C(HeadObject) and a one-byte C(GetObject)."
  - "Reasons reported: C(sse_c) (customer-provided keys: S3 cannot re-key them), C(dsse_kms) (dual-layer; neither
    method converts it), C(archived) (GLACIER/DEEP_ARCHIVE or Intelligent-Tiering archive tiers on the copy path;
    restore first), C(locked) (retention, legal hold or event hold on the update path), C(noncurrent_copy) (a
    noncurrent version the copy method cannot re-key), C(superseded_by_copy) (the old version a copy left behind),
    C(suspended_null_version) (a copy would replace an older C(null) version in a Suspended bucket),
    C(conditional_write_unsupported) (the endpoint refused the copy's C(If-Match)), C(access_denied),
    C(head_unreadable) (C(HeadObject) answered a bare 400 that a one-byte C(GetObject) did not confirm as SSE-C),
    C(changed_during_run), C(deleted_during_run), C(other_key), C(sse_s3), C(unencrypted), C(bucket_default)."
  - C(access_denied) and C(head_unreadable) on C(HeadObject) count as blocking, since the version's key is unknown.
  - In check mode nothing is written. The only request that is not a read is the O(method=auto)/O(method=update)
    probe, which names a key that cannot exist. On AWS it changes nothing; on an endpoint that treats it as a PUT,
    the object it creates is deleted at once. The counts then say what would happen, and RV(blocking) what would be
    left.
  - Supports check mode and diff mode. The diff shows the bucket default encryption before and after.
  - "With O(method=batch), check mode creates no job (a job waiting for confirmation is still a job): it reports
    an estimate of the bucket's versions, says it is one (RV(batch_job.estimated)), and follows, without waiting,
    a job an earlier run started."
  - "With O(method=batch), the caller needs C(s3:CreateJob), C(s3:DescribeJob), C(s3:ListJobs), C(iam:PassRole) on
    O(batch_role_arn), C(sts:GetCallerIdentity), C(s3:GetObject) on the report, C(s3:ListBucket) on the report
    bucket and, for the estimate, C(cloudwatch:GetMetricStatistics) (docs/s3_batch.md)."
extends_documentation_fragment:
  - kmsrotate.aws.rekey
  - kmsrotate.aws.concurrency
  - kmsrotate.aws.progress
  - amazon.aws.common.modules
  - amazon.aws.region.modules
  - amazon.aws.boto3
"""

EXAMPLES = r"""
- name: Move every version of a bucket to the new key, in place (UpdateObjectEncryption where available)
  kmsrotate.aws.s3_kms_recopy:
    bucket: billing-archive
    destination_key_id: alias/billing-2025
    source_key_ids:
      - alias/billing-2024
    report_file: /var/log/kms-rotation/billing-archive.jsonl
  register: recopy

- name: Refuse to go on while anything still needs the old key
  ansible.builtin.assert:
    that: recopy.blocking == 0
    fail_msg: "{{ recopy.blocking }} object version(s) still need the old key: {{ recopy.reasons.blocking }}"

- name: Force the UpdateObjectEncryption method, with S3 Bucket Keys
  kmsrotate.aws.s3_kms_recopy:
    bucket: billing-archive
    destination_key_id: arn:aws:kms:us-east-1:111122223333:key/9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
    method: update
    bucket_key_enabled: true

- name: Copy current objects under a prefix (an S3-compatible store without UpdateObjectEncryption)
  kmsrotate.aws.s3_kms_recopy:
    bucket: media
    prefix: uploads/
    destination_key_id: alias/media
    method: copy
    versions: current
    include_sse_s3: true
    multipart_threshold: 268435456
    multipart_chunksize: 67108864
    concurrency: 64

- name: Show the plan and the bucket default change, changing nothing
  kmsrotate.aws.s3_kms_recopy:
    bucket: billing-archive
    destination_key_id: alias/billing-2025
  check_mode: true
  diff: true
"""

RETURN = r"""
bucket:
  description: The bucket.
  returned: always
  type: str
  sample: billing-archive
prefix:
  description: The prefix looked at.
  returned: always
  type: str
  sample: ""
versions:
  description: The O(versions) scope.
  returned: always
  type: str
  sample: all
versioning:
  description: The bucket's versioning status (C(Enabled), C(Suspended) or C(Unversioned)).
  returned: always
  type: str
  sample: Enabled
method:
  description: The O(method) asked for.
  returned: always
  type: str
  sample: auto
method_used:
  description: The method used for this bucket, C(update), C(copy) or C(batch).
  returned: always
  type: str
  sample: update
method_probe:
  description: What the support probe found (or that none was sent).
  returned: always
  type: str
  sample: "UpdateObjectEncryption answered NoSuchKey for the probe key .kmsrotate-probe-5f0c...: supported"
destination_key_arn:
  description: The destination key ARN.
  returned: always
  type: str
  sample: arn:aws:kms:us-east-1:111122223333:key/9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
kms_key_id:
  description: Deprecated alias of RV(destination_key_arn), kept for existing playbooks.
  returned: always
  type: str
  sample: arn:aws:kms:us-east-1:111122223333:key/9772c95e-c9c5-43fb-bfcd-f8c4678f9e49
source_key_arns:
  description: The resolved ARNs of O(source_key_ids) (empty when every key but the destination is a source).
  returned: always
  type: list
  elements: str
source_kms_key_ids:
  description: Deprecated alias of RV(source_key_arns), kept for existing playbooks.
  returned: always
  type: list
  elements: str
bucket_default:
  description: The bucket's default encryption before and after the task (after = as it would be, in check mode).
  returned: always
  type: dict
  contains:
    changed:
      description: Whether it was (or would be) changed.
      type: bool
    before:
      description: C(sse_algorithm), C(kms_key_id) and C(bucket_key_enabled), or null when there was none.
      type: dict
    after:
      description: The same fields after the task.
      type: dict
    in_scope:
      description: Whether the default named a source key (see O(bucket_default_scope)).
      type: bool
    reason:
      description: Why the default was left as it is, or null when it was moved or already named the destination key.
      type: str
      sample: "the bucket default encryption is AES256, under no KMS key: left as it is (bucket_default_scope: any
        moves it)"
counts:
  description: Object versions per outcome. C(failed) is here only, since Ansible reserves a top-level C(failed).
  returned: always
  type: dict
  contains:
    scanned:
      description: Object versions listed and looked at.
      type: int
    rekeyed:
      description: Versions moved to the destination key (or that would be, in check mode).
      type: int
    already_current:
      description: Versions already under the destination key.
      type: int
    skipped:
      description: Versions left alone, with their reasons in RV(reasons.skipped).
      type: int
    blocking:
      description: What still depends on a source key after the task, by reason in RV(reasons.blocking).
      type: int
    failed:
      description: Versions that could not be moved because of an error, by reason in RV(reasons.failed).
      type: int
  sample: {"scanned": 1200, "rekeyed": 1180, "already_current": 12, "skipped": 8, "blocking": 2, "failed": 0}
scanned:
  description: Same as RV(counts.scanned).
  returned: always
  type: int
rekeyed:
  description: Same as RV(counts.rekeyed).
  returned: always
  type: int
already_current:
  description: Same as RV(counts.already_current).
  returned: always
  type: int
skipped:
  description: Same as RV(counts.skipped).
  returned: always
  type: int
blocking:
  description: Same as RV(counts.blocking). The rotation role's retirement gate reads it.
  returned: always
  type: int
reasons:
  description: Counts per reason for skipped, blocking and failed versions (the reasons are listed in the notes).
  returned: always
  type: dict
  contains:
    skipped:
      description: Skipped versions per reason.
      type: dict
    blocking:
      description: What blocks the source key's retirement, per reason.
      type: dict
    failed:
      description: Failed versions per reason.
      type: dict
  sample: {"skipped": {"sse_c": 1, "locked": 1}, "blocking": {"locked": 1}, "failed": {}}
dependents:
  description:
    - What in the bucket still depends on a KMS key after the task, grouped per kind, reason and key (one entry
      stands for C(count) object versions, never one entry per version).
    - C(blocking) and C(unknown) entries are what RV(counts.blocking) counts; their counts add up to it. C(unknown)
      holds versions whose encryption could not be read or whose request failed for an unknown cause
      (C(access_denied), C(head_failed), C(head_unreadable), C(internal_error)), so their key is not known.
    - In check mode, C(to_move) entries hold the versions a run would re-key, and the bucket default encryption a
      run would point at the destination key.
  returned: always
  type: list
  elements: dict
  contains:
    resource:
      description: The bucket, as C(s3://<bucket>).
      type: str
    service:
      description: Always C(s3).
      type: str
    kind:
      description: C(to_move), C(blocking) or C(unknown).
      type: str
    code:
      description: The reason, as in RV(reasons) (C(locked), C(superseded_by_copy), C(bucket_default), ...), or
        C(rekeyed) for a planned re-key.
      type: str
    reason:
      description: The reason in words, with what to do about it.
      type: str
    key_arn:
      description: The key the versions (or the bucket default) are under; null where it is not known.
      type: str
    count:
      description: How many object versions (or 1 for the bucket default) the entry stands for.
      type: int
    examples:
      description: Up to five of those versions, as C(key) or C(key?versionId=...).
      type: list
      elements: str
  sample:
    - resource: s3://billing-archive
      service: s3
      kind: blocking
      code: locked
      reason: "2 object versions under Object Lock (retention or legal hold) cannot be re-keyed until the lock ends"
      key_arn: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
      count: 2
      examples: ["legal/2019.pdf?versionId=3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY", "legal/2020.pdf?versionId=null"]
bytes_copied:
  description: Bytes S3 copied (zero with the update method).
  returned: always
  type: int
requests:
  description: HTTP requests sent per operation, every attempt including retries.
  returned: always
  type: dict
  sample: {"ListObjectVersions": 2, "HeadObject": 1200, "UpdateObjectEncryption": 1181, "DescribeKey": 2}
throttling:
  description: How throttling affected the run.
  returned: always
  type: dict
  contains:
    throttle_events:
      description: Throttled requests, each retried.
      type: int
    concurrency:
      description: The configured O(concurrency).
      type: int
    lowest_concurrency:
      description: The lowest concurrency the module fell back to.
      type: int
duration_seconds:
  description: Wall time of the task.
  returned: always
  type: float
objects_per_second:
  description: Object versions looked at per second.
  returned: always
  type: float
objects:
  description:
    - The first O(sample_size) per-version results (all of them are in O(report_file)).
    - C(source_key_arn) is the key the version was under; C(from_kms_key_id) is its deprecated alias, kept for
      existing playbooks.
  returned: always
  type: list
  elements: dict
  sample:
    - key: invoices/2024/01.pdf
      version_id: 3HL4kqtJlcpXroDTDmJ+rmSpXd3dIbrHY
      is_latest: true
      action: rekeyed
      reason: null
      source_key_arn: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
      from_kms_key_id: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
      blocking: false
      bytes_copied: 0
report_file:
  description: The O(report_file) written, if any.
  returned: always
  type: str
check_mode:
  description: Whether this was a check-mode plan.
  returned: always
  type: bool
batch_job:
  description:
    - The Batch Operations job of this run, when it used O(method=batch) with one source key (null with several,
      whose jobs are in RV(batch_jobs)).
  returned: when RV(method_used) is C(batch)
  type: dict
  contains:
    job_id:
      description: The job id; null in check mode when no job exists yet.
      type: str
    status:
      description: The job's status (C(New), C(Preparing), C(Active), C(Complete), C(Failed), C(Cancelled), ...).
      type: str
    client_request_token:
      description: The job's client request token (a hash of account, bucket, prefix and keys, then the attempt).
      type: str
    attempt:
      description: How many jobs were started for this bucket and key, this one included.
      type: int
    created:
      description: Whether this run created the job.
      type: bool
    source_key_arn:
      description: The key whose objects the job moves.
      type: str
    tasks_total:
      description: The job's tasks (object versions in its manifest); in check mode, the estimate.
      type: int
    tasks_succeeded:
      description: Tasks that succeeded.
      type: int
    tasks_failed:
      description: Tasks that failed, each in RV(dependents).
      type: int
    report_location:
      description: Where the completion report is (C(s3://bucket/prefix/job-ID/)).
      type: str
    manifest_location:
      description: The manifest S3 generated and saved, once it is prepared.
      type: str
    failure_reasons:
      description: The job's failure reasons, when it failed.
      type: list
      elements: str
    estimated:
      description: True in check mode when no job exists, so the counts are an estimate, not a count.
      type: bool
    estimate:
      description: What the estimate is made of (only when RV(batch_job.estimated)).
      type: str
  sample:
    job_id: 93735294-df46-44d5-8638-6356f335324e
    status: Complete
    client_request_token: 2f3c7a0d1e9b4c8a6f5e4d3c2b1a09f8e7d6c5b4a3921807-1
    attempt: 1
    created: true
    source_key_arn: arn:aws:kms:us-east-1:111122223333:key/ee740549-6491-47b0-810d-1365b9b52792
    tasks_total: 1200000
    tasks_succeeded: 1199998
    tasks_failed: 2
    report_location: s3://rotation-reports/kmsrotate-batch/job-93735294-df46-44d5-8638-6356f335324e/
    manifest_location: s3://rotation-reports/kmsrotate-batch/93735294-df46-44d5-8638-6356f335324e/manifest.json
    failure_reasons: []
    estimated: false
batch_jobs:
  description: One RV(batch_job) per source key.
  returned: when RV(method_used) is C(batch)
  type: list
  elements: dict
"""

from ansible_collections.amazon.aws.plugins.module_utils.modules import AnsibleAWSModule

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.runner import run_module
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.recopy import BucketRecopy


def main():
    argument_spec = dict(
        bucket=dict(type="str", required=True),
        prefix=dict(type="str", default=""),
        destination_key_id=dict(type="str", required=True),
        source_key_ids=dict(type="list", elements="str", default=[], no_log=False),
        include_sse_s3=dict(type="bool", default=False),
        versions=dict(type="str", choices=["all", "current"], default="all"),
        method=dict(type="str", choices=["auto", "update", "copy", "batch"], default="auto"),
        update_bucket_default=dict(type="bool", default=True),
        bucket_default_scope=dict(type="str", choices=["source_keys", "any"], default="source_keys"),
        bucket_key_enabled=dict(type="bool"),
        concurrency=dict(type="int", default=32),
        multipart_threshold=dict(type="int", default=5 * 1024 ** 3),
        multipart_chunksize=dict(type="int", default=512 * 1024 ** 2),
        report_file=dict(type="path"),
        sample_size=dict(type="int", default=100),
        progress_file=dict(type="path"),
        batch_role_arn=dict(type="str"),
        batch_report_bucket=dict(type="str"),
        batch_report_prefix=dict(type="str", default="kmsrotate-batch"),
        batch_priority=dict(type="int", default=10),
        batch_wait=dict(type="bool", default=True),
        batch_poll_interval=dict(type="int", default=15),
        batch_threshold_versions=dict(type="int", default=1000000),
    )
    module = AnsibleAWSModule(argument_spec=argument_spec, supports_check_mode=True)
    run_module(module, BucketRecopy)


if __name__ == "__main__":
    main()
