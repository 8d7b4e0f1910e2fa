# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""s3_kms_recopy `method: batch`: one Batch Operations job per bucket and source key, found again on every run.

The flow, for each source key (BatchRekey):
1. preflight(), before any change: the options a job needs, and the report bucket (HeadBucket);
2. start(): ListJobs finds the jobs of this job's base (job_request); none, or the last one ended Cancelled or
   Failed: CreateJob starts attempt n+1 (refused requests fail here, still before any change); otherwise the
   last job is followed. Check mode creates nothing and estimates (estimate.py);
3. finish(tally, engine): with batch_wait, DescribeJob until the job ends; then the completion report's failed
   tasks become outcomes through the walking engine's own classification (locked, kms_key_unusable,
   rekey_failed, ...), so a cause is named as with the other methods. A job still running, or one that ended
   without doing its work, is an `unknown` dependent: the bucket is never reported done while versions may
   be left under the source key.
"""

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.dependents import TO_MOVE, UNKNOWN, bucket_resource
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import NOT_FOUND, ClientError
from ansible_collections.kmsrotate.aws.plugins.module_utils._common.errors import RotationError, is_error
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.completion_report import read_report
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.estimate import estimate_versions
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job import REPLACEABLE, Jobs
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import RECOPY_DESCRIPTION
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import client_request_token
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import create_job_request, job_base
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.batch.job_request import report_location
from ansible_collections.kmsrotate.aws.plugins.module_utils._s3.listing import ListedVersion

BATCH = "batch"
# Dependents codes of this method (the walking engine's reason table has their words).
IN_PROGRESS = "batch_in_progress"
ENDED_UNDONE = "batch_ended"
REPORT_INCOMPLETE = "batch_report_incomplete"
ESTIMATED = "batch_estimate"


def wants_batch(spec, estimate):
    """Whether this run uses a job: method batch, or auto with a role and an estimate at the threshold."""
    if spec.method == BATCH:
        return True
    return spec.method == "auto" and bool(spec.batch_role_arn) and estimate is not None and \
        estimate.versions >= spec.batch_threshold_versions


def estimate_bucket(clients, spec):
    return estimate_versions(clients("cloudwatch"), clients("s3"), spec.bucket, spec.prefix)


def _report_progress(progress, state):
    """A job's task counts in the progress file (tasks done of the total S3 counted in its manifest)."""
    progress.update(state.succeeded + state.failed, {"tasks_succeeded": state.succeeded,
                                                     "tasks_failed": state.failed, "tasks_total": state.total},
                    total=state.total or None)


class _Job(object):
    """One source key's job during a run."""

    def __init__(self, source_arn, base, attempt, job_id, created):
        self.source_arn = source_arn
        self.base = base
        self.attempt = attempt
        self.job_id = job_id
        self.created = created
        # Whether this run saw the job before it ended (its successes are re-keyed by this run).
        self.seen_running = created
        self.state = None


class BatchRekey(object):
    """The jobs of one s3_kms_recopy run."""

    def __init__(self, clients, spec, scope, check_mode, estimate=None):
        self._clients = clients
        self._spec = spec
        self._scope = scope
        self._check_mode = check_mode
        self._estimate = estimate
        self._resource = bucket_resource(spec.bucket)
        self._jobs = None
        self._account = None
        self._started = []

    def _options(self):
        spec = self._spec
        return {"role_arn": spec.batch_role_arn, "report_bucket": spec.batch_report_bucket,
                "report_prefix": spec.batch_report_prefix, "priority": spec.batch_priority}

    def preflight(self):
        """Refuse, before any change, what no job can do."""
        spec = self._spec
        missing = [name for name in ("batch_role_arn", "batch_report_bucket") if not getattr(spec, name)]
        if missing:
            raise RotationError("method batch needs {0}.".format(" and ".join(missing)), resource=self._resource,
                                fix="give batch_role_arn (a role S3 Batch Operations assumes: docs/s3_batch.md) and "
                                    "batch_report_bucket (an existing bucket for the job's manifest and report)")
        if not self._scope.sources:
            raise RotationError("method batch needs source_key_ids: a job selects objects by the key they are under, "
                                "and cannot express \"every key but the destination\".", resource=self._resource,
                                fix="name the old key(s) in source_key_ids")
        if spec.include_sse_s3:
            raise RotationError("method batch does not move SSE-S3 objects (include_sse_s3).", resource=self._resource,
                                fix="run without include_sse_s3, or with method update for the SSE-S3 objects")
        try:
            self._clients("s3").head_bucket(Bucket=spec.batch_report_bucket, aws_retry=True)
        except ClientError as exc:
            if is_error(exc, NOT_FOUND):
                raise RotationError("The report bucket {0} does not exist.".format(spec.batch_report_bucket),
                                    resource="s3://" + spec.batch_report_bucket,
                                    fix="create it (in the bucket's region) or name an existing one in "
                                        "batch_report_bucket") from None
            raise
        self._account = self._clients.account_id()
        self._jobs = Jobs(self._clients("s3control"), self._account, self._resource)

    def start(self):
        """Find each source key's job, or create it (not in check mode); refused requests raise RotationError."""
        for source_arn in sorted(self._scope.sources):
            base = job_base(self._account, self._spec.bucket, self._spec.prefix, source_arn,
                            self._scope.destination.arn)
            attempts = self._jobs.attempts(RECOPY_DESCRIPTION, base)
            attempt = max(attempts, default=0)
            job = _Job(source_arn, base, attempt, attempts.get(attempt), created=False)
            if job.job_id is not None:
                job.state = self._jobs.describe(job.job_id)
            if (job.job_id is None or job.state.status in REPLACEABLE) and not self._check_mode:
                job.attempt += 1
                job.job_id = self._jobs.create(self._request(job))
                job.created = job.seen_running = True
                job.state = None
            elif job.state is not None and not job.state.ended:
                job.seen_running = True
            self._started.append(job)

    def _request(self, job):
        target = {"bucket": self._spec.bucket, "prefix": self._spec.prefix, "source_arn": job.source_arn,
                  "operation_key_arn": self._scope.destination.arn,
                  "bucket_key_enabled": self._spec.bucket_key_enabled}
        return create_job_request(RECOPY_DESCRIPTION, job.base, job.attempt, self._account, target, self._options())

    @property
    def created_any(self):
        return any(job.created for job in self._started)

    def finish(self, tally, engine, progress):
        """Follow each job and count what it did into tally; engine: the BucketRecopy (its outcome vocabulary).

        progress: a _common.progress.Progress, given the job's task counts at every poll.
        Returns (batch_jobs, failure message or None, whether every job ended Complete).
        """
        reports, failures = [], []
        for job in self._started:
            if job.job_id is None or (self._check_mode and job.state.status in REPLACEABLE):
                reports.append(self._estimated(job, tally))
                continue
            # Check mode only looks: a wait would hold the task for nothing it could change.
            if self._spec.batch_wait and not self._check_mode and not (job.state is not None and job.state.ended):
                job.state = self._jobs.wait(job.job_id, lambda state: False, interval=self._spec.batch_poll_interval,
                                            on_poll=lambda state: _report_progress(progress, state))
            elif job.state is None:
                job.state = self._jobs.describe(job.job_id)
            failure = self._settle(job, tally, engine)
            if failure:
                failures.append(failure)
            reports.append(self._report(job))
        done = all(job.state is not None and job.state.status == "Complete" for job in self._started)
        return reports, "; ".join(failures) or None, done

    def _settle(self, job, tally, engine):
        state = job.state
        key_arn = job.source_arn
        # Successes are re-keyed by this run only when it saw the job running; else they were already done.
        tally.scanned += state.succeeded
        tally.counts["rekeyed" if job.seen_running else "already_current"] += state.succeeded
        if not state.ended:
            tally.hold(UNKNOWN, IN_PROGRESS, key_arn, count=max(state.total - state.succeeded - state.failed, 1))
            return None
        reported = 0
        for task in read_report(self._clients("s3"), self._spec.batch_report_bucket, self._spec.batch_report_prefix,
                                job.job_id):
            if task.status != "failed":
                continue
            reported += 1
            item = ListedVersion(task.key, task.version_id, True, None)
            tally.add(engine._rekey_failure(item, key_arn, task.as_client_error()))  # pylint: disable=protected-access
        if state.failed > reported:
            tally.hold(UNKNOWN, REPORT_INCOMPLETE, key_arn, count=state.failed - reported)
        if state.status == "Complete":
            return None
        tally.hold(UNKNOWN, ENDED_UNDONE, key_arn, count=max(state.total - state.succeeded - state.failed, 1))
        return "S3 Batch Operations job {0} ended {1} ({2}): run the task again to start a new job".format(
            job.job_id, state.status, "; ".join(state.failure_reasons) or state.status_reason or "no reason given")

    def _estimated(self, job, tally):
        """Check mode without a job to follow: what a run would start, with the estimate it is based on."""
        estimate = self._estimate or estimate_bucket(self._clients, self._spec)
        self._estimate = estimate
        if estimate.versions:
            tally.hold(TO_MOVE, ESTIMATED, job.source_arn, count=estimate.versions)
        report = self._report(job, estimate=estimate)
        report["client_request_token"] = client_request_token(job.base, job.attempt + 1)
        return report

    def _report(self, job, estimate=None):
        state = job.state if estimate is None else None
        spec = self._spec
        report = {
            "job_id": None if estimate is not None else job.job_id,
            "status": state.status if state else None,
            "source_key_arn": job.source_arn,
            "client_request_token": client_request_token(job.base, job.attempt),
            "attempt": job.attempt if estimate is None else job.attempt + 1,
            "created": job.created,
            "tasks_total": state.total if state else estimate.versions,
            "tasks_succeeded": state.succeeded if state else 0,
            "tasks_failed": state.failed if state else 0,
            "report_location": report_location(spec.batch_report_bucket, spec.batch_report_prefix, job.job_id)
            if state else None,
            "manifest_location": state.manifest_location if state else None,
            "failure_reasons": state.failure_reasons if state else [],
            "estimated": estimate is not None,
        }
        if estimate is not None:
            report["estimate"] = "an estimate, not a count: the bucket holds {0}, under every key; no job was " \
                                 "created".format(estimate.describe())
        return report
