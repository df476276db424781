"""A scripted OpenAI-compatible chat-completions server on loopback, for tests and benchmarks.

It is a real HTTP server (stdlib `ThreadingHTTPServer` on 127.0.0.1, an ephemeral port, a daemon
thread), so the `openai` SDK, its HTTP library and our error mapping all run for real::

    with OpenAIServer(responder=lambda body: '{"ok": true}') as server:
        server.enqueue(rate_limited(retry_after=2), server_error(), valid('{"ok": false}'))
        backend = OpenAIBackend(model="m", base_url=server.base_url, api_key=None, timeout=5)
        ...
        server.requests  # every request body, in arrival order

Each request to `POST /v1/chat/completions` takes the next queued behaviour; with the queue empty
it answers the `responder`'s text, or HTTP 400 if there is none. Every answer waits `latency`
seconds first (a fixed per-call cost for batch tests and benchmarks).
`GET /v1/models` lists one model. Behaviours are built with the functions below:

    valid(text)            200, content `text`, finish_reason "stop"
    invalid_schema(text)   the same, named for JSON that parses but breaks the schema
    truncated(text)        200 with cut-off JSON and finish_reason "stop"
    length_cut(text)       200 with cut-off JSON and finish_reason "length"
    refusal(reason)        200 with null content and `message.refusal` set
    rate_limited(...)      429 with Retry-After and/or retry-after-ms
    server_error(status)   5xx
    http_error(status, message)   any other error status
    unauthorized()         401 that (carelessly) echoes the presented API key
    reject_json_schema()   400, as from a server without structured outputs
    hang(seconds)          waits (past a client's timeout), then answers
    drop_connection()      closes the connection without answering
    raw(body, content_type, status)   exactly these bytes: an HTML page from a proxy, a body
                           that is no chat completion
"""

from __future__ import annotations

import contextlib
import json
import socket
import sys
import threading
import time
from collections import deque
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from types import TracebackType
from typing import Any, Literal

Responder = Callable[[dict[str, Any]], str]

TRUNCATED_JSON = '{"headline": "Council approves the budget", "summary": "The council vo'
MODEL_ID = "test-model"


@dataclass(frozen=True)
class Behaviour:
    """One scripted answer. Build it with the functions in this module."""

    action: Literal["reply", "drop"] = "reply"
    status: int = 200
    # The completion's content for a 200; None asks the server's responder.
    content: str | None = None
    finish_reason: str = "stop"
    # A refusal answers with null content and this text in `message.refusal`.
    refusal: str | None = None
    error_message: str = ""
    error_param: str | None = None
    error_code: str | None = None
    echo_key: bool = False
    headers: tuple[tuple[str, str], ...] = ()
    delay: float = 0.0
    # Sent as the body, verbatim, instead of a chat completion or error object.
    raw_body: bytes | None = None
    content_type: str = "application/json"


def valid(content: str, *, finish_reason: str = "stop") -> Behaviour:
    return Behaviour(content=content, finish_reason=finish_reason)


def invalid_schema(content: str) -> Behaviour:
    """JSON that parses but does not validate; identical on the wire to `valid`."""
    return Behaviour(content=content)


def refusal(reason: str = "I'm sorry, I can't help with that.") -> Behaviour:
    return Behaviour(refusal=reason)


def truncated(content: str = TRUNCATED_JSON) -> Behaviour:
    """Cut-off JSON that still claims finish_reason "stop" (a buggy proxy or server)."""
    return Behaviour(content=content)


def length_cut(content: str = TRUNCATED_JSON) -> Behaviour:
    return Behaviour(content=content, finish_reason="length")


def rate_limited(
    retry_after: float | str | None = 1.0, *, retry_after_ms: float | None = None
) -> Behaviour:
    """429. `retry_after` is seconds, or a raw header value such as an HTTP-date."""
    headers: list[tuple[str, str]] = []
    if retry_after is not None:
        headers.append(("Retry-After", _header_number(retry_after)))
    if retry_after_ms is not None:
        headers.append(("retry-after-ms", _header_number(retry_after_ms)))
    return Behaviour(
        status=429,
        error_message="Rate limit reached for requests. Please try again later.",
        error_code="rate_limit_exceeded",
        headers=tuple(headers),
    )


def server_error(status: int = 500) -> Behaviour:
    return Behaviour(status=status, error_message="The server had an error processing the request.")


def http_error(status: int, message: str, *, param: str | None = None) -> Behaviour:
    return Behaviour(status=status, error_message=message, error_param=param)


def unauthorized() -> Behaviour:
    """401 whose message quotes the presented key in full, as a careless server might."""
    return Behaviour(
        status=401,
        error_message="Incorrect API key provided: ",
        echo_key=True,
        error_code="invalid",
    )


def reject_json_schema() -> Behaviour:
    return Behaviour(
        status=400,
        error_message="Invalid parameter: 'response_format' of type 'json_schema' is not supported "
        "with this model.",
        error_param="response_format",
    )


def hang(seconds: float, content: str | None = None) -> Behaviour:
    """Wait `seconds` (cut short when the server closes), then answer like `valid`."""
    return Behaviour(content=content, delay=seconds)


def drop_connection() -> Behaviour:
    return Behaviour(action="drop")


def raw(body: bytes | str, content_type: str = "text/html", status: int = 200) -> Behaviour:
    data = body.encode() if isinstance(body, str) else body
    return Behaviour(status=status, raw_body=data, content_type=content_type)


def count_tokens(text: str) -> int:
    """The server's token estimate, so tests can predict usage: 4 characters a token."""
    return len(text) // 4


class OpenAIServer:
    """The scripted server; a context manager (`start()` / `close()` also work)."""

    def __init__(self, *, responder: Responder | None = None, latency: float = 0.0) -> None:
        self.responder = responder
        self.latency = latency
        self.requests: list[dict[str, Any]] = []
        self.request_headers: list[dict[str, str]] = []
        self.request_paths: list[str] = []
        self._script: deque[Behaviour] = deque()
        self._lock = threading.Lock()
        self._closing = threading.Event()
        self._connections: set[socket.socket] = set()
        self._httpd = _HTTPServer(self)
        # A short poll interval keeps close() (and so every test teardown) fast.
        self._thread = threading.Thread(
            target=self._httpd.serve_forever,
            kwargs={"poll_interval": 0.02},
            name="openai-test-server",
            daemon=True,
        )
        self._started = False

    @property
    def base_url(self) -> str:
        host, port = self._httpd.server_address[:2]
        return f"http://{host!s}:{port}/v1"

    @property
    def request_count(self) -> int:
        with self._lock:
            return len(self.requests)

    @property
    def pending(self) -> int:
        """Behaviours queued and not yet used."""
        with self._lock:
            return len(self._script)

    def enqueue(self, *behaviours: Behaviour) -> None:
        with self._lock:
            self._script.extend(behaviours)

    def start(self) -> OpenAIServer:
        if not self._started:
            self._thread.start()
            self._started = True
        return self

    def close(self) -> None:
        """Stop serving, wake any hanging handler, and close every connection."""
        self._closing.set()
        if self._started:
            self._httpd.shutdown()
            self._thread.join()
        with self._lock:
            connections = list(self._connections)
        for connection in connections:
            # Unblocks handler threads waiting on an idle keep-alive connection.
            with contextlib.suppress(OSError):
                connection.shutdown(socket.SHUT_RDWR)
        self._httpd.server_close()

    def __enter__(self) -> OpenAIServer:
        return self.start()

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    # --- used by the handler threads ---------------------------------------------------------

    def _record(
        self, body: dict[str, Any], headers: Mapping[str, str], path: str = ""
    ) -> Behaviour | None:
        with self._lock:
            self.requests.append(body)
            self.request_paths.append(path)
            self.request_headers.append({key.lower(): value for key, value in headers.items()})
            return self._script.popleft() if self._script else None

    def _track(self, connection: socket.socket, *, open_: bool) -> None:
        with self._lock:
            if open_:
                self._connections.add(connection)
            else:
                self._connections.discard(connection)

    def _wait(self, seconds: float) -> None:
        if seconds > 0:
            self._closing.wait(seconds)


class _HTTPServer(ThreadingHTTPServer):
    daemon_threads = True
    # socketserver's default listen backlog is 5: with more clients connecting at once the
    # kernel drops their SYNs and each retries after a second, which a real endpoint's backlog
    # (hundreds) never costs.
    request_queue_size = 1024

    def __init__(self, owner: OpenAIServer) -> None:
        self.owner = owner
        super().__init__(("127.0.0.1", 0), _Handler)

    def handle_error(self, request: Any, client_address: Any) -> None:
        # A client that timed out or hung up mid-reply is part of the script, not a failure.
        if not isinstance(sys.exc_info()[1], OSError):
            super().handle_error(request, client_address)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    # Headers and body go out in separate writes; with Nagle on, each reply would wait ~40 ms
    # for a delayed ACK, which would dominate every benchmark.
    disable_nagle_algorithm = True
    server: _HTTPServer

    def setup(self) -> None:
        super().setup()
        self.server.owner._track(self.connection, open_=True)

    def finish(self) -> None:
        self.server.owner._track(self.connection, open_=False)
        with contextlib.suppress(OSError):
            super().finish()

    def log_message(self, format: str, *args: Any) -> None:
        pass

    def do_GET(self) -> None:
        if self.path.rstrip("/") == "/v1/models":
            model = {"id": MODEL_ID, "object": "model", "created": 0, "owned_by": "test"}
            self._send_json(200, {"object": "list", "data": [model]})
        else:
            self._send_error(404, f"no route for GET {self.path}")

    def do_POST(self) -> None:
        # A query string is the client's (credentials in a base URL); the route ignores it.
        if self.path.partition("?")[0].rstrip("/") != "/v1/chat/completions":
            self._send_error(404, f"no route for POST {self.path}")
            return
        raw = self.rfile.read(int(self.headers.get("Content-Length") or 0))
        try:
            body = json.loads(raw)
        except ValueError:
            self._send_error(400, "request body is not JSON")
            return
        if not isinstance(body, dict):
            self._send_error(400, "request body is not a JSON object")
            return
        owner = self.server.owner
        behaviour = owner._record(body, dict(self.headers.items()), self.path)
        if behaviour is None:
            behaviour = Behaviour()
        if behaviour.action == "drop":
            self.close_connection = True
            return
        owner._wait(owner.latency + behaviour.delay)
        if behaviour.raw_body is not None:
            self._send_bytes(behaviour.status, behaviour.raw_body, behaviour.content_type)
            return
        if behaviour.status != 200:
            self._send_error(
                behaviour.status,
                behaviour.error_message + (self._presented_key() if behaviour.echo_key else ""),
                param=behaviour.error_param,
                code=behaviour.error_code,
                headers=behaviour.headers,
            )
            return
        if behaviour.refusal is not None:
            self._send_json(200, _completion(body, None, "stop", refusal=behaviour.refusal))
            return
        content = behaviour.content
        if content is None:
            if owner.responder is None:
                self._send_error(400, "test server: no behaviour queued and no responder set")
                return
            try:
                content = owner.responder(body)
            except Exception as error:
                # A 400 is not retried, so a broken responder fails the test at once, loudly.
                self._send_error(400, f"test server responder raised {error!r}")
                return
        self._send_json(200, _completion(body, content, behaviour.finish_reason))

    def _presented_key(self) -> str:
        return (self.headers.get("Authorization") or "").removeprefix("Bearer ")

    def _send_error(
        self,
        status: int,
        message: str,
        *,
        param: str | None = None,
        code: str | None = None,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        error = {"message": message, "type": "invalid_request_error", "param": param, "code": code}
        self._send_json(status, {"error": error}, headers=headers)

    def _send_json(
        self, status: int, payload: object, *, headers: Iterable[tuple[str, str]] = ()
    ) -> None:
        self._send_bytes(status, json.dumps(payload).encode(), "application/json", headers)

    def _send_bytes(
        self,
        status: int,
        data: bytes,
        content_type: str,
        headers: Iterable[tuple[str, str]] = (),
    ) -> None:
        try:
            self.send_response(status)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(data)))
            for name, value in headers:
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(data)
        except OSError:
            # The client gave up first (a timeout test); nobody is left to answer.
            self.close_connection = True


def _completion(
    request: dict[str, Any], content: str | None, finish_reason: str, *, refusal: str | None = None
) -> dict[str, Any]:
    messages = request.get("messages") or []
    prompt = "".join(str(m.get("content", "")) for m in messages if isinstance(m, dict))
    prompt_tokens = count_tokens(prompt)
    completion_tokens = count_tokens(content if content is not None else refusal or "")
    return {
        "id": f"chatcmpl-test-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": request.get("model", MODEL_ID),
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": content, "refusal": refusal},
                "finish_reason": finish_reason,
                "logprobs": None,
            }
        ],
        "usage": {
            "prompt_tokens": prompt_tokens,
            "completion_tokens": completion_tokens,
            "total_tokens": prompt_tokens + completion_tokens,
        },
    }


def _header_number(value: float | str) -> str:
    if isinstance(value, str):
        return value
    return str(int(value)) if float(value).is_integer() else str(value)


__all__ = [
    "TRUNCATED_JSON",
    "Behaviour",
    "OpenAIServer",
    "Responder",
    "count_tokens",
    "drop_connection",
    "hang",
    "http_error",
    "invalid_schema",
    "length_cut",
    "rate_limited",
    "raw",
    "refusal",
    "reject_json_schema",
    "server_error",
    "truncated",
    "unauthorized",
    "valid",
]
