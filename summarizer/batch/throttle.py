"""Throttling middleware: the Backend every batch call goes through (cancellation, rate limits,
call counts).

It wraps the service's real backend and implements the same protocol, so the pipeline, the
retry loop and the cache key see no difference. Retries (`llm/calls.py`) call `complete` once
per attempt, so each attempt waits for its own rate-limit slot, retries included.
"""

from __future__ import annotations

import threading
from collections.abc import Callable
from dataclasses import dataclass

from summarizer.batch.cancel import cancellable_sleep, current_token
from summarizer.batch.ratelimit import RateLimiter
from summarizer.errors import TransientBackendError
from summarizer.llm import Backend, BackendIdentity, Completion, CompletionRequest
from summarizer.tokens import TokenCounter

# Chat formats add a few tokens per message around its text (as the pipeline's planner assumes).
MESSAGE_OVERHEAD_TOKENS = 8


@dataclass
class CallStats:
    calls: int = 0
    failed: int = 0
    rate_limited: int = 0


class ThrottledBackend:
    def __init__(
        self,
        inner: Backend,
        limiter: RateLimiter | None = None,
        *,
        counter: TokenCounter | None = None,
        sleep: Callable[[float], None] = cancellable_sleep,
    ) -> None:
        self.inner = inner
        self.limiter = limiter or RateLimiter()
        self._counter = counter
        self._sleep = sleep
        self._stats = CallStats()
        self._lock = threading.Lock()

    @property
    def identity(self) -> BackendIdentity:
        return self.inner.identity

    @property
    def stats(self) -> CallStats:
        with self._lock:
            return CallStats(self._stats.calls, self._stats.failed, self._stats.rate_limited)

    def estimate_tokens(self, request: CompletionRequest) -> int:
        """What a provider counts against a tokens-per-minute limit: prompt plus max output."""
        if self._counter is None:
            self._counter = TokenCounter.for_model(self.inner.identity.model)
        prompt = sum(
            self._counter.count(message.content) + MESSAGE_OVERHEAD_TOKENS
            for message in request.messages
        )
        return prompt + request.max_tokens

    def close(self) -> None:
        """Close the inner backend, if it has a `close`: whoever owns the throttle owns it too."""
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()

    def complete(self, request: CompletionRequest) -> Completion:
        token = current_token.get()
        if token is not None:
            token.check()
        if self.limiter.active:
            tokens = self.estimate_tokens(request) if self.limiter.tpm is not None else 0
            wait = self.limiter.reserve(tokens)
            if wait > 0:
                self._sleep(wait)  # cut short (CallCancelled) if the item is cancelled meanwhile
            if token is not None:
                token.check()
        with self._lock:
            self._stats.calls += 1
        try:
            return self.inner.complete(request)
        except TransientBackendError as error:
            with self._lock:
                self._stats.failed += 1
                if error.status == 429:
                    self._stats.rate_limited += 1
            if error.status == 429 and error.retry_after is not None:
                self.limiter.pause(error.retry_after)
            raise
        except Exception:
            with self._lock:
                self._stats.failed += 1
            raise
