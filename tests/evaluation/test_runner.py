from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path

import pytest

from summarizer.errors import EvalError, InputError
from summarizer.evaluation.matchers import LexicalMatcher, OverlapMatcher
from summarizer.evaluation.runner import (
    EvalRegression,
    EvalReport,
    append_run_log,
    baseline_from,
    baseline_path,
    check,
    compare,
    load_baseline,
    read_run_log,
    run_suite,
    save_baseline,
)
from summarizer.schemas import Claim, SummaryResult
from tests.evaluation.builders import SEEDS, claim_from, result


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


def run(keep: int, out_dir: Path | None = None) -> EvalReport:
    return run_suite(
        SEEDS, extractive(keep), LexicalMatcher(), out_dir=out_dir, now=lambda: FIXED_NOW
    )


def test_run_scores_every_article_and_writes_both_reports(tmp_path: Path) -> None:
    report = run(8, out_dir=tmp_path / "out")
    assert [a.article_id[:3] for a in report.articles] == ["000", "001", "002", "003", "004"]
    aggregate = report.aggregate
    assert 0.5 < aggregate.fact_recall_core <= 1.0
    assert aggregate.claims_resolved_share == 1.0  # spans come from the source itself
    assert aggregate.calls == 5 and aggregate.failed_articles == 0
    assert report.model is not None and report.model.name == "scripted-1"
    assert report.prompts[0].name == "summarize"
    saved = EvalReport.model_validate_json((tmp_path / "out" / "report.json").read_text())
    assert saved == report
    markdown = (tmp_path / "out" / "report.md").read_text()
    assert "| 001_c7cab5bb4e64a322 | AFP |" in markdown
    assert "## Facts missed" in markdown


def test_gate_passes_against_its_own_baseline(tmp_path: Path) -> None:
    report = run(8)
    path = baseline_path(tmp_path, report.suite_id, "fake", "scripted-1")
    save_baseline(baseline_from(report), path)
    comparison = check(report, load_baseline(path), baseline_file=path)
    assert comparison.passed and not comparison.lost_facts


def test_dropping_claims_fails_the_gate_and_names_the_lost_facts(tmp_path: Path) -> None:
    baseline = baseline_from(run(8))
    worse = run(2)
    with pytest.raises(EvalRegression) as caught:
        check(worse, baseline)
    comparison = caught.value.comparison
    assert "fact_recall_core" in {c.metric for c in comparison.regressions}
    lost = comparison.lost_facts["000_792d328d63c8fd01"]
    lost_ids = {f.id for f in lost}
    # 000's fourth paragraph is the weapons-supply accusation; only the longer run cited it.
    assert "000-f09" in lost_ids
    message = str(caught.value)
    assert "lost 000-f09 (core) in 000_792d328d63c8fd01: The United States" in message


def test_improvement_passes_and_lists_gained_facts() -> None:
    comparison = compare(run(8), baseline_from(run(2)))
    assert comparison.passed
    assert "000-f09" in comparison.gained_facts["000_792d328d63c8fd01"]
    assert "fact_recall_core" in {c.metric for c in comparison.improvements}


def test_tolerance_absorbs_a_small_drop() -> None:
    baseline = baseline_from(run(8), tolerances={"fact_recall_core": 1.0, "fact_recall_all": 1.0})
    comparison = compare(run(7), baseline)
    assert "fact_recall_core" not in {c.metric for c in comparison.regressions}


def test_a_failing_article_is_recorded_and_fails_the_gate() -> None:
    good = extractive(8)

    def flaky(path: Path) -> SummaryResult:
        if path.name.startswith("002"):
            raise InputError("is empty", path=str(path))
        return good(path)

    report = run_suite(SEEDS, flaky, LexicalMatcher())
    row = next(a for a in report.articles if a.article_id.startswith("002"))
    assert row.metrics is None and row.error is not None and "InputError" in row.error
    assert report.aggregate.failed_articles == 1
    with pytest.raises(EvalRegression, match="failed_articles: 0 -> 1"):
        check(report, baseline_from(run(8)))


def test_baselines_from_another_matcher_cannot_be_compared() -> None:
    other = run_suite(SEEDS, extractive(8), OverlapMatcher())
    with pytest.raises(EvalError, match="baseline was scored with lexical"):
        compare(other, baseline_from(run(8)))


def test_baseline_path_is_per_suite_backend_and_model(tmp_path: Path) -> None:
    path = baseline_path(tmp_path, "seeds", "openai", "gpt-4o-mini/2024:07")
    assert path == tmp_path / "seeds" / "openai--gpt-4o-mini_2024_07.json"


def test_run_log_is_append_only(tmp_path: Path) -> None:
    log = tmp_path / "runs.jsonl"
    append_run_log(run(8), log)
    first = log.read_text()
    append_run_log(run(2), log)
    assert log.read_text().startswith(first)
    records = read_run_log(log)
    assert len(records) == 2
    assert records[0].aggregate.fact_recall_core > records[1].aggregate.fact_recall_core
    assert records[0].prompts[0].sha256 == "a" * 64
    assert json.loads(first)["matcher"]["name"] == "lexical"
