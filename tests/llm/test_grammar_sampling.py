"""Checking the grammar on the greedy token only gives the full mask's answers, byte for byte.

On the real SmolLM2-135M: the same requests, built with the pipeline's own schemas
(`summarizer/call_schemas.py`), through a backend that masks the whole vocabulary on every step
(`check_grammar_first=False`, the old path) and through the default one. Speed is measured in
`bench/grammar_speed.py`, not here.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarizer.call_schemas import digest_schema, merge_schema, selection_schema
from summarizer.chunking import Sentence, render_sentences, split_sentences
from summarizer.errors import BackendUnavailable
from summarizer.llm import CompletionRequest, Message
from summarizer.llm.catalogue import resolve_local_model
from summarizer.llm.local_backend import LocalBackend
from summarizer.tokens import TokenCounter

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "evals" / "seeds" / "articles"
N_CTX = 2048


@pytest.fixture(scope="module")
def sentences() -> list[Sentence]:
    (seed,) = SEEDS.glob("001_*.txt")
    return split_sentences(seed.read_text(), TokenCounter(), 200)[:10]


def backend(tmp_path_factory: pytest.TempPathFactory, *, check_grammar_first: bool) -> Any:
    pytest.importorskip("llama_cpp")
    try:
        resolved = resolve_local_model("smollm2-135m", tmp_path_factory.mktemp("models"))
    except BackendUnavailable as error:
        pytest.skip(str(error))
    return LocalBackend.from_resolved(
        resolved, n_ctx=N_CTX, threads=1, check_grammar_first=check_grammar_first
    )


@pytest.fixture(scope="module")
def full(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    local = backend(tmp_path_factory, check_grammar_first=False)
    yield local
    local.close()


@pytest.fixture(scope="module")
def checked(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    local = backend(tmp_path_factory, check_grammar_first=True)
    yield local
    local.close()


def call(name: str, schema: dict[str, Any], user: str, max_tokens: int) -> CompletionRequest:
    return CompletionRequest(
        messages=(
            Message(role="system", content="You are a news editor. Answer with JSON only."),
            Message(role="user", content=user),
        ),
        schema_name=name,
        json_schema=schema,
        max_tokens=max_tokens,
    )


def requests(sentences: list[Sentence]) -> list[CompletionRequest]:
    ids = [s.id for s in sentences]
    article = f"<article>\n{render_sentences(sentences)}\n</article>\n\n"
    return [
        call("SentenceSelection", selection_schema(ids, 4), article + "Pick 4 sentence ids.", 40),
        call("ChunkDigest", digest_schema(ids), article + "Summarise it with claims.", 90),
        call(
            "MergedSummary",
            merge_schema(),
            "<parts>\n" + " ".join(s.text for s in sentences[:5]) + "\n</parts>\n\nMerge them.",
            70,
        ),
    ]


def test_checking_the_greedy_token_gives_the_full_masks_text(
    full: LocalBackend, checked: LocalBackend, sentences: list[Sentence]
) -> None:
    steps = rejections = 0
    for request in requests(sentences):
        old, new = full.complete(request), checked.complete(request)
        assert new.text == old.text, request.schema_name
        assert (new.finish_reason, new.usage) == (old.finish_reason, old.usage)
        assert full._llama.last_sampler is None  # the old path really ran the full chain
        sampler = checked._llama.last_sampler
        assert sampler is not None  # and every token came from it (plus the end token's step)
        assert sampler.steps - new.usage.completion_tokens in (0, 1)
        steps, rejections = steps + sampler.steps, rejections + sampler.rejections
    # Both branches ran: the grammar accepted most greedy tokens and rejected some, whose
    # resampled replacements must match the full mask's choice too.
    assert 0 < rejections < steps


def test_sampling_above_temperature_zero_keeps_the_full_chain(
    checked: LocalBackend, sentences: list[Sentence]
) -> None:
    request = requests(sentences)[0].model_copy(update={"temperature": 0.7})
    checked.complete(request)
    assert checked._llama.last_sampler is None
