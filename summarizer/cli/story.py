"""`summarizer story`: several articles on one event into one verified account."""

from __future__ import annotations

from collections.abc import Callable
from enum import StrEnum
from pathlib import Path
from typing import TYPE_CHECKING

import typer

from summarizer.cli import app
from summarizer.cli.options import OUT, model_options, notice_default_backend, settings_from

if TYPE_CHECKING:
    from summarizer.story import StoryArticle, StoryResult


class StoryFormat(StrEnum):
    json = "json"
    md = "md"
    html = "html"


ARTICLES = typer.Argument(
    ..., help="Two or more articles: files, directories, or .jsonl (id, text, outlet, title, url)."
)
STORY_FORMAT = typer.Option(StoryFormat.json, "--format", "-f", help="Output format.")
GLOB = typer.Option("*.txt", "--glob", help="Which files to take from directories.")


@app.command()
@model_options
def story(
    ctx: typer.Context,
    articles: list[str] = ARTICLES,
    output: Path | None = OUT,
    fmt: StoryFormat = STORY_FORMAT,
    glob: str = GLOB,
) -> None:
    """One account of several outlets' articles: what all agree on, variants, disagreements."""
    from summarizer.batch.inputs import discover
    from summarizer.cli.output import check_target
    from summarizer.errors import InputError
    from summarizer.service import Summarizer
    from summarizer.story import StoryArticle

    settings = settings_from(ctx.params)
    found = discover(articles, pattern=glob)
    # Every article is read before any call: a bad one fails the story before anything is spent.
    problems = [f"{p.origin}: {p.reason}" for p in found.problems]
    problems += [f"{i.origin}: {i.error}" for i in found.items if i.error is not None]
    if problems:
        raise InputError("; ".join(problems))
    inputs = [
        StoryArticle(
            source=item.source,
            outlet=_text(item.metadata, "outlet"),
            title=_text(item.metadata, "title"),
            url=_text(item.metadata, "url"),
        )
        for item in found.items
        if item.source is not None
    ]
    check_target(output)
    notice_default_backend(settings)
    service = Summarizer(settings)
    try:
        told = service.story(inputs)

        def replay() -> None:
            cached = service.cache_only()
            try:
                cached.story(inputs)
            finally:
                cached.close()

        _deliver_story(told, fmt, inputs, output, replay)
    finally:
        service.close()


def _deliver_story(
    told: StoryResult,
    fmt: StoryFormat,
    inputs: list[StoryArticle],
    output: Path | None,
    replay: Callable[[], None],
) -> None:
    from summarizer.cli.output import deliver
    from summarizer.story.render import render_story

    # The page shows each article's text; the result holds only spans into them. A source is
    # found by its sha256, since a repeated article is dropped and the ids skip it.
    by_sha = {article.source.sha256: article.source.text for article in inputs}
    texts = {source.id: by_sha[source.sha256] for source in told.sources}
    deliver(render_story(told, fmt.value, texts=texts), output, replay=replay)


def _text(metadata: dict[str, object] | None, key: str) -> str | None:
    value = (metadata or {}).get(key)
    return value if isinstance(value, str) else None
