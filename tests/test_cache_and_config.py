from __future__ import annotations

from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarizer.cache import CallCache, cache_key
from summarizer.config import load_settings
from summarizer.errors import ConfigError
from summarizer.llm import CompletionRequest, Message


def request(text: str = "hello", **overrides: object) -> CompletionRequest:
    fields: dict[str, object] = {
        "messages": (Message(role="user", content=text),),
        "schema_name": "S",
        "json_schema": {"type": "object"},
        "max_tokens": 100,
    }
    fields.update(overrides)
    return CompletionRequest(**fields)  # type: ignore[arg-type]


def key(**overrides: object) -> str:
    fields: dict[str, object] = {
        "backend": "openai", "model": "m", "endpoint": None,
        "request": request(), "prompt_sha256": "p",
    }  # fmt: skip
    fields.update(overrides)
    return cache_key(**fields)  # type: ignore[arg-type]


@given(st.text(max_size=200), st.text(max_size=200))
def test_key_is_stable_and_sensitive_to_the_input(a: str, b: str) -> None:
    assert key(request=request(a)) == key(request=request(a))
    assert (key(request=request(a)) == key(request=request(b))) == (a == b)


def test_key_changes_with_everything_that_changes_the_answer() -> None:
    base = key()
    variants = [
        key(backend="local"), key(model="m2"), key(endpoint="http://x"), key(prompt_sha256="q"),
        key(request=request(max_tokens=101)), key(request=request(temperature=0.5)),
        key(request=request(seed=1)), key(request=request(json_schema={"type": "array"})),
    ]  # fmt: skip
    assert base not in variants and len(set(variants)) == len(variants)


def test_cache_round_trip_on_disk_and_no_secret_stored(tmp_path: Path) -> None:
    cache = CallCache(tmp_path / "c")
    cache.set("k", {"output": {"a": 1}})
    cache.close()
    reopened = CallCache(tmp_path / "c")
    assert reopened.get("k") == {"output": {"a": 1}}
    assert reopened.stats()["entries"] == 1
    assert reopened.clear() == 1
    reopened.close()


def test_settings_precedence_flags_env_dotenv(tmp_path: Path) -> None:
    dotenv = tmp_path / ".env"
    dotenv.write_text("SUMMARIZER_MODEL=from-dotenv\nSUMMARIZER_MAX_CHUNK_TOKENS=900\n")
    settings = load_settings({}, env={"SUMMARIZER_MAX_CHUNK_TOKENS": "700"}, dotenv_path=dotenv)
    assert settings.model == "from-dotenv" and settings.max_chunk_tokens == 700
    settings = load_settings({"max_chunk_tokens": 500}, env={}, dotenv_path=dotenv)
    assert settings.max_chunk_tokens == 500


def test_backend_defaults_to_local_without_key_or_url() -> None:
    assert load_settings(env={}, dotenv_path=None).resolved_backend() == "local"
    assert (
        load_settings(env={"OPENAI_API_KEY": "sk-x"}, dotenv_path=None).resolved_backend()
        == "openai"
    )
    with_url = load_settings(env={"OPENAI_BASE_URL": "http://127.0.0.1:1/v1"}, dotenv_path=None)
    assert with_url.resolved_backend() == "openai"


def test_invalid_setting_is_a_one_line_config_error() -> None:
    with pytest.raises(ConfigError, match="max_chunk_tokens"):
        load_settings(env={"SUMMARIZER_MAX_CHUNK_TOKENS": "lots"}, dotenv_path=None)


def test_api_key_is_not_in_settings_repr() -> None:
    settings = load_settings(env={"OPENAI_API_KEY": "sk-secret-123"}, dotenv_path=None)
    assert "sk-secret-123" not in repr(settings) and "sk-secret-123" not in str(settings)
