# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""Live progress of a long engine run, as a small JSON file the rotation role prints at each poll.

    with progress_file(spec.progress_file, "s3://bucket/", "object versions") as progress:
        for ... in run_bounded(...):
            progress.update(done, {"scanned": ..., "rekeyed": ..., "blocking": ...}, total=None)

The file holds the target, named counts (any names: a batch job writes its
task counts), `done` of `total` units (total null when not known), the rate
per second since the start, the estimated seconds left (null without a
total), `updated_at` and `finished`. It is written when the run starts, at
most every INTERVAL seconds while counts move, and once more at the end, each
time whole: a temporary file beside it, then os.replace, so a reader never
sees half a file. Updates may come from any thread; they cost a lock and a
clock reading, never I/O of their own between writes.
"""

import contextlib
import json
import os
import tempfile
import threading
import time

# Seconds between two writes while the counts move.
INTERVAL = 2.0


def _utc(seconds):
    return time.strftime("%Y-%m-%dT%H:%M:%SZ", time.gmtime(seconds))


class Progress(object):
    """The counts of one run and where they are written; `path` None writes nothing."""

    def __init__(self, path, target, unit, clock=time.monotonic, wall_clock=time.time, interval=INTERVAL):
        self.path = path
        self._target = target
        self._unit = unit
        self._clock = clock
        self._wall_clock = wall_clock
        self._interval = interval
        self._lock = threading.Lock()
        self._started = clock()
        self._started_at = _utc(wall_clock())
        self._last_write = None
        self._done = 0
        self._total = None
        self._counts = {}

    def update(self, done, counts, total=None):
        """Record the counts now; writes the file when the last write is INTERVAL old."""
        if not self.path:
            return
        with self._lock:
            self._done, self._counts, self._total = done, dict(counts), total
            if self._last_write is not None and self._clock() - self._last_write < self._interval:
                return
            self._write(finished=False)

    def start(self):
        if self.path:
            with self._lock:
                self._write(finished=False)

    def finish(self, failed=False):
        """The final write, whatever the interval."""
        if self.path:
            with self._lock:
                self._write(finished=True, failed=failed)

    def snapshot(self, finished=False, failed=False):
        """What the file holds (the caller holds the lock, or owns the object alone)."""
        elapsed = max(self._clock() - self._started, 1e-6)
        rate = self._done / elapsed
        left = None
        if self._total is not None and rate > 0:
            left = int(round(max(self._total - self._done, 0) / rate))
        return {"target": self._target, "unit": self._unit, "counts": self._counts, "done": self._done,
                "total": self._total, "rate_per_second": round(rate, 2), "eta_seconds": 0 if finished else left,
                "elapsed_seconds": round(elapsed, 1), "started_at": self._started_at,
                "updated_at": _utc(self._wall_clock()), "finished": finished, "failed": failed}

    def _write(self, finished, failed=False):
        self._last_write = self._clock()
        write_json_atomically(self.path, self.snapshot(finished, failed))


def write_json_atomically(path, data):
    """Replace path with data as JSON: a reader sees the old file or the new one, never a part.

    No fsync: a progress file lost in a crash costs nothing, and the next write replaces it.
    """
    directory = os.path.dirname(os.path.abspath(path))
    fd, tmp_path = tempfile.mkstemp(prefix=".{0}.".format(os.path.basename(path)), suffix=".tmp", dir=directory)
    try:
        with os.fdopen(fd, "w", encoding="utf-8") as handle:
            json.dump(data, handle, sort_keys=True)
        os.replace(tmp_path, path)
    except BaseException:
        if os.path.exists(tmp_path):
            os.unlink(tmp_path)
        raise


@contextlib.contextmanager
def progress_file(path, target, unit, **options):
    """A started Progress, finished on exit (failed when the run raised); path None writes nothing."""
    progress = Progress(path, target, unit, **options)
    progress.start()
    try:
        yield progress
    except BaseException:
        progress.finish(failed=True)
        raise
    progress.finish()
