# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""How the retirement gate (kms_key_usage_info) looks at a target bucket: a scan, or the residue proof.

`s3_verify`: `scan` reads every version (at most retirement_scan_limit);
`batch` uses the residue proof (residue.py); `auto` uses it when a
batch_role_arn and a batch_report_bucket are given and the bucket's
estimated versions (estimate.py) reach batch_threshold_versions, and scans
otherwise. Check mode creates no job, so a proof there is None (the gate
then reports the bucket unknown).
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.estimate import estimate_versions
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job import POLL_INTERVAL, Jobs
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.residue import prove_residue

SCAN = "scan"
BATCH = "batch"
AUTO = "auto"
# The gate's options for the proof, with their defaults (the same as s3_kms_recopy's).
GATE_FIELDS = {
    "s3_verify": AUTO,
    "batch_role_arn": None,
    "batch_report_bucket": None,
    "batch_report_prefix": "kmsrotate-batch",
    "batch_priority": 10,
    "batch_threshold_versions": 1000000,
    "batch_poll_interval": POLL_INTERVAL,
}
GATE_RANGES = {"batch_priority": (0, 2147483647, "S3 Batch Operations"), "batch_poll_interval": (1, None),
               "batch_threshold_versions": (1, None)}


class BucketVerify(object):
    """The gate's choice per bucket, and the proof when it is chosen."""

    def __init__(self, clients, spec, check_mode):
        self._clients = clients
        self._spec = spec
        self._check_mode = check_mode

    def check_options(self):
        """Refuse s3_verify batch without what a proof job needs, before anything is read."""
        spec = self._spec
        missing = [name for name in ("batch_role_arn", "batch_report_bucket") if not getattr(spec, name)]
        if spec.s3_verify == BATCH and missing:
            raise RotationError("s3_verify batch needs {0}.".format(" and ".join(missing)),
                                fix="give batch_role_arn and batch_report_bucket (docs/s3_batch.md), or set "
                                    "s3_verify to scan or auto")

    def wants_proof(self, ctx, bucket):
        spec = self._spec
        if spec.s3_verify == SCAN or not (spec.batch_role_arn and spec.batch_report_bucket):
            return spec.s3_verify == BATCH
        if spec.s3_verify == BATCH:
            return True
        estimate = estimate_versions(ctx.client("cloudwatch"), ctx.client("s3"), bucket, "")
        return estimate.versions >= spec.batch_threshold_versions

    @staticmethod
    def versioning(ctx, bucket):
        return ctx.client("s3").get_bucket_versioning(Bucket=bucket, aws_retry=True).get("Status") or "Unversioned"

    def prover(self, ctx, bucket, versioning):
        """prove() -> the bucket's ResidueProof under ctx's key, or None in check mode."""
        spec = self._spec

        def prove():
            if self._check_mode:
                return None
            account = self._clients.account_id()
            jobs = Jobs(ctx.client("s3control"), account, "s3://" + bucket)
            options = {"role_arn": spec.batch_role_arn, "report_bucket": spec.batch_report_bucket,
                       "report_prefix": spec.batch_report_prefix, "priority": spec.batch_priority}
            return prove_residue(jobs, account, bucket, "", ctx.key_arn, options, versioning,
                                 interval=spec.batch_poll_interval)
        return prove
