"""`summarizer eval`: score a labelled suite and gate on its baseline.

The suite and baselines ship in `evals/` of a source checkout, not in the package: without
SUITE or --baselines, the command looks for them next to the package it runs from and says
so when it is not a checkout. The run log goes to the user directory (`paths.runs_dir()`).
"""

from __future__ import annotations

from collections.abc import Callable
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from summarizer.cli import app
from summarizer.cli.options import model_options, settings_from

if TYPE_CHECKING:
    from summarizer.evaluation.runner import EvalReport, StoryFn
    from summarizer.schemas import SummaryResult
    from summarizer.service import Summarizer
    from summarizer.story import StoryResult


@app.command("eval")
@model_options
def eval_command(
    ctx: typer.Context,
    suite: Path | None = typer.Argument(
        None, help="Suite directory (default: evals/seeds of the source checkout)."
    ),
    matcher: str = typer.Option(
        "lexical", "--matcher", help="lexical, learned, overlap or embedding."
    ),
    baseline: Path | None = typer.Option(
        None, "--baseline", help="Baseline file (default: BASELINES/SUITE/BACKEND--MODEL.json)."
    ),
    update_baseline: bool = typer.Option(False, "--update-baseline", help="Write the baseline."),
    out: Path | None = typer.Option(
        None, "--out", help="Where report.json/.md go (default: the user dir's runs/eval/)."
    ),
    summaries: Path | None = typer.Option(
        None, "--summaries", help="Score saved results (DIR/<article-id>.json); call no model."
    ),
    log: Path | None = typer.Option(
        None, "--log", help="Append-only run log (default: the user dir's runs/eval.jsonl)."
    ),
    baselines: Path | None = typer.Option(
        None, "--baselines", help="Folder of per-model baselines (default: evals/baselines)."
    ),
    named_suite: str | None = typer.Option(
        None, "--suite", help="realsumm: rank against 25 published systems at --words (65)."
    ),
    articles: int | None = typer.Option(
        None, "--articles", min=1, help="With --suite realsumm: only the first N articles."
    ),
) -> None:
    """Run the eval suite: fact recall, claim support, specifics, and the story's support,
    variants and disagreements; fail on a regression."""
    if named_suite is not None:
        if named_suite != "realsumm":
            from summarizer.errors import EvalError

            raise EvalError(f"unknown suite {named_suite!r}: the named suite is realsumm")
        baselines = baselines or checkout_evals("--baselines") / "baselines"
        _realsumm(ctx, matcher, baselines, update_baseline, out, articles)
        return
    from summarizer.evaluation.dataset import load_model
    from summarizer.evaluation.matchers import build_matcher
    from summarizer.evaluation.runner import story_summary_lines, wellformed_summary_line
    from summarizer.evaluation.session import evaluate
    from summarizer.paths import runs_dir
    from summarizer.schemas import SummaryResult
    from summarizer.service import Summarizer

    suite = suite or checkout_evals("SUITE") / "seeds"
    if baseline is None and baselines is None:
        baselines = checkout_evals("--baselines") / "baselines"
    fact_matcher = build_matcher(matcher)

    service: Summarizer | None = None
    summarize_fn: Callable[[Path], SummaryResult]
    story_fn: StoryFn | None = None
    if summaries is None:
        settings = settings_from(ctx.params)
        live = service = Summarizer(settings)

        def summarize_fn(article: Path) -> SummaryResult:
            return live.summarize_path(str(article))

        story_fn = _story_fn(live)
    else:
        # Saved summaries promise no model calls; the story step may call one, so it is skipped.
        directory = summaries

        def summarize_fn(article: Path) -> SummaryResult:
            return load_model(directory / f"{article.stem}.json", SummaryResult)

    try:
        outcome = evaluate(
            suite, summarize_fn, fact_matcher, story_fn=story_fn,
            out_dir=out or runs_dir() / "eval", baselines_dir=baselines, baseline_file=baseline,
            update_baseline=update_baseline, log_path=log or runs_dir() / "eval.jsonl",
        )  # fmt: skip
    finally:
        if service is not None:
            service.close()
    typer.echo(_table(outcome.report))
    typer.echo(wellformed_summary_line(outcome.report.aggregate))
    if outcome.report.story is not None:
        typer.echo("\n".join(story_summary_lines(outcome.report.story)))
    elif summaries is not None:
        typer.echo("story metrics: not computed with --summaries (the story step may call a model)")
    typer.echo(f"reports: {outcome.report_files[0]} and {outcome.report_files[1]}")
    if outcome.baseline_written:
        typer.echo(f"baseline written: {outcome.baseline_file}")
    elif outcome.comparison is None:
        typer.echo("no baseline for this backend and model yet; run with --update-baseline")
    elif outcome.passed:
        typer.echo(f"gate passed against {outcome.baseline_file}")
        if outcome.comparison.describe():
            typer.echo(outcome.comparison.describe())
    else:
        # Every lost fact gets its own line: the one place a multi-line error is right.
        typer.echo(f"error: eval regression against {outcome.baseline_file}", err=True)
        typer.echo(outcome.comparison.describe(), err=True)
        raise typer.Exit(1)


def _realsumm(
    ctx: typer.Context,
    matcher: str,
    baselines: Path,
    update_baseline: bool,
    out: Path | None,
    articles: int | None,
) -> None:
    """`--suite realsumm`: summarise its articles, print the ranking, gate our recall."""
    from summarizer.evaluation.matchers import build_matcher
    from summarizer.evaluation.realsumm import (
        DEFAULT_WORDS,
        gate_realsumm,
        load_realsumm,
        realsumm_table,
        run_realsumm,
    )
    from summarizer.paths import runs_dir
    from summarizer.service import Summarizer
    from summarizer.sources import source_from_text

    data = load_realsumm(checkout_evals("--suite") / "realsumm", limit=articles)
    params = {**ctx.params, "words": ctx.params.get("words") or DEFAULT_WORDS}
    service = Summarizer(settings_from(params))
    try:
        report = run_realsumm(
            data,
            lambda doc_id, text: service.summarize(source_from_text(text, path=f"{doc_id}.txt")),
            build_matcher(matcher),
            words=params["words"],
        )
    finally:
        service.close()
    folder = out or runs_dir() / "eval-realsumm"
    folder.mkdir(parents=True, exist_ok=True)
    (folder / "realsumm.json").write_text(report.model_dump_json(indent=2) + "\n", "utf-8")
    typer.echo(realsumm_table(report))
    typer.echo(f"report: {folder / 'realsumm.json'}")
    gate = gate_realsumm(report, baselines, update=update_baseline)
    if gate.written:
        typer.echo(f"baseline written: {gate.path}")
    elif gate.baseline is None:
        typer.echo("no REALSumm baseline for this backend, model and length; --update-baseline")
    elif gate.passed:
        typer.echo(f"gate passed against {gate.path}")
    else:
        typer.echo(f"error: REALSumm regression against {gate.path}", err=True)
        typer.echo("\n".join(gate.problems), err=True)
        raise typer.Exit(1)


def _story_fn(service: Summarizer) -> StoryFn:
    """The story of the articles from their results in this run (never summarised again)."""
    from collections.abc import Sequence

    from summarizer.sources import read_source
    from summarizer.story import StoryArticle

    def story_fn(runs: Sequence[tuple[Path, SummaryResult]]) -> StoryResult:
        articles = [StoryArticle(source=read_source(str(path))) for path, _ in runs]
        return service.story(articles, results=[result for _, result in runs])

    return story_fn


def checkout_evals(option: str, *, root: Path | None = None) -> Path:
    """`evals/` of the source checkout (`root`, default: the one this package runs from)."""
    from summarizer.errors import EvalError

    checkout = root or Path(__file__).resolve().parents[2]
    evals = checkout / "evals"
    if not (evals / "seeds" / "suite.json").is_file():
        raise EvalError(
            f"no evals/ folder next to the package ({checkout}): the seed suite and baselines "
            f"ship in a source checkout, not in the wheel; give {option}"
        )
    return evals


def _table(report: EvalReport) -> str:
    lines = [
        "article | core recall | all recall | claims | supported | unsupported specifics "
        "| truncated | duplicates | claims/100w | sentences | copied | quotes w/o speaker"
    ]
    for row in report.articles:
        if row.metrics is None:
            lines.append(f"{row.article_id} | failed: {row.error}")
            continue
        m = row.metrics
        w = m.wellformed
        shape = (
            f" | {w.truncated_strings} | {w.duplicate_claims} | {w.claims_per_100_words} | "
            f"{w.summary_sentences} | {_pct(w.verbatim_copy_rate)} | {w.quotes_without_speaker}"
            if w is not None
            else ""
        )
        lines.append(
            f"{row.article_id} | {_pct(m.fact_recall.core)} | {_pct(m.fact_recall.all)} | "
            f"{m.claim_support.claims} | {_pct(m.claim_support.supported_share)} | "
            f"{len(m.unsupported_specifics)}{shape}"
        )
    a = report.aggregate
    lines.append(
        f"ALL | {_pct(a.fact_recall_core)} | {_pct(a.fact_recall_all)} | {a.claims} | "
        f"{_pct(a.claims_supported_share)} | {a.unsupported_specifics} | {a.truncated_strings} "
        f"| {a.duplicate_claims} | {a.claims_per_100_words} | {a.mean_summary_sentences} "
        f"| {_pct(a.verbatim_copy_rate)} | {a.quotes_without_speaker}"
    )
    return "\n".join(lines)


def _pct(value: float | None) -> str:
    return "n/a" if value is None else f"{value:.0%}"
