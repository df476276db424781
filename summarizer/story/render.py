"""Render a story for programs (JSON) or people (Markdown, or the HTML page in `html`)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Literal

from summarizer.render import visible_controls
from summarizer.story.html import render_html
from summarizer.story.result import Cell, StoryResult

StoryFormat = Literal["json", "md", "html"]

_CELL_MARK = {Cell.STATES: "●", Cell.NOT_MENTIONED: "·", Cell.CONTRADICTS: "✗"}


def render_story(
    story: StoryResult, fmt: StoryFormat, *, texts: Mapping[str, str] | None = None
) -> str:
    """`texts` (source id -> article text) is needed for "html" only: the page shows each
    article with its evidence highlighted, and the result does not hold the articles."""
    if fmt == "json":
        return story.model_dump_json(indent=2)
    if fmt == "html":
        if texts is None:
            raise ValueError("the html page needs the articles' texts (texts=...)")
        return render_html(story, texts)
    return render_markdown(story)


def render_markdown(story: StoryResult) -> str:
    names = {s.id: s.outlet or s.title or s.path for s in story.sources}
    lines = [f"# {story.summary.headline}", ""]
    lines += [f"{s.text} [{', '.join(s.claim_ids)}]" for s in story.summary.sentences]
    lines += ["", "## Sources", ""]
    lines += [f"- **{s.id}** {names[s.id]} (`{s.sha256[:12]}`)" for s in story.sources]
    lines += ["", "## Claims", ""]
    header = " | ".join(s.id for s in story.sources)
    lines += [f"| claim | coverage | {header} |", "|---|---|" + "---|" * len(story.sources)]
    cells = {row.claim_id: row.cells for row in story.matrix}
    for claim in story.claims:
        marks = " | ".join(_CELL_MARK[cells[claim.id][s.id]] for s in story.sources)
        text = claim.text.replace("|", "\\|")
        lines.append(f"| **{claim.id}** {text} | {claim.coverage} | {marks} |")
    if story.variants:
        lines += ["", "## Variants", ""]
        for variant in story.variants:
            who = f" — {variant.speaker}" if variant.speaker else ""
            lines.append(f"- **{variant.id}** ({variant.kind}{who}, claim {variant.claim_id}):")
            lines += [f"  - {w.source}: “{w.text}” {_at(w.span)}" for w in variant.wordings]
    if story.disagreements:
        lines += ["", "## Disagreements", ""]
        for item in story.disagreements:
            lines.append(f"- **{item.id}** {item.topic}")
            for position in item.positions:
                lines.append(f"  - {position.statement}:")
                lines += [f"    - {s.source}: {s.evidence} {_at(s.span)}" for s in position.spans]
    u = story.usage
    lines += [
        "",
        f"_{story.model.backend}:{story.model.name} · embedder {story.embedder} · relations "
        f"checked by {story.relations_checked} · calls {u.calls} (cached {u.cached_calls})_",
    ]
    lines += [f"_warning: {w}_" for w in story.warnings]
    # Articles are hostile input: a "<script>" quoted from one must stay text wherever the
    # Markdown is rendered (nothing of ours uses "<"), and an ESC sequence must not reach the
    # terminal it is printed on (see summarizer.render).
    return visible_controls("\n".join(lines).replace("<", "&lt;"))


def _at(span: tuple[int, int]) -> str:
    return f"`[{span[0]}:{span[1]}]`"
