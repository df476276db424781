"""The quote cut on the real local model (SmolLM2-135M, abstractive shape): with a plain string
schema the model ends a string where the article's quotation begins; with the call schema's
patterns it cannot, and every sentence it writes is finished."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import pytest

from summarizer.call_schemas import merge_schema, plain_schema
from summarizer.chunking import render_sentences, split_sentences
from summarizer.llm import CompletionRequest, Message
from summarizer.llm.local_backend import LocalBackend
from summarizer.schemas import MergedSummary
from summarizer.tokens import TokenCounter
from summarizer.wellformed import cut_short
from tests.llm.test_local_backend import installed_smollm2

pytestmark = pytest.mark.local_model

ARTICLE = (
    "Kim Jong Un praised Vladimir Putin as “the dearest friend of the Korean people” during a "
    "banquet in Pyongyang on Wednesday.\n"
    "“Our friendship is stronger than ever,” Putin said, adding that Russia would “never "
    "abandon” its allies.\n"
    'The Kremlin\'s spokesman, Dmitry Peskov, called the visit "a historic milestone" and said '
    'the leaders signed a "comprehensive strategic partnership".\n'
)


@pytest.fixture(scope="module")
def backend(tmp_path_factory: pytest.TempPathFactory) -> Iterator[LocalBackend]:
    resolved = installed_smollm2(tmp_path_factory.mktemp("models"))
    local = LocalBackend.from_resolved(resolved, n_ctx=2048, threads=2)
    yield local
    local.close()


def ask(backend: LocalBackend, schema: dict[str, Any]) -> dict[str, Any]:
    sentences = split_sentences(ARTICLE, TokenCounter(), 200)
    user = (
        f"Sentences:\n{render_sentences(sentences)}\n\n"
        "Return a headline and a summary of 2 sentences that quotes what was said."
    )
    completion = backend.complete(
        CompletionRequest(
            messages=(
                Message(role="system", content="You are a news editor. Answer with JSON only."),
                Message(role="user", content=user),
            ),
            schema_name="MergedSummary",
            json_schema=schema,
            max_tokens=160,
        )
    )
    assert completion.finish_reason == "stop", completion.text
    answer: dict[str, Any] = json.loads(completion.text)
    return answer


def strings(answer: dict[str, Any]) -> list[str]:
    summary = answer["summary"]
    return [answer["headline"], *(summary if isinstance(summary, list) else [summary])]


def test_a_plain_string_schema_cuts_the_text_at_a_quote(backend: LocalBackend) -> None:
    schema = plain_schema(MergedSummary)
    schema["properties"]["summary"] = {"type": "string"}  # the shape before issue 10
    schema["properties"]["key_points"]["maxItems"] = 1
    texts = strings(ask(backend, schema))
    assert any(cut_short(t, sentence=False) for t in texts), texts


def test_the_call_schema_leaves_no_string_cut(backend: LocalBackend) -> None:
    schema = merge_schema()
    texts = strings(ask(backend, schema))
    for text in texts:
        assert '"' not in text and cut_short(text, sentence=False) is None, texts
    for sentence in texts[1:]:
        assert cut_short(sentence, sentence=True) is None, texts
