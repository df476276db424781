"""Client-side limits on requests and tokens per minute, shared by every thread of a batch.

Providers enforce their per-minute limits over windows much shorter than a minute (OpenAI
documents that 60 RPM may be enforced as 1 request per second), so a bucket that lets a whole
minute's allowance out at once earns 429s. This limiter spaces calls instead: each call reserves
the next free slot, `60 / rpm` seconds long and `tokens * 60 / tpm` seconds long on the token
clock, and waits for it. Over any window of T seconds it admits at most `rpm * T / 60 + 1`
calls and `tpm * T / 60` tokens plus one call's worth. Slots are handed out in the order calls
ask, so no thread starves, and idle time earns no burst.

A 429 is the server's word that we went too fast anyway (another client shares the key):
`pause` pushes every slot past its Retry-After, so all threads back off, not just the one that
was told.

The limiter only books slots; the caller waits (the throttle, on the item's cancel token, so a
cancelled item stops waiting). The clock is injected so tests check the schedule without waiting
on wall time.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable


class RateLimiter:
    def __init__(
        self,
        *,
        rpm: float | None = None,
        tpm: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        for name, value in (("rpm", rpm), ("tpm", tpm)):
            if value is not None and value <= 0:
                raise ValueError(f"{name} must be positive, got {value}")
        self.rpm = rpm
        self.tpm = tpm
        self._clock = clock
        self._lock = threading.Lock()
        self._next_call = float("-inf")
        self._next_tokens = float("-inf")
        self.waited_s = 0.0

    @property
    def active(self) -> bool:
        return self.rpm is not None or self.tpm is not None

    def reserve(self, tokens: int) -> float:
        """Book the next slot for a call spending `tokens`; return how long to wait for it."""
        with self._lock:
            now = self._clock()
            start = max(now, self._next_call, self._next_tokens)
            if self.rpm is not None:
                self._next_call = start + 60.0 / self.rpm
            if self.tpm is not None:
                self._next_tokens = start + max(tokens, 0) * 60.0 / self.tpm
            wait = start - now
            self.waited_s += wait
            return wait

    def pause(self, seconds: float) -> None:
        """Let no call start for `seconds` from now (a server's Retry-After)."""
        with self._lock:
            until = self._clock() + max(seconds, 0.0)
            self._next_call = max(self._next_call, until)
            self._next_tokens = max(self._next_tokens, until)
