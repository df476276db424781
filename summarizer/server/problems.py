"""Errors as JSON problem documents (RFC 9457), mapped from `summarizer.errors` in one place.

    InputError, PlanError, StoryError   422  the article (or articles) cannot be summarised
    BackendUnavailable, transient       503  the model endpoint is down or busy (Retry-After)
    CallCancelled                       504  the summary took longer than --request-timeout
    other BackendError                  502  the model endpoint failed or answered unusably
    CacheError, LedgerError             503  the cache or job store cannot be used now
    any other SummarizerError           500  the server is misconfigured
    anything else                       500  a bug; logged with its traceback, never sent

The detail of a SummarizerError is its one-line message, which the library already keeps free
of keys and URL credentials; an unexpected exception's text is never sent at all.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pydantic import BaseModel, ConfigDict

from summarizer.batch.cancel import CallCancelled
from summarizer.errors import (
    BackendError,
    BackendUnavailable,
    CacheError,
    InputError,
    LedgerError,
    PlanError,
    SummarizerError,
    TransientBackendError,
)

PROBLEM_TYPE = "application/problem+json"


class Problem(BaseModel):
    """What every error response holds."""

    model_config = ConfigDict(extra="forbid")

    type: str
    title: str
    status: int
    detail: str


@dataclass(frozen=True)
class Mapped:
    status: int
    slug: str
    title: str
    retry_after: int | None = None


def problem_for(error: SummarizerError) -> Mapped:
    """The one mapping from the library's errors to HTTP."""
    if isinstance(error, InputError | PlanError):
        return Mapped(422, "unprocessable-article", "The article cannot be summarised")
    if isinstance(error, CallCancelled):
        return Mapped(504, "timeout", "The summary took too long")
    if isinstance(error, TransientBackendError | BackendUnavailable):
        wait = getattr(error, "retry_after", None)
        retry = max(1, math.ceil(wait)) if wait else 5
        return Mapped(503, "model-unavailable", "The model endpoint is unavailable", retry)
    if isinstance(error, BackendError):
        return Mapped(502, "model-failed", "The model endpoint failed")
    if isinstance(error, CacheError | LedgerError):
        return Mapped(503, "storage-unavailable", "Storage is unavailable", 5)
    return Mapped(500, "server-error", "The server cannot do this")


def problem(status: int, slug: str, title: str, detail: str) -> Problem:
    return Problem(type=f"/problems/{slug}", title=title, status=status, detail=detail)


def one_line(text: str, limit: int = 500) -> str:
    line = " ".join(text.split())
    return line if len(line) <= limit else line[: limit - 1] + "…"
