"""A hostile or broken endpoint (issue 11, classes 2, 6, 7, 10), over real loopback HTTP.

What a proxy, a web UI at the wrong path, or a server that ignores `max_tokens` can send back,
and credentials inside a base URL: each ends as one of our errors, bounded, and redacted.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Iterator
from pathlib import Path

import pytest
from pydantic import SecretStr

from summarizer.config import check_base_url, load_settings, redact_url
from summarizer.errors import BackendError, ConfigError, StructuredOutputError
from summarizer.llm import CompletionRequest, Message
from summarizer.llm.calls import CallLayer, RetryPolicy, metered
from summarizer.llm.openai_backend import OpenAIBackend, text_limit
from summarizer.replies import ChunkDigest
from tests.openai_server import OpenAIServer, http_error, raw, unauthorized, valid
from tests.support import run_summarizer

API_KEY = "sk-test-hostile-KEY-0123456789"
URL_PASSWORD = "pw-IN-URL-9f8e7d"
URL_TOKEN = "tok-IN-QUERY-5a4b3c"
SECRETS = (API_KEY, URL_PASSWORD, URL_TOKEN)


def request(max_tokens: int = 400) -> CompletionRequest:
    return CompletionRequest(
        messages=(
            Message(role="system", content="You summarise news articles as JSON."),
            Message(role="user", content="[0] The council voted 7-2 to approve the budget."),
        ),
        schema_name="ChunkDigest",
        json_schema=ChunkDigest.model_json_schema(),
        max_tokens=max_tokens,
    )


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    openai_server.responder = None
    return openai_server


@pytest.fixture
def backend(server: OpenAIServer) -> Iterator[OpenAIBackend]:
    with OpenAIBackend(
        model="m", base_url=server.base_url, api_key=SecretStr(API_KEY), timeout=5
    ) as built:
        yield built


def call_layer(backend: OpenAIBackend, max_reasks: int = 2) -> CallLayer:
    sleeps: list[float] = []
    return CallLayer(backend, retry=RetryPolicy(sleep=sleeps.append), max_reasks=max_reasks)


# --- class 6: a 200 that is not a chat completion -----------------------------------------


PROXY_PAGE = "<!DOCTYPE html><html><body><h1>Access denied by proxy</h1></body></html>"


@pytest.mark.parametrize(
    ("behaviour", "message"),
    [
        (raw(PROXY_PAGE, "text/html"), r"other than JSON \(starting '<!DOCTYPE html>"),
        (raw(PROXY_PAGE, "application/json"), "a body that is not JSON"),
        (raw(b"", "application/json"), "a body that is not JSON"),
        (raw('{"choices": "nope"}', "application/json"), "malformed chat completion"),
        (raw('{"choices": []}', "application/json"), "malformed chat completion"),
        (raw('{"choices": [{"message": {"content": 5}}]}', "application/json"), "malformed"),
        (raw("[1, 2, 3]", "application/json"), "malformed chat completion"),
        (raw(b"\xff\xfe\x00garbage", "application/octet-stream"), "other than JSON"),
    ],
)
def test_a_200_that_is_no_chat_completion_is_one_clear_error(
    server: OpenAIServer, backend: OpenAIBackend, behaviour: object, message: str
) -> None:
    server.enqueue(behaviour)  # type: ignore[arg-type]
    with pytest.raises(BackendError, match=message) as caught:
        backend.complete(request())
    assert server.base_url in str(caught.value)


def test_a_proxy_page_is_not_retried_or_reasked(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(raw(PROXY_PAGE, "text/html"))
    with pytest.raises(BackendError, match="other than JSON"), metered() as meter:
        call_layer(backend).call(request(), ChunkDigest, meter, prompt_sha256="t")
    assert server.request_count == 1 and meter.total.failed_calls == 1


def test_usage_a_server_makes_up_never_reaches_our_totals(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    body = {
        "choices": [{"message": {"content": "{}"}, "finish_reason": "stop"}],
        "usage": {"prompt_tokens": "lots", "completion_tokens": 10**30},
    }
    server.enqueue(raw(json.dumps(body), "application/json"))
    completion = backend.complete(request())
    assert (completion.usage.prompt_tokens, completion.usage.completion_tokens) == (0, 0)
    assert completion.usage.calls == 1


# --- class 2: answers are bounded -----------------------------------------------------------


def test_a_huge_answer_is_cut_off_while_read_and_not_echoed_back(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(valid("x" * 20_000_000))  # 20 MB, for max_tokens=16
    started = time.monotonic()
    layer = call_layer(backend)
    with (
        pytest.raises(BackendError, match="over the bound for max_tokens=16") as caught,
        metered() as meter,
    ):
        layer.call(request(16), ChunkDigest, meter, prompt_sha256="t")
    assert "the server ignores the token limit" in str(caught.value)
    assert server.request_count == 1  # failed once, not re-asked with 20 MB in the prompt
    assert time.monotonic() - started < 5


def test_text_longer_than_the_token_budget_allows_is_refused(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    server.enqueue(valid("y" * (text_limit(16) + 1)))  # under the wire bound, over the text one
    with pytest.raises(BackendError, match=r"characters, over the bound for max_tokens=16"):
        backend.complete(request(16))


def test_a_reask_quotes_a_long_invalid_answer_only_in_part(
    server: OpenAIServer, backend: OpenAIBackend
) -> None:
    long_invalid = '{"headline": 42, "padding": "' + "z" * 1000 + '"}'
    server.enqueue(valid(long_invalid), valid(long_invalid))
    with pytest.raises(StructuredOutputError), metered() as meter:
        call_layer(backend, max_reasks=1).call(request(64), ChunkDigest, meter, prompt_sha256="t")
    echoed = server.requests[1]["messages"][-2]
    assert echoed["role"] == "assistant"
    assert len(echoed["content"]) < 8 * 64 + 40 and echoed["content"].endswith("[... truncated]")


# --- class 7: credentials inside the base URL ------------------------------------------------


def secret_url(server: OpenAIServer) -> str:
    host = server.base_url.removeprefix("http://")
    return f"http://user:{URL_PASSWORD}@{host}?api-key={URL_TOKEN}&api-version=2024-06-01"


@pytest.mark.parametrize(
    ("url", "shown"),
    [
        ("http://u:p4ss@h:8/v1", "http://***@h:8/v1"),
        ("https://TOKEN123@h/v1", "https://***@h/v1"),
        ("https://h/v1?api-key=abc&api-version=1", "https://h/v1?api-key=***&api-version=1"),
        ("https://h/v1?key=abc", "https://h/v1?key=***"),
        ("https://h/v1?access_token=abc&sig=x", "https://h/v1?access_token=***&sig=***"),
        ("http://h:8000/v1", "http://h:8000/v1"),
    ],
)
def test_redact_url(url: str, shown: str) -> None:
    assert redact_url(url) == shown


def test_no_error_repr_or_identity_holds_a_url_credential(server: OpenAIServer) -> None:
    url = secret_url(server)
    # A careless server quoting both the key and the URL it was called at.
    server.enqueue(unauthorized(), http_error(400, f"bad request to {url} ({URL_PASSWORD})"))
    with OpenAIBackend(model="m", base_url=url, api_key=SecretStr(API_KEY), timeout=5) as backend:
        texts = [repr(backend), backend.base_url, backend.identity.model_dump_json()]
        for _ in range(2):
            with pytest.raises(BackendError) as caught:
                backend.complete(request())
            texts.append(str(caught.value))
    assert server.request_count == 2  # the URL with credentials did reach the server
    # ... with its query as a query (the SDK alone would have pasted it into the path)
    assert server.request_paths[0].startswith("/v1/chat/completions?api-key=")
    for text in texts:
        for secret in SECRETS:
            assert secret not in text, (secret, text)
    assert "api-version=2024-06-01" in backend.identity.model_dump_json()


def test_unreachable_url_with_credentials_is_redacted() -> None:
    url = f"http://u:{URL_PASSWORD}@127.0.0.1:9/v1"
    with (
        OpenAIBackend(model="m", base_url=url, api_key=None, timeout=2) as backend,
        pytest.raises(BackendError) as caught,
    ):
        backend.complete(request())
    assert "cannot reach http://***@127.0.0.1:9/v1" in str(caught.value)
    assert URL_PASSWORD not in str(caught.value)


# --- class 10: base URLs that cannot work fail at once, as configuration -------------------


@pytest.mark.parametrize(
    ("url", "message"),
    [
        ("http://127.0.0.1:8000/v1\n", "contains a newline"),
        ("http://127.0.0.1:8000/\nv1", "contains a newline"),
        ("http://127.0.0.1:8000/ v1", "contains the character ' '"),
        ("ftp://127.0.0.1/v1", "must be http:// or https://"),
        ("127.0.0.1:8000/v1", "must be http:// or https://"),
        ("localhost:8000/v1", "must be http:// or https://"),
        ("http:///v1", "name a host"),
        ("http://h:99999/v1", "not a valid URL"),
        (f"ftp://u:{URL_PASSWORD}@h/v1", re.escape("got ftp://***@h/v1")),
    ],
)
def test_unusable_base_urls_are_config_errors(url: str, message: str) -> None:
    with pytest.raises(ValueError, match=message) as caught:
        check_base_url(url)
    assert URL_PASSWORD not in str(caught.value)
    with pytest.raises(ConfigError, match=message):
        load_settings({"base_url": url}, env={}, dotenv_path=None)
    with pytest.raises(ConfigError, match=message):
        OpenAIBackend(model="m", base_url=url, api_key=None, timeout=1)


@pytest.mark.slow
@pytest.mark.parametrize("url", ["ftp://127.0.0.1/v1", "http://127.0.0.1/v1\nx", "no-scheme/v1"])
def test_cli_bad_base_url_exits_2_at_once(tmp_path: Path, url: str) -> None:
    article = tmp_path / "a.txt"
    article.write_text("The council met. It approved the budget.")
    started = time.monotonic()
    done = run_summarizer("summarize", str(article), "--base-url", url, timeout=60)
    assert done.returncode == 2, done.stderr
    assert (
        done.stderr.startswith("error: invalid setting base_url") and "Traceback" not in done.stderr
    )
    assert time.monotonic() - started < 15  # no five retries with backoff


# --- class 7: the .env trust model -----------------------------------------------------------


def dotenv(tmp_path: Path, text: str) -> Path:
    path = tmp_path / ".env"
    path.write_text(text)
    return path


def test_dotenv_moving_the_environments_key_elsewhere_warns_once(tmp_path: Path) -> None:
    warnings: list[str] = []
    path = dotenv(tmp_path, f"OPENAI_BASE_URL=http://u:{URL_PASSWORD}@evil.example/v1\n")
    settings = load_settings(
        env={"OPENAI_API_KEY": API_KEY}, dotenv_path=path, warn=warnings.append
    )
    assert settings.base_url is not None and "evil.example" in settings.base_url
    assert len(warnings) == 1
    assert "OPENAI_BASE_URL=http://***@evil.example/v1" in warnings[0]
    assert "API key from the environment will be sent there" in warnings[0]
    assert URL_PASSWORD not in warnings[0] and API_KEY not in warnings[0]


@pytest.mark.parametrize(
    ("env", "dotenv_text"),
    [
        # the key comes from .env too: nothing of the user's leaves
        ({}, "OPENAI_API_KEY=sk-dotenv\nOPENAI_BASE_URL=http://h/v1\n"),
        # the user chose the endpoint
        (
            {"OPENAI_API_KEY": API_KEY, "OPENAI_BASE_URL": "http://mine/v1"},
            "OPENAI_BASE_URL=http://h/v1\n",
        ),
        # the backend alone cannot redirect a key
        ({"OPENAI_API_KEY": API_KEY}, "SUMMARIZER_BACKEND=openai\n"),
        # the local backend sends nothing anywhere
        ({"OPENAI_API_KEY": API_KEY}, "OPENAI_BASE_URL=http://h/v1\nSUMMARIZER_BACKEND=local\n"),
    ],
)
def test_dotenv_without_a_key_to_move_is_silent(
    tmp_path: Path, env: dict[str, str], dotenv_text: str
) -> None:
    warnings: list[str] = []
    load_settings(env=env, dotenv_path=dotenv(tmp_path, dotenv_text), warn=warnings.append)
    assert warnings == []


def test_a_flag_base_url_overrides_dotenv_silently(tmp_path: Path) -> None:
    warnings: list[str] = []
    path = dotenv(tmp_path, "OPENAI_BASE_URL=http://h/v1\n")
    settings = load_settings(
        {"base_url": "http://mine/v1"},
        env={"OPENAI_API_KEY": API_KEY},
        dotenv_path=path,
        warn=warnings.append,
    )
    assert settings.base_url == "http://mine/v1" and warnings == []


@pytest.mark.slow
def test_cli_warns_on_stderr_when_dotenv_redirects_the_key(
    tmp_path: Path, openai_server: OpenAIServer
) -> None:
    (tmp_path / ".env").write_text(f"OPENAI_BASE_URL={openai_server.base_url}\n")
    article = tmp_path / "a.txt"
    article.write_text("The council met on Monday. It approved the budget.")
    done = run_summarizer("summarize", str(article), env={"OPENAI_API_KEY": API_KEY})
    assert done.returncode == 0, done.stderr
    assert done.stderr.count("API key from the environment will be sent there") == 1
    assert openai_server.request_count >= 1
