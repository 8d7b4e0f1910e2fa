"""Runs of the collection's rotate playbook that a test can watch while they go, and kill.

Each run is `ansible-playbook playbooks/rotate.yml` under its own keeper
(keeper.py, a child subreaper), with in its environment:
- the endpoint (AWS_URL, fake credentials) as tests/playbook.py sets it up;
- the ansible.posix.json stdout callback (parsed into playbook.PlaybookRun at the end)
  and the proof_progress callback, which writes each task start and end to a file as it happens;
- its own ANSIBLE_ASYNC_DIR under the test's directory.

The playbook's process tree is what its parent links lead to; a detached
async job is not in it (its parent is the keeper), but it is among the
keeper's descendants.
"""

import json
import pathlib
import subprocess
import sys
import time
import types

from playbook import ANSIBLE_PLAYBOOK, PlaybookRun

from . import process_tree

REPO = pathlib.Path(__file__).resolve().parents[2]
ROTATE = REPO / "playbooks" / "rotate.yml"
HERE = pathlib.Path(__file__).resolve().parent
CALLBACKS = HERE / "callback_plugins"
KEEPER = HERE / "keeper.py"
ROLE = "kmsrotate.aws.rotation : "
FAILED_TASK = ROLE + "Rotation | fail the host where the rotation stopped"
# The inventory host of the estate's rotation unit.
HOST = "unit"
# The module a detached async job runs, as its process's command line names it.
ASYNC_MODULES = ("AnsiballZ_s3_kms_recopy", "AnsiballZ_ebs_kms_migrate")
POLL_SECONDS = 0.02


class LiveRun:
    """One ansible-playbook process, its progress events, and its end."""

    def __init__(self, command, environment, workdir, number):
        self.number = number
        self.progress = workdir / "progress-{0}.jsonl".format(number)
        self.progress.touch()
        self._status = workdir / "status-{0}.txt".format(number)
        self._stdout = open(workdir / "stdout-{0}.txt".format(number), "w+", encoding="utf-8")  # noqa: SIM115  # pylint: disable=consider-using-with
        self._stderr = open(workdir / "stderr-{0}.txt".format(number), "w+", encoding="utf-8")  # noqa: SIM115  # pylint: disable=consider-using-with
        environment = dict(environment, KMSROTATE_PROOF_PROGRESS=str(self.progress))
        self.command = command
        self.started_at = time.monotonic()
        self.duration = None
        self.keeper = subprocess.Popen(  # noqa: S603  # pylint: disable=consider-using-with
            [sys.executable, str(KEEPER), str(self._status)] + command, env=environment, cwd=str(workdir),
            stdout=self._stdout, stderr=self._stderr, stdin=subprocess.DEVNULL)
        self._events = []
        self._read = 0
        # The keeper forks the playbook at once: its only child until a job is adopted.
        self._playbook = None
        while self._playbook is None and self.keeper.poll() is None:
            self._playbook = next(iter(process_tree.descendants(self.keeper.pid) - {self.keeper.pid}), None)
            time.sleep(0.005)
        if self._playbook is None:
            raise AssertionError("run {0}: the keeper exited at once; see {1}".format(number, self._stderr.name))

    def _tree(self):
        """The playbook's process tree now (empty once it ended)."""
        return set() if self._status.exists() else process_tree.descendants(self._playbook)

    def alive(self):
        return not self._status.exists()

    def events(self):
        with open(self.progress, encoding="utf-8") as handle:
            handle.seek(self._read)
            chunk = handle.read()
        complete = chunk[:chunk.rfind("\n") + 1]
        self._read += len(complete.encode())
        self._events.extend(json.loads(line) for line in complete.splitlines())
        return self._events

    def saw(self, task, events=("start",)):
        """Has a task whose name ends with `task` had one of these events?"""
        return any(event["event"] in events and event["task"].endswith(task) for event in self.events())

    def kill(self, also=set):
        """SIGKILL the playbook's process tree, and what `also()` finds; the pids killed.

        The tree is read afresh at each pass: ansible-core 2.19 starts each worker in a session of its own, so
        only parent links, not a process group or a session, reach every process of the run.
        """
        killed = process_tree.kill(lambda: self._tree() | also())
        self._wait_status()
        return killed

    def adopted(self):
        """What runs under the keeper outside the playbook's tree: detached async jobs."""
        return process_tree.descendants(self.keeper.pid) - self._tree() - {self.keeper.pid}

    def _wait_status(self, timeout=60):
        deadline = time.monotonic() + timeout
        while not self._status.exists():
            if time.monotonic() > deadline:
                raise AssertionError("run {0}: the keeper never wrote the playbook's exit code".format(self.number))
            time.sleep(POLL_SECONDS)
        return int(self._status.read_text())

    def finish(self, timeout=900):
        """Wait for the playbook's end; the PlaybookRun (its JSON output is empty for a killed run).

        A run still going after `timeout` seconds from its start is stuck: it is killed, with its detached jobs,
        and the test fails.
        """
        while self.alive() and time.monotonic() - self.started_at < timeout:
            time.sleep(POLL_SECONDS)
        if self.alive():
            self.kill(self.adopted)
            raise AssertionError("run {0} was still going after {1} s: killed; its output is in {2}".format(
                self.number, timeout, self._stdout.name))
        returncode = self._wait_status()
        self.duration = time.monotonic() - self.started_at
        for handle in (self._stdout, self._stderr):
            handle.flush()
            handle.seek(0)
        completed = types.SimpleNamespace(returncode=returncode, stdout=self._stdout.read(), stderr=self._stderr.read())
        self._stdout.close()
        self._stderr.close()
        return PlaybookRun(self.command, completed)


class RoleRuns:
    """Starts runs of playbooks/rotate.yml for one test and keeps track of what they leave running."""

    def __init__(self, playbook_runner, workdir, inventory):
        self.workdir = pathlib.Path(workdir)
        self.inventory = inventory
        self.runs = []
        environment = playbook_runner.environment(endpoint_in_env=True)
        environment.update({
            "ANSIBLE_CALLBACK_PLUGINS": str(CALLBACKS),
            "ANSIBLE_CALLBACKS_ENABLED": "proof_progress",
            "ANSIBLE_ASYNC_DIR": str(self.workdir / "async"),
        })
        self.environment = environment

    def start(self):
        command = [ANSIBLE_PLAYBOOK, str(ROTATE), "-i", str(self.inventory)]
        run = LiveRun(command, self.environment, self.workdir, len(self.runs) + 1)
        self.runs.append(run)
        return run

    def run(self):
        """A whole run, not interrupted."""
        return self.start().finish()

    def adopted(self):
        """Every detached job process of every run so far (jobs and their async_wrapper watchers)."""
        found = set()
        for run in self.runs:
            found |= run.adopted()
        return found

    def kill(self, run, detached_too):
        """Kill a run's tree; with detached_too, every detached job of the test as well (the controller died)."""
        return run.kill(self.adopted if detached_too else set)

    def detached_jobs(self):
        """The module processes of detached async jobs still running (not their watchers)."""
        return set(pid for pid in self.adopted()
                   if any(module in process_tree.command_line(pid) for module in ASYNC_MODULES)
                   and "async_wrapper" not in process_tree.command_line(pid))

    def wait_for_detached_jobs(self, timeout=120):
        return process_tree.wait_gone(self.detached_jobs, timeout)

    def kill_all(self):
        """Whatever this test's runs still run, keepers included (teardown)."""
        def everything():
            found = set()
            for run in self.runs:
                found |= process_tree.descendants(run.keeper.pid)
            return found

        killed = process_tree.kill(everything)
        for run in self.runs:
            run.keeper.wait()
        return killed


def reports(report_dir):
    """The JSON reports of the runs, oldest first."""
    paths = sorted(pathlib.Path(report_dir).glob("rotation-*.json"), key=lambda path: path.stat().st_mtime)
    return [json.loads(path.read_text()) for path in paths]


def key_state(kms, arn):
    return kms.describe_key(KeyId=arn)["KeyMetadata"]["KeyState"]
