"""The OpenAI backend against a real HTTP server on loopback: no SDK mocks, real sockets."""

from __future__ import annotations

import copy
import email.utils
import logging
import time
import traceback
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import openai
import pytest
from pydantic import BaseModel, Field, SecretStr

from summarizer.errors import (
    AuthenticationFailed,
    BackendError,
    ConfigError,
    OutputTruncated,
    StructuredOutputError,
    TransientBackendError,
)
from summarizer.llm import Backend, CompletionRequest, Message
from summarizer.llm.calls import CallLayer, RetryPolicy, metered
from summarizer.llm.openai_backend import (
    OPENAI_BASE_URL,
    OpenAIBackend,
    default_context_window,
    retry_after_seconds,
    strict_json_schema,
)
from summarizer.replies import ChunkDigest, CitedClaim
from summarizer.schemas import ClaimKind, Usage
from tests.openai_server import (
    TRUNCATED_JSON,
    Behaviour,
    OpenAIServer,
    count_tokens,
    drop_connection,
    hang,
    http_error,
    invalid_schema,
    length_cut,
    rate_limited,
    refusal,
    reject_json_schema,
    server_error,
    truncated,
    unauthorized,
    valid,
)
from tests.support import run_python

REPO_ROOT = Path(__file__).resolve().parents[2]
API_KEY = "sk-test-0123456789abcdefSECRET"
DIGEST = ChunkDigest(
    headline="Council approves the budget",
    summary=["The council voted 7-2 to approve next year's budget."],
    key_points=["The budget passed 7-2."],
    claims=[
        CitedClaim(
            text="The council approved the budget.",
            kind=ClaimKind.FACT,
            speaker=None,
            sentence_ids=[0],
        )
    ],
)
DIGEST_JSON = DIGEST.model_dump_json()
WRONG_SHAPE_JSON = '{"headline": "Council approves the budget"}'


def digest_request() -> CompletionRequest:
    return CompletionRequest(
        messages=(
            Message(role="system", content="You summarise news articles as JSON."),
            Message(role="user", content="[0] The council voted 7-2 to approve the budget."),
        ),
        schema_name="ChunkDigest",
        json_schema=ChunkDigest.model_json_schema(),
        max_tokens=400,
    )


class Sleeps(list[float]):
    """Records what the retry layer would have slept, so no test really waits."""

    def policy(self, max_attempts: int = 5) -> RetryPolicy:
        return RetryPolicy(max_attempts=max_attempts, sleep=self.append, jitter=lambda: 0.5)


def complete_structured(
    backend: Backend, request: CompletionRequest, *, policy: RetryPolicy, max_reasks: int = 2
) -> tuple[ChunkDigest, Usage]:
    """One call through the call layer (no cache), as a whole run: the output and its usage,
    or the error with the run's usage attached."""
    layer = CallLayer(backend, retry=policy, max_reasks=max_reasks)
    with metered() as meter:
        digest = layer.call(request, ChunkDigest, meter, prompt_sha256="test")
    return digest, meter.total


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    """The shared loopback server, strict: a request nothing was queued for fails with 400."""
    openai_server.responder = None
    return openai_server


def make_backend(server: OpenAIServer, *, timeout: float = 5.0) -> OpenAIBackend:
    return OpenAIBackend(
        model="gpt-4o-mini",
        base_url=server.base_url,
        api_key=SecretStr(API_KEY),
        timeout=timeout,
    )


@pytest.fixture
def backend(server: OpenAIServer) -> Iterator[OpenAIBackend]:
    with make_backend(server) as built:
        yield built


# --- the happy path and what goes over the wire ----------------------------------------------


def test_valid_output_parses_and_reports_the_servers_usage(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(valid(DIGEST_JSON))
    request = digest_request()

    digest, usage = complete_structured(backend, request, policy=sleeps.policy(), max_reasks=2)

    assert digest == DIGEST
    prompt = "".join(message.content for message in request.messages)
    assert usage == Usage(
        calls=1, prompt_tokens=count_tokens(prompt), completion_tokens=count_tokens(DIGEST_JSON)
    )
    assert sleeps == []


def test_request_carries_the_strict_schema_model_key_and_limits(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(valid(DIGEST_JSON))
    request = digest_request()

    backend.complete(request)

    body = server.requests[0]
    assert body["response_format"] == {
        "type": "json_schema",
        "json_schema": {
            "name": "ChunkDigest",
            "strict": True,
            "schema": strict_json_schema(request.json_schema),
        },
    }
    schema = body["response_format"]["json_schema"]["schema"]
    claim = schema["$defs"]["CitedClaim"]
    assert claim["additionalProperties"] is False
    assert claim["required"] == ["text", "kind", "speaker", "sentence_ids"]
    assert body["model"] == "gpt-4o-mini"
    assert body["messages"] == [m.model_dump() for m in request.messages]
    # A custom endpoint gets the widely supported max_tokens, not max_completion_tokens.
    assert body["max_tokens"] == 400
    assert "max_completion_tokens" not in body
    assert body["temperature"] == 0.0
    assert body["seed"] == 0
    assert server.request_headers[0]["authorization"] == f"Bearer {API_KEY}"


def test_the_official_endpoint_gets_max_completion_tokens_through_an_injected_client(
    server: OpenAIServer,
) -> None:
    client = openai.OpenAI(api_key=API_KEY, base_url=server.base_url, max_retries=0)
    server.enqueue(valid(DIGEST_JSON))
    try:
        backend = OpenAIBackend(
            model="o3-mini", base_url=None, api_key=None, timeout=5.0, client=client
        )
        backend.complete(digest_request())
        backend.close()  # an injected client stays usable: the caller owns it
        client.models.list()
    finally:
        client.close()

    body = server.requests[0]
    assert backend.base_url == OPENAI_BASE_URL
    assert body["max_completion_tokens"] == 400
    assert "max_tokens" not in body
    assert "temperature" not in body  # reasoning models reject it


def test_empty_content_and_refusals_come_back_as_empty_text_for_the_reask_loop(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(valid(""), refusal(), valid(DIGEST_JSON))

    empty = backend.complete(digest_request())
    digest, usage = complete_structured(
        backend, digest_request(), policy=sleeps.policy(), max_reasks=2
    )

    assert (empty.text, empty.finish_reason) == ("", "stop")
    assert digest == DIGEST
    assert usage.calls == 2
    assert server.requests[2]["messages"][2] == {"role": "assistant", "content": ""}


def test_a_local_server_needs_no_key_and_gets_a_placeholder(server: OpenAIServer) -> None:
    server.enqueue(valid(DIGEST_JSON))
    with OpenAIBackend(
        model="llama3.2", base_url=server.base_url, api_key=None, timeout=5.0
    ) as backend:
        backend.complete(digest_request())

    assert server.request_headers[0]["authorization"] == "Bearer not-needed"


def test_no_key_and_no_base_url_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match="OPENAI_API_KEY is not set"):
        OpenAIBackend(model="gpt-4o-mini", base_url=None, api_key=None, timeout=5.0)


def test_backend_satisfies_the_protocol(backend: OpenAIBackend) -> None:
    assert isinstance(backend, Backend)
    assert backend.identity.name == "openai"
    assert backend.identity.model == "gpt-4o-mini"
    assert backend.identity.context_window == 128_000
    assert backend.identity.endpoint == backend.base_url
    assert API_KEY not in repr(backend)


@pytest.mark.parametrize(
    ("model", "window"),
    [
        ("gpt-4o-mini", 128_000),
        ("gpt-4.1-nano", 128_000),
        ("o3-mini", 128_000),
        ("gpt-3.5-turbo", 16_385),
        # Starts with "o" but is no OpenAI reasoning model.
        ("openhermes", 16_385),
    ],
)
def test_default_context_window(model: str, window: int) -> None:
    assert default_context_window(model) == window


def test_an_explicit_context_window_wins(server: OpenAIServer) -> None:
    with OpenAIBackend(
        model="gpt-4o", base_url=server.base_url, api_key=None, timeout=5.0, context_window=8192
    ) as backend:
        assert backend.identity.context_window == 8192


def test_importing_the_module_does_not_import_openai() -> None:
    code = (
        "import sys, summarizer.llm.openai_backend; "
        "print(sorted(m for m in sys.modules if m.split('.')[0] in {'openai', 'httpx2', 'httpx'}))"
    )
    result = run_python(code)
    assert result.returncode == 0, result.stderr
    assert result.stdout.strip() == "[]"


# --- transient failures, through the retry layer ---------------------------------------------


def test_rate_limit_then_success_sleeps_for_retry_after_and_counts_both_calls(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(rate_limited(retry_after=7), valid(DIGEST_JSON))

    digest, usage = complete_structured(
        backend, digest_request(), policy=sleeps.policy(), max_reasks=2
    )

    assert digest == DIGEST
    assert sleeps == [7.0]
    assert (usage.calls, usage.failed_calls) == (2, 1)
    assert server.request_count == 2


def test_retry_after_ms_and_http_dates_reach_the_error(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    in_30s = email.utils.format_datetime(datetime.now(UTC) + timedelta(seconds=30), usegmt=True)
    server.enqueue(rate_limited(retry_after=9, retry_after_ms=1500), rate_limited(in_30s))

    with pytest.raises(TransientBackendError) as first:
        backend.complete(digest_request())
    with pytest.raises(TransientBackendError) as second:
        backend.complete(digest_request())

    assert (first.value.retry_after, first.value.status) == (1.5, 429)
    assert second.value.retry_after is not None
    assert 25 < second.value.retry_after <= 30


def test_server_error_then_success(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(server_error(500), valid(DIGEST_JSON))

    digest, usage = complete_structured(
        backend, digest_request(), policy=sleeps.policy(), max_reasks=2
    )

    assert digest == DIGEST
    assert len(sleeps) == 1
    assert (usage.calls, usage.failed_calls) == (2, 1)


def test_dropped_connection_then_success(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(drop_connection(), valid(DIGEST_JSON))

    digest, usage = complete_structured(
        backend, digest_request(), policy=sleeps.policy(), max_reasks=2
    )

    assert digest == DIGEST
    assert (usage.calls, usage.failed_calls) == (2, 1)


def test_a_hang_past_the_timeout_is_retried(server: OpenAIServer, sleeps: Sleeps) -> None:
    server.enqueue(hang(2.0), valid(DIGEST_JSON))
    started = time.monotonic()
    with make_backend(server, timeout=0.5) as backend:
        digest, usage = complete_structured(
            backend, digest_request(), policy=sleeps.policy(), max_reasks=2
        )

    assert digest == DIGEST
    assert time.monotonic() - started < 1.9  # the client gave up; it did not wait out the hang
    assert (usage.calls, usage.failed_calls) == (2, 1)
    assert server.request_count == 2


def test_persistent_server_errors_give_up_after_max_attempts_with_usage(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(server_error(500), server_error(502), server_error(503))

    with pytest.raises(TransientBackendError) as info:
        complete_structured(backend, digest_request(), policy=sleeps.policy(3), max_reasks=2)

    error = info.value
    assert error.attempts == 3
    assert error.status == 503
    assert error.usage == Usage(calls=3, failed_calls=3)
    assert len(sleeps) == 2
    assert server.request_count == 3


def test_connection_refused_names_the_url_and_gives_up(sleeps: Sleeps) -> None:
    with OpenAIServer() as stopped:
        url = stopped.base_url
    refused = OpenAIBackend(
        model="gpt-4o-mini", base_url=url, api_key=SecretStr(API_KEY), timeout=2.0
    )
    with refused as backend, pytest.raises(TransientBackendError) as info:
        complete_structured(backend, digest_request(), policy=sleeps.policy(2))

    message = str(info.value)
    assert f"cannot reach {url}" in message
    assert API_KEY not in message
    assert info.value.attempts == 2
    assert info.value.usage == Usage(calls=2, failed_calls=2)


# --- invalid output, through the re-ask loop -------------------------------------------------


def test_truncated_json_is_reasked_without_touching_the_callers_messages(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(truncated(), valid(DIGEST_JSON))
    request = digest_request()
    original_messages = request.messages

    digest, usage = complete_structured(backend, request, policy=sleeps.policy(), max_reasks=2)

    assert digest == DIGEST
    assert usage.calls == 2
    assert usage.failed_calls == 0
    assert usage.completion_tokens == count_tokens(TRUNCATED_JSON) + count_tokens(DIGEST_JSON)
    assert request.messages is original_messages
    assert len(request.messages) == 2
    reask = server.requests[1]["messages"]
    assert len(reask) == 4
    assert reask[2] == {"role": "assistant", "content": TRUNCATED_JSON}
    assert reask[3]["role"] == "user"
    assert "not JSON" in reask[3]["content"]


def test_schema_invalid_output_every_time_raises_with_attempts_and_last_output(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(*[invalid_schema(WRONG_SHAPE_JSON)] * 3)

    with pytest.raises(StructuredOutputError) as info:
        complete_structured(backend, digest_request(), policy=sleeps.policy(), max_reasks=2)

    error = info.value
    assert error.attempts == 3
    assert error.last_output == WRONG_SHAPE_JSON
    assert error.usage is not None
    assert (error.usage.calls, error.usage.failed_calls) == (3, 0)
    assert "summary" in str(error)  # names a missing field
    assert server.request_count == 3


def test_a_length_cut_is_asked_again_with_twice_the_budget_not_reasked(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(length_cut(), valid(DIGEST_JSON))

    digest, usage = complete_structured(backend, digest_request(), policy=sleeps.policy())

    assert digest == DIGEST
    assert [body["max_tokens"] for body in server.requests] == [400, 800]
    assert len(server.requests[1]["messages"]) == 2  # the same question, not a re-ask
    assert usage.calls == 2 == server.request_count


def test_a_length_cut_that_cannot_grow_is_truncation_counted_once(
    server: OpenAIServer, sleeps: Sleeps
) -> None:
    server.enqueue(length_cut(), valid(DIGEST_JSON))
    # The budget may grow only into the room the server's prompt count leaves: none here.
    request = digest_request()
    prompt = count_tokens("".join(m.content for m in request.messages))
    small = OpenAIBackend(
        model="gpt-4o-mini", base_url=server.base_url, api_key=None, timeout=5.0,
        context_window=prompt + request.max_tokens,
    )  # fmt: skip
    with small, pytest.raises(OutputTruncated) as info:
        complete_structured(small, request, policy=sleeps.policy())

    assert info.value.last_output == TRUNCATED_JSON
    assert server.request_count == 1
    assert info.value.usage is not None and info.value.usage.calls == 1


# --- servers without structured outputs ------------------------------------------------------


def test_rejected_json_schema_falls_back_to_json_mode_once_and_remembers(
    server: OpenAIServer, backend: OpenAIBackend, caplog: pytest.LogCaptureFixture
) -> None:
    server.enqueue(reject_json_schema(), valid(DIGEST_JSON), valid(DIGEST_JSON))
    request = digest_request()
    caplog.set_level(logging.WARNING, logger="summarizer.llm.openai_backend")

    first = backend.complete(request)
    second = backend.complete(request)

    assert ChunkDigest.model_validate_json(first.text) == DIGEST
    assert (first.usage.calls, first.usage.failed_calls) == (2, 1)
    assert (second.usage.calls, second.usage.failed_calls) == (1, 0)
    assert backend.uses_json_schema is False
    formats = [body["response_format"]["type"] for body in server.requests]
    assert formats == ["json_schema", "json_object", "json_object"]
    system = server.requests[2]["messages"][0]
    assert system["role"] == "system"
    assert system["content"].startswith(request.messages[0].content)
    assert '"CitedClaim"' in system["content"]  # the schema travels in the prompt
    assert server.requests[2]["messages"][1:] == [request.messages[1].model_dump()]
    warnings = [r for r in caplog.records if "JSON mode" in r.getMessage()]
    assert len(warnings) == 1


def test_a_failed_fallback_call_still_counts_the_rejected_one(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(reject_json_schema(), server_error(500))

    with pytest.raises(TransientBackendError) as info:
        backend.complete(digest_request())

    assert info.value.usage == Usage(calls=2, failed_calls=2)
    assert info.value.status == 500


def test_other_bad_requests_do_not_trigger_the_fallback(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(http_error(400, "This model's maximum context length is 8192 tokens."))

    with pytest.raises(BackendError) as info:
        backend.complete(digest_request())

    assert type(info.value) is BackendError
    assert "maximum context length" in str(info.value)
    assert backend.uses_json_schema is True
    assert server.request_count == 1


# --- credentials and secrecy -----------------------------------------------------------------


def test_unauthorized_is_not_retried(
    server: OpenAIServer, backend: OpenAIBackend, sleeps: Sleeps
) -> None:
    server.enqueue(unauthorized())

    with pytest.raises(AuthenticationFailed) as info:
        complete_structured(backend, digest_request(), policy=sleeps.policy(), max_reasks=2)

    assert info.value.usage == Usage(calls=1, failed_calls=1)
    assert server.request_count == 1
    assert sleeps == []


@pytest.mark.parametrize(
    ("behaviour", "expected"),
    [
        (rate_limited(retry_after=1), TransientBackendError),
        (server_error(503), TransientBackendError),
        (hang(2.0), TransientBackendError),
        (drop_connection(), TransientBackendError),
        (unauthorized(), AuthenticationFailed),
        (http_error(403, f"Key {API_KEY} may not use this model"), AuthenticationFailed),
        (http_error(404, f"The model does not exist for {API_KEY}"), BackendError),
    ],
    ids=["429", "503", "timeout", "dropped", "401", "403", "404"],
)
def test_no_error_or_log_line_contains_the_key(
    server: OpenAIServer,
    caplog: pytest.LogCaptureFixture,
    behaviour: Behaviour,
    expected: type[BackendError],
) -> None:
    caplog.set_level(logging.DEBUG)
    server.enqueue(behaviour, valid(DIGEST_JSON))
    with make_backend(server, timeout=0.5) as backend:
        with pytest.raises(BackendError) as info:
            backend.complete(digest_request())
        completion = backend.complete(digest_request())

    error = info.value
    assert type(error) is expected
    assert error.usage == Usage(calls=1, failed_calls=1)
    rendered = "".join(traceback.format_exception(error))
    for text in (str(error), repr(error), rendered, caplog.text, completion.model_dump_json()):
        assert API_KEY not in text
    # The servers that echoed the key prove the redaction ran, not just that nobody said it.
    if behaviour.echo_key or API_KEY in behaviour.error_message:
        assert "[redacted]" in str(error)


# --- pure helpers ----------------------------------------------------------------------------


class Tag(BaseModel):
    label: str


class Annotated(BaseModel):
    tag: Tag = Field(description="Described, so pydantic puts the $ref beside a description.")
    tags: list[Tag] = Field(min_length=1)
    note: str | None = None
    default: int = Field(default=3, ge=0)


def test_strict_schema_closes_every_object_and_requires_every_property() -> None:
    original = Annotated.model_json_schema()
    pristine = copy.deepcopy(original)

    strict = strict_json_schema(original)

    assert original == pristine
    assert strict["additionalProperties"] is False
    assert strict["required"] == ["tag", "tags", "note", "default"]
    tag = strict["properties"]["tag"]
    assert "$ref" not in tag  # strict mode forbids keywords beside a $ref, so it is inlined
    assert tag["description"].startswith("Described")
    assert tag["additionalProperties"] is False
    assert tag["required"] == ["label"]
    assert strict["properties"]["tags"]["items"] == {"$ref": "#/$defs/Tag"}
    assert strict["properties"]["tags"]["minItems"] == 1
    assert strict["$defs"]["Tag"]["additionalProperties"] is False
    # "default" the keyword is dropped; "default" the property name stays.
    assert "default" not in strict["properties"]["note"]
    assert strict["properties"]["default"] == {"type": "integer", "minimum": 0, "title": "Default"}


def test_strict_schema_drops_unsupported_keywords_and_formats() -> None:
    schema: dict[str, Any] = {
        "type": "object",
        "properties": {
            "url": {"type": "string", "format": "uri", "minLength": 3},
            "when": {"type": "string", "format": "date-time"},
            "choice": {"oneOf": [{"type": "string"}, {"type": "integer"}]},
            "wrapped": {"allOf": [{"type": "object", "properties": {"x": {"type": "number"}}}]},
        },
    }

    strict = strict_json_schema(schema)

    props = strict["properties"]
    assert props["url"] == {"type": "string"}
    assert props["when"] == {"type": "string", "format": "date-time"}
    assert props["choice"] == {"anyOf": [{"type": "string"}, {"type": "integer"}]}
    assert props["wrapped"] == {
        "type": "object",
        "properties": {"x": {"type": "number"}},
        "required": ["x"],
        "additionalProperties": False,
    }


NOW = datetime(2026, 1, 1, tzinfo=UTC)


@pytest.mark.parametrize(
    ("headers", "seconds"),
    [
        ({"Retry-After": "3"}, 3.0),
        ({"retry-after": "2.5"}, 2.5),
        ({"Retry-After": "3", "retry-after-ms": "1500"}, 1.5),
        ({"Retry-After": "Thu, 01 Jan 2026 00:00:10 GMT"}, 10.0),
        ({"Retry-After": "Wed, 31 Dec 2025 23:00:00 GMT"}, 0.0),
        ({"Retry-After": "-4"}, 0.0),
        ({"Retry-After": "soon"}, None),
        ({"Retry-After": "nan"}, None),
        ({"retry-after-ms": "inf"}, None),
        ({}, None),
    ],
)
def test_retry_after_seconds(headers: dict[str, str], seconds: float | None) -> None:
    assert retry_after_seconds(headers, now=NOW) == seconds
