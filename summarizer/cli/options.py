"""Options that several commands share, and the one mapping from parsed flags to `Settings`.

A command declares the options it takes and calls `settings_from(ctx.params)`: which flag sets
which setting (and that `--no-cache` means `use_cache=False`) is written once, here.
"""

from __future__ import annotations

import functools
import inspect
from collections.abc import Callable, Mapping
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import typer

if TYPE_CHECKING:
    from summarizer.config import Settings


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


class CheckChoice(StrEnum):
    off = "off"
    lexical = "lexical"
    combined = "combined"
    judge = "judge"


OUT = typer.Option(None, "--output", "-o", help="Write here (atomically) instead of stdout.")
MODEL = typer.Option(None, "--model", "-m", help="Model name (or catalogue name for local).")
BACKEND = typer.Option(None, "--backend", "-b", help="openai or local (default: auto).")
BASE_URL = typer.Option(None, "--base-url", help="OpenAI-compatible endpoint URL.")
MAX_CHUNK = typer.Option(None, "--max-chunk-tokens", help="Token budget of article text per call.")
MAX_OUT = typer.Option(None, "--max-output-tokens", help="Output token budget per call.")
WORDS = typer.Option(
    None, "--words", help="Summary length bound in words (whole sentences; default 100)."
)
MODE = typer.Option(None, "--mode", help="abstractive, extractive, or auto (by model).")
NO_CACHE = typer.Option(False, "--no-cache", help="Neither read nor write the cache.")
REFRESH = typer.Option(False, "--refresh", help="Ignore cached answers and overwrite them.")
CACHE_DIR = typer.Option(None, "--cache-dir", help="Cache directory.")
CHECK_CLAIMS = typer.Option(
    None,
    "--check-claims",
    help="Check each claim against its evidence: lexical (default), combined (+ embeddings), "
    "judge (the model; capable models only) or off.",
)
MIN_SUPPORT = typer.Option(
    None, "--min-support", min=0.0, max=1.0, help="Drop claims whose support score is below this."
)

F = TypeVar("F", bound=Callable[..., Any])

# The options every model-calling command takes, as (parameter, type, typer option).
_MODEL_OPTIONS: tuple[tuple[str, Any, Any], ...] = (
    ("model", str | None, MODEL),
    ("backend", BackendChoice | None, BACKEND),
    ("base_url", str | None, BASE_URL),
    ("max_chunk_tokens", int | None, MAX_CHUNK),
    ("max_output_tokens", int | None, MAX_OUT),
    ("words", int | None, WORDS),
    ("mode", ModeChoice | None, MODE),
    ("no_cache", bool, NO_CACHE),
    ("refresh", bool, REFRESH),
    ("cache_dir", Path | None, CACHE_DIR),
    ("check_claims", CheckChoice | None, CHECK_CLAIMS),
    ("min_support", float | None, MIN_SUPPORT),
)


def model_options(command: F) -> F:
    """Give a command the shared model and cache options, declared once here.

    typer reads a command's parameters from its signature, so the options are appended to it;
    the command receives them in `ctx.params` (for `settings_from`), not as arguments.
    """
    shared = {name for name, _, _ in _MODEL_OPTIONS}

    @functools.wraps(command)
    def wrapper(*args: Any, **kwargs: Any) -> Any:
        return command(*args, **{k: v for k, v in kwargs.items() if k not in shared})

    signature = inspect.signature(command)
    extra = [
        inspect.Parameter(name, inspect.Parameter.KEYWORD_ONLY, default=option, annotation=kind)
        for name, kind, option in _MODEL_OPTIONS
    ]
    wrapper.__signature__ = signature.replace(  # type: ignore[attr-defined]
        parameters=[*signature.parameters.values(), *extra]
    )
    return wrapper  # type: ignore[return-value]


# flag (parameter name) -> setting it sets, for flags whose value is the setting's value
_VALUE_FLAGS = {
    "model": "model",
    "backend": "backend",
    "base_url": "base_url",
    "max_chunk_tokens": "max_chunk_tokens",
    "max_output_tokens": "max_output_tokens",
    "words": "summary_words",
    "mode": "mode",
    "cache_dir": "cache_dir",
    "check_claims": "check_claims",
    "min_support": "min_support",
}


def settings_from(params: Mapping[str, Any]) -> Settings:
    """Settings from a command's parsed parameters (flags > environment > .env > defaults);
    parameters that are not settings flags are ignored, unset flags leave the rest to decide."""
    from summarizer.config import load_settings

    flags: dict[str, Any] = {
        setting: value.value if isinstance(value, StrEnum) else value
        for name, setting in _VALUE_FLAGS.items()
        if (value := params.get(name)) is not None
    }
    if params.get("no_cache"):
        flags["use_cache"] = False
    if params.get("refresh"):
        flags["refresh_cache"] = True
    return load_settings(flags)


def notice_default_backend(settings: Settings) -> None:
    if settings.backend is None and settings.resolved_backend() == "local":
        from summarizer.llm.catalogue import catalogue_entry

        model = settings.resolved_model()
        entry = catalogue_entry(model)
        extractive = settings.mode == "extractive" or (
            settings.mode == "auto" and entry is not None and entry.default_mode == "extractive"
        )
        # The extractive tier chooses whole sentences itself (the tiny model only ever picked
        # the lead; docs/evaluation.md), so saying "using the model" would overstate it.
        how = " (extractive: the program picks the sentences, no model call)" if extractive else ""
        typer.echo(
            "note: no OPENAI_API_KEY or OPENAI_BASE_URL configured; using the embedded offline "
            f"model {model}{how}",
            err=True,
        )
