"""Run a suite, report, gate against a baseline, and keep a log of every run.

    run_suite(suite_dir, summarize_fn, matcher) -> EvalReport
    write_report(report, out_dir)                  report.json + report.md
    compare(report, baseline) -> Comparison        per metric and per fact
    check(report, baseline)                        raises EvalRegression when the gate fails
    baseline_from(report, tolerances) / save_baseline / load_baseline / baseline_path
    append_run_log(report, path)                   one JSON line per run, append-only

`summarize_fn(path) -> SummaryResult` is injected, so the harness never builds a backend and
tests drive it with scripted results. Baselines live under `evals/baselines/<suite>/` with one
file per backend and model, because different models are not regressions of each other.

Aggregates are micro-averages: core recall is matched core facts over all core facts of the
suite, so an article with many facts weighs more than one with few.
"""

from __future__ import annotations

import json
import re
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from summarizer.errors import EvalError, SummarizerError
from summarizer.evaluation.dataset import (
    Fact,
    Importance,
    LabelledSuite,
    load_model,
    load_suite,
)
from summarizer.evaluation.matchers.base import FactMatcher, MatcherInfo
from summarizer.evaluation.metrics import ArticleMetrics, article_metrics
from summarizer.schemas import ModelRef, PromptRef, SummaryResult

SummarizeFn = Callable[[Path], SummaryResult]
REPORT_SCHEMA_VERSION: Literal["1"] = "1"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactRef(_Strict):
    id: str
    importance: Importance
    text: str


class ArticleReport(_Strict):
    article_id: str
    outlet: str | None
    metrics: ArticleMetrics | None
    missed_facts: list[FactRef]
    error: str | None = None


class Aggregate(_Strict):
    articles: int
    failed_articles: int
    fact_recall_core: float
    fact_recall_all: float
    claims: int
    claims_resolved_share: float | None
    claims_supported_share: float | None
    unsupported_specifics: int
    mean_summary_words: float
    mean_compression_ratio: float | None
    calls: int
    cached_calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    wall_time_s: float


class EvalReport(_Strict):
    schema_version: Literal["1"] = REPORT_SCHEMA_VERSION
    suite_id: str
    created_at: str
    model: ModelRef | None
    prompts: list[PromptRef]
    matcher: MatcherInfo
    articles: list[ArticleReport]
    aggregate: Aggregate

    def matched_facts(self) -> dict[str, list[str]]:
        return {
            a.article_id: list(a.metrics.fact_recall.matched)
            for a in self.articles
            if a.metrics is not None
        }


# --- running -------------------------------------------------------------------------------


def run_suite(
    suite_dir: Path,
    summarize_fn: SummarizeFn,
    matcher: FactMatcher,
    *,
    out_dir: Path | None = None,
    clock: Callable[[], float] = time.perf_counter,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> EvalReport:
    """Summarise every article of the suite and score it; write the report if `out_dir`.

    A `SummarizerError` for one article is recorded in its row (and fails any gate) instead of
    ending the run, so one bad article does not hide the scores of the others.
    """
    suite = load_suite(suite_dir)
    rows: list[ArticleReport] = []
    results: list[SummaryResult] = []
    for article in suite.articles:
        started = clock()
        try:
            result = summarize_fn(article.path)
        except SummarizerError as error:
            rows.append(
                ArticleReport(
                    article_id=article.id,
                    outlet=article.facts.outlet,
                    metrics=None,
                    missed_facts=[_ref(f) for f in article.facts.facts],
                    error=f"{type(error).__name__}: {error}",
                )
            )
            continue
        elapsed = clock() - started
        results.append(result)
        metrics = article_metrics(
            article.id, result, article.facts.facts, article.text, matcher, wall_time_s=elapsed
        )
        missed = set(metrics.fact_recall.missed)
        rows.append(
            ArticleReport(
                article_id=article.id,
                outlet=article.facts.outlet,
                metrics=metrics,
                missed_facts=[_ref(f) for f in article.facts.facts if f.id in missed],
            )
        )
    report = EvalReport(
        suite_id=suite.suite.id,
        created_at=now().isoformat(timespec="seconds"),
        model=results[0].model if results else None,
        prompts=_distinct_prompts(results),
        matcher=matcher.info,
        articles=rows,
        aggregate=aggregate(rows, suite),
    )
    if out_dir is not None:
        write_report(report, out_dir)
    return report


def _ref(fact: Fact) -> FactRef:
    return FactRef(id=fact.id, importance=fact.importance, text=fact.text)


def _distinct_prompts(results: list[SummaryResult]) -> list[PromptRef]:
    seen: dict[tuple[str, str, str], PromptRef] = {}
    for result in results:
        for prompt in result.prompts:
            seen.setdefault((prompt.name, prompt.version, prompt.sha256), prompt)
    return list(seen.values())


def aggregate(rows: list[ArticleReport], suite: LabelledSuite) -> Aggregate:
    done = [r.metrics for r in rows if r.metrics is not None]
    # Failed articles count as recalling nothing: a crash must never raise the score.
    all_total = sum(len(a.facts.facts) for a in suite.articles)
    core_ids = {f.id for a in suite.articles for f in a.facts.facts if f.importance == "core"}
    core_found = sum(1 for m in done for i in m.fact_recall.matched if i in core_ids)
    all_found = sum(len(m.fact_recall.matched) for m in done)
    claims = sum(m.claim_support.claims for m in done)
    ratios = [m.length.compression_ratio for m in done if m.length.compression_ratio is not None]
    return Aggregate(
        articles=len(rows),
        failed_articles=len(rows) - len(done),
        fact_recall_core=round(core_found / len(core_ids), 4) if core_ids else 0.0,
        fact_recall_all=round(all_found / all_total, 4) if all_total else 0.0,
        claims=claims,
        claims_resolved_share=(
            round(sum(m.claim_support.resolved for m in done) / claims, 4) if claims else None
        ),
        claims_supported_share=(
            round(sum(m.claim_support.supported for m in done) / claims, 4) if claims else None
        ),
        unsupported_specifics=sum(len(m.unsupported_specifics) for m in done),
        mean_summary_words=round(sum(m.length.summary_words for m in done) / len(done), 1)
        if done
        else 0.0,
        mean_compression_ratio=round(sum(ratios) / len(ratios), 3) if ratios else None,
        calls=sum(m.usage.calls for m in done),
        cached_calls=sum(m.usage.cached_calls for m in done),
        failed_calls=sum(m.usage.failed_calls for m in done),
        prompt_tokens=sum(m.usage.prompt_tokens for m in done),
        completion_tokens=sum(m.usage.completion_tokens for m in done),
        wall_time_s=round(sum(m.usage.wall_time_s for m in done), 3),
    )


# --- reports -------------------------------------------------------------------------------


def write_report(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
    out_dir.mkdir(parents=True, exist_ok=True)
    json_path = out_dir / "report.json"
    md_path = out_dir / "report.md"
    json_path.write_text(report.model_dump_json(indent=2) + "\n", encoding="utf-8")
    md_path.write_text(render_markdown(report), encoding="utf-8")
    return json_path, md_path


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{100 * value:.0f}%"


def render_markdown(report: EvalReport) -> str:
    model = f"{report.model.backend}/{report.model.name}" if report.model else "n/a"
    m = report.matcher
    prompts = ", ".join(f"{p.name} v{p.version} ({p.sha256[:12]})" for p in report.prompts)
    lines = [
        f"# Eval report: suite `{report.suite_id}`",
        "",
        f"- model: `{model}`; matcher: `{m.name}` v{m.version} (threshold {m.threshold})",
        f"- prompts: {prompts or 'n/a'}",
        f"- run at {report.created_at}",
        "",
        "| article | outlet | core recall | all recall | claims resolved | claims supported "
        "| unsupported specifics | words | compression | calls (cached) | tokens in/out "
        "| seconds |",
        "|---|---|---|---|---|---|---|---|---|---|---|---|",
    ]
    for row in report.articles:
        if row.metrics is None:
            lines.append(
                f"| {row.article_id} | {row.outlet or ''} | failed: {row.error} |" + " |" * 9
            )
            continue
        x = row.metrics
        lines.append(
            f"| {row.article_id} | {row.outlet or ''} | {_pct(x.fact_recall.core)} "
            f"| {_pct(x.fact_recall.all)} | {_pct(x.claim_support.resolved_share)} "
            f"| {_pct(x.claim_support.supported_share)} | {len(x.unsupported_specifics)} "
            f"| {x.length.summary_words} | {x.length.compression_ratio or 'n/a'} "
            f"| {x.usage.calls} ({x.usage.cached_calls}) "
            f"| {x.usage.prompt_tokens}/{x.usage.completion_tokens} | {x.usage.wall_time_s:.1f} |"
        )
    a = report.aggregate
    lines += [
        "",
        "## Aggregate",
        "",
        f"- core fact recall: {_pct(a.fact_recall_core)}; all facts: {_pct(a.fact_recall_all)}",
        f"- claims: {a.claims}; evidence resolves: {_pct(a.claims_resolved_share)}; "
        f"supported by its evidence: {_pct(a.claims_supported_share)}",
        f"- unsupported specifics: {a.unsupported_specifics}",
        f"- mean summary words: {a.mean_summary_words}; "
        f"mean compression: {a.mean_compression_ratio or 'n/a'}",
        f"- calls: {a.calls} ({a.cached_calls} cached, {a.failed_calls} failed); tokens: "
        f"{a.prompt_tokens} in, {a.completion_tokens} out; wall time {a.wall_time_s:.1f} s",
        f"- articles: {a.articles} ({a.failed_articles} failed)",
        "",
        "## Facts missed",
        "",
    ]
    for row in report.articles:
        if not row.missed_facts:
            continue
        lines.append(f"### {row.article_id}")
        lines.append("")
        for fact in row.missed_facts:
            lines.append(f"- `{fact.id}` ({fact.importance}): {fact.text}")
        lines.append("")
    for row in report.articles:
        if row.metrics and row.metrics.unsupported_specifics:
            specifics = ", ".join(row.metrics.unsupported_specifics)
            lines.append(f"- unsupported in {row.article_id}: {specifics}")
    return "\n".join(lines).rstrip() + "\n"


# --- baselines and the gate ----------------------------------------------------------------

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


# --- the run log ---------------------------------------------------------------------------


class RunRecord(_Strict):
    created_at: str
    suite_id: str
    model: ModelRef | None
    prompts: list[PromptRef]
    matcher: MatcherInfo
    aggregate: Aggregate
    recall_by_article: dict[str, float | None]


def append_run_log(report: EvalReport, path: Path) -> RunRecord:
    """Append one line; earlier lines are never rewritten, so runs stay comparable over time."""
    record = RunRecord(
        created_at=report.created_at,
        suite_id=report.suite_id,
        model=report.model,
        prompts=report.prompts,
        matcher=report.matcher,
        aggregate=report.aggregate,
        recall_by_article={
            a.article_id: a.metrics.fact_recall.core if a.metrics else None for a in report.articles
        },
    )
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("a", encoding="utf-8") as log:
        log.write(record.model_dump_json() + "\n")
    return record


def read_run_log(path: Path) -> list[RunRecord]:
    if not path.exists():
        return []
    records: list[RunRecord] = []
    for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), start=1):
        if line.strip():
            try:
                records.append(RunRecord.model_validate(json.loads(line)))
            except ValueError as error:
                raise EvalError(f"{path}:{number}: not a run record: {error}") from None
    return records
