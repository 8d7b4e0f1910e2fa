"""The live progress file: throttled writes, rate and time left, atomic replacement, nothing without a path."""

import json
import threading

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.progress import Progress, progress_file


class FakeClock(object):
    def __init__(self):
        self.now = 1000.0

    def __call__(self):
        return self.now


def _read(path):
    return json.loads(path.read_text())


def test_writes_at_start_at_most_every_interval_and_at_the_end(tmp_path):
    path = tmp_path / "progress.json"
    clock = FakeClock()
    with progress_file(str(path), "s3://b/", "object versions", clock=clock, wall_clock=lambda: 0) as progress:
        assert _read(path)["done"] == 0 and _read(path)["finished"] is False
        clock.now += 1.0
        progress.update(10, {"scanned": 10, "blocking": 1}, total=100)
        # The start was written 1 s ago: this update is only recorded.
        assert _read(path)["done"] == 0
        clock.now += 1.5
        progress.update(50, {"scanned": 50, "blocking": 2}, total=100)
        written = _read(path)
        assert written["done"] == 50 and written["counts"] == {"scanned": 50, "blocking": 2}
        assert written["rate_per_second"] == 20.0 and written["eta_seconds"] == 2
        clock.now += 0.5
        progress.update(60, {"scanned": 60, "blocking": 2}, total=100)
        assert _read(path)["done"] == 50
    final = _read(path)
    assert final["done"] == 60 and final["finished"] is True and final["failed"] is False
    assert final["eta_seconds"] == 0 and final["target"] == "s3://b/" and final["unit"] == "object versions"
    assert final["started_at"] == final["updated_at"] == "1970-01-01T00:00:00Z"


def test_no_total_means_no_time_left(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(str(path), "s3://b/", "object versions", interval=0)
    progress.update(5, {"scanned": 5})
    assert _read(path)["total"] is None and _read(path)["eta_seconds"] is None


def test_a_run_that_raises_ends_the_file_failed(tmp_path):
    path = tmp_path / "progress.json"
    with pytest.raises(RuntimeError):
        with progress_file(str(path), "EBS", "volumes and snapshots") as progress:
            progress.update(1, {"rekeyed": 1}, total=3)
            raise RuntimeError("stop")
    assert _read(path)["finished"] is True and _read(path)["failed"] is True


def test_without_a_path_nothing_is_written(tmp_path):
    with progress_file(None, "s3://b/", "object versions") as progress:
        progress.update(1, {"scanned": 1})
    assert list(tmp_path.iterdir()) == []


def test_updates_from_many_threads_never_show_a_partial_file(tmp_path):
    path = tmp_path / "progress.json"
    progress = Progress(str(path), "s3://b/", "object versions", interval=0)
    progress.start()
    seen, stop = [], threading.Event()

    def reader():
        while not stop.is_set():
            seen.append(_read(path)["done"])

    def writer(offset):
        for number in range(200):
            progress.update(offset + number, {"scanned": offset + number})

    watcher = threading.Thread(target=reader)
    watcher.start()
    writers = [threading.Thread(target=writer, args=(offset * 1000,)) for offset in range(4)]
    for thread in writers:
        thread.start()
    for thread in writers:
        thread.join()
    stop.set()
    watcher.join()
    progress.finish()
    assert seen and all(isinstance(done, int) for done in seen)
    # Only whole files were ever renamed into place, and no temporary file is left behind.
    assert [entry.name for entry in tmp_path.iterdir()] == ["progress.json"]
