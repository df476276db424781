"""Where a command's result goes (`-o` or stdout), and how a paid-for result is never lost.

A command checks its `-o` target before any model call (`check_output`: a directory, a dangling
link into a missing directory or an unwritable directory fails before anything is spent), and
writes at the end with `deliver`. If that write still fails (a full disk, a read-only remount,
a FIFO whose reader left), the result is kept:

1. if a replay on the cache alone (`Summarizer.cache_only`) reproduces it, every answer is in
   the call cache, and the error says to rerun: the rerun makes no model call;
2. otherwise (`--no-cache`, or the cache could not store an answer) it is written to
   `recovered/` under the user directory, and the error names the file;
3. if even that fails, it is printed on stdout, and the error says so.

The replay runs only when the write has failed: the cache does not change between the run and
the write, so checking then says the same as checking before, without a second pipeline pass on
every successful run.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from pathlib import Path

import typer

from summarizer.errors import OutputError, ResultNotWritten, SummarizerError
from summarizer.files import check_output, write_atomic, write_output
from summarizer.paths import recovered_dir


def check_target(output: Path | None) -> None:
    """Refuse an `-o` that cannot be written, before anything is spent."""
    if output is not None:
        check_output(output)


def deliver(
    text: str,
    output: Path | None,
    *,
    replay: Callable[[], object] | None = None,
) -> None:
    """Print `text`, or write it to `output`. `replay` runs the command's work again on the
    cache alone (raising a SummarizerError if any answer is missing); None when nothing was
    paid for (a dry run), so a failed write is a plain OutputError."""
    if output is None:
        typer.echo(text)
        return
    try:
        write_output(output, text + "\n")
    except OutputError as error:
        if replay is None:
            raise
        raise _kept(text, output, error, replay) from None


def _kept(
    text: str, output: Path, error: OutputError, replay: Callable[[], object]
) -> ResultNotWritten:
    if _replays(replay):
        return ResultNotWritten(
            error.reason,
            path=output,
            recovery="every answer is in the call cache: rerun the same command to write it "
            "without a model call",
        )
    stamp = time.strftime("%Y%m%dT%H%M%S")
    elsewhere = recovered_dir() / f"{stamp}-{output.name or 'output'}"
    try:
        write_atomic(elsewhere, text + "\n")
    except OSError:
        typer.echo(text)
        return ResultNotWritten(
            error.reason, path=output, recovery="the result is printed on stdout instead"
        )
    return ResultNotWritten(
        error.reason,
        path=output,
        recovery=f"the result was written to {elsewhere} instead",
        written_to=elsewhere,
    )


def _replays(replay: Callable[[], object]) -> bool:
    try:
        replay()
    except SummarizerError:  # an answer is missing from the cache, or it cannot be read
        return False
    return True
