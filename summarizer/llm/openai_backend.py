"""Any OpenAI-compatible chat-completions endpoint (OpenAI, Azure-style proxies, vLLM, Ollama).

One `complete` call is one HTTP attempt: the SDK's own retries are off (`max_retries=0`) so the
retry layer (`calls.py`) sees, sleeps for and counts every attempt. SDK failures become our
errors here, and only here:

    429, 5xx, timeout, dropped or refused connection  -> TransientBackendError (retry_after, status)
    401, 403                                          -> AuthenticationFailed
    any other 4xx, malformed response                 -> BackendError

    200 whose body is not a chat completion (an HTML page from a proxy, a web UI at the wrong
    path), an answer larger than its bound                   -> BackendError (not retried)

Every error carries `usage=Usage(calls=1, failed_calls=1)`. The API key, and credentials inside
the base URL, never appear in a message, log line, repr or identity: the URL is shown redacted
(`config.redact_url`), server text is scrubbed before we quote it, and SDK exceptions (which
hold the request and its Authorization header) are not chained.

Answers are bounded. A response body may hold at most `response_limit(max_tokens)` bytes on the
wire (checked while it is read, through an httpx response hook, so a 100 MB answer costs ~100 KB
of memory, not 744 MB), and the completion text at most `text_limit(max_tokens)` characters: a
server that ignores `max_tokens` gets a failed attempt that says so, not a re-ask that sends the
huge answer back. The bound does not apply to a `client` passed in (only the text limit does).

`openai` is imported when a backend is built, never when this module is imported.
"""

from __future__ import annotations

import contextvars
import email.utils
import functools
import json
import logging
import math
import re
import threading
from collections.abc import Callable, Iterator, Mapping, Sequence
from datetime import UTC, datetime
from types import TracebackType
from typing import TYPE_CHECKING, Any, Final
from urllib.parse import parse_qsl, urlsplit, urlunsplit

from pydantic import SecretStr

from summarizer.config import check_base_url, redact_url, url_secrets
from summarizer.errors import (
    AuthenticationFailed,
    BackendError,
    BackendUnavailable,
    ConfigError,
    TransientBackendError,
)
from summarizer.llm import BackendIdentity, Completion, CompletionRequest, Message
from summarizer.schemas import Usage

if TYPE_CHECKING:
    import httpx2
    import openai
    from openai.types.chat import ChatCompletion, ChatCompletionMessageParam
    from openai.types.chat.completion_create_params import ResponseFormat

log = logging.getLogger(__name__)

OPENAI_BASE_URL: Final = "https://api.openai.com/v1"
# Local servers (Ollama, llama.cpp, vLLM) ignore the key, but the SDK insists on having one.
PLACEHOLDER_API_KEY: Final = "not-needed"
DEFAULT_CONTEXT_WINDOW: Final = 16_385

# Conservative: planning only needs a budget the model surely has, not its exact limit.
_LARGE_CONTEXT = re.compile(r"^(gpt-4o|gpt-4\.1|gpt-4-turbo|gpt-5|o\d)")
_LARGE_CONTEXT_WINDOW: Final = 128_000
# Reasoning models reject any temperature but their default.
_FIXED_TEMPERATURE = re.compile(r"^(o\d|gpt-5)")

_FAILED_CALL = Usage(calls=1, failed_calls=1)
_SERVER_TEXT_LIMIT = 300
# Generous per token: BPE tokens run to a few dozen characters (runs of spaces), and JSON
# escaping (\\u00e9) can make a character six bytes on the wire.
_CHARS_PER_TOKEN = 32
_BYTES_PER_TOKEN = 6 * _CHARS_PER_TOKEN
_ENVELOPE_BYTES = 64 * 1024


def text_limit(max_tokens: int) -> int:
    """The most completion characters accepted from an answer with `max_tokens`."""
    return 1024 + _CHARS_PER_TOKEN * max_tokens


def response_limit(max_tokens: int) -> int:
    """The most response-body bytes read for a request with `max_tokens`."""
    return _ENVELOPE_BYTES + _BYTES_PER_TOKEN * max_tokens


# The bound of the request being sent on this thread; the response hook reads it.
_RESPONSE_LIMIT: contextvars.ContextVar[int | None] = contextvars.ContextVar(
    "summarizer_response_limit", default=None
)


class _ResponseTooLarge(Exception):
    def __init__(self, limit: int) -> None:
        self.limit = limit
        super().__init__(f"response body over {limit} bytes")


def _bound_response(response: httpx2.Response) -> None:
    """httpx response hook: runs before the body is read, and bounds what will be read."""
    limit = _RESPONSE_LIMIT.get()
    if limit is None:
        return
    declared = response.headers.get("content-length", "")
    if declared.isdigit() and int(declared) > limit:
        response.close()
        raise _ResponseTooLarge(limit)
    response.stream = _bounded_stream_type()(response.stream, limit)


@functools.cache
def _bounded_stream_type() -> Callable[[Any, int], httpx2.SyncByteStream]:
    """The bounded stream class; made on first use, since httpx2 is imported lazily (and a
    response's stream must be a `SyncByteStream`)."""
    import httpx2

    class BoundedStream(httpx2.SyncByteStream):
        """A response byte stream that stops, with `_ResponseTooLarge`, past `limit` bytes."""

        def __init__(self, inner: httpx2.SyncByteStream, limit: int) -> None:
            self._inner = inner
            self._limit = limit

        def __iter__(self) -> Iterator[bytes]:
            read = 0
            for chunk in self._inner:
                read += len(chunk)
                if read > self._limit:
                    raise _ResponseTooLarge(self._limit)
                yield chunk

        def close(self) -> None:
            self._inner.close()

    return BoundedStream


# Keywords strict mode rejects. Dropping them loses nothing: the output is validated against the
# full pydantic model anyway, and a violation is re-asked with the validation error.
_UNSUPPORTED_KEYWORDS: Final = frozenset(
    {
        "default",
        "minLength",
        "maxLength",
        "uniqueItems",
        "minProperties",
        "maxProperties",
        "patternProperties",
        "propertyNames",
        "unevaluatedProperties",
        "unevaluatedItems",
        "contains",
        "minContains",
        "maxContains",
        "not",
        "if",
        "then",
        "else",
        "dependentRequired",
        "dependentSchemas",
    }
)
_SUPPORTED_FORMATS: Final = frozenset(
    {"date-time", "time", "date", "duration", "email", "hostname", "ipv4", "ipv6", "uuid"}
)
_SCHEMA_MAPS: Final = frozenset({"properties", "$defs", "definitions"})
_SCHEMA_LISTS: Final = frozenset({"anyOf", "oneOf", "allOf", "prefixItems"})


def default_context_window(model: str) -> int:
    """The context window assumed for `model` when settings give none."""
    return _LARGE_CONTEXT_WINDOW if _LARGE_CONTEXT.match(model) else DEFAULT_CONTEXT_WINDOW


def strict_json_schema(schema: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of a pydantic JSON schema that OpenAI's strict structured outputs accept.

    Every object gets `additionalProperties: false` and lists all its properties as required;
    a `$ref` with sibling keywords (pydantic puts descriptions there) is inlined, since strict
    mode forbids siblings; single-entry `allOf` is flattened and `oneOf` becomes `anyOf`;
    unsupported keywords and formats are dropped. Bare `$ref`s and `$defs` are kept. The input
    is not modified.
    """
    # Callers send the same few schemas over and over; convert each once, and hand every caller
    # its own copy (a JSON round trip is several times cheaper than the conversion).
    result: dict[str, Any] = json.loads(_strict_schema_json(json.dumps(schema)))
    return result


@functools.lru_cache(maxsize=256)
def _strict_schema_json(schema_json: str) -> str:
    root = json.loads(schema_json)
    return json.dumps(_strict_node(root, root=root, expanding=frozenset()))


def _strict_node(
    node: dict[str, Any], *, root: dict[str, Any], expanding: frozenset[str]
) -> dict[str, Any]:
    ref = node.get("$ref")
    if isinstance(ref, str) and len(node) > 1:
        if ref in expanding:
            raise ValueError(f"cannot inline the recursive reference {ref} for strict mode")
        siblings = {key: value for key, value in node.items() if key != "$ref"}
        merged = {**_resolve_ref(root, ref), **siblings}
        return _strict_node(merged, root=root, expanding=expanding | {ref})

    def strict(child: Any) -> Any:
        return (
            _strict_node(child, root=root, expanding=expanding)
            if isinstance(child, dict)
            else child
        )

    out: dict[str, Any] = {}
    for key, value in node.items():
        if key in _UNSUPPORTED_KEYWORDS or (key == "format" and value not in _SUPPORTED_FORMATS):
            continue
        if key in _SCHEMA_MAPS and isinstance(value, dict):
            out[key] = {name: strict(sub) for name, sub in value.items()}
        elif key in _SCHEMA_LISTS and isinstance(value, list):
            out[key] = [strict(sub) for sub in value]
        elif key in ("items", "additionalProperties") and isinstance(value, dict):
            out[key] = strict(value)
        else:
            out[key] = value
    if "oneOf" in out:
        out["anyOf"] = out.pop("oneOf")
    if isinstance(out.get("allOf"), list) and len(out["allOf"]) == 1:
        only = out.pop("allOf")[0]
        out = {**only, **out}
    types = out.get("type")
    if "properties" in out or types == "object" or (isinstance(types, list) and "object" in types):
        out["required"] = list(out.get("properties", {}))
        out["additionalProperties"] = False
    return out


def _resolve_ref(root: dict[str, Any], ref: str) -> dict[str, Any]:
    target: Any = root if ref.startswith("#/") else None
    for part in ref[2:].split("/"):
        target = target.get(part) if isinstance(target, dict) else None
    if not isinstance(target, dict):
        raise ValueError(f"cannot resolve the schema reference {ref}")
    return target


def retry_after_seconds(headers: Mapping[str, str], *, now: datetime | None = None) -> float | None:
    """The server's wait hint from `retry-after-ms` or `Retry-After` (seconds or HTTP-date)."""
    lowered = {key.lower(): value for key, value in headers.items()}
    milliseconds = _finite(lowered.get("retry-after-ms"))
    if milliseconds is not None:
        return max(milliseconds / 1000, 0.0)
    value = lowered.get("retry-after")
    if value is None:
        return None
    seconds = _finite(value)
    if seconds is not None:
        return max(seconds, 0.0)
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max((when - (now or datetime.now(UTC))).total_seconds(), 0.0)


def _finite(text: str | None) -> float | None:
    try:
        number = float(text) if text is not None else None
    except ValueError:
        return None
    return number if number is not None and math.isfinite(number) else None


class _JsonSchemaRejected(Exception):
    def __init__(self, reason: str) -> None:
        self.reason = reason
        super().__init__(reason)


class OpenAIBackend:
    """A `Backend` for any OpenAI-compatible `/chat/completions` endpoint.

    Pass `client` to use an SDK client you built (it is then yours to close); otherwise one is
    built with `max_retries=0` and closed by `close()` or on leaving a `with` block.
    """

    def __init__(
        self,
        *,
        model: str,
        base_url: str | None,
        api_key: SecretStr | None,
        timeout: float,
        context_window: int | None = None,
        client: openai.OpenAI | None = None,
    ) -> None:
        if timeout <= 0:
            raise ConfigError(f"timeout must be positive, got {timeout}")
        if base_url is not None:
            try:
                check_base_url(base_url)
            except ValueError as error:
                raise ConfigError(f"invalid base URL: {error}") from None
        self._model = model
        self._base_url = (base_url or OPENAI_BASE_URL).rstrip("/")
        # What messages, logs and the identity (so the cache key) show: never a credential.
        self._shown_url = redact_url(self._base_url) or OPENAI_BASE_URL
        self._timeout = timeout
        self._identity = BackendIdentity(
            name="openai",
            model=model,
            context_window=context_window or default_context_window(model),
            endpoint=redact_url(base_url),
        )
        key = api_key.get_secret_value() if api_key is not None else None
        found = {s for s in (key, *url_secrets(base_url)) if s and len(s) >= 3}
        self._secrets = tuple(sorted(found, key=len, reverse=True))  # longest first
        self._owns_client = client is None
        self._client = client if client is not None else self._build_client(base_url, api_key)
        self._json_schema_supported = True
        self._fallback_lock = threading.Lock()

    def _build_client(self, base_url: str | None, api_key: SecretStr | None) -> openai.OpenAI:
        if api_key is None and base_url is None:
            raise ConfigError(
                "OPENAI_API_KEY is not set: export it, or set OPENAI_BASE_URL to a local "
                "OpenAI-compatible server, or choose the local backend"
            )
        try:
            import openai
        except ImportError:
            raise BackendUnavailable(
                "the openai package is not installed: pip install 'openai>=1.40'"
            ) from None
        key = api_key.get_secret_value() if api_key is not None else PLACEHOLDER_API_KEY
        # base_url is always explicit so the SDK never re-reads OPENAI_BASE_URL: settings already
        # merged flags, environment and .env, and their answer must win.
        http_client = openai.DefaultHttpxClient(
            event_hooks={"response": [_bound_response]},
            # The bound counts bytes on the wire; uncompressed, they are the bytes we hold.
            headers={"Accept-Encoding": "identity"},
        )
        # The SDK appends paths to the base URL as a string, so a query in it (Azure's
        # ?api-version=, a proxy's ?api-key=) would land inside the path: send it as the
        # default query of every request instead.
        parts = urlsplit(self._base_url)
        return openai.OpenAI(
            api_key=key,
            base_url=urlunsplit(parts._replace(query="", fragment="")),
            default_query=dict(parse_qsl(parts.query, keep_blank_values=True)) or None,
            timeout=self._timeout,
            max_retries=0,
            http_client=http_client,
        )

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    @property
    def base_url(self) -> str:
        """The endpoint as shown to people: credentials in it replaced by `***`."""
        return self._shown_url

    @property
    def uses_json_schema(self) -> bool:
        """False once the endpoint has rejected `json_schema` and we fell back to JSON mode."""
        return self._json_schema_supported

    def __repr__(self) -> str:
        return f"OpenAIBackend(model={self._model!r}, base_url={self._shown_url!r})"

    def close(self) -> None:
        if self._owns_client:
            self._client.close()

    def __enter__(self) -> OpenAIBackend:
        return self

    def __exit__(
        self,
        exc_type: type[BaseException] | None,
        exc: BaseException | None,
        traceback: TracebackType | None,
    ) -> None:
        self.close()

    def complete(self, request: CompletionRequest) -> Completion:
        spent = Usage()
        if self._json_schema_supported:
            try:
                return self._send(request, request.messages, self._json_schema_format(request))
            except _JsonSchemaRejected as rejected:
                self._fall_back_to_json_mode(rejected.reason)
                spent = _FAILED_CALL
        messages = _with_schema_instructions(request.messages, request.json_schema)
        try:
            completion = self._send(request, messages, {"type": "json_object"})
        except BackendError as error:
            error.usage = spent + (error.usage or _FAILED_CALL)
            raise
        return completion.model_copy(update={"usage": spent + completion.usage})

    def _json_schema_format(self, request: CompletionRequest) -> ResponseFormat:
        return {
            "type": "json_schema",
            "json_schema": {
                # The API allows only these characters, up to 64 of them.
                "name": re.sub(r"[^A-Za-z0-9_-]", "_", request.schema_name)[:64],
                "strict": True,
                "schema": strict_json_schema(request.json_schema),
            },
        }

    def _fall_back_to_json_mode(self, reason: str) -> None:
        with self._fallback_lock:
            if not self._json_schema_supported:
                return
            self._json_schema_supported = False
        log.warning(
            "%s rejected json_schema response formats (%s); using JSON mode with the schema "
            "in the system message from now on",
            self._shown_url,
            reason,
        )

    def _send(
        self,
        request: CompletionRequest,
        messages: Sequence[Message],
        response_format: ResponseFormat,
    ) -> Completion:
        import openai
        from openai.types.chat import ChatCompletion

        options: dict[str, Any] = {"seed": request.seed}
        if not _FIXED_TEMPERATURE.match(self._model):
            options["temperature"] = request.temperature
        # OpenAI itself wants max_completion_tokens (reasoning models reject max_tokens), while
        # many compatible servers only know max_tokens.
        if self._base_url == OPENAI_BASE_URL:
            options["max_completion_tokens"] = request.max_tokens
        else:
            options["max_tokens"] = request.max_tokens
        url = self._shown_url
        bound = _RESPONSE_LIMIT.set(response_limit(request.max_tokens))
        try:
            # `chat.completions.create` without its parameter transform: the body is already
            # the API's plain JSON, and walking it (messages as unions of typed dicts) was ~1.4
            # ms of a short batch item's ~5 ms of CPU. `post` is the SDK's documented way to
            # send a body as it is; retries, timeouts, errors and parsing are the same.
            response = self._client.post(
                "/chat/completions",
                body={
                    "model": self._model,
                    "messages": [_message_param(message) for message in messages],
                    "response_format": response_format,
                    **options,
                },
                cast_to=ChatCompletion,
            )
        except _ResponseTooLarge as error:
            raise self._too_large(f"more than {error.limit} bytes", request) from None
        except openai.APIStatusError as error:
            raise self._status_error(error, response_format) from None
        except openai.APITimeoutError:
            raise TransientBackendError(
                f"{url} did not answer within {self._timeout:g}s", usage=_FAILED_CALL
            ) from None
        except openai.APIConnectionError as error:
            if _connect_failed(error):
                message = f"cannot reach {url}: is the server running?"
            else:
                message = f"connection to {url} dropped before an answer"
            raise TransientBackendError(message, usage=_FAILED_CALL) from None
        except openai.OpenAIError as error:
            raise BackendError(f"{url}: {self._redact(str(error))}", usage=_FAILED_CALL) from None
        except ValueError:
            # The SDK parses a body labelled JSON with json.loads: an HTML page labelled so.
            raise BackendError(
                f"{url} answered HTTP 200 with a body that is not JSON: is the base URL the "
                "API's (often ending in /v1), not a web page's?",
                usage=_FAILED_CALL,
            ) from None
        finally:
            _RESPONSE_LIMIT.reset(bound)
        return self._completion(response, request)

    def _too_large(self, size: str, request: CompletionRequest) -> BackendError:
        return BackendError(
            f"{self._shown_url} sent an answer of {size}, over the bound for "
            f"max_tokens={request.max_tokens}: the server ignores the token limit",
            usage=_FAILED_CALL,
        )

    def _status_error(
        self, error: openai.APIStatusError, response_format: ResponseFormat
    ) -> BackendError | _JsonSchemaRejected:
        status = error.status_code
        detail = self._redact(_server_message(error)[: _SERVER_TEXT_LIMIT * 4])
        if len(detail) > _SERVER_TEXT_LIMIT:
            detail = detail[:_SERVER_TEXT_LIMIT] + "…"
        if status == 429 or status >= 500:
            return TransientBackendError(
                f"{self._shown_url} answered HTTP {status}: {detail}",
                retry_after=retry_after_seconds(error.response.headers),
                status=status,
                usage=_FAILED_CALL,
            )
        if status in (401, 403):
            return AuthenticationFailed(
                f"{self._shown_url} refused the credentials (HTTP {status}): {detail}",
                usage=_FAILED_CALL,
            )
        if status == 400 and response_format["type"] == "json_schema" and _about_json_schema(error):
            return _JsonSchemaRejected(detail)
        return BackendError(
            f"{self._shown_url} answered HTTP {status}: {detail}", usage=_FAILED_CALL
        )

    def _completion(
        self, response: ChatCompletion | object, request: CompletionRequest
    ) -> Completion:
        """Our `Completion` from what the SDK parsed, every field checked: the SDK builds its
        models without validation, so a server can put anything in any of them."""
        if isinstance(response, str):  # the SDK's answer to a body not labelled JSON
            raise BackendError(
                f"{self._shown_url} answered HTTP 200 with something other than JSON "
                f"({_gist(self._redact(response))}): is the base URL the API's (often ending "
                "in /v1)?",
                usage=_FAILED_CALL,
            )
        try:
            choice = response.choices[0]  # type: ignore[attr-defined]
            text = choice.message.content
            finish_reason = choice.finish_reason
        except (AttributeError, IndexError, KeyError, TypeError):
            text = finish_reason = _MALFORMED
        if not (isinstance(text, str) or text is None) or not (
            isinstance(finish_reason, str) or finish_reason is None
        ):
            raise BackendError(
                f"{self._shown_url} returned a malformed chat completion", usage=_FAILED_CALL
            )
        text = text or ""
        if len(text) > text_limit(request.max_tokens):
            raise self._too_large(f"{len(text)} characters", request)
        tokens = getattr(response, "usage", None)
        return Completion(
            text=text,
            finish_reason=finish_reason,
            usage=Usage(
                calls=1,
                prompt_tokens=_token_count(getattr(tokens, "prompt_tokens", 0)),
                completion_tokens=_token_count(getattr(tokens, "completion_tokens", 0)),
            ),
        )

    def _redact(self, text: str) -> str:
        for secret in self._secrets:
            text = text.replace(secret, "[redacted]")
        return text


_MALFORMED = object()
_MAX_TOKEN_COUNT = 1 << 40


def _token_count(value: object) -> int:
    """A server's token count if it is a plausible one; 0 (unknown) otherwise, so a NaN, a
    string or 10**30 never reaches usage totals and reports."""
    if isinstance(value, bool) or not isinstance(value, int):
        return 0
    return value if 0 <= value < _MAX_TOKEN_COUNT else 0


def _gist(text: str) -> str:
    gist = " ".join(text[:400].split())[:80]
    return f"starting {gist!r}" if gist else "an empty body"


def _message_param(message: Message) -> ChatCompletionMessageParam:
    if message.role == "system":
        return {"role": "system", "content": message.content}
    if message.role == "assistant":
        return {"role": "assistant", "content": message.content}
    return {"role": "user", "content": message.content}


def _with_schema_instructions(
    messages: Sequence[Message], schema: Mapping[str, Any]
) -> tuple[Message, ...]:
    """JSON mode constrains syntax only, so the schema has to travel in the prompt."""
    instructions = (
        "Answer with one JSON object that follows this JSON schema exactly:\n"
        + json.dumps(schema, separators=(",", ":"))
    )
    if messages and messages[0].role == "system":
        first = Message(role="system", content=f"{messages[0].content}\n\n{instructions}")
        return (first, *messages[1:])
    return (Message(role="system", content=instructions), *messages)


def _server_message(error: openai.APIStatusError) -> str:
    body = error.body
    message = body.get("message") if isinstance(body, dict) else body
    text = message if isinstance(message, str) and message else error.message
    return " ".join(text.split())


def _about_json_schema(error: openai.APIStatusError) -> bool:
    body = error.body
    param = body.get("param") if isinstance(body, dict) else None
    text = f"{param} {_server_message(error)}".lower()
    return "response_format" in text or "json_schema" in text


def _connect_failed(error: BaseException) -> bool:
    """True when the connection was never made (refused, unresolvable), not dropped midway."""
    seen: BaseException | None = error
    visited: set[int] = set()
    while seen is not None and id(seen) not in visited:
        # Matched by name: the SDK's HTTP library (httpx or httpx2) differs between versions.
        if isinstance(seen, ConnectionRefusedError) or type(seen).__name__ == "ConnectError":
            return True
        visited.add(id(seen))
        seen = seen.__cause__ or seen.__context__
    return False


__all__ = [
    "DEFAULT_CONTEXT_WINDOW",
    "OPENAI_BASE_URL",
    "PLACEHOLDER_API_KEY",
    "OpenAIBackend",
    "default_context_window",
    "retry_after_seconds",
    "strict_json_schema",
]
