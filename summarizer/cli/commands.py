"""`summarize`, `claims`, `models` and `cache` commands."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import typer

from summarizer.cli import app, cache_app
from summarizer.cli.options import (
    CACHE_DIR,
    OUT,
    OutputFormat,
    model_options,
    notice_default_backend,
    settings_from,
)

FILES = typer.Argument(..., help="Article files (plain text or HTML); '-' reads stdin.")
FORMAT = typer.Option(OutputFormat.json, "--format", "-f", help="Output format.")
DRY_RUN = typer.Option(
    False, "--dry-run", help="Show chunks, calls, tokens and cost; call nothing."
)


def _run(
    files: list[str],
    output: Path | None,
    fmt: OutputFormat,
    dry_run: bool,
    claims_only: bool,
    params: dict[str, Any],
) -> None:
    from summarizer.cli.output import check_target, deliver
    from summarizer.render import render_claims, render_many, render_summary
    from summarizer.schemas import ClaimsResult
    from summarizer.service import Summarizer
    from summarizer.sources import read_source

    settings = settings_from(params)
    # Read every input before any call: a bad file fails the run before anything is spent.
    sources = [read_source(path) for path in files]
    check_target(output)
    notice_default_backend(settings)
    service = Summarizer(settings)
    try:
        if dry_run:
            deliver(_render_plans([service.plan(source) for source in sources]), output)
            return
        rendered = []
        for source in sources:
            result = service.summarize(source)
            if claims_only:
                rendered.append(render_claims(ClaimsResult.from_summary(result), fmt.value))
            else:
                rendered.append(render_summary(result, fmt.value))

        def replay() -> None:
            cached = service.cache_only()
            try:
                for source in sources:
                    cached.summarize(source)
            finally:
                cached.close()

        deliver(render_many(rendered, fmt.value), output, replay=replay)
    finally:
        service.close()


def _render_plans(reports: list[Any]) -> str:
    rows = []
    for report in reports:
        plan = report.plan
        rows.append(
            {
                "source": report.source,
                "backend": report.backend,
                "model": report.model,
                "mode": plan.mode,
                "source_tokens": plan.source_tokens,
                "sentences": plan.sentences,
                "chunks": plan.chunks,
                "chunk_budget_tokens": plan.chunk_budget,
                "context_window": plan.context_window,
                "calls": plan.calls,
                "map_calls": plan.map_calls,
                "reduce_calls": plan.reduce_calls,
                "estimated_prompt_tokens": plan.prompt_tokens,
                "estimated_completion_tokens": plan.completion_tokens,
                "estimated_cost_usd": report.estimated_cost_usd,
            }
        )
    return json.dumps(rows[0] if len(rows) == 1 else rows, indent=2)


@model_options
def summarize_or_claims(
    ctx: typer.Context,
    files: list[str] = FILES,
    output: Path | None = OUT,
    fmt: OutputFormat = FORMAT,
    dry_run: bool = DRY_RUN,
) -> None:
    # One run serves both commands (and one cache entry): `claims` only renders less of it.
    _run(files, output, fmt, dry_run, ctx.info_name == "claims", ctx.params)


app.command(
    "summarize",
    help="Summarise articles: headline, summary, key points, and claims with verified evidence.",
)(summarize_or_claims)
app.command(
    "claims", help="List the claims in articles, each tied to a verbatim span of its source."
)(summarize_or_claims)


@cache_app.command("path")
def cache_path(ctx: typer.Context, cache_dir: Path | None = CACHE_DIR) -> None:
    """Print the cache directory."""
    typer.echo(str(settings_from(ctx.params).cache_dir))


@cache_app.command("stats")
def cache_stats(ctx: typer.Context, cache_dir: Path | None = CACHE_DIR) -> None:
    """Entries and bytes in the cache."""
    from summarizer.cache import CallCache

    cache = CallCache(settings_from(ctx.params).cache_dir)
    try:
        typer.echo(json.dumps(cache.stats(), indent=2))
    finally:
        cache.close()


@cache_app.command("clear")
def cache_clear(ctx: typer.Context, cache_dir: Path | None = CACHE_DIR) -> None:
    """Delete every cached answer."""
    from summarizer.cache import CallCache

    cache = CallCache(settings_from(ctx.params).cache_dir)
    try:
        typer.echo(f"removed {cache.clear()} entries")
    finally:
        cache.close()


@app.command()
def models() -> None:
    """List the known offline models, whether installed, and the configured one."""
    from summarizer.llm.catalogue import catalogue_rows

    settings = settings_from({})
    configured = settings.model or settings.local_model or "smollm2-135m"
    rows = catalogue_rows(configured, models_dir=settings.models_dir)
    typer.echo(f"{'':2}{'name':<22}{'size':>9}  {'licence':<11}{'mode':<12}{'installed':<10}source")
    for row in rows:
        mark = "* " if row.configured else "  "
        typer.echo(
            f"{mark}{row.name:<22}{row.size:>9}  {row.licence:<11}{row.default_mode or '-':<12}"
            f"{'yes' if row.installed else 'no':<10}{row.source}"
        )
        if not row.installed and row.install_command:
            typer.echo(f"{'':4}install: {row.install_command}")
    backend = settings.resolved_backend()
    typer.echo(f"\n* configured local model; the current backend is {backend}")
