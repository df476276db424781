"""Retry transient backend failures with capped exponential backoff, honouring Retry-After."""

from __future__ import annotations

import random
import time
from collections.abc import Callable
from dataclasses import dataclass, field

from summarizer.errors import BackendError, TransientBackendError
from summarizer.llm import Backend, Completion, CompletionRequest
from summarizer.schemas import Usage


@dataclass(frozen=True)
class RetryPolicy:
    max_attempts: int = 5
    base_delay: float = 0.5
    max_delay: float = 30.0
    # A server asking for longer than this is treated as "not now": we stop instead of hanging.
    max_retry_after: float = 120.0
    sleep: Callable[[float], None] = field(default=time.sleep, compare=False)
    jitter: Callable[[], float] = field(default=random.random, compare=False)

    def delay(self, attempt: int, retry_after: float | None) -> float:
        if retry_after is not None:
            return float(min(max(retry_after, 0.0), self.max_retry_after))
        backoff = min(self.max_delay, self.base_delay * 2 ** (attempt - 1))
        return float(backoff * (0.5 + self.jitter() / 2))


def complete_with_retries(
    backend: Backend, request: CompletionRequest, policy: RetryPolicy
) -> Completion:
    """Call `backend.complete`, retrying transient errors; usage covers every attempt."""
    spent = Usage()
    for attempt in range(1, policy.max_attempts + 1):
        try:
            completion = backend.complete(request)
        except TransientBackendError as error:
            spent = spent + (error.usage or Usage(calls=1, failed_calls=1))
            too_long = error.retry_after is not None and error.retry_after > policy.max_retry_after
            if attempt == policy.max_attempts or too_long:
                raise TransientBackendError(
                    f"{error} (gave up after {attempt} attempt{'s' * (attempt > 1)})",
                    retry_after=error.retry_after,
                    status=error.status,
                    attempts=attempt,
                    usage=spent,
                    last_output=error.last_output,
                ) from error
            policy.sleep(policy.delay(attempt, error.retry_after))
        except BackendError as error:
            error.usage = spent + (error.usage or Usage(calls=1, failed_calls=1))
            error.attempts = attempt
            raise
        else:
            return completion.model_copy(update={"usage": spent + completion.usage})
    raise AssertionError("unreachable: the loop returns or raises")
