"""`summarize`, `claims`, `models` and `cache` commands."""

from __future__ import annotations

import json
from enum import StrEnum
from pathlib import Path
from typing import Any

import typer

from summarizer.cli import app, cache_app


class OutputFormat(StrEnum):
    json = "json"
    md = "md"
    text = "text"


class BackendChoice(StrEnum):
    openai = "openai"
    local = "local"


class ModeChoice(StrEnum):
    auto = "auto"
    abstractive = "abstractive"
    extractive = "extractive"


FILES = typer.Argument(..., help="Article files (plain text or HTML); '-' reads stdin.")
OUT = typer.Option(None, "--output", "-o", help="Write here (atomically) instead of stdout.")
FORMAT = typer.Option(OutputFormat.json, "--format", "-f", help="Output format.")
MODEL = typer.Option(None, "--model", "-m", help="Model name (or catalogue name for local).")
BACKEND = typer.Option(None, "--backend", "-b", help="openai or local (default: auto).")
BASE_URL = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint URL.")
MAX_CHUNK = typer.Option(None, "--max-chunk-tokens", help="Token budget of article text per call.")
MAX_OUT = typer.Option(None, "--max-output-tokens", help="Output token budget per call.")
MODE = typer.Option(None, "--mode", help="abstractive, extractive, or auto (by model).")
DRY_RUN = typer.Option(
    False, "--dry-run", help="Show chunks, calls, tokens and cost; call nothing."
)
NO_CACHE = typer.Option(False, "--no-cache", help="Neither read nor write the cache.")
REFRESH = typer.Option(False, "--refresh", help="Ignore cached answers and overwrite them.")
CACHE_DIR = typer.Option(None, "--cache-dir", help="Cache directory.")


def build_settings(**flags: Any) -> Any:
    from summarizer.config import load_settings

    return load_settings({k: (v.value if isinstance(v, StrEnum) else v) for k, v in flags.items()})


def notice_default_backend(settings: Any) -> None:
    if settings.backend is None and settings.resolved_backend() == "local":
        typer.echo(
            "note: no OPENAI_API_KEY or OPENAI_BASE_URL configured; using the embedded offline "
            f"model {settings.resolved_model()}",
            err=True,
        )


def _run(
    files: list[str],
    output: Path | None,
    fmt: OutputFormat,
    dry_run: bool,
    claims_only: bool,
    **flags: Any,
) -> None:
    from summarizer.files import write_atomic
    from summarizer.render import render_claims, render_many, render_summary
    from summarizer.schemas import ClaimsResult
    from summarizer.service import Summarizer
    from summarizer.sources import read_source

    no_cache = flags.pop("no_cache")
    settings = build_settings(use_cache=None if not no_cache else False, **flags)
    # Read every input before any call: a bad file fails the run before anything is spent.
    sources = [read_source(path) for path in files]
    notice_default_backend(settings)
    service = Summarizer(settings)
    try:
        if dry_run:
            text = _render_plans([service.plan(source) for source in sources])
        else:
            rendered = []
            for source in sources:
                result = service.summarize(source)
                if claims_only:
                    rendered.append(render_claims(ClaimsResult.from_summary(result), fmt.value))
                else:
                    rendered.append(render_summary(result, fmt.value))
            text = render_many(rendered, fmt.value)
    finally:
        service.close()
    if output is None:
        typer.echo(text)
    else:
        write_atomic(output, text + "\n")


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


def summarize_or_claims(
    ctx: typer.Context,
    files: list[str] = FILES,
    output: Path | None = OUT,
    fmt: OutputFormat = FORMAT,
    model: str | None = MODEL,
    backend: BackendChoice | None = BACKEND,
    base_url: str | None = BASE_URL,
    max_chunk_tokens: int | None = MAX_CHUNK,
    max_output_tokens: int | None = MAX_OUT,
    mode: ModeChoice | None = MODE,
    dry_run: bool = DRY_RUN,
    no_cache: bool = NO_CACHE,
    refresh: bool = REFRESH,
    cache_dir: Path | None = CACHE_DIR,
) -> None:
    # One run serves both commands (and one cache entry): `claims` only renders less of it.
    _run(
        files, output, fmt, dry_run, ctx.info_name == "claims",
        model=model, backend=backend, base_url=base_url, max_chunk_tokens=max_chunk_tokens,
        max_output_tokens=max_output_tokens, mode=mode, no_cache=no_cache,
        refresh_cache=refresh or None, cache_dir=cache_dir,
    )  # fmt: skip


app.command(
    "summarize",
    help="Summarise articles: headline, summary, key points, and claims with verified evidence.",
)(summarize_or_claims)
app.command(
    "claims", help="List the claims in articles, each tied to a verbatim span of its source."
)(summarize_or_claims)


@cache_app.command("path")
def cache_path(cache_dir: Path | None = CACHE_DIR) -> None:
    """Print the cache directory."""
    typer.echo(str(build_settings(cache_dir=cache_dir).cache_dir))


@cache_app.command("stats")
def cache_stats(cache_dir: Path | None = CACHE_DIR) -> None:
    """Entries and bytes in the cache."""
    from summarizer.cache import CallCache

    cache = CallCache(build_settings(cache_dir=cache_dir).cache_dir)
    try:
        typer.echo(json.dumps(cache.stats(), indent=2))
    finally:
        cache.close()


@cache_app.command("clear")
def cache_clear(cache_dir: Path | None = CACHE_DIR) -> None:
    """Delete every cached answer."""
    from summarizer.cache import CallCache

    cache = CallCache(build_settings(cache_dir=cache_dir).cache_dir)
    try:
        typer.echo(f"removed {cache.clear()} entries")
    finally:
        cache.close()


@app.command()
def models() -> None:
    """List the known offline models, whether installed, and the configured one."""
    from summarizer.llm.catalogue import catalogue_rows

    settings = build_settings()
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
