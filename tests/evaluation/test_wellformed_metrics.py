"""The eval harness measures well-formedness per article and overall, prints it and gates it."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.evaluation.gate import EvalRegression, baseline_from, check
from summarizer.evaluation.matchers import LexicalMatcher
from summarizer.evaluation.metrics import wellformedness
from summarizer.evaluation.runner import EvalReport, render_markdown, run_suite
from summarizer.schemas import Claim, ClaimKind, SummaryResult
from tests.evaluation.builders import FIXED_NOW, SEEDS, claim_from, extractive, result

SOURCE = (
    "Kim Jong Un met Vladimir Putin in Pyongyang on Wednesday and the two leaders signed a "
    "mutual defence treaty. “Our friendship is stronger than ever,” Putin said. Seoul said "
    "the pact threatened the region. Washington called it a dangerous step."
)


def quote(text: str, *, speaker: str | None, id: str) -> Claim:
    base = claim_from(SOURCE, "“Our friendship is stronger than ever,” Putin said.", id=id)
    return base.model_copy(update={"text": text, "kind": ClaimKind.QUOTE, "speaker": speaker})


def test_each_problem_is_counted() -> None:
    claims = [
        claim_from(SOURCE, "Seoul said the pact threatened the region.", id="c1"),
        claim_from(SOURCE, "Seoul said the pact threatened the region.", id="c2"),
        quote("Putin praised the friendship as the", speaker=None, id="c3"),
        quote("Putin praised the friendship.", speaker="Putin", id="c4"),
    ]
    summary = (
        "Kim Jong Un met Vladimir Putin in Pyongyang on Wednesday and the two leaders signed "
        "a mutual defence treaty."
    )
    shape = wellformedness(result(summary, headline="Kim and Putin sign a", claims=claims), SOURCE)
    assert shape.truncated_strings == 2
    assert shape.truncated == [
        "headline: Kim and Putin sign a",
        "claim c3: Putin praised the friendship as the",
    ]
    assert shape.duplicate_claims == 1
    assert shape.summary_sentences == 1 and not shape.summary_in_range
    assert shape.quote_claims == 2 and shape.quotes_without_speaker == 1
    assert shape.claims_per_100_words == round(100 * 4 / 40, 3)
    # The summary's 19 words are copied in a run of 8+; the 7-word claims are too short a run.
    assert shape.verbatim_copy_rate == round(19 / (19 + 7 + 7 + 6 + 4), 4)
    assert shape.unsupported_claims is None  # no support verdicts yet


def with_a_cut_claim(path: Path) -> SummaryResult:
    good = extractive(8)(path)
    cut = good.claims[0].model_copy(
        update={"id": "cut", "text": "Kim Jong Un praised Putin as the"}
    )
    return good.model_copy(update={"claims": [*good.claims, cut]})


def seeds(summarize: object) -> EvalReport:
    return run_suite(SEEDS, summarize, LexicalMatcher(), now=lambda: FIXED_NOW)  # type: ignore[arg-type]


def test_a_cut_claim_fails_the_gate_and_is_named_in_the_report() -> None:
    baseline = baseline_from(seeds(extractive(8)))
    assert baseline.metrics["truncated_strings"] == 0
    worse = seeds(with_a_cut_claim)
    assert worse.aggregate.truncated_strings == len(worse.articles)
    with pytest.raises(EvalRegression) as caught:
        check(worse, baseline)
    assert "truncated_strings: 0 -> 5" in str(caught.value)
    markdown = render_markdown(worse)
    assert "## Well-formedness" in markdown
    assert "- cut short in 000_792d328d63c8fd01: claim cut: Kim Jong Un praised Putin as the" in (
        markdown
    )


def test_a_baseline_from_before_wellformedness_still_gates_the_rest() -> None:
    report = seeds(with_a_cut_claim)
    old = baseline_from(report)
    old = old.model_copy(
        update={"metrics": {k: v for k, v in old.metrics.items() if k != "truncated_strings"}}
    )
    assert check(report, old).passed
