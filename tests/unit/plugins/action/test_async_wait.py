"""kmsrotate.aws.async_wait's poll loop: a line per poll with the progress file's counts, the job's result at the end."""

import pytest

from ansible.plugins.action import ActionBase

from ansible_collections.kmsrotate.aws.plugins.action import async_wait


@pytest.fixture
def action(monkeypatch):
    """An ActionModule whose job answers from `statuses` and whose progress file reads from `files`, in order."""
    monkeypatch.setattr(ActionBase, "run", lambda self, tmp=None, task_vars=None: {})
    # Sleeping moves the clock on at once.
    clock = [100.0]
    monkeypatch.setattr(async_wait.time, "monotonic", lambda: clock[0])
    monkeypatch.setattr(async_wait.time, "sleep", lambda seconds: clock.__setitem__(0, clock[0] + seconds))
    shown = []
    monkeypatch.setattr(async_wait.display, "display", shown.append)
    module = async_wait.ActionModule.__new__(async_wait.ActionModule)
    module.statuses, module.files, module.shown = [], [], shown
    module._status = lambda jid, task_vars: module.statuses.pop(0)
    module._progress = lambda path, task_vars: module.files.pop(0)
    return module


def _run(module, monkeypatch, **args):
    options = {"jid": "1.2", "label": "S3 bucket b", "progress_file": "/p.json", "poll_interval": 1, "timeout": 60}
    options.update(args)
    monkeypatch.setattr(module, "validate_argument_spec", lambda argument_spec: (None, options), raising=False)
    return module.run(task_vars={"inventory_hostname": "h1"})


def test_a_line_per_poll_then_the_job_result(action, monkeypatch):
    progress = {"unit": "object versions", "done": 40, "total": 100, "rate_per_second": 4.0, "eta_seconds": 15,
                "counts": {"scanned": 40, "blocking": 1}, "updated_at": "2026-12-01T10:00:00Z"}
    action.statuses = [{"started": True, "finished": False}, {"started": True, "finished": False},
                       {"started": True, "finished": True, "changed": True, "counts": {"rekeyed": 100}}]
    action.files = [None, progress, dict(progress, done=100, finished=True)]
    result = _run(action, monkeypatch)
    assert action.shown[0].startswith("[h1] S3 bucket b: running 0 s, no progress reported yet")
    assert action.shown[1].startswith("[h1] S3 bucket b: 40 object versions done of 100, 4.0/s, about 15 s left; "
                                      "scanned 40, blocking 1 (running 1 s, updated 2026-12-01T10:00:00Z)")
    assert len(action.shown) == 2
    assert result["finished"] is True and result["changed"] is True and result["counts"] == {"rekeyed": 100}
    assert result["polls"] == 3 and result["progress"]["done"] == 100


def test_a_failed_job_fails_the_task_with_its_result(action, monkeypatch):
    action.statuses = [{"finished": True, "failed": True, "msg": "bucket gone"}]
    result = _run(action, monkeypatch, progress_file=None)
    assert result["failed"] is True and result["msg"] == "bucket gone" and action.shown == []


def test_a_job_still_running_at_the_timeout_fails_and_is_left_running(action, monkeypatch):
    action.statuses = [{"started": True, "finished": False} for _poll in range(3)]
    result = _run(action, monkeypatch, progress_file=None, poll_interval=30, timeout=60)
    assert result["failed"] is True and "still running" in result["msg"] and result["finished"] is False
    # Polled at 0, 30 and 60 s: the last poll is at the timeout, not after it.
    assert result["polls"] == 3
    # Without a progress file, a poll says only how long the job has been running.
    assert action.shown == ["[h1] S3 bucket b: running 0 s", "[h1] S3 bucket b: running 30 s",
                            "[h1] S3 bucket b: running 60 s"]
