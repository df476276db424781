"""The regression gate: compare a run with the baseline for its suite, backend and model.

    baseline_from(report, tolerances) -> Baseline  the gated metrics and matched facts of a run
    save_baseline / load_baseline / baseline_path  evals/baselines/<suite>/<backend>--<model>.json
    compare(report, baseline) -> Comparison        per metric and per fact
    check(report, baseline)                        raises EvalRegression when the gate fails

One baseline per backend and model, because different models are not regressions of each
other. A baseline also records the matcher: scores from another matcher or threshold are a
different unit and cannot be compared.
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
}


class Baseline(_Strict):
    suite_id: str
    backend: str
    model: str
    matcher: MatcherInfo
    created_at: str
    metrics: dict[str, float | None]
    tolerances: dict[str, float] = Field(default_factory=dict)
    matched_facts: dict[str, list[str]]


class MetricChange(_Strict):
    metric: str
    baseline: float | None
    current: float | None
    tolerance: float


class Comparison(_Strict):
    regressions: list[MetricChange]
    improvements: list[MetricChange]
    lost_facts: dict[str, list[FactRef]]
    gained_facts: dict[str, list[str]]

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
        for article, ids in self.gained_facts.items():
            lines += [f"gained {i} in {article}" for i in ids]
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
    return {name: values[name] for name in GATED_METRICS}


def baseline_from(report: EvalReport, *, tolerances: Mapping[str, float] | None = None) -> Baseline:
    if report.model is None:
        raise EvalError("cannot make a baseline from a run in which every article failed")
    return Baseline(
        suite_id=report.suite_id,
        backend=report.model.backend,
        model=report.model.name,
        matcher=report.matcher,
        created_at=report.created_at,
        metrics=gated_metrics(report),
        tolerances=dict(tolerances or {name: tol for name, (_, tol) in GATED_METRICS.items()}),
        matched_facts=report.matched_facts(),
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
    for name, (higher_is_better, default) in GATED_METRICS.items():
        before, now = baseline.metrics.get(name), current[name]
        if before is None or now is None:
            continue
        tolerance = baseline.tolerances.get(name, default)
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
    return Comparison(
        regressions=regressions, improvements=improvements, lost_facts=lost, gained_facts=gained
    )


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
