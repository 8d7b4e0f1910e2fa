"""The chaos test's kill reaches every process of a run, in any session, and only those; detached jobs stay adopted.

A stand-in for ansible-playbook, run under the keeper: it starts a worker in
a session of its own (as ansible-core 2.19 does) and a job that daemonizes
(as async_wrapper does), then waits.
"""

import os
import signal
import subprocess
import sys
import time

from . import process_tree
from .harness import KEEPER

STAND_IN = r"""
import os, sys, time

def tell(path, pid):
    with open(path + ".tmp", "w") as handle:
        handle.write("%d\n" % pid)
    os.rename(path + ".tmp", path)

if os.fork() == 0:
    os.setsid()
    tell(sys.argv[1], os.getpid())
    time.sleep(120)
    os._exit(0)
job = os.fork()
if job == 0:
    if os.fork() == 0:
        os.setsid()
        if os.fork() == 0:
            tell(sys.argv[2], os.getpid())
            time.sleep(120)
        os._exit(0)
    os._exit(0)
os.waitpid(job, 0)
time.sleep(120)
"""


def _wait(condition, timeout=10.0):
    deadline = time.monotonic() + timeout
    while not condition():
        assert time.monotonic() < deadline
        time.sleep(0.02)


def test_tree_kill_reaches_other_sessions_and_leaves_the_adopted_job(tmp_path):
    ready, daemon, status = tmp_path / "worker", tmp_path / "daemon", tmp_path / "status"
    keeper = subprocess.Popen(  # pylint: disable=consider-using-with
        [sys.executable, str(KEEPER), str(status), sys.executable, "-c", STAND_IN, str(ready), str(daemon)])
    try:
        _wait(lambda: ready.exists() and daemon.exists())
        worker, job = int(ready.read_text()), int(daemon.read_text())
        playbook = next(pid for pid in process_tree.descendants(keeper.pid)
                        if pid not in (keeper.pid, worker) and worker in process_tree.descendants(pid))
        tree = process_tree.descendants(playbook)
        assert worker in tree and os.getsid(worker) != os.getsid(playbook)
        # The daemonized job, once its intermediate parent is gone, is the keeper's.
        _wait(lambda: process_tree.descendants(keeper.pid) - tree - {keeper.pid} == {job})

        killed = process_tree.kill(lambda: process_tree.descendants(playbook))
        assert killed == tree
        _wait(status.exists)
        assert int(status.read_text()) == -signal.SIGKILL
        assert process_tree.descendants(keeper.pid) - {keeper.pid} == {job}
    finally:
        process_tree.kill(lambda: process_tree.descendants(keeper.pid))
        keeper.wait(10)
