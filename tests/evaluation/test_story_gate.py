"""The story in an eval run: scored from the run's own results, reported, logged and gated."""

from __future__ import annotations

import json
from collections.abc import Sequence
from functools import cache
from pathlib import Path

import pytest

from summarizer.errors import EvalError
from summarizer.evaluation.dataset import load_suite
from summarizer.evaluation.gate import (
    EvalRegression,
    baseline_from,
    check,
    compare,
    load_baseline,
    save_baseline,
)
from summarizer.evaluation.matchers import LexicalMatcher
from summarizer.evaluation.runner import (
    EvalReport,
    StoryFn,
    append_run_log,
    read_run_log,
    run_suite,
    write_eval_report,
)
from summarizer.evaluation.story_metrics import story_metrics
from summarizer.schemas import SummaryResult
from summarizer.story import StoryError
from summarizer.story.result import Checked, StoryResult, Variant, Wording
from tests.evaluation.builders import FIXED_NOW, REPO, SEEDS, extractive
from tests.evaluation.story_builders import (
    A000,
    A001,
    A002,
    ALL,
    TREATY,
    sid,
    span_of,
    stating,
    story,
)

COMMITTED = REPO / "evals" / "baselines" / "seeds" / "local--smollm2-135m_b179c952.json"


def landmark_variant(*article_ids: str) -> Variant:
    texts = {
        A000: "This is truly a landmark document",
        A001: "It is really a breakthrough document",
        A002: "a truly breakthrough document",
    }
    wordings = []
    for article_id in article_ids:
        evidence, span = span_of(article_id, texts[article_id])
        wordings.append(
            Wording(source=sid(article_id), evidence=evidence, span=span, text=evidence)
        )
    return Variant(
        id="v1", claim_id="c1", kind="quote", speaker="Vladimir Putin", wordings=wordings,
        checked=Checked.RULES,
    )  # fmt: skip


GOOD = story([stating("c1", TREATY)], [landmark_variant(A000, A001, A002)])
WORSE = story([stating("c1", TREATY[:4])], [landmark_variant(A000)])


def scripted(result: StoryResult, calls: list[list[Path]] | None = None) -> StoryFn:
    def story_fn(runs: Sequence[tuple[Path, SummaryResult]]) -> StoryResult:
        if calls is not None:
            calls.append([path for path, _ in runs])
        return result

    return story_fn


def run(story_fn: StoryFn | None) -> EvalReport:
    return run_suite(
        SEEDS, extractive(8), LexicalMatcher(), story_fn=story_fn, now=lambda: FIXED_NOW
    )


@cache
def scored(which: str) -> EvalReport:
    """A seed run whose story is GOOD, WORSE or not built ("none"); reports are immutable."""
    return run({"good": scripted(GOOD), "worse": scripted(WORSE), "none": None}[which])


def test_the_story_is_built_once_from_the_runs_results_and_scored() -> None:
    calls: list[list[Path]] = []
    report = run(scripted(GOOD, calls))
    assert calls == [[SEEDS / "articles" / f"{a}.txt" for a in ALL]]
    assert report.story is not None and report.story.metrics is not None
    assert report.story.metrics.acceptance["s01_all_articles"]
    assert report.story.metrics.acceptance["q01_all_articles"]


def test_report_and_run_log_carry_the_story(tmp_path: Path) -> None:
    report = scored("good")
    json_file, md_file = write_eval_report(report, tmp_path)
    assert EvalReport.model_validate_json(json_file.read_text()).story == report.story
    markdown = md_file.read_text()
    assert "## Story" in markdown and "| `s01` Putin and Kim Jong Un signed a treaty" in markdown
    assert "s01_all_articles yes" in markdown
    log = tmp_path / "runs.jsonl"
    log.write_text(json.dumps(_record_without_story(report)) + "\n")  # a line from before
    append_run_log(report, log)
    before, now = read_run_log(log)
    assert before.story is None
    assert now.story is not None and now.story["story_acceptance_passed"] == 2.0


def _record_without_story(report: EvalReport) -> dict[str, object]:
    record = append_run_log(report, Path("/dev/null")).model_dump(mode="json")
    del record["story"]
    return record


def test_a_story_step_error_is_recorded_not_raised() -> None:
    def failing(runs: Sequence[tuple[Path, SummaryResult]]) -> StoryResult:
        raise StoryError("the articles share no statement")

    report = run(failing)
    assert report.story is not None and report.story.metrics is None
    assert report.story.error == "StoryError: the articles share no statement"


def test_gate_passes_against_its_own_story_baseline(tmp_path: Path) -> None:
    report = scored("good")
    path = tmp_path / "baseline.json"
    save_baseline(baseline_from(report), path)
    baseline = load_baseline(path)
    assert "s01@004_bc305e52182d6c2c" in baseline.story_items["support_pairs"]
    comparison = check(report, baseline)
    assert comparison.passed and not comparison.lost_story_items


def test_a_worse_story_fails_the_gate_and_names_each_lost_item() -> None:
    baseline = baseline_from(scored("good"))
    with pytest.raises(EvalRegression) as caught:
        check(scored("worse"), baseline)
    comparison = caught.value.comparison
    assert {"story_support_recall", "story_variant_groups_found", "story_acceptance_passed"} <= {
        c.metric for c in comparison.regressions
    }
    message = str(caught.value)
    assert (
        "lost story support_pairs s01@004_bc305e52182d6c2c: Putin and Kim Jong Un signed a "
        "treaty (defence pact / strategic partnership). (in 004_bc305e52182d6c2c)" in message
    )
    assert "lost story variant_groups q01: Putin's one-line verdict" in message
    assert "lost story acceptance s01_all_articles: s01 in every story article" in message
    assert "lost story acceptance q01_all_articles" in message


def test_a_better_story_passes_and_lists_what_it_gained() -> None:
    # GOOD cites 004 too, and that sentence states other shared facts 004 lacks: precision
    # falls a little as recall rises, so this baseline allows it.
    worse = baseline_from(scored("worse"), tolerances={"story_support_precision": 0.1})
    comparison = compare(scored("good"), worse)
    assert comparison.passed
    assert ("variant_groups", "q01") in {(i.kind, i.id) for i in comparison.gained_story_items}


def test_a_failed_story_step_fails_a_gate_whose_baseline_had_one() -> None:
    def failing(runs: Sequence[tuple[Path, SummaryResult]]) -> StoryResult:
        raise StoryError("fewer than two articles")

    comparison = compare(run(failing), baseline_from(scored("good")))
    assert not comparison.passed
    assert "story_support_recall" in {c.metric for c in comparison.regressions}
    assert "story step failed: StoryError: fewer than two articles" in comparison.describe()


def test_a_run_without_the_story_step_leaves_the_story_ungated() -> None:
    comparison = compare(scored("none"), baseline_from(scored("good")))
    assert comparison.passed
    assert comparison.story_note == "story metrics not computed in this run"


def test_a_baseline_from_before_story_mode_loads_and_gates_the_rest(tmp_path: Path) -> None:
    raw = json.loads(baseline_from(scored("good")).model_dump_json())
    del raw["story_items"]
    raw["metrics"] = {k: v for k, v in raw["metrics"].items() if not k.startswith("story_")}
    raw["tolerances"] = {k: v for k, v in raw["tolerances"].items() if not k.startswith("story_")}
    old = tmp_path / "old.json"
    old.write_text(json.dumps(raw))
    comparison = compare(scored("worse"), load_baseline(old))
    assert comparison.passed  # nothing to compare the story with yet...
    assert "no story items in the baseline yet" in comparison.describe()
    # ...and the update keeps its tolerances while adding the story's defaults.
    updated = baseline_from(scored("good"), tolerances=load_baseline(old).tolerances)
    assert updated.tolerances["story_support_recall"] == 0.0
    assert updated.story_items["acceptance"] == ["s01_all_articles", "q01_all_articles"]


def test_the_committed_seed_baseline_loads() -> None:
    baseline = load_baseline(COMMITTED)
    assert baseline.model.startswith("smollm2-135m") and baseline.matched_facts


def test_a_story_of_an_unlabelled_suite_is_not_attempted(tmp_path: Path) -> None:
    suite = tmp_path / "suite"
    suite.mkdir()
    raw = json.loads((SEEDS / "suite.json").read_text())
    raw.pop("story")
    (suite / "suite.json").write_text(json.dumps(raw))
    for folder in ("articles", "facts"):
        (suite / folder).symlink_to(SEEDS / folder)
    calls: list[list[Path]] = []
    report = run_suite(suite, extractive(8), LexicalMatcher(), story_fn=scripted(GOOD, calls))
    assert report.story is None and calls == []
    with pytest.raises(EvalError, match="has no story labels"):
        story_metrics(GOOD, load_suite(suite), LexicalMatcher())
