"""Hand-built StoryResults over the seed articles, for story-metric and gate tests."""

from __future__ import annotations

import re
from collections.abc import Sequence
from functools import cache

from summarizer.evaluation.dataset import LabelledArticle, LabelledSuite, load_suite
from summarizer.evaluation.matchers import LexicalMatcher
from summarizer.evaluation.story_metrics import StoryMetrics, story_metrics
from summarizer.schemas import ClaimKind, ModelRef, Usage
from summarizer.sources import Source
from summarizer.story.result import (
    Checked,
    Coverage,
    Disagreement,
    StoryClaim,
    StoryResult,
    StorySource,
    StorySummary,
    Support,
    Variant,
)
from tests.evaluation.builders import SEEDS

A000, A001, A002, A003, A004 = (
    "000_792d328d63c8fd01",
    "001_c7cab5bb4e64a322",
    "002_6d3c99f1deddeec7",
    "003_835030cc783f1d85",
    "004_bc305e52182d6c2c",
)
ALL = [A000, A001, A002, A003, A004]


@cache
def seeds() -> LabelledSuite:
    return load_suite(SEEDS)


def article(article_id: str) -> LabelledArticle:
    return seeds().article(article_id)


def sid(article_id: str) -> str:
    return f"a{ALL.index(article_id) + 1}"


def span_of(article_id: str, text: str) -> tuple[str, tuple[int, int]]:
    body = article(article_id).text
    start = body.index(text)
    return text, (start, start + len(text))


def sentence_stating(article_id: str, fact_id: str) -> str:
    """The first sentence of the article that the lexical matcher says states the fact."""
    labelled = article(article_id)
    fact = next(f for f in labelled.facts.facts if f.id == fact_id)
    sentences = [s.strip() for s in re.split(r"(?<=[.!?])\s+|\n+", labelled.text) if s.strip()]
    for window in (1, 2):
        for start in range(len(sentences) - window + 1):
            text = labelled.text[labelled.text.index(sentences[start]) :]
            text = text[
                : text.index(sentences[start + window - 1]) + len(sentences[start + window - 1])
            ]
            if LexicalMatcher().matches(fact, text).present:
                return text
    raise AssertionError(f"no sentence of {article_id} states {fact_id}")


def support(article_id: str, evidence: str) -> Support:
    text, span = span_of(article_id, evidence)
    return Support(
        source=sid(article_id), evidence=text, span=span, claim_id=None, claim_text=None, score=1
    )


def claim(id: str, supports: Sequence[Support], *, coverage: Coverage | None = None) -> StoryClaim:
    count = len({s.source for s in supports})
    default = Coverage.ALL if count == 5 else Coverage.SINGLE if count == 1 else Coverage.SEVERAL
    return StoryClaim(
        id=id,
        text=supports[0].evidence,
        kind=ClaimKind.FACT,
        speaker=None,
        coverage=coverage or default,
        support=list(supports),
        checked=Checked.RULES,
    )


def stating(id: str, pairs: Sequence[tuple[str, str]]) -> StoryClaim:
    """A claim supported in each article by the sentence that states that article's fact."""
    return claim(id, [support(a, sentence_stating(a, f)) for a, f in pairs])


def story(
    claims: Sequence[StoryClaim] = (),
    variants: Sequence[Variant] = (),
    disagreements: Sequence[Disagreement] = (),
    *,
    paths: dict[str, str] | None = None,
) -> StoryResult:
    sources = []
    for article_id in ALL:
        labelled = article(article_id)
        path = (paths or {}).get(article_id, str(labelled.path))
        sources.append(
            StorySource(
                id=sid(article_id),
                path=path,
                sha256=Source(path=path, text=labelled.text).sha256 if paths is None else "0" * 64,
                chars=len(labelled.text),
                claims=0,
            )
        )
    return StoryResult(
        sources=sources,
        claims=list(claims),
        variants=list(variants),
        disagreements=list(disagreements),
        summary=StorySummary(headline="h", sentences=[]),
        matrix=[],
        model=ModelRef(backend="fake", name="scripted-1"),
        embedder=None,
        prompts=[],
        relations_checked=Checked.RULES,
        usage=Usage(),
        warnings=[],
    )


def score(result: StoryResult) -> StoryMetrics:
    return story_metrics(result, seeds(), LexicalMatcher())


TREATY = [(a, f"{a[:3]}-f01") for a in ALL]
