"""Stopping an item's worker thread: Python cannot kill a thread, so the thread stops itself.

Each item runs with a `CancelToken` in a context variable (the worker thread runs in a copy of
the context that set it). The throttle (`throttle.py`) checks the token before every model call,
and waits (for a rate-limit slot, or between retries) on the token instead of `time.sleep`, so a
timed-out or interrupted item stops at its next call or wait rather than carrying on in the
background.
The model call already in flight is not interrupted; the backend's own timeout bounds it.
"""

from __future__ import annotations

import threading
import time
from contextvars import ContextVar

from summarizer.errors import BackendError
from summarizer.schemas import Usage


class CallCancelled(BackendError):
    """The item was cancelled (timed out, or the run was interrupted) before this call."""

    def __init__(self, reason: str) -> None:
        # No call was made, so none is counted (the call layer counts an error that carries no
        # usage as one failed call).
        super().__init__(reason, usage=Usage())


class CancelToken:
    def __init__(self) -> None:
        self._event = threading.Event()
        self.reason = ""

    @property
    def cancelled(self) -> bool:
        return self._event.is_set()

    def cancel(self, reason: str) -> None:
        if not self._event.is_set():
            self.reason = reason
            self._event.set()

    def check(self) -> None:
        if self._event.is_set():
            raise CallCancelled(self.reason)

    def sleep(self, seconds: float) -> None:
        """Sleep, waking early (and raising CallCancelled) if the item is cancelled meanwhile."""
        if self._event.wait(max(seconds, 0.0)):
            raise CallCancelled(self.reason)


current_token: ContextVar[CancelToken | None] = ContextVar("batch_cancel_token", default=None)


def cancellable_sleep(seconds: float) -> None:
    """`time.sleep` that the current item's token can cut short."""
    token = current_token.get()
    if token is None:
        time.sleep(seconds)
    else:
        token.sleep(seconds)
