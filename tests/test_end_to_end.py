"""Acceptance: the CLI against a real OpenAI-compatible server on loopback."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path
from typing import Any

import pytest

from tests.openai_server import OpenAIServer, invalid_schema, server_error
from tests.support import run_summarizer

# Each test runs the CLI in subprocesses against the server: seconds apiece.
pytestmark = pytest.mark.slow

SECRET = "sk-test-DO-NOT-LEAK-0123456789"


@pytest.fixture
def server(openai_server: OpenAIServer) -> OpenAIServer:
    return openai_server


def summarize_cli(
    server: OpenAIServer, cache: Path, *args: str
) -> subprocess.CompletedProcess[str]:
    env = {
        "OPENAI_API_KEY": SECRET,
        "SUMMARIZER_CACHE_DIR": str(cache),
        "SUMMARIZER_TIMEOUT": "5",
    }
    return run_summarizer("summarize", *args, "--base-url", server.base_url, env=env)


def test_summarize_then_repeat_from_cache(
    server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    first = summarize_cli(server, cache, str(seed_path))
    assert first.returncode == 0, first.stderr
    result = json.loads(first.stdout)
    text = seed_path.read_text(encoding="utf-8")
    assert result["claims"]
    for claim in result["claims"]:
        start, end = claim["span"]
        assert text[start:end] == claim["evidence"]
    assert result["usage"]["calls"] == server.request_count == 1
    assert server.requests[0]["response_format"]["json_schema"]["strict"] is True
    assert server.request_headers[0].get("authorization") == f"Bearer {SECRET}"

    second = summarize_cli(server, cache, str(seed_path))
    assert second.returncode == 0, second.stderr
    repeat = json.loads(second.stdout)
    assert server.request_count == 1  # no HTTP request at all
    assert repeat["usage"]["calls"] == 0 and repeat["usage"]["cached_calls"] == 1
    assert {k: v for k, v in repeat.items() if k != "usage"} == {
        k: v for k, v in result.items() if k != "usage"
    }
    # the key is nowhere on disk, in outputs or in logs
    stored = b"".join(p.read_bytes() for p in cache.rglob("*") if p.is_file())
    assert SECRET.encode() not in stored
    assert SECRET not in first.stdout + first.stderr + second.stdout + second.stderr


def test_server_errors_exhausting_retries_give_one_line_and_no_cache_entry(
    server: OpenAIServer, seed_path: Path, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    server.enqueue(*[server_error(503)] * 2)
    monkeypatch.setenv("SUMMARIZER_MAX_RETRIES", "2")
    failed = summarize_cli(server, tmp_path / "cache", str(seed_path))
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "503" in errors[0] and "Traceback" not in failed.stderr
    assert SECRET not in failed.stderr
    monkeypatch.delenv("SUMMARIZER_MAX_RETRIES")
    retry = summarize_cli(server, tmp_path / "cache", str(seed_path))
    assert retry.returncode == 0, retry.stderr
    assert json.loads(retry.stdout)["usage"]["calls"] == 1  # the failure was not cached


def test_garbage_after_all_reasks_is_one_line_error(
    server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    server.enqueue(*[invalid_schema('{"headline": 42}')] * 3)
    failed = summarize_cli(server, tmp_path / "cache", str(seed_path))
    assert failed.returncode == 1
    errors = [line for line in failed.stderr.splitlines() if line.startswith("error:")]
    assert len(errors) == 1 and "no valid ChunkDigest after 3 attempts" in errors[0]
    assert server.request_count == 3


def test_stdin_formats_output_file_and_cache_commands(
    server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    cache = tmp_path / "cache"
    env = {"OPENAI_API_KEY": SECRET, "SUMMARIZER_CACHE_DIR": str(cache)}

    def cli(*args: str, stdin: str | None = None) -> subprocess.CompletedProcess[str]:
        return run_summarizer(*args, env=env, stdin=stdin)

    text = seed_path.read_text(encoding="utf-8")
    md = cli("summarize", "-", "-f", "md", "--base-url", server.base_url, stdin=text)
    assert md.returncode == 0, md.stderr
    assert md.stdout.startswith("# ") and "## Claims" in md.stdout
    out = tmp_path / "out" / "claims.json"
    claims = cli("claims", str(seed_path), "-o", str(out), "--base-url", server.base_url)
    assert claims.returncode == 0 and claims.stdout == ""
    document = json.loads(out.read_text())
    assert "summary" not in document and document["claims"]
    assert [p.name for p in out.parent.iterdir()] == ["claims.json"]  # no temp file left
    assert server.request_count == 1  # same text from stdin and file: one call, then cached

    stats = cli("cache", "stats")
    # One model answer, and the document's whole result (answered before tokenising next time).
    assert json.loads(stats.stdout)["entries"] == 2
    assert cli("cache", "path").stdout.strip() == str(cache)
    assert "removed 2 entries" in cli("cache", "clear").stdout
    assert json.loads(cli("cache", "stats").stdout)["entries"] == 0


def test_words_bound_the_summary_through_the_openai_backend(
    server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    """A model that writes 80 words for a 65-word budget: the CLI returns whole sentences of
    at most 65 words, and the budget is part of the cache key (a new budget, a new answer)."""
    from summarizer.selection import count_words
    from tests.fakes import answer_http_request

    long = [f"Sentence {n} " + " ".join(["word"] * 17) + " end." for n in range(1, 5)]

    def wordy(body: dict[str, Any]) -> str:
        answer = json.loads(answer_http_request(body))
        answer["summary"] = long
        return json.dumps(answer)

    server.responder = wordy
    cache = tmp_path / "cache"
    runs = {}
    for words in ("65", "45"):
        done = summarize_cli(server, cache, str(seed_path), "--words", words)
        assert done.returncode == 0, done.stderr
        runs[words] = json.loads(done.stdout)
    assert count_words(runs["65"]["summary"]["text"]) == 60  # three whole 20-word sentences
    assert count_words(runs["45"]["summary"]["text"]) == 40
    assert runs["65"]["summary_words"] == 65 and runs["45"]["summary_words"] == 45
    assert all(s.endswith("end.") for s in runs["65"]["summary"]["text"].split(" Sentence "))
    # the model's answer is reused from the call cache; the document entry is per budget
    assert server.request_count == 1 and runs["45"]["usage"]["cached_calls"] == 1
