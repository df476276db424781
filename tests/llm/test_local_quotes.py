"""The quote cut on the real local model (SmolLM2-135M, abstractive shape): with a plain string
schema the model ends a string where the article's quotation begins; with the call schema's
patterns it cannot, and every sentence it writes is finished."""

from __future__ import annotations

import re
from collections.abc import Iterator
from typing import Any

import pytest

from summarizer.call_schemas import merge_schema, plain_schema
from summarizer.chunking import render_sentences, split_sentences
from summarizer.llm import CompletionRequest, Message
from summarizer.llm.local_backend import LocalBackend
from summarizer.replies import MergedSummary
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


def ask(backend: LocalBackend, schema: dict[str, Any]) -> list[str]:
    """The string values the model closed (the last may be left open at the token limit: the
    135M model tends to run on, and only closed strings can show a cut)."""
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
            max_tokens=110,
        )
    )
    closed = re.findall(r'"((?:[^"\\]|\\.)*)"', completion.text)
    return [value for value in closed if value not in schema["properties"]]


def test_a_plain_string_schema_cuts_the_text_at_a_quote(backend: LocalBackend) -> None:
    schema = plain_schema(MergedSummary)
    schema["properties"]["summary"] = {"type": "string"}  # the shape before issue 10
    texts = ask(backend, schema)
    # SmolLM2 writes 'called the visit ' and closes the string with the quotation's `"`.
    assert any(cut_short(t, sentence=True) for t in texts[1:]), texts


def test_the_call_schema_leaves_no_string_cut(backend: LocalBackend) -> None:
    texts = ask(backend, merge_schema())
    assert texts, "the headline, at least, is closed"
    for text in texts:
        assert cut_short(text, sentence=False) is None, texts
