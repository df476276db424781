"""The whole-document cache entry: a repeat summary is one lookup, made before any tokenising."""

from __future__ import annotations

from pathlib import Path

import pytest
from pydantic import SecretStr

import summarizer.tokens as tokens
from summarizer.config import Settings
from summarizer.errors import BackendError
from summarizer.llm import Completion, CompletionRequest
from summarizer.schemas import Usage
from summarizer.service import Summarizer
from summarizer.sources import read_source, source_from_text
from tests.fakes import ScriptedBackend
from tests.openai_server import OpenAIServer
from tests.support import run_python, run_summarizer


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "backend": "openai", "api_key": SecretStr("sk-test"), "model": "gpt-4o-mini",
        "cache_dir": tmp_path / "cache", "models_dir": tmp_path / "models",
    }  # fmt: skip
    return Settings.model_validate({**values, **overrides})


class Refusing(ScriptedBackend):
    def complete(self, request: CompletionRequest) -> Completion:
        raise BackendError("this test expected no model call")


def test_a_repeat_document_is_answered_without_an_encoder_or_a_call(
    tmp_path: Path, seed_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    first = Summarizer(settings(tmp_path), backend=ScriptedBackend()).summarize(
        read_source(str(seed_path))
    )

    def no_encoder(name: str) -> object:
        raise AssertionError(f"the {name} encoder was built for a cached document")

    monkeypatch.setattr(tokens, "get_encoding", no_encoder)
    text = seed_path.read_text(encoding="utf-8")
    again = Summarizer(settings(tmp_path), backend=Refusing()).summarize(
        source_from_text(text, path="copy.txt")
    )
    assert again.usage == Usage(cached_calls=first.usage.calls)
    assert again.source.path == "copy.txt"
    assert again.model_dump(exclude={"usage", "source"}) == first.model_dump(
        exclude={"usage", "source"}
    )


@pytest.mark.parametrize("changed", [{"max_output_tokens": 700}, {"seed": 1}])
def test_anything_that_shapes_the_calls_misses_the_document_entry(
    tmp_path: Path, seed_path: Path, changed: dict[str, object]
) -> None:
    source = read_source(str(seed_path))
    Summarizer(settings(tmp_path), backend=ScriptedBackend()).summarize(source)
    backend = ScriptedBackend()
    Summarizer(settings(tmp_path, **changed), backend=backend).summarize(source)
    assert backend.history  # asked again: the document entry did not answer


@pytest.mark.parametrize("changed", [{"mode": "extractive"}, {"summary_words": 40}])
def test_what_shapes_the_result_but_no_call_misses_the_document_entry(
    tmp_path: Path, seed_path: Path, changed: dict[str, object]
) -> None:
    """The extractive tier makes no call, and a budget only trims the model's answer (the call
    cache answers it): the document entry must still miss, or the old result would come back."""
    source = read_source(str(seed_path))
    first = Summarizer(settings(tmp_path), backend=ScriptedBackend()).summarize(source)
    again = Summarizer(settings(tmp_path, **changed), backend=ScriptedBackend()).summarize(source)
    assert (again.mode, again.summary_words) != (first.mode, first.summary_words)
    assert again.mode == changed.get("mode", first.mode)
    assert again.summary_words == changed.get("summary_words", first.summary_words)


def test_refresh_recomputes_and_no_cache_stores_nothing(tmp_path: Path, seed_path: Path) -> None:
    source = read_source(str(seed_path))
    Summarizer(settings(tmp_path), backend=ScriptedBackend()).summarize(source)
    refreshed = ScriptedBackend()
    Summarizer(settings(tmp_path, refresh_cache=True), backend=refreshed).summarize(source)
    assert len(refreshed.history) == 1
    uncached = ScriptedBackend()
    Summarizer(settings(tmp_path / "x", use_cache=False), backend=uncached).summarize(source)
    assert not (tmp_path / "x" / "cache").exists() and len(uncached.history) == 1


@pytest.mark.slow
def test_a_cache_hit_process_imports_neither_the_sdks_nor_the_pipeline(
    openai_server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    env = {"OPENAI_API_KEY": "sk-test", "SUMMARIZER_CACHE_DIR": str(tmp_path / "cache")}
    first = run_summarizer(
        "summarize", str(seed_path), "--base-url", openai_server.base_url, env=env
    )
    assert first.returncode == 0, first.stderr
    script = (
        "import sys\nfrom summarizer.cli import main\n"
        "try:\n    main(['summarize', sys.argv[1], '--base-url', sys.argv[2]])\n"
        "except SystemExit:\n    pass\n"
        "heavy = ('openai', 'tiktoken', 'llama_cpp', 'summarizer.pipeline', "
        "'summarizer.chunking', 'summarizer.story', 'summarizer.llm.local_backend', "
        # Nor what only a run needs: the claim checker, the models' reply shapes, the HTML
        # reader, the embedder's converter.
        "'summarizer.support', 'summarizer.replies', 'summarizer.markup', 'html.parser', "
        "'summarizer.llm.bert_gguf')\n"
        "print(sorted(m for m in heavy if m in sys.modules))\n"
    )
    again = run_python(script, str(seed_path), openai_server.base_url, env=env)
    assert again.returncode == 0, again.stderr
    assert again.stdout.strip().splitlines()[-1] == "[]"
    assert openai_server.request_count == 1
