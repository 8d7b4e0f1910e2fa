# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""The residue proof: how many object versions S3 itself still finds under a key, with no operation run.

A job is created with ConfirmationRequired: S3 prepares its manifest (the
generator lists what matches the filter: SSE-KMS under the key, and the
prefix) and stops in Suspended, before any task, waiting for a confirmation
that never comes: the job is then cancelled (UpdateJobStatus Cancelled). Its
TotalNumberOfTasks is the count, and its saved manifest (EnableManifestOutput)
names the versions. The operation the job would run is S3UpdateObjectEncryption
to the very key it looks for, so even a confirmation given by mistake would
change no key.

Each proof is a new look (a fresh job, token attempt n+1): a proof is only
worth what it saw at its time. A proof left Suspended by a killed run is
cancelled by the next one. Fail closed: the generator may list current
versions only (AWS does not document noncurrent ones), so in a bucket whose
versioning is or was enabled a proof says nothing of noncurrent versions:
`covers_noncurrent` is False there and the caller keeps them `unknown`
unless a scan looked at them.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job import AWAITING_CONFIRMATION, TERMINAL
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import RESIDUE_DESCRIPTION
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import create_job_request, job_base
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError

CANCEL_REASON = "kmsrotate.aws residue proof: manifest read, no task to run"


class ResidueProof(object):
    """count: versions S3 lists under the key; covers_noncurrent: whether noncurrent versions are in that count."""

    __slots__ = ("bucket", "key_arn", "count", "job_id", "manifest_location", "covers_noncurrent")

    def __init__(self, bucket, key_arn, count, job_id, manifest_location, covers_noncurrent):
        self.bucket = bucket
        self.key_arn = key_arn
        self.count = count
        self.job_id = job_id
        self.manifest_location = manifest_location
        self.covers_noncurrent = covers_noncurrent

    def as_dict(self):
        return dict((name, getattr(self, name)) for name in self.__slots__)


def prove_residue(jobs, account, bucket, prefix, key_arn, options, versioning, interval):
    """A ResidueProof for bucket/prefix under key_arn; jobs: a job.Jobs; options as create_job_request takes."""
    base = job_base(account, bucket, prefix, key_arn, key_arn, manifest="residue")
    attempts = jobs.attempts(RESIDUE_DESCRIPTION, base)
    for job_id in attempts.values():
        # A proof a killed run left waiting: its look is old, and it holds a job slot.
        if jobs.describe(job_id).status not in TERMINAL:
            jobs.cancel(job_id, CANCEL_REASON)
    attempt = max(attempts, default=0) + 1
    target = {"bucket": bucket, "prefix": prefix, "source_arn": key_arn, "operation_key_arn": key_arn}
    job_id = jobs.create(create_job_request(RESIDUE_DESCRIPTION, base, attempt, account, target, options,
                                            confirmation_required=True))
    state = jobs.wait(job_id, lambda seen: seen.status == AWAITING_CONFIRMATION, interval=interval)
    if state.status != AWAITING_CONFIRMATION:
        raise RotationError("The residue proof job {0} ended {1} before its manifest was read ({2}).".format(
            job_id, state.status, "; ".join(state.failure_reasons) or state.status_reason or "no reason given"),
            resource="s3://" + bucket,
            fix="check the batch role's permissions (s3:ListBucket, s3:GetObject on the bucket, s3:PutObject on "
                "the report bucket: docs/s3_batch.md), then run the task again")
    jobs.cancel(job_id, CANCEL_REASON)
    return ResidueProof(bucket, key_arn, state.total, job_id, state.manifest_location,
                        covers_noncurrent=versioning == "Unversioned")
