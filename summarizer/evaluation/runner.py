"""Run a suite, write its report, and keep a log of every run.

    run_suite(suite_dir, summarize_fn, matcher, story_fn=...) -> EvalReport
    write_eval_report(report, out_dir)             report.json + report.md
    append_run_log(report, path) / read_run_log    one JSON line per run, append-only

`summarize_fn(path) -> SummaryResult` is injected, so the harness never builds a backend and
tests drive it with scripted results. So is `story_fn`, which builds the story of the suite's
story articles from the per-article results this run already has (never summarising them
again); its scores are in `story_metrics.py`. The gate that compares a report with a baseline
is in `gate.py`.

Aggregates are micro-averages: core recall is matched core facts over all core facts of the
suite, so an article with many facts weighs more than one with few.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from summarizer.errors import EvalError, SummarizerError
from summarizer.evaluation.dataset import (
    Fact,
    Importance,
    LabelledSuite,
    Story,
    load_suite,
)
from summarizer.evaluation.matchers.base import FactMatcher, MatcherInfo
from summarizer.evaluation.metrics import ArticleMetrics, UsageStats, article_metrics
from summarizer.evaluation.story_metrics import StoryMetrics, story_metrics
from summarizer.schemas import ModelRef, PromptRef, SummaryResult, Usage
from summarizer.story.result import StoryResult
from summarizer.wellformed import SUMMARY_SENTENCES

SummarizeFn = Callable[[Path], SummaryResult]
# (article path, its result) for each story article that ran, in the story's order.
StoryFn = Callable[[Sequence[tuple[Path, SummaryResult]]], StoryResult]
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
    # Well-formedness (metrics.WellFormedness), summed or averaged over the articles that ran;
    # defaults keep run-log lines from before it was measured readable.
    truncated_strings: int = 0
    duplicate_claims: int = 0
    whole_summary_claims: int = 0
    claims_per_100_words: float | None = None
    fewest_claims: int | None = None
    summaries_out_of_range: int = 0
    mean_summary_sentences: float | None = None
    verbatim_copy_rate: float | None = None
    quotes_without_speaker: int = 0
    unsupported_claims: int | None = None


class StoryReport(_Strict):
    """The story step of a run: its scores, or the error that stopped it."""

    metrics: StoryMetrics | None
    error: str | None = None
    wall_time_s: float
    warnings: list[str] = []


class EvalReport(_Strict):
    schema_version: Literal["1"] = REPORT_SCHEMA_VERSION
    suite_id: str
    created_at: str
    model: ModelRef | None
    prompts: list[PromptRef]
    matcher: MatcherInfo
    articles: list[ArticleReport]
    aggregate: Aggregate
    # None when the suite has no story labels or the run was not asked to build the story.
    story: StoryReport | None = None

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
    story_fn: StoryFn | None = None,
    out_dir: Path | None = None,
    clock: Callable[[], float] = time.perf_counter,
    now: Callable[[], datetime] = lambda: datetime.now(UTC),
) -> EvalReport:
    """Summarise every article of the suite and score it; write the report if `out_dir`.

    A `SummarizerError` for one article is recorded in its row (and fails any gate) instead of
    ending the run, so one bad article does not hide the scores of the others. With `story_fn`
    and story labels, the story is built from the results and scored too; its error, like an
    article's, is recorded rather than raised.
    """
    suite = load_suite(suite_dir)
    rows: list[ArticleReport] = []
    results: list[SummaryResult] = []
    by_article: dict[str, SummaryResult] = {}
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
        by_article[article.id] = result
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
        story=(
            _run_story(suite, suite.story, by_article, story_fn, matcher, clock)
            if story_fn is not None and suite.story is not None
            else None
        ),
    )
    if out_dir is not None:
        write_eval_report(report, out_dir)
    return report


def _run_story(
    suite: LabelledSuite,
    labels: Story,
    results: dict[str, SummaryResult],
    story_fn: StoryFn,
    matcher: FactMatcher,
    clock: Callable[[], float],
) -> StoryReport:
    """The story of the labelled story articles that ran; a failed article's pairs are missed."""
    pairs = [(suite.article(i).path, results[i]) for i in labels.articles if i in results]
    started = clock()
    try:
        story = story_fn(pairs)
    except SummarizerError as error:
        return StoryReport(
            metrics=None,
            error=f"{type(error).__name__}: {error}",
            wall_time_s=round(clock() - started, 3),
        )
    return StoryReport(
        metrics=story_metrics(story, suite, matcher),
        wall_time_s=round(clock() - started, 3),
        warnings=story.warnings,
    )


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
        **_wellformed_aggregate(done),
        **sum((m.usage for m in done), Usage()).model_dump(),
        wall_time_s=round(sum(m.usage.wall_time_s for m in done), 3),
    )


def _wellformed_aggregate(done: Sequence[ArticleMetrics]) -> dict[str, Any]:
    """Counts are sums; claims per 100 words is over all source words (a micro-average); the
    copy rate is the mean of the articles' rates."""
    shapes = [m.wellformed for m in done if m.wellformed is not None]
    if not shapes:
        return {}
    source_words = sum(m.length.source_words for m in done if m.wellformed is not None)
    claims = sum(m.length.claims for m in done if m.wellformed is not None)
    rates = [w.verbatim_copy_rate for w in shapes if w.verbatim_copy_rate is not None]
    unsupported = [w.unsupported_claims for w in shapes]
    return {
        "truncated_strings": sum(w.truncated_strings for w in shapes),
        "duplicate_claims": sum(w.duplicate_claims for w in shapes),
        "whole_summary_claims": sum(w.whole_summary_claims for w in shapes),
        "claims_per_100_words": round(100 * claims / source_words, 3) if source_words else None,
        "fewest_claims": min(m.length.claims for m in done if m.wellformed is not None),
        "summaries_out_of_range": sum(not w.summary_in_range for w in shapes),
        "mean_summary_sentences": round(sum(w.summary_sentences for w in shapes) / len(shapes), 2),
        "verbatim_copy_rate": round(sum(rates) / len(rates), 4) if rates else None,
        "quotes_without_speaker": sum(w.quotes_without_speaker for w in shapes),
        "unsupported_claims": (
            None if any(u is None for u in unsupported) else sum(u or 0 for u in unsupported)
        ),
    }


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
        *render_wellformed_markdown(report),
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
    if report.story is not None:
        lines += ["", *render_story_markdown(report.story)]
    return "\n".join(lines).rstrip() + "\n"


def wellformed_summary_line(a: Aggregate) -> str:
    """The suite's well-formedness in one line (the CLI prints it under the recall table)."""
    least, most = SUMMARY_SENTENCES
    unsupported = "n/a" if a.unsupported_claims is None else str(a.unsupported_claims)
    return (
        f"well-formed: {a.truncated_strings} truncated strings, {a.duplicate_claims} duplicate "
        f"and {a.whole_summary_claims} whole-summary claims, "
        f"{a.claims_per_100_words if a.claims_per_100_words is not None else 'n/a'} claims per "
        f"100 words (fewest {a.fewest_claims if a.fewest_claims is not None else 'n/a'}), "
        f"{a.summaries_out_of_range} summaries outside {least}-{most} sentences "
        f"(mean {a.mean_summary_sentences if a.mean_summary_sentences is not None else 'n/a'}), "
        f"verbatim copy {_pct(a.verbatim_copy_rate)}, "
        f"{a.quotes_without_speaker} quotes without speaker, {unsupported} unsupported claims"
    )


def render_wellformed_markdown(report: EvalReport) -> list[str]:
    lines = [
        "## Well-formedness",
        "",
        f"- {wellformed_summary_line(report.aggregate)}",
        "",
        "| article | truncated | duplicate claims | whole-summary claims | claims per 100 words "
        "| summary sentences | verbatim copy | quotes without speaker |",
        "|---|---|---|---|---|---|---|---|",
    ]
    for row in report.articles:
        w = row.metrics.wellformed if row.metrics is not None else None
        if w is None:
            continue
        lines.append(
            f"| {row.article_id} | {w.truncated_strings} | {w.duplicate_claims} "
            f"| {w.whole_summary_claims} | {w.claims_per_100_words} "
            f"| {w.summary_sentences}{'' if w.summary_in_range else ' (out of range)'} "
            f"| {_pct(w.verbatim_copy_rate)} | {w.quotes_without_speaker} of {w.quote_claims} |"
        )
    cut = [(row.article_id, t) for row in report.articles if row.metrics and row.metrics.wellformed
           for t in row.metrics.wellformed.truncated]  # fmt: skip
    if cut:
        lines += ["", *(f"- cut short in {article}: {text}" for article, text in cut)]
    return [*lines, ""]


def story_summary_lines(story: StoryReport) -> list[str]:
    """The story figures in a few lines (the CLI prints them; the report opens with them)."""
    if story.metrics is None:
        return [f"story: failed: {story.error}"]
    m = story.metrics
    s = m.support
    passed = [name for name, ok in m.acceptance.items() if ok]
    failed = [name for name, ok in m.acceptance.items() if not ok]
    return [
        f"story support: precision {_pct(s.precision)} ({s.correct}/{s.predicted} pairs), "
        f"recall {_pct(s.recall)} ({s.correct}/{s.gold})",
        f"story variants: {m.variant_groups_found}/{len(m.variant_groups)} quote groups; "
        f"disagreements: {m.disagreements_found}/{len(m.disagreements)} with both sides; "
        f"single-source facts marked single: {m.single_facts.marked_single}/"
        f"{m.single_facts.stated} stated ({m.single_facts.total} labelled)",
        f"story acceptance: {len(passed)}/{len(m.acceptance)} passed"
        + (f" (failing: {', '.join(failed)})" if failed else "")
        + f"; story step {story.wall_time_s:.1f} s",
    ]


def render_story_markdown(story: StoryReport) -> list[str]:
    lines = ["## Story", "", *(f"- {line}" for line in story_summary_lines(story)), ""]
    if story.metrics is None:
        return lines
    m = story.metrics
    short = {a: a.split("_", 1)[0] for a in m.sources.values()}
    lines += [
        "| shared fact | claim | found in | missed | wrongly cited |",
        "|---|---|---|---|---|",
    ]
    for fact in m.shared_facts:
        lines.append(
            f"| `{fact.id}` {fact.text} | {fact.claim_id or 'none'} "
            f"| {', '.join(short.get(a, a) for a in fact.found)} "
            f"| {', '.join(short.get(a, a) for a in fact.missed)} "
            f"| {', '.join(short.get(a, a) for a in fact.wrong)} |"
        )
    lines += ["", "| quote group | found | variant | articles matched |", "|---|---|---|---|"]
    for group in m.variant_groups:
        matched = ", ".join(short.get(a, a) for a in group.matched_articles)
        lines.append(
            f"| `{group.id}` | {'yes' if group.found else 'no'} | {group.variant_id or ''} "
            f"| {matched} of {len(group.articles)} |"
        )
    lines += ["", "| disagreement | found | story item | positions covered |", "|---|---|---|---|"]
    for item in m.disagreements:
        lines.append(
            f"| `{item.id}` {item.topic} | {'yes' if item.found else 'no'} "
            f"| {item.disagreement_id or ''} | {item.covered_positions}/{item.positions} |"
        )
    lines.append("")
    lines.append("Acceptance: " + ", ".join(
        f"{name} {'yes' if ok else 'no'}" for name, ok in m.acceptance.items()
    ))  # fmt: skip
    if m.unmapped_sources:
        lines.append(f"- story sources that are no seed article: {', '.join(m.unmapped_sources)}")
    for warning in story.warnings:
        lines.append(f"- story warning: {warning}")
    return lines


# --- the run log ---------------------------------------------------------------------------


class RunRecord(_Strict):
    created_at: str
    suite_id: str
    model: ModelRef | None
    prompts: list[PromptRef]
    matcher: MatcherInfo
    aggregate: Aggregate
    recall_by_article: dict[str, float | None]
    # The story's gated figures (StoryMetrics.figures); absent in lines from before story mode.
    story: dict[str, float | None] | None = None


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
        story=(
            report.story.metrics.figures()
            if report.story is not None and report.story.metrics is not None
            else None
        ),
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
