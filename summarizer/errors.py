"""Every error the library raises on purpose.

    SummarizerError                  base; the CLI maps it to a one-line message
    ├── ConfigError                  bad or missing settings (exit 2)
    │   ├── BatchLocked              another batch run holds the output directory (batch/lock.py)
    │   └── LedgerError              the batch ledger cannot be read or written (damaged, full disk)
    ├── InputError                   unreadable source: missing, empty, binary, non-UTF-8, too large
    ├── PromptError                  template missing, malformed, or a variable left unfilled
    ├── CacheError                   the cache directory cannot be used, or its database is damaged
    ├── OutputError                  an output path cannot be written safely, or the write failed
    │   └── ResultNotWritten         ... after the calls were paid for; says where the result is
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

Not errors, but how a run stops: `Interrupted` (SIGINT, exit 130) and its subclass `Terminated`
(SIGTERM, exit 143) are KeyboardInterrupts, so everything that already stops cleanly on Ctrl-C
(a batch records its report, a write removes its temp file) does the same on SIGTERM.

Errors take keyword-only context so a message can never be confused with data. `usage` is what
the failed run spent, every attempt counted once: the run's owner sets it from its `UsageMeter`
(llm/calls.py) when the error leaves the run, and no other layer touches it.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from pathlib import Path

    from summarizer.schemas import Usage


class SummarizerError(Exception):
    """Base class: anything the CLI reports as a one-line message."""

    exit_code = 1
    usage: Usage | None = None


class ConfigError(SummarizerError):
    exit_code = 2


class LedgerError(ConfigError):
    """SQLite could not read or write the batch ledger at `path`; `advice` says what to do."""

    def __init__(self, reason: str, *, path: Path, advice: str) -> None:
        self.path = path
        self.reason = reason
        self.advice = advice
        super().__init__(f"cannot use batch ledger {path}: {reason}; {advice}")


class InputError(SummarizerError):
    def __init__(self, message: str, *, path: str | None = None) -> None:
        self.path = path
        super().__init__(f"{path}: {message}" if path else message)


class PromptError(SummarizerError):
    pass


class CacheError(SummarizerError):
    def __init__(self, message: str, *, directory: Path | None = None) -> None:
        self.directory = directory
        super().__init__(message)


class OutputError(SummarizerError):
    """`path` (as the user gave it) cannot be written: refused before writing, or the write
    failed. Nothing at `path` was changed."""

    def __init__(self, message: str, *, path: Path) -> None:
        self.path = path
        self.reason = message
        super().__init__(f"cannot write {path}: {message}")


class ResultNotWritten(OutputError):
    """A paid-for result could not be written to `path`. `recovery` says how to get it: rerun
    (free: every answer is cached), or the file it was written to instead (`written_to`)."""

    def __init__(
        self, message: str, *, path: Path, recovery: str, written_to: Path | None = None
    ) -> None:
        self.recovery = recovery
        self.written_to = written_to
        super().__init__(f"{message}; {recovery}", path=path)


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


class Interrupted(KeyboardInterrupt):
    """The run was stopped by a signal (SIGINT: Ctrl-C); `exit_code` is 128 + its number."""

    exit_code = 130
    message = "interrupted"


class Terminated(Interrupted):
    """SIGTERM (`kill`, systemd stopping a unit): stop as on Ctrl-C."""

    exit_code = 143
    message = "terminated"
