"""Backpressure: a bounded work queue, a per-key request rate, and bounded request bodies.

Each refuses at once instead of letting work pile up: `WorkQueue` admits at most `capacity`
synchronous requests (running or waiting for a model slot), `KeyRateLimiter` at most
`per_minute` requests per API key (one every `60 / per_minute` seconds on average, bursts of
`burst`), and `BodyLimits` reads at most `max_body` bytes of a body before answering 413, so no
caller can make the server hold more than that in memory per request. Refusals carry the
seconds to wait, which the API sends as `Retry-After`.
"""

from __future__ import annotations

import json
import math
import threading
import time
from collections.abc import Callable

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from summarizer.server.problems import PROBLEM_TYPE, problem


class WorkQueue:
    """Admission for synchronous requests; used from the event loop only."""

    def __init__(self, capacity: int) -> None:
        self.capacity = capacity
        self.admitted = 0

    def try_enter(self) -> bool:
        if self.admitted >= self.capacity:
            return False
        self.admitted += 1
        return True

    def leave(self) -> None:
        self.admitted -= 1


class KeyRateLimiter:
    """A token bucket per key: `burst` requests at once, refilled at `per_minute`."""

    def __init__(
        self,
        per_minute: float,
        *,
        burst: float | None = None,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.rate = per_minute / 60.0
        self.burst = burst if burst is not None else max(1.0, per_minute / 6.0)
        self._clock = clock
        self._buckets: dict[str, tuple[float, float]] = {}  # key -> (tokens, at)
        self._lock = threading.Lock()

    def admit(self, key: str) -> float | None:
        """None if `key` may make a request now (and count it), else the seconds to wait."""
        with self._lock:
            now = self._clock()
            tokens, at = self._buckets.get(key, (self.burst, now))
            tokens = min(self.burst, tokens + (now - at) * self.rate)
            if tokens >= 1.0:
                self._buckets[key] = (tokens - 1.0, now)
                return None
            self._buckets[key] = (tokens, now)
            return (1.0 - tokens) / self.rate


def retry_after(seconds: float) -> str:
    return str(max(1, math.ceil(seconds)))


class BodyLimits:
    """ASGI middleware: a request with a body must be JSON (415) of at most `max_body` bytes
    (413). The body is read here, bounded, and handed on whole."""

    def __init__(self, app: ASGIApp, *, max_body: int) -> None:
        self.app = app
        self.max_body = max_body

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http" or scope["method"] not in ("POST", "PUT", "PATCH"):
            await self.app(scope, receive, send)
            return
        headers = dict(scope["headers"])
        media = headers.get(b"content-type", b"").split(b";")[0].strip().lower()
        if media != b"application/json":
            detail = "send the request body as JSON, with Content-Type: application/json"
            await _refuse(send, 415, "unsupported-media-type", "Unsupported media type", detail)
            return
        declared = headers.get(b"content-length")
        if declared is not None and declared.isdigit() and int(declared) > self.max_body:
            await self._too_large(send)
            return
        chunks: list[bytes] = []
        size = 0
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":
                return  # the client went away
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > self.max_body:
                await self._too_large(send)
                return
            chunks.append(chunk)
            more = message.get("more_body", False)
        body = b"".join(chunks)
        delivered = False

        async def replay() -> Message:
            nonlocal delivered
            if not delivered:
                delivered = True
                return {"type": "http.request", "body": body, "more_body": False}
            return await receive()

        await self.app(scope, replay, send)

    async def _too_large(self, send: Send) -> None:
        detail = f"the request body is larger than the server's limit of {self.max_body} bytes"
        await _refuse(send, 413, "body-too-large", "Request body too large", detail)


async def _refuse(send: Send, status: int, slug: str, title: str, detail: str) -> None:
    body = json.dumps(problem(status, slug, title, detail).model_dump()).encode()
    await send(
        {
            "type": "http.response.start",
            "status": status,
            "headers": [
                (b"content-type", PROBLEM_TYPE.encode()),
                (b"content-length", str(len(body)).encode()),
                (b"connection", b"close"),
            ],
        }
    )
    await send({"type": "http.response.body", "body": body})
