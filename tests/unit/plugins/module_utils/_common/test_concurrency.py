"""The AIMD limit and the bounded streaming pool."""

import threading

import pytest

from ansible_collections.kmsrotate.aws.plugins.module_utils._common.concurrency import AdaptiveLimit, run_bounded


class FakeClock:
    def __init__(self):
        self.now = 0.0

    def __call__(self):
        return self.now


def test_throttle_halves_once_per_cooldown_and_success_grows_back():
    clock = FakeClock()
    limit = AdaptiveLimit(16, cooldown=1.0, grow_after=2, clock=clock)
    limit.on_throttle()
    limit.on_throttle()  # same cool-down window: one cut
    assert limit.current == 8
    clock.now = 2.0
    limit.on_throttle()
    assert limit.current == 4
    for _success in range(4):
        limit.on_success()
    assert limit.current == 6
    assert limit.report() == {"throttle_events": 3, "concurrency": 16, "lowest_concurrency": 4}


def test_limit_never_drops_below_one_or_grows_past_maximum():
    clock = FakeClock()
    limit = AdaptiveLimit(2, cooldown=0.0, grow_after=1, clock=clock)
    for step in range(5):
        clock.now = float(step)
        limit.on_throttle()
    assert limit.current == 1
    for _success in range(10):
        limit.on_success()
    assert limit.current == 2


def test_run_bounded_yields_every_item_with_errors_in_place():
    def work(item):
        if item % 5 == 0:
            raise ValueError(item)
        return item * 2

    outcomes = {item: (result, error) for item, result, error in run_bounded(range(20), work, AdaptiveLimit(4))}
    assert sorted(outcomes) == list(range(20))
    assert outcomes[3] == (6, None)
    assert isinstance(outcomes[5][1], ValueError)


def test_run_bounded_keeps_in_flight_within_the_limit():
    in_flight = []
    peak = []
    lock = threading.Lock()
    release = threading.Semaphore(0)

    def work(item):
        with lock:
            in_flight.append(item)
            peak.append(len(in_flight))
        release.acquire(timeout=5)
        with lock:
            in_flight.remove(item)
        return item

    limit = AdaptiveLimit(3)
    results = run_bounded(range(30), work, limit)
    for _permit in range(30):
        release.release()
    assert sorted(item for item, _result, _error in results) == list(range(30))
    assert max(peak) <= 3


@pytest.mark.parametrize("maximum", [1, 7])
def test_lazy_pull_never_runs_far_ahead_of_completion(maximum):
    pulled = []

    def items():
        for number in range(50):
            pulled.append(number)
            yield number

    consumed = 0
    for _item, _result, _error in run_bounded(items(), lambda item: item, AdaptiveLimit(maximum)):
        consumed += 1
        # Never more than `maximum` items pulled beyond those handed back.
        assert len(pulled) - consumed <= maximum
    assert consumed == 50
