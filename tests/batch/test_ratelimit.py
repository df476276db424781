"""The rate limiter on an injected clock: the schedule is checked without waiting on wall time."""

from __future__ import annotations

import threading

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarizer.batch.ratelimit import RateLimiter


class FakeClock:
    """Time moves only when someone sleeps (or the test says so)."""

    def __init__(self) -> None:
        self.now = 1000.0
        self.slept: list[float] = []

    def __call__(self) -> float:
        return self.now

    def sleep(self, seconds: float) -> None:
        self.slept.append(seconds)
        self.now += seconds


def test_rpm_spaces_calls_evenly_instead_of_bursting() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=600, clock=clock)
    # Ten calls asked for at the same instant start 0.1 s apart: no burst of a minute's quota.
    waits = [limiter.reserve(0) for _ in range(10)]
    assert waits == pytest.approx([0.1 * n for n in range(10)])


def take_slot(limiter: RateLimiter, clock: FakeClock, tokens: int = 0) -> float:
    """What the throttle does: reserve a slot, then sleep until it starts."""
    wait = limiter.reserve(tokens)
    if wait > 0:
        clock.sleep(wait)
    return wait


def test_a_caller_waits_for_its_slot_and_idle_time_earns_no_burst() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=60, clock=clock)
    assert take_slot(limiter, clock) == 0.0
    assert take_slot(limiter, clock) == pytest.approx(1.0)
    clock.now += 30  # a long pause
    assert take_slot(limiter, clock) == 0.0
    assert take_slot(limiter, clock) == pytest.approx(1.0)  # one second apart, not 30 at once
    assert clock.slept == pytest.approx([1.0, 1.0])
    assert limiter.waited_s == pytest.approx(2.0)


def test_tpm_spaces_calls_by_their_token_cost() -> None:
    clock = FakeClock()
    limiter = RateLimiter(tpm=6000, clock=clock)  # 100 tokens a second
    assert limiter.reserve(500) == 0.0  # the first call goes at once
    assert limiter.reserve(100) == pytest.approx(5.0)  # after the 500 tokens are paid for
    assert limiter.reserve(100) == pytest.approx(6.0)


def test_the_stricter_of_rpm_and_tpm_wins() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=60, tpm=60_000, clock=clock)
    assert [limiter.reserve(10) for _ in range(3)] == pytest.approx([0.0, 1.0, 2.0])  # rpm
    assert limiter.reserve(5000) == pytest.approx(3.0)
    assert limiter.reserve(10) == pytest.approx(8.0)  # the 5000 tokens took 5 s of tpm


def test_pause_holds_every_caller_back_for_retry_after() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=6000, clock=clock)
    limiter.reserve(0)
    limiter.pause(2.5)
    assert limiter.reserve(0) == pytest.approx(2.5)
    assert limiter.reserve(0) == pytest.approx(2.51)


def test_without_limits_nothing_waits() -> None:
    clock = FakeClock()
    limiter = RateLimiter(clock=clock)
    assert not limiter.active
    assert [take_slot(limiter, clock, 10_000) for _ in range(100)] == [0.0] * 100
    assert clock.slept == []


@pytest.mark.parametrize(("rpm", "tpm"), [(0, None), (None, -5)])
def test_limits_must_be_positive(rpm: float | None, tpm: float | None) -> None:
    with pytest.raises(ValueError, match="must be positive"):
        RateLimiter(rpm=rpm, tpm=tpm)


def test_concurrent_reservations_get_distinct_slots() -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=60, clock=clock)
    waits: list[float] = []
    lock = threading.Lock()

    def reserve_many() -> None:
        for _ in range(50):
            wait = limiter.reserve(0)
            with lock:
                waits.append(wait)

    threads = [threading.Thread(target=reserve_many) for _ in range(8)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert sorted(waits) == pytest.approx([float(n) for n in range(400)])


@given(
    rpm=st.floats(min_value=1, max_value=10_000),
    tpm=st.floats(min_value=100, max_value=1_000_000),
    calls=st.lists(
        st.tuples(st.floats(min_value=0, max_value=5), st.integers(min_value=0, max_value=5000)),
        min_size=1,
        max_size=60,
    ),
    window=st.floats(min_value=0.01, max_value=120),
)
def test_no_window_admits_more_than_the_limits(
    rpm: float, tpm: float, calls: list[tuple[float, int]], window: float
) -> None:
    clock = FakeClock()
    limiter = RateLimiter(rpm=rpm, tpm=tpm, clock=clock)
    starts: list[tuple[float, int]] = []
    for gap, tokens in calls:
        clock.now += gap  # callers arrive at arbitrary times
        starts.append((clock.now + limiter.reserve(tokens), tokens))
    for begin, _ in starts:
        inside = [tokens for start, tokens in starts if begin <= start < begin + window]
        assert len(inside) <= rpm * window / 60 + 1 + 1e-9
        assert sum(inside) <= tpm * window / 60 + max(inside) + 1e-6
