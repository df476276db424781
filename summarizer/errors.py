"""Every error the library raises on purpose.

    SummarizerError                  base; the CLI maps it to a one-line message
    ├── ConfigError                  bad or missing settings (exit 2)
    │   └── BatchLocked              another batch run holds the output directory (batch/lock.py)
    ├── InputError                   unreadable source: missing, empty, binary, non-UTF-8, too large
    ├── PromptError                  template missing, malformed, or a variable left unfilled
    ├── CacheError                   the cache directory cannot be used
    ├── PlanError                    the document cannot be split to fit the context budget
    ├── EvalError                    eval data malformed, or a run cannot be compared
    │   └── EvalRegression           the gate failed; carries the comparison (evaluation.gate)
    └── BackendError                 a model call failed; carries the attempts and usage so far
        ├── BackendUnavailable       endpoint unreachable, model file missing, library absent
        ├── AuthenticationFailed     the endpoint refused the credentials (never echoes the key)
        ├── TransientBackendError    worth retrying: 429, 5xx, timeout, dropped connection
        ├── OutputTruncated          the model stopped at its token limit
        ├── StructuredOutputError    retries ran out without output that parses and validates
        └── CallCancelled            a batch item was cancelled (timeout, Ctrl-C; batch/cancel.py)

Errors take keyword-only context so a message can never be confused with data. `usage` is what
the failed run spent, every attempt counted once: the run's owner sets it from its `UsageMeter`
(llm/calls.py) when the error leaves the run, and no other layer touches it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from summarizer.schemas import Usage


class SummarizerError(Exception):
    """Base class: anything the CLI reports as a one-line message."""

    exit_code = 1
    usage: Usage | None = None


class ConfigError(SummarizerError):
    exit_code = 2


class InputError(SummarizerError):
    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class PromptError(SummarizerError):
    pass


class CacheError(SummarizerError):
    pass


class PlanError(SummarizerError):
    pass


class EvalError(SummarizerError):
    pass


class BackendError(SummarizerError):
    def __init__(
        self,
        message: str,
        *,
        attempts: int = 1,
        usage: Usage | None = None,
        last_output: str | None = None,
    ) -> None:
        self.attempts = attempts
        self.usage = usage
        self.last_output = last_output
        super().__init__(message)


class BackendUnavailable(BackendError):
    pass


class AuthenticationFailed(BackendError):
    pass


class TransientBackendError(BackendError):
    """A failure worth retrying; `retry_after` is the server's hint in seconds, if any."""

    def __init__(
        self,
        message: str,
        *,
        retry_after: float | None = None,
        status: int | None = None,
        attempts: int = 1,
        usage: Usage | None = None,
        last_output: str | None = None,
    ) -> None:
        self.retry_after = retry_after
        self.status = status
        super().__init__(message, attempts=attempts, usage=usage, last_output=last_output)


class OutputTruncated(BackendError):
    pass


class StructuredOutputError(BackendError):
    pass
