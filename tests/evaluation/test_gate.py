from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.errors import EvalError, InputError
from summarizer.evaluation.gate import (
    EvalRegression,
    baseline_from,
    baseline_path,
    check,
    compare,
    load_baseline,
    save_baseline,
)
from summarizer.evaluation.matchers import LexicalMatcher, OverlapMatcher
from summarizer.evaluation.runner import run_suite
from summarizer.schemas import SummaryResult
from tests.evaluation.builders import SEEDS, extractive, run_seeds


def test_gate_passes_against_its_own_baseline(tmp_path: Path) -> None:
    report = run_seeds(8)
    path = baseline_path(tmp_path, report.suite_id, "fake", "scripted-1")
    save_baseline(baseline_from(report), path)
    comparison = check(report, load_baseline(path), baseline_file=path)
    assert comparison.passed and not comparison.lost_facts


def test_dropping_claims_fails_the_gate_and_names_the_lost_facts(tmp_path: Path) -> None:
    baseline = baseline_from(run_seeds(8))
    worse = run_seeds(2)
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
    comparison = compare(run_seeds(8), baseline_from(run_seeds(2)))
    assert comparison.passed
    assert "000-f09" in comparison.gained_facts["000_792d328d63c8fd01"]
    assert "fact_recall_core" in {c.metric for c in comparison.improvements}


def test_tolerance_absorbs_a_small_drop() -> None:
    tolerances = {"fact_recall_core": 1.0, "fact_recall_all": 1.0}
    baseline = baseline_from(run_seeds(8), tolerances=tolerances)
    comparison = compare(run_seeds(7), baseline)
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
        check(report, baseline_from(run_seeds(8)))


def test_baselines_from_another_matcher_cannot_be_compared() -> None:
    other = run_suite(SEEDS, extractive(8), OverlapMatcher())
    with pytest.raises(EvalError, match="baseline was scored with lexical"):
        compare(other, baseline_from(run_seeds(8)))


def test_baseline_path_is_per_suite_backend_and_model(tmp_path: Path) -> None:
    path = baseline_path(tmp_path, "seeds", "openai", "gpt-4o-mini/2024:07")
    assert path == tmp_path / "seeds" / "openai--gpt-4o-mini_2024_07.json"
