"""Run a suite, write its report, and keep a log of every run.

    run_suite(suite_dir, summarize_fn, matcher) -> EvalReport
    write_eval_report(report, out_dir)             report.json + report.md
    append_run_log(report, path) / read_run_log    one JSON line per run, append-only

`summarize_fn(path) -> SummaryResult` is injected, so the harness never builds a backend and
tests drive it with scripted results. The gate that compares a report with a baseline is in
`gate.py`.

Aggregates are micro-averages: core recall is matched core facts over all core facts of the
suite, so an article with many facts weighs more than one with few.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable
from datetime import UTC, datetime
from pathlib import Path
from typing import Literal

from pydantic import BaseModel, ConfigDict

from summarizer.errors import EvalError, SummarizerError
from summarizer.evaluation.dataset import (
    Fact,
    Importance,
    LabelledSuite,
    load_suite,
)
from summarizer.evaluation.matchers.base import FactMatcher, MatcherInfo
from summarizer.evaluation.metrics import ArticleMetrics, UsageStats, article_metrics
from summarizer.schemas import ModelRef, PromptRef, SummaryResult, Usage

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


class Aggregate(UsageStats):
    """Suite-wide figures; the usage fields are sums over the articles that ran."""

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
        write_eval_report(report, out_dir)
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
        **sum((m.usage for m in done), Usage()).model_dump(),
        wall_time_s=round(sum(m.usage.wall_time_s for m in done), 3),
    )


# --- reports -------------------------------------------------------------------------------


def write_eval_report(report: EvalReport, out_dir: Path) -> tuple[Path, Path]:
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
