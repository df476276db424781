"""The regression gate: compare a run with the baseline for its suite, backend and model.

    baseline_from(report, tolerances) -> Baseline  the gated metrics and matched facts of a run
    save_baseline / load_baseline / baseline_path  evals/baselines/<suite>/<backend>--<model>.json
    compare(report, baseline) -> Comparison        per metric and per fact
    check(report, baseline)                        raises EvalRegression when the gate fails

One baseline per backend and model, because different models are not regressions of each
other. A baseline also records the matcher: scores from another matcher or threshold are a
different unit and cannot be compared.

Story metrics (`story_metrics.py`) are gated the same way, in the same `metrics` table, and
the baseline keeps the story items a run found (`story_items`: support pairs, quote groups,
disagreements, single-marked facts, acceptance checks) so that a regression names each one
lost. Both are optional in the file: a baseline from before story mode loads and gates the
per-article metrics only. A story that was built for the baseline and fails now is a
regression; a run that did not build one (scoring saved summaries) leaves it ungated.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path

from pydantic import BaseModel, ConfigDict, Field

from summarizer.errors import EvalError
from summarizer.evaluation.dataset import load_model
from summarizer.evaluation.matchers.base import MatcherInfo
from summarizer.evaluation.runner import EvalReport, FactRef
from summarizer.evaluation.story_metrics import StoryMetrics


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


# metric -> (higher is better, default tolerance). A tolerance is how far a metric may move
# the wrong way before the gate fails; core recall and resolving evidence may not move at all.
GATED_METRICS: dict[str, tuple[bool, float]] = {
    "fact_recall_core": (True, 0.0),
    "fact_recall_all": (True, 0.02),
    "claims_resolved_share": (True, 0.0),
    "claims_supported_share": (True, 0.05),
    "unsupported_specifics": (False, 0.0),
    "failed_articles": (False, 0.0),
    # Well-formedness: nothing cut, repeated or left unattributed may appear that did not
    # before; the claim rate may dip a little, the verbatim-copy rate rise a little.
    "truncated_strings": (False, 0.0),
    "duplicate_claims": (False, 0.0),
    "whole_summary_claims": (False, 0.0),
    "summaries_out_of_range": (False, 0.0),
    "quotes_without_speaker": (False, 0.0),
    "fewest_claims": (True, 0.0),
    "claims_per_100_words": (True, 0.1),
    "verbatim_copy_rate": (False, 0.05),
    "unsupported_claims": (False, 0.0),  # None (ungated) until claims carry a support verdict
}
# The story's figures (StoryMetrics.figures). Counts of groups, disagreements and acceptance
# checks may not fall; precision may give a little when recall rises (more pairs predicted).
STORY_METRICS: dict[str, tuple[bool, float]] = {
    "story_support_precision": (True, 0.02),
    "story_support_recall": (True, 0.0),
    "story_variant_groups_found": (True, 0.0),
    "story_disagreements_found": (True, 0.0),
    "story_single_marked_share": (True, 0.0),
    "story_acceptance_passed": (True, 0.0),
}
ALL_GATED = GATED_METRICS | STORY_METRICS


class Baseline(_Strict):
    suite_id: str
    backend: str
    model: str
    matcher: MatcherInfo
    created_at: str
    metrics: dict[str, float | None]
    tolerances: dict[str, float] = Field(default_factory=dict)
    matched_facts: dict[str, list[str]]
    # StoryMetrics.found_items() of the run; empty in baselines from before story mode.
    story_items: dict[str, list[str]] = Field(default_factory=dict)


class MetricChange(_Strict):
    metric: str
    baseline: float | None
    current: float | None
    tolerance: float


class StoryItem(_Strict):
    """One thing a story run found or lost: kind as in `StoryMetrics.found_items`, and what
    it is in words."""

    kind: str
    id: str
    text: str


class Comparison(_Strict):
    regressions: list[MetricChange]
    improvements: list[MetricChange]
    lost_facts: dict[str, list[FactRef]]
    gained_facts: dict[str, list[str]]
    lost_story_items: list[StoryItem] = Field(default_factory=list)
    gained_story_items: list[StoryItem] = Field(default_factory=list)
    story_note: str | None = None

    @property
    def passed(self) -> bool:
        return not self.regressions

    def describe(self) -> str:
        lines = [
            f"{c.metric}: {_num(c.baseline)} -> {_num(c.current)} (tolerance {_num(c.tolerance)})"
            for c in self.regressions
        ]
        for article, facts in self.lost_facts.items():
            lines += [f"lost {f.id} ({f.importance}) in {article}: {f.text}" for f in facts]
        lines += [f"lost story {i.kind} {i.id}: {i.text}" for i in self.lost_story_items]
        for article, ids in self.gained_facts.items():
            lines += [f"gained {i} in {article}" for i in ids]
        lines += [f"gained story {i.kind} {i.id}" for i in self.gained_story_items]
        if self.story_note:
            lines.append(self.story_note)
        return "\n".join(lines)


def _num(value: float | None) -> str:
    return "n/a" if value is None else f"{value:g}"


class EvalRegression(EvalError):
    """The gate failed; `comparison` lists the metrics that fell and the facts lost."""

    def __init__(self, comparison: Comparison, *, baseline_file: Path | None = None) -> None:
        self.comparison = comparison
        self.baseline_file = baseline_file
        where = f" against {baseline_file}" if baseline_file else ""
        super().__init__(f"eval regression{where}:\n{comparison.describe()}")


def gated_metrics(report: EvalReport) -> dict[str, float | None]:
    values = report.aggregate.model_dump()
    gated: dict[str, float | None] = {name: values[name] for name in GATED_METRICS}
    story = report.story.metrics if report.story is not None else None
    figures = story.figures() if story is not None else {}
    return gated | {name: figures.get(name) for name in STORY_METRICS}


def _story_metrics(report: EvalReport) -> StoryMetrics | None:
    return report.story.metrics if report.story is not None else None


def baseline_from(report: EvalReport, *, tolerances: Mapping[str, float] | None = None) -> Baseline:
    if report.model is None:
        raise EvalError("cannot make a baseline from a run in which every article failed")
    story = _story_metrics(report)
    # Tolerances kept from an older baseline win; metrics it did not know get the defaults.
    defaults = {name: tol for name, (_, tol) in ALL_GATED.items()}
    return Baseline(
        suite_id=report.suite_id,
        backend=report.model.backend,
        model=report.model.name,
        matcher=report.matcher,
        created_at=report.created_at,
        metrics=gated_metrics(report),
        tolerances=defaults | dict(tolerances or {}),
        matched_facts=report.matched_facts(),
        story_items=story.found_items() if story is not None else {},
    )


def compare(report: EvalReport, baseline: Baseline) -> Comparison:
    if report.suite_id != baseline.suite_id:
        raise EvalError(f"baseline is for suite {baseline.suite_id!r}, not {report.suite_id!r}")
    if report.matcher != baseline.matcher:
        # Scores from different matchers or thresholds are different units.
        raise EvalError(
            f"baseline was scored with {baseline.matcher.name} v{baseline.matcher.version} "
            f"(threshold {baseline.matcher.threshold}), this run with {report.matcher.name} "
            f"v{report.matcher.version} (threshold {report.matcher.threshold})"
        )
    current = gated_metrics(report)
    regressions: list[MetricChange] = []
    improvements: list[MetricChange] = []
    story_failed = report.story is not None and report.story.metrics is None
    for name, (higher_is_better, default) in ALL_GATED.items():
        before, now = baseline.metrics.get(name), current[name]
        tolerance = baseline.tolerances.get(name, default)
        if before is not None and now is None and name in STORY_METRICS and story_failed:
            # The baseline's story was built and scored; this run's story step failed.
            regressions.append(
                MetricChange(metric=name, baseline=before, current=None, tolerance=tolerance)
            )
            continue
        if before is None or now is None:
            continue
        delta = (now - before) if higher_is_better else (before - now)
        change = MetricChange(metric=name, baseline=before, current=now, tolerance=tolerance)
        if delta < -tolerance - 1e-9:
            regressions.append(change)
        elif delta > 1e-9:
            improvements.append(change)
    matched_now = report.matched_facts()
    missed_refs = {f.id: f for a in report.articles for f in a.missed_facts}
    lost: dict[str, list[FactRef]] = {}
    gained: dict[str, list[str]] = {}
    for article in report.articles:
        before_ids = baseline.matched_facts.get(article.article_id, [])
        now_ids = matched_now.get(article.article_id, [])
        dropped = [missed_refs[i] for i in before_ids if i not in now_ids and i in missed_refs]
        added = [i for i in now_ids if i not in before_ids]
        if dropped:
            lost[article.article_id] = dropped
        if added:
            gained[article.article_id] = added
    lost_story, gained_story, note = _story_changes(report, baseline)
    return Comparison(
        regressions=regressions,
        improvements=improvements,
        lost_facts=lost,
        gained_facts=gained,
        lost_story_items=lost_story,
        gained_story_items=gained_story,
        story_note=note,
    )


def _story_changes(
    report: EvalReport, baseline: Baseline
) -> tuple[list[StoryItem], list[StoryItem], str | None]:
    """Story items found by the baseline run and not by this one, and the reverse."""
    story = _story_metrics(report)
    if report.story is None:
        note = "story metrics not computed in this run" if baseline.story_items else None
        return [], [], note
    if not baseline.story_items:
        return [], [], "no story items in the baseline yet; run with --update-baseline"
    found_now = story.found_items() if story is not None else {}
    words = _story_words(story) if story is not None else {}
    lost: list[StoryItem] = []
    gained: list[StoryItem] = []
    for kind, before in baseline.story_items.items():
        now = found_now.get(kind, [])
        lost += [StoryItem(kind=kind, id=i, text=words.get(i, "")) for i in before if i not in now]
        gained += [
            StoryItem(kind=kind, id=i, text=words.get(i, "")) for i in now if i not in before
        ]
    for kind, now in found_now.items():
        if kind not in baseline.story_items:
            gained += [StoryItem(kind=kind, id=i, text=words.get(i, "")) for i in now]
    if story is None:
        # The story step failed: every item is lost; name them from the baseline's ids.
        lost = [
            StoryItem(kind=kind, id=i, text=f"story step failed: {report.story.error}")
            for kind, ids in baseline.story_items.items()
            for i in ids
        ]
    return lost, gained, None


def _story_words(story: StoryMetrics) -> dict[str, str]:
    """Each item id of `found_items` -> what it is, in words, for the gate's messages."""
    words: dict[str, str] = {}
    for fact in story.shared_facts:
        for article in fact.found + fact.missed:
            words[f"{fact.id}@{article}"] = f"{fact.text} (in {article})"
    words |= {g.id: g.gist for g in story.variant_groups}
    words |= {d.id: d.topic for d in story.disagreements}
    words |= {s.fact_id: f"single-source fact of {s.article_id}" for s in story.single_facts.facts}
    words |= {
        name: f"{name.removesuffix('_all_articles')} in every story article, spans verified"
        for name in story.acceptance
    }
    return words


_KIND_WORDS = {
    "support_pairs": "a (shared fact, article) pair",
    "variant_groups": "a quote-variant group",
    "disagreements": "a disagreement with both sides",
    "single_marked": "a single-source fact marked single",
    "acceptance": "an acceptance check",
}


def check(
    report: EvalReport, baseline: Baseline, *, baseline_file: Path | None = None
) -> Comparison:
    """Compare and raise `EvalRegression` if any gated metric fell beyond its tolerance."""
    comparison = compare(report, baseline)
    if not comparison.passed:
        raise EvalRegression(comparison, baseline_file=baseline_file)
    return comparison


def _slug(text: str) -> str:
    return re.sub(r"[^A-Za-z0-9._-]+", "_", text).strip("_") or "unnamed"


def baseline_path(baselines_dir: Path, suite_id: str, backend: str, model: str) -> Path:
    return baselines_dir / _slug(suite_id) / f"{_slug(backend)}--{_slug(model)}.json"


def load_baseline(path: Path) -> Baseline:
    return load_model(path, Baseline)


def save_baseline(baseline: Baseline, path: Path) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(baseline.model_dump_json(indent=2) + "\n", encoding="utf-8")
