"""`summarizer batch`: many articles into one output directory; safe to kill and rerun.

Exit codes: 0 every item done, 1 some items failed (listed on stderr), 2 usage error (bad
options, no inputs, or another run holds the output directory), 130 interrupted (SIGINT),
143 terminated (SIGTERM). Either way the run's report is written first.
"""

from __future__ import annotations

import sys
from enum import StrEnum
from pathlib import Path

import typer

from summarizer.cli import app
from summarizer.cli.options import model_options, notice_default_backend, settings_from


class LogFormat(StrEnum):
    text = "text"
    json = "json"


INPUTS = typer.Argument(
    ..., help="Files, directories (searched recursively) or .jsonl files (id, text, metadata)."
)
OUT_DIR = typer.Option(
    ..., "--out", "-o", help="Output directory: items/, results.jsonl, report.json, ledger."
)
GLOB = typer.Option("*.txt", "--glob", help="Which files to take from directories.")
CONCURRENCY = typer.Option(4, "--concurrency", "-j", min=1, max=1024, help="Items in flight.")
RPM = typer.Option(None, "--rpm", min=0.001, help="Client-side limit on model calls per minute.")
TPM = typer.Option(None, "--tpm", min=1, help="Client-side limit on tokens per minute.")
ITEM_TIMEOUT = typer.Option(
    None, "--item-timeout", min=0.001, help="Seconds before an item is given up as failed."
)
QUIET = typer.Option(False, "--quiet", "-q", help="No progress or summary; failures only.")
LOG_FORMAT = typer.Option(
    LogFormat.text, "--log-format", help="json: one JSON line per item on stderr (for cron)."
)
STORIES = typer.Option(
    False,
    "--stories",
    help="Then group the done items into stories (JSONL 'story' field, else similar articles) "
    "and write DIR/stories/<id>.json; a story is redone only when one of its articles changed.",
)
BATCH_DRY_RUN = typer.Option(
    False, "--dry-run", help="Show items, chunks, calls, tokens and cost; call nothing."
)


@app.command()
@model_options
def batch(
    ctx: typer.Context,
    inputs: list[str] = INPUTS,
    out: Path = OUT_DIR,
    glob: str = GLOB,
    concurrency: int = CONCURRENCY,
    rpm: float | None = RPM,
    tpm: int | None = TPM,
    item_timeout: float | None = ITEM_TIMEOUT,
    quiet: bool = QUIET,
    log_format: LogFormat = LOG_FORMAT,
    stories: bool = STORIES,
    dry_run: bool = BATCH_DRY_RUN,
) -> None:
    """Summarise many articles into --out; a rerun skips what is done and retries failures."""
    from summarizer.batch import BatchOptions, discover, plan_batch, run_batch
    from summarizer.batch.events import (
        BatchObserver,
        JsonLinesObserver,
        RichProgressObserver,
        SilentObserver,
    )
    from summarizer.batch.report import render_text
    from summarizer.errors import ConfigError, Interrupted

    settings = settings_from(ctx.params)
    found = discover(inputs, pattern=glob, exclude=out)
    if not found.items and not found.problems:
        raise ConfigError(f"no inputs: nothing in {' '.join(inputs)} matches --glob {glob!r}")
    if dry_run:
        typer.echo(plan_batch(found, settings, out, stories=stories).model_dump_json(indent=2))
        return
    if log_format is LogFormat.text and not quiet:
        notice_default_backend(settings)
    options = BatchOptions(
        out_dir=out,
        concurrency=concurrency,
        rpm=rpm,
        tpm=tpm,
        item_timeout=item_timeout,
        stories=stories,
    )
    json_log = JsonLinesObserver(sys.stderr) if log_format is LogFormat.json else None
    progress = RichProgressObserver() if not (json_log or quiet) and sys.stderr.isatty() else None
    observer: BatchObserver = json_log or progress or SilentObserver()
    stopped: Interrupted | None = None
    try:
        report = run_batch(found, settings, options, observer=observer)
    except KeyboardInterrupt as stop:  # SIGINT, or SIGTERM (Terminated); the report is written
        stopped = stop if isinstance(stop, Interrupted) else Interrupted()
    finally:
        if progress is not None:
            progress.close()
    if stopped is not None:
        rerun = f"rerun the same command to finish the rest ({out})"
        typer.echo(f"{stopped.message}: {rerun}", err=True)
        raise typer.Exit(stopped.exit_code)
    if json_log is not None:
        json_log.finished(report)
    elif not quiet:
        typer.echo(render_text(report), err=True)
    elif report.failures:
        typer.echo("failed:", err=True)
        for failure in report.failures:
            typer.echo(f"  {failure.id or failure.origin}: {failure.reason}", err=True)
    raise typer.Exit(report.exit_code)
