# -*- coding: utf-8 -*-
# Copyright: kmsrotate.aws contributors
# GNU General Public License v3.0+ (see LICENSES/GPL-3.0-or-later.txt or https://www.gnu.org/licenses/gpl-3.0.txt)

"""A bounded, streaming thread pool that slows down when AWS throttles.

`run_bounded` pulls work items lazily from any iterator (a paginated listing,
a glob) and keeps at most `limit.current` of them in flight, so memory stays
flat however many items there are. The limit follows AIMD, like TCP: halve on
throttling (at most once per cool-down), grow by one after a run of clean
successes, never above the configured concurrency.
"""

import threading
import time
from concurrent.futures import FIRST_COMPLETED, ThreadPoolExecutor, wait


class AdaptiveLimit(object):
    def __init__(self, maximum, cooldown=1.0, grow_after=20, clock=time.monotonic):
        self.maximum = max(1, int(maximum))
        self.current = self.maximum
        self.lowest = self.maximum
        self.throttle_events = 0
        self._cooldown = cooldown
        self._grow_after = grow_after
        self._clock = clock
        self._lock = threading.Lock()
        self._last_cut = None
        self._clean = 0

    def on_throttle(self):
        with self._lock:
            now = self._clock()
            self.throttle_events += 1
            self._clean = 0
            if self._last_cut is not None and now - self._last_cut < self._cooldown:
                return
            self._last_cut = now
            self.current = max(1, self.current // 2)
            self.lowest = min(self.lowest, self.current)

    def report(self):
        """What throttling did to this run, for the module's result."""
        return {"throttle_events": self.throttle_events, "concurrency": self.maximum,
                "lowest_concurrency": self.lowest}

    def on_success(self):
        with self._lock:
            self._clean += 1
            if self._clean >= self._grow_after and self.current < self.maximum:
                self.current += 1
                self._clean = 0


def run_bounded(items, work, limit):
    """Yield (item, result, error) for each item as its work completes.

    `work(item)` runs in a worker thread; an exception it raises is yielded as
    `error` (result None) so one bad item never stops the others.
    """
    iterator = iter(items)
    in_flight = {}
    exhausted = False
    with ThreadPoolExecutor(max_workers=limit.maximum) as pool:
        while True:
            while not exhausted and len(in_flight) < limit.current:
                try:
                    item = next(iterator)
                except StopIteration:
                    exhausted = True
                    break
                in_flight[pool.submit(work, item)] = item
            if not in_flight:
                return
            done, _pending = wait(list(in_flight), return_when=FIRST_COMPLETED)
            for future in done:
                item = in_flight.pop(future)
                error = future.exception()
                if error is None:
                    limit.on_success()
                    yield item, future.result(), None
                else:
                    yield item, None, error
