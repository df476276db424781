"""The throttle: every attempt takes a rate-limit slot; a 429 slows everyone."""

from __future__ import annotations

import threading
import time

import pytest

from summarizer.batch.cancel import CallCancelled, CancelToken, current_token
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.throttle import ThrottledBackend
from summarizer.errors import TransientBackendError
from summarizer.llm import Backend, CompletionRequest, Message
from summarizer.llm.calls import CallLayer, RetryPolicy, UsageMeter
from summarizer.replies import MergedSummary
from summarizer.tokens import TokenCounter
from tests.batch.test_ratelimit import FakeClock
from tests.fakes import ScriptedBackend

REQUEST = CompletionRequest(
    messages=(
        Message(role="system", content="You summarise."),
        Message(role="user", content="The council met on Monday and approved the budget."),
    ),
    schema_name="MergedSummary",
    json_schema=MergedSummary.model_json_schema(),
    max_tokens=200,
)


def test_it_is_a_backend_that_passes_the_identity_through() -> None:
    inner = ScriptedBackend(model="m-1", context_window=1234)
    wrapped = ThrottledBackend(inner)
    assert isinstance(wrapped, Backend)
    assert wrapped.identity is inner.identity


class Closable(ScriptedBackend):
    closed = 0

    def close(self) -> None:
        self.closed += 1


def test_closing_the_throttle_closes_the_backend_it_wraps_if_that_can_close() -> None:
    inner = Closable()
    ThrottledBackend(inner).close()
    assert inner.closed == 1
    ThrottledBackend(ScriptedBackend()).close()  # nothing to close: no error


def test_each_retry_attempt_takes_its_own_slot_and_a_429_pauses_all_callers() -> None:
    clock = FakeClock()
    inner = ScriptedBackend()
    inner.enqueue(
        TransientBackendError("HTTP 429", status=429, retry_after=5.0),
        TransientBackendError("HTTP 500", status=500),
    )
    limiter = RateLimiter(rpm=60, clock=clock)
    wrapped = ThrottledBackend(inner, limiter, sleep=clock.sleep)
    policy = RetryPolicy(max_attempts=3, sleep=lambda _: None)  # only the limiter waits here
    meter = UsageMeter()
    CallLayer(wrapped, retry=policy).call(REQUEST, MergedSummary, meter, prompt_sha256="p")
    assert meter.total.calls == 3 and len(inner.history) == 3
    # 1st at once; the 429 pushed the next slot 5 s out; the 3rd waited its 1 s spacing.
    assert clock.slept == pytest.approx([5.0, 1.0])
    stats = wrapped.stats
    assert (stats.calls, stats.failed, stats.rate_limited) == (3, 2, 1)


def test_tokens_per_minute_count_the_prompt_and_the_output_budget() -> None:
    counter = TokenCounter.for_model("gpt-4o-mini")
    wrapped = ThrottledBackend(ScriptedBackend(), counter=counter)
    prompt = sum(counter.count(m.content) for m in REQUEST.messages)
    assert wrapped.estimate_tokens(REQUEST) == prompt + 2 * 8 + 200

    clock = FakeClock()
    limiter = RateLimiter(tpm=60 * wrapped.estimate_tokens(REQUEST), clock=clock)
    limited = ThrottledBackend(ScriptedBackend(), limiter, counter=counter, sleep=clock.sleep)
    for _ in range(3):
        limited.complete(REQUEST)
    assert clock.slept == pytest.approx([1.0, 1.0])  # one request's tokens per second


def test_a_cancelled_item_makes_no_further_call() -> None:
    inner = ScriptedBackend()
    wrapped = ThrottledBackend(inner)
    token = CancelToken()
    reset = current_token.set(token)
    try:
        wrapped.complete(REQUEST)
        token.cancel("timed out after 1s")
        with pytest.raises(CallCancelled, match="timed out after 1s"):
            wrapped.complete(REQUEST)
    finally:
        current_token.reset(reset)
    assert len(inner.history) == 1


def test_a_cancelled_item_stops_waiting_for_its_slot() -> None:
    limiter = RateLimiter(rpm=1)  # real clock: the second call would wait a minute
    wrapped = ThrottledBackend(ScriptedBackend(), limiter)
    token = CancelToken()
    reset = current_token.set(token)
    timer = threading.Timer(0.1, token.cancel, args=("the run was interrupted",))
    try:
        wrapped.complete(REQUEST)
        started = time.monotonic()
        timer.start()
        with pytest.raises(CallCancelled, match="interrupted"):
            wrapped.complete(REQUEST)
        assert time.monotonic() - started < 5
    finally:
        timer.cancel()
        current_token.reset(reset)
