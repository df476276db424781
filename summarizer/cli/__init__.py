"""The `summarizer` command: thin typer commands over the library, errors mapped in one place.

Each command parses options, calls one library function, and renders the result. Heavy modules
(openai, llama_cpp, the pipeline) are imported inside commands so `--help` stays fast.

`main` is the one place errors become messages (see docs/reliability.md): a `SummarizerError`
is its one line and exit code; an OSError or SQLite error that no layer turned into one (a full
disk under a report, a damaged database) is still one line, exit 1; Ctrl-C prints `interrupted`
and exits 130, SIGTERM prints `terminated` and exits 143. `--verbose` re-raises, for the
traceback. SIGTERM is raised as `Terminated` (a KeyboardInterrupt) for the run's duration, so it
unwinds like Ctrl-C: a batch records its report, a write removes its temp file.
"""

from __future__ import annotations

import logging
import signal
import sqlite3
import sys
from collections.abc import Iterator
from contextlib import contextmanager
from types import FrameType
from typing import Any, NoReturn

import typer
from typer.core import TyperGroup

from summarizer import __version__
from summarizer.errors import Interrupted, SummarizerError, Terminated


class _Stopped(BaseException):
    """Carries an Interrupted past typer, which turns any KeyboardInterrupt into a silent 130."""

    def __init__(self, stop: Interrupted) -> None:
        super().__init__(stop.message)
        self.stop = stop


class _Commands(TyperGroup):
    def invoke(self, ctx: Any) -> Any:
        try:
            return super().invoke(ctx)
        except KeyboardInterrupt as stop:
            raise _Stopped(stop if isinstance(stop, Interrupted) else Interrupted()) from stop


app = typer.Typer(
    cls=_Commands,
    name="summarizer",
    help="Structured summaries and claim lists whose every claim cites a verified source span.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
cache_app = typer.Typer(help="Inspect or clear the call cache.", no_args_is_help=True)
app.add_typer(cache_app, name="cache")

_state = {"verbose": False}


def _print_version(requested: bool) -> None:
    if requested:
        typer.echo(f"summarizer {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    verbose: bool = typer.Option(False, "--verbose", "-v", help="Show details and tracebacks."),
    version: bool = typer.Option(
        False, "--version", callback=_print_version, is_eager=True, help="Print the version."
    ),
) -> None:
    _state["verbose"] = verbose
    logging.basicConfig(
        level=logging.DEBUG if verbose else logging.WARNING,
        format="%(levelname)s %(name)s: %(message)s",
        stream=sys.stderr,
    )


def fail(message: str, code: int = 1) -> NoReturn:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def main(argv: list[str] | None = None) -> None:
    # Importing these modules registers their commands on `app`.
    from summarizer.cli import batch, commands, evaluate, serve, story  # noqa: F401

    try:
        with _sigterm_raises():
            app(args=argv)
    except SummarizerError as error:
        if _state["verbose"]:
            raise
        _say(str(error))
        sys.exit(error.exit_code)
    except _Stopped as stopped:
        typer.echo(stopped.stop.message, err=True)
        sys.exit(stopped.stop.exit_code)
    except KeyboardInterrupt:  # before or after a command ran
        typer.echo(Interrupted.message, err=True)
        sys.exit(Interrupted.exit_code)
    except OSError as error:
        if _state["verbose"]:
            raise
        where = f"{error.filename}: " if error.filename else ""
        _say(f"{where}{error.strerror or error}")
        sys.exit(1)
    except sqlite3.Error as error:
        if _state["verbose"]:
            raise
        _say(f"database error: {error}")
        sys.exit(1)


def _say(message: str) -> None:
    # A message may quote a file name or an endpoint's words: keep their escapes inert too.
    from summarizer.render import visible_controls

    typer.echo(f"error: {visible_controls(' '.join(message.split()))}", err=True)


def _terminate(signum: int, frame: FrameType | None) -> None:
    raise Terminated()


@contextmanager
def _sigterm_raises() -> Iterator[None]:
    """SIGTERM raises Terminated while the block runs (main thread only; restored after, for a
    caller that runs `main` in-process)."""
    try:
        previous = signal.signal(signal.SIGTERM, _terminate)
    except ValueError:  # not the main thread: leave signals alone
        yield
        return
    try:
        yield
    finally:
        signal.signal(signal.SIGTERM, previous)
