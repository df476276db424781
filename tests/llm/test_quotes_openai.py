"""Quotation marks through the OpenAI backend: a loopback server answers as a model that wrote a
bare `"` did (a string cut where the quotation began, or JSON broken by it), and the pipeline
asks again with the specific problem instead of emitting the cut text."""

from __future__ import annotations

import json
import re
from typing import Any

from pydantic import SecretStr

from summarizer.call_schemas import sentence_pattern
from summarizer.llm.openai_backend import OpenAIBackend
from summarizer.pipeline import PipelineOptions, summarize
from summarizer.schemas import SummaryResult
from summarizer.sources import source_from_text
from summarizer.wellformed import CLAIM_CHARS, SUMMARY_SENTENCE_CHARS, cut_short
from tests.openai_server import OpenAIServer, valid

ARTICLE = (
    "Kim Jong Un praised Vladimir Putin as “the dearest friend of the Korean people” on "
    "Wednesday.\n"
    "“Our friendship is stronger than ever,” Putin said at the banquet in Pyongyang.\n"
    'The Kremlin called the visit "a historic milestone" and the pact "comprehensive".\n'
    "A banner read «Добро пожаловать», another 환영합니다, and the path C:\\archive\\2024 held "
    "the transcripts.\n"
    "Analysts said the pact's wording – “mutual assistance in case of aggression” – echoes 1961.\n"
)


def digest(claim: str, summary: str) -> dict[str, object]:
    return {
        "headline": "Kim praises Putin",
        "summary": [summary, "They signed a pact."],
        "key_points": ["Kim hosted Putin.", "They signed a pact.", "The Kremlin was pleased."],
        "claims": [
            {"text": claim, "kind": "fact", "speaker": None, "sentence_ids": [1]},
            {"text": "Putin praised the friendship.", "kind": "fact", "speaker": None,
             "sentence_ids": [2]},
            {"text": "The Kremlin called the visit historic.", "kind": "fact", "speaker": None,
             "sentence_ids": [3]},
        ],
    }  # fmt: skip


# Valid JSON, cut where the model closed the string with the quotation's `"`.
CUT = json.dumps(digest("Kim Jong Un praised Putin as the", "Kim called it the"))
# The same bare `"` where no grammar stops the model: the JSON itself breaks.
BROKEN = json.dumps(digest("Kim called Putin QQ.", "Kim praised Putin.")).replace(
    "QQ", '"the dearest friend"'
)


def run(server: OpenAIServer) -> tuple[SummaryResult, list[dict[str, Any]]]:
    backend = OpenAIBackend(
        model="gpt-4o-mini", base_url=server.base_url, api_key=SecretStr("sk-x"), timeout=5
    )
    with backend:
        result = summarize(
            source_from_text(ARTICLE, path="quotes.txt"),
            backend,
            PipelineOptions(max_output_tokens=400),
        )
    return result, server.requests


def test_a_string_cut_at_a_quote_is_reasked_and_never_emitted(
    openai_server: OpenAIServer,
) -> None:
    openai_server.enqueue(valid(CUT))
    result, requests = run(openai_server)
    assert len(requests) == 2
    reask = requests[1]["messages"][-1]["content"]
    assert "claims.0.text 'Kim Jong Un praised Putin as the' ends on 'the'" in reask
    assert "summary.0 'Kim called it the' ends on 'the'" in reask
    texts = [result.summary.headline, result.summary.text, *result.summary.key_points]
    texts += [c.text for c in result.claims]
    assert all(cut_short(t, sentence=False) is None for t in texts), texts
    # Evidence is the source verbatim, non-Latin text and backslashes included.
    for claim in result.claims:
        assert ARTICLE[claim.span[0] : claim.span[1]] == claim.evidence


def test_json_broken_by_a_bare_quote_is_reasked(openai_server: OpenAIServer) -> None:
    openai_server.enqueue(valid(BROKEN))
    result, requests = run(openai_server)
    assert len(requests) == 2
    assert "not JSON" in requests[1]["messages"][-1]["content"]
    assert result.claims


def test_the_strict_schema_forbids_bare_quotes_and_fixes_the_counts(
    openai_server: OpenAIServer,
) -> None:
    run(openai_server)
    schema = openai_server.requests[0]["response_format"]["json_schema"]["schema"]
    summary = schema["properties"]["summary"]
    assert (summary["minItems"], summary["maxItems"]) == (2, 4)
    assert summary["items"]["pattern"] == sentence_pattern(SUMMARY_SENTENCE_CHARS)
    claims = schema["properties"]["claims"]
    assert claims["minItems"] == 3 and claims["maxItems"] == 8
    claim = schema["$defs"]["CitedClaim"]["properties"]
    assert claim["text"]["pattern"] == sentence_pattern(CLAIM_CHARS)
    assert re.match(claim["text"]["pattern"], "Kim Jong Un praised Putin as the") is None
