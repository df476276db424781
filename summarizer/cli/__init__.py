"""The `summarizer` command: thin typer commands over the library, errors mapped in one place.

Each command parses options, calls one library function, and renders the result. Heavy modules
(openai, llama_cpp, the pipeline) are imported inside commands so `--help` stays fast.
"""

from __future__ import annotations

import logging
import sys
from typing import NoReturn

import typer

from summarizer import __version__
from summarizer.errors import SummarizerError

app = typer.Typer(
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
    from summarizer.cli import batch, commands, evaluate, story  # noqa: F401

    try:
        app(args=argv)
    except SummarizerError as error:
        if _state["verbose"]:
            raise
        message = " ".join(str(error).split())
        typer.echo(f"error: {message}", err=True)
        sys.exit(error.exit_code)
    except KeyboardInterrupt:
        typer.echo("interrupted", err=True)
        sys.exit(130)
