"""Small builders for eval tests: results, facts and seed-suite runs without a pipeline or a
model."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers import LexicalMatcher
from summarizer.evaluation.runner import EvalReport, run_suite
from summarizer.schemas import (
    Claim,
    ClaimKind,
    ModelRef,
    PromptRef,
    SourceInfo,
    Summary,
    SummaryResult,
    Usage,
)

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "evals" / "seeds"


def fact(text: str, *, id: str = "000-f01", **extra: object) -> Fact:
    return Fact.model_validate({"id": id, "text": text, **extra})


def claim_from(source: str, sentence: str, *, text: str | None = None, id: str = "c1") -> Claim:
    """A claim whose evidence is `sentence`, located in `source` (so it resolves)."""
    start = source.index(sentence)
    return Claim(
        id=id,
        text=text or sentence,
        kind=ClaimKind.FACT,
        speaker=None,
        evidence=sentence,
        span=(start, start + len(sentence)),
        sentence_ids=[0],
    )


def result(
    text: str,
    *,
    headline: str = "Headline",
    key_points: list[str] | None = None,
    claims: list[Claim] | None = None,
    usage: Usage | None = None,
    model: str = "scripted-1",
) -> SummaryResult:
    return SummaryResult(
        source=SourceInfo(path="article.txt", sha256="0" * 64, chars=1, tokens=1),
        mode="abstractive",
        summary=Summary(headline=headline, text=text, key_points=key_points or []),
        claims=claims or [],
        model=ModelRef(backend="fake", name=model),
        prompts=[PromptRef(name="summarize", version="1", sha256="a" * 64)],
        chunks=1,
        usage=usage or Usage(calls=1, prompt_tokens=100, completion_tokens=50),
        warnings=[],
    )


def paragraphs(text: str) -> list[str]:
    return [line.strip() for line in text.splitlines() if len(line.strip()) > 40]


def extractive(keep: int) -> Callable[[Path], SummaryResult]:
    """A scripted summariser: the first `keep` paragraphs, each also cited as a claim."""

    def summarize(path: Path) -> SummaryResult:
        source = path.read_text(encoding="utf-8")
        chosen = paragraphs(source)[:keep]
        claims: list[Claim] = [
            claim_from(source, p, id=f"c{i}") for i, p in enumerate(chosen, start=1)
        ]
        return result(" ".join(chosen[:2]), headline="Putin and Kim sign a pact", claims=claims)

    return summarize


FIXED_NOW = datetime(2026, 11, 1, 12, 0, tzinfo=UTC)


def run_seeds(keep: int, out_dir: Path | None = None) -> EvalReport:
    """The seed suite, summarised by `extractive(keep)` and scored by the lexical matcher."""
    return run_suite(
        SEEDS, extractive(keep), LexicalMatcher(), out_dir=out_dir, now=lambda: FIXED_NOW
    )
