"""The call layer: a typed request in, a validated output out, every attempt counted once.

`CallLayer.call(request, output_type, meter)` is the only way the pipeline (and the judge) reach
a model. In order:

1. **Cache** (when one is configured): look up the key under a per-key single-flight lock, so
   concurrent identical calls make one model call; a hit counts `cached_calls=1`. The stored
   envelope is `{"output": <validated output as JSON>}`; only validated outputs are stored, so
   an error is never cached.
2. **Attempts**, each one `backend.complete` and nothing else:
   * a transient failure (429, 5xx, timeout) is retried with capped exponential backoff,
     honouring `Retry-After` (`RetryPolicy`);
   * an answer cut off at its token limit is asked again once with twice the budget when that
     still fits the context window, else `OutputTruncated`;
   * output that does not parse or validate is re-asked with the validation error, up to
     `max_reasks` times, else `StructuredOutputError`;
   * valid output that the caller's `check` finds flawed (a sentence cut short, a claim
     repeated) is re-asked once with the problem. The answer to that re-ask is returned if it
     is valid, else the flawed output: the caller tidies what is still wrong, since a flaw
     is not worth failing a call over.
3. **Store** the validated output in the cache.

Usage: every attempt, successful or not, adds its usage to the caller's `UsageMeter` the moment
it ends, and nothing else ever adds usage. The meter is the single accumulator of a run; its
owner attaches `meter.total` once to the result or to the error (instructor's `total_usage` is
the model). Errors raised here carry the attempts made and the last output, but no usage: that
is the meter's job, so no layer has to guess whether the one below already counted.
"""

from __future__ import annotations

import json
import math
import random
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import TypeVar

from pydantic import BaseModel, ValidationError

from summarizer.cache import CallCache, cache_key
from summarizer.errors import (
    BackendError,
    OutputTruncated,
    StructuredOutputError,
    SummarizerError,
    TransientBackendError,
)
from summarizer.llm import Backend, Completion, CompletionRequest, Message
from summarizer.schemas import Usage
from summarizer.tokens import TokenCounter

T = TypeVar("T", bound=BaseModel)

REASK_TEMPLATE = (
    "Your previous answer was not valid: {error}\n"
    "Answer again with only a JSON object that follows the schema exactly."
)
# What an attempt that failed before the server reported usage counts as.
FAILED_ATTEMPT = Usage(calls=1, failed_calls=1)


@dataclass(frozen=True)
class RetryPolicy:
    """How transient failures are retried; `sleep` is injected (batch jobs make it cancellable)."""

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


class UsageMeter:
    """The one usage accumulator of a run; thread-safe, since chunks may be mapped in threads."""

    def __init__(self) -> None:
        self._total = Usage()
        self._lock = threading.Lock()

    def add(self, usage: Usage) -> None:
        with self._lock:
            self._total = self._total + usage

    @property
    def total(self) -> Usage:
        with self._lock:
            return self._total


@contextmanager
def metered(meter: UsageMeter | None = None) -> Iterator[UsageMeter]:
    """A run's usage: the meter every call of the run adds to; an error leaving the run gets
    the meter's total attached, once, here."""
    meter = meter or UsageMeter()
    try:
        yield meter
    except SummarizerError as error:
        error.usage = meter.total
        raise


class CallLayer:
    """Cache, retries, truncation retry and re-asks over one backend; see the module docstring.

    `warn` receives notes worth putting in the result (a doubled output budget).
    """

    def __init__(
        self,
        backend: Backend,
        *,
        cache: CallCache | None = None,
        refresh: bool = False,
        retry: RetryPolicy | None = None,
        max_reasks: int = 2,
        counter: TokenCounter | None = None,
    ) -> None:
        self.backend = backend
        self.cache = cache
        self.refresh = refresh
        self.retry = retry or RetryPolicy()
        self.max_reasks = max_reasks
        self._counter = counter

    def call(
        self,
        request: CompletionRequest,
        output_type: type[T],
        meter: UsageMeter,
        *,
        prompt_sha256: str,
        warn: Callable[[str], None] = lambda _: None,
        check: Callable[[T], str | None] | None = None,
    ) -> T:
        """`check(output)` says what is wrong with a valid output, or None (see the module
        docstring); it runs on fresh answers only, since a cached one was checked before."""
        if self.cache is None:
            return self._answer(request, output_type, meter, warn, check)
        identity = self.backend.identity
        # Only a cached call needs the key (hashing the whole request is not free).
        key = cache_key(
            backend=identity.name,
            model=identity.model,
            endpoint=identity.endpoint,
            request=request,
            prompt_sha256=prompt_sha256,
        )
        with self.cache.single_flight(key):
            if not self.refresh:
                hit = self.cache.get(key)
                if hit is not None:
                    try:
                        output = output_type.model_validate(hit.get("output"))
                    except ValidationError:
                        pass  # an entry of another shape: answer afresh and overwrite it
                    else:
                        meter.add(Usage(cached_calls=1))
                        return output
            output = self._answer(request, output_type, meter, warn, check)
            self.cache.set(key, {"output": output.model_dump(mode="json")})
            return output

    # --- attempts ----------------------------------------------------------------------------

    def _answer(
        self,
        request: CompletionRequest,
        output_type: type[T],
        meter: UsageMeter,
        warn: Callable[[str], None],
        check: Callable[[T], str | None] | None = None,
    ) -> T:
        """Re-ask on invalid or flawed output; double the budget once on a cut-off answer."""
        current = request
        problem = ""
        last_text: str | None = None
        attempts = 0
        reasks = 0
        doubled = False
        flawed: T | None = None  # a valid answer that `check` faulted, kept as the fallback
        while True:
            completion = self._complete(current, meter)
            attempts += 1
            last_text = completion.text
            if completion.finish_reason == "length":
                bigger = None if doubled else self._bigger_budget(current, completion.usage)
                if bigger is None:
                    if flawed is not None:
                        return flawed
                    # A cut-off answer is never repaired by guessing.
                    raise OutputTruncated(
                        f"output hit the {current.max_tokens}-token limit",
                        attempts=attempts,
                        last_output=last_text,
                    )
                warn(f"output hit {current.max_tokens} tokens; retried with {bigger}")
                current = current.model_copy(update={"max_tokens": bigger})
                doubled = True
                continue
            try:
                output = output_type.model_validate(json.loads(completion.text))
            except (json.JSONDecodeError, ValidationError) as error:
                problem = _describe(error)
            else:
                if flawed is not None or check is None:
                    return output
                flaw = check(output)
                if flaw is None:
                    return output
                flawed, problem = output, flaw
            if reasks == self.max_reasks:
                if flawed is not None:
                    return flawed
                break
            reasks += 1
            current = current.model_copy(
                update={
                    "messages": (
                        *request.messages,
                        Message(role="assistant", content=_echoed(completion.text, current)),
                        Message(role="user", content=REASK_TEMPLATE.format(error=problem)),
                    )
                }
            )
        raise StructuredOutputError(
            f"no valid {output_type.__name__} after {reasks + 1} attempts: {problem}",
            attempts=attempts,
            last_output=last_text,
        )

    def _bigger_budget(self, request: CompletionRequest, usage: Usage) -> int | None:
        """Up to twice the output budget, as much of it as fits the context window.

        The prompt is the backend's own count from the cut-off attempt when it gave one (a chat
        template adds tokens that tiktoken cannot see), else tiktoken times the model's ratio.
        """
        identity = self.backend.identity
        prompt = usage.prompt_tokens
        if prompt <= 0:
            if self._counter is None:
                self._counter = TokenCounter.for_model(identity.model)
            tiktoken_prompt = sum(self._counter.count(m.content) for m in request.messages)
            prompt = math.ceil(tiktoken_prompt * identity.token_ratio)
        room = identity.context_window - prompt
        bigger = min(request.max_tokens * 2, room)
        if bigger <= request.max_tokens:
            return None
        return bigger

    def _complete(self, request: CompletionRequest, meter: UsageMeter) -> Completion:
        """One answer, retrying transient failures; every attempt's usage goes to the meter."""
        policy = self.retry
        for attempt in range(1, policy.max_attempts + 1):
            try:
                completion = self.backend.complete(request)
            except TransientBackendError as error:
                meter.add(error.usage or FAILED_ATTEMPT)
                too_long = (
                    error.retry_after is not None and error.retry_after > policy.max_retry_after
                )
                if attempt == policy.max_attempts or too_long:
                    raise TransientBackendError(
                        f"{error} (gave up after {attempt} attempt{'s' * (attempt > 1)})",
                        retry_after=error.retry_after,
                        status=error.status,
                        attempts=attempt,
                        last_output=error.last_output,
                    ) from error
                policy.sleep(policy.delay(attempt, error.retry_after))
            except BackendError as error:
                meter.add(error.usage or FAILED_ATTEMPT)
                error.usage = None  # counted: the meter is the only accumulator
                error.attempts = attempt
                raise
            else:
                meter.add(completion.usage)
                return completion
        raise AssertionError("unreachable: the loop returns or raises")


def _echoed(text: str, request: CompletionRequest) -> str:
    """The invalid answer as the re-ask quotes it: whole when its size is plausible for the
    token budget, else its start (a server that ignores max_tokens must not have a huge answer
    sent back on every re-ask)."""
    limit = 8 * request.max_tokens
    return text if len(text) <= limit else f"{text[:limit]} [... truncated]"


def _describe(error: json.JSONDecodeError | ValidationError) -> str:
    if isinstance(error, json.JSONDecodeError):
        return f"not JSON ({error.msg} at char {error.pos})"
    parts = [
        f"{'.'.join(str(p) for p in e['loc']) or '<root>'}: {e['msg']}" for e in error.errors()[:5]
    ]
    return "; ".join(parts)
