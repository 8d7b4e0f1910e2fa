"""Where the chaos test kills the rotation, and how it drives one run to its kill point.

A kill point is either
- a task start: killed as the proof_progress callback reports the task starting, or
- a request: the endpoint holds the Nth request of an action (a `hold` fault
  rule); the run is killed while the request is held, so the request has
  reached AWS but its answer is never read. The hold is then released and the
  change lands.

For a request made by a detached async job (the S3 and EBS phases), `detached`
says what the kill does to the job:
- "left": it is left running, as when only the playbook dies (a Ctrl-C, a
  lost SSH session). Its held request is released only once the rerun's own
  job for the same phase has started listing (`meet`), so the rerun meets the
  old job still running and both work on the same resources at once; until
  the rerun's phase ends, every request of that service is slowed, so that the
  two jobs interleave instead of one finishing in the other's first
  milliseconds (moto answers at once).
- "killed": it is killed too, as when the whole controller dies; the held
  request is released at once.
"""

import time

from .harness import FAILED_TASK, HOST, POLL_SECONDS
# Added to each request of the phase's service while a rerun's job and the job left running overlap.
MEET_LATENCY_MS = 150


class Meet:
    """How a rerun meets a job left running: the phase's first task, its job's first listing, its last task."""

    def __init__(self, started, listing, finished):
        self.started = started
        self.listing = listing
        self.finished = finished
        self.service = listing.split(":")[0]

    def slow_down(self):
        return {"kind": "latency", "service": self.service, "ms": MEET_LATENCY_MS}


S3_JOB = Meet("S3 | start re-keying a bucket", "s3:ListObjectVersions", "S3 | record the bucket")
EBS_JOB = Meet("EBS | start moving the volumes and snapshots", "ec2:DescribeVolumes", "EBS | record the phase")


class KillPoint:
    def __init__(self, phase, task=None, action=None, nth=1, detached="killed", meet=None):
        self.phase = phase
        self.task = task
        self.action = action
        self.nth = nth
        self.detached = detached
        self.meet = meet

    @property
    def label(self):
        if self.task:
            return "{0}: start of '{1}'".format(self.phase, self.task)
        scope = "detached job left running" if self.detached == "left" else "every process of the test killed"
        return "{0}: request {1} #{2} held, {3}".format(self.phase, self.action, self.nth, scope)

    def rules(self):
        if not self.action:
            return []
        service, action = self.action.split(":")
        return [{"kind": "hold", "service": service, "action": action, "after": self.nth - 1, "count": 1}]

    def reached(self, aws, run):
        if self.task:
            return run.saw(self.task)
        return aws.faults()[0]["holding"] > 0


_COMMON_START = [
    KillPoint("preflight", task="Preflight | look up the named volumes"),
    KillPoint("key", action="kms:CreateKey"),
    KillPoint("key", action="kms:UpdateAlias"),
    KillPoint("data_keys", action="kms:ReEncrypt", nth=2),
]
_VERIFY = KillPoint("verify", task="Verify | decide what still holds the source key")
_RETIRE_AND_REPORT = [
    KillPoint("retire", action="kms:DisableKey"),
    KillPoint("report", task="Report | write the JSON evidence"),
]

# Each list is in the order one run after another meets them. A point that leaves a detached job running is the
# last request point of its phase: that job's own requests could otherwise be the ones the next rule holds. In the
# EBS phase it is also the only point inside an instance swap: a swap holds a lease on its instance (lease.py), and
# a job killed mid-swap leaves a lease every rerun must wait out (wait_timeout + 15 minutes); a job left running
# gives the lease back when it is done.
KILL_POINTS = {
    # Eleven: make test runs on 2 cores, and every point is a run of the role.
    "small": _COMMON_START + [
        KillPoint("s3", action="s3:UpdateObjectEncryption", nth=3),  # nth 1 is the support probe
        KillPoint("s3", action="s3:UpdateObjectEncryption", nth=2, detached="left", meet=S3_JOB),
        KillPoint("ebs", action="ec2:CreateVolume"),
        KillPoint("ebs", action="ec2:StopInstances", detached="left", meet=EBS_JOB),
        _VERIFY,
    ] + _RETIRE_AND_REPORT,
    "large": _COMMON_START + [
        KillPoint("data_keys", action="kms:ReEncrypt", nth=17),
        KillPoint("s3", action="s3:PutBucketEncryption"),
        KillPoint("s3", action="s3:UpdateObjectEncryption", nth=40),
        KillPoint("s3", action="s3:UpdateObjectEncryption", nth=60),
        KillPoint("s3", action="s3:UpdateObjectEncryption", nth=20, detached="left", meet=S3_JOB),
        KillPoint("s3", task="S3 | record the bucket"),
        KillPoint("ebs", action="ec2:CreateSnapshot"),
        KillPoint("ebs", action="ec2:CreateVolume", nth=2),
        KillPoint("ebs", action="ec2:CreateTags"),
        KillPoint("ebs", action="ec2:StopInstances", detached="left", meet=EBS_JOB),
        KillPoint("ebs", task="EBS | record the phase"),
        _VERIFY,
        KillPoint("verify", task="Verify | show what still depends on the source key"),
    ] + _RETIRE_AND_REPORT,
}
# A run that takes longer than this is stuck (every wait of the estate's modules is bounded by less).
RUN_TIMEOUT = 600


class Chaos:
    """Drives the runs of one chaos test through its kill points, keeping a log of every run."""

    def __init__(self, aws, role_runs, attempts=3):
        self.aws = aws
        self.role_runs = role_runs
        self.attempts = attempts
        self.log = []
        # The point that left a detached job running at a hold, until the rerun releases it.
        self._left = None
        # The Meet whose phase is slowed while the two jobs overlap.
        self._slowed = None

    def _arm(self, point, *extra_rules):
        # Replacing the rules releases any held request and starts their counts afresh: the point after one that
        # left a job is never a request of the phase that job works in, so its count has nothing to lose.
        self.aws.set_faults(point.rules() + list(extra_rules))

    def _overlap(self, run, point, state):
        """Release the job left running once this run's own job for that phase has started its listing; slow the
        phase's service until this run's phase is done."""
        if self._left is not None:
            meet = self._left.meet
            if "base" not in state:
                if not run.saw(meet.started):
                    return
                state["base"] = self.aws.stats().get(meet.listing, 0)
            if self.aws.stats().get(meet.listing, 0) > state["base"]:
                self._left, self._slowed = None, meet
                self._arm(point, meet.slow_down())
        elif self._slowed is not None and run.saw(self._slowed.finished):
            self._slowed = None
            self._arm(point)

    def kill_at(self, point):
        """Runs until one is killed at `point`; fails after `attempts` runs that end before it."""
        for _attempt in range(self.attempts):
            if self._left is None:
                self._slowed = None
                self._arm(point)
            run = self.role_runs.start()
            state = {}
            reached = False
            while run.alive() and time.monotonic() - run.started_at < RUN_TIMEOUT:
                self._overlap(run, point, state)
                if self._left is None and point.reached(self.aws, run):
                    reached = True
                    break
                time.sleep(POLL_SECONDS)
            if not reached:
                finished = run.finish(timeout=RUN_TIMEOUT)
                self._record(run, point, finished, killed=False)
                if self._left is not None:
                    self._left = None
                    self.aws.clear_faults()
                continue
            self.role_runs.kill(run, detached_too=point.detached == "killed")
            detached = sorted(self.role_runs.detached_jobs())
            self._record(run, point, run.finish(), killed=True, detached=detached)
            if point.meet and detached:
                self._left = point
            else:
                self.aws.clear_faults()
            return
        raise AssertionError("kill point never reached in {0} runs: {1}\n{2}".format(
            self.attempts, point.label, self.summary()))

    def run_to_end(self, label):
        """One whole run, logged under `label`; its PlaybookRun."""
        run = self.role_runs.start()
        finished = run.finish(timeout=RUN_TIMEOUT)
        self._record(run, label, finished, killed=False)
        return finished

    def _record(self, run, point, finished, killed, detached=()):
        failure = ""
        if not killed and finished.rc != 0:
            failure = _failure_message(finished)
        label = point if isinstance(point, str) else point.label
        self.log.append({"run": run.number, "point": label, "killed": killed, "rc": finished.rc,
                         "seconds": round(run.duration, 1), "detached_left_running": list(detached),
                         "failure": failure})

    def summary(self):
        return "\n".join("run {run}: {point}: {0} after {seconds} s{1}{2}".format(
            "KILLED" if entry["killed"] else "ended rc={0}".format(entry["rc"]),
            " (detached job left running: {0})".format(entry["detached_left_running"])
            if entry["detached_left_running"] else "",
            "\n    " + entry["failure"] if entry["failure"] else "", **entry) for entry in self.log)


def _failure_message(finished):
    failures = finished.results(FAILED_TASK, host=HOST)
    if failures:
        return failures[0].get("msg", "")
    return (finished.stderr or finished.stdout)[-2000:]
