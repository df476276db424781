"""A story as one self-contained HTML page: the matrix, and each cell's evidence in its article.

The page holds everything it shows: inline CSS and JS, the articles' texts as a JSON data
block, and a Content-Security-Policy that allows only that one style sheet and that one script
(by hash) and nothing else: no fetch, no image, no font, no frame, no form. Opened from disk or
mailed around, it makes no request.

Articles are hostile input. Every piece of their text goes through `html.escape` when it is
written into markup, and through `_json_for_script` (which escapes `<`, `>` and `&`) when it is
written into the data block, so no article can close a tag or open one; the script only ever
puts text into the page with `textContent`. The CSP is a second wall, not the first.

Spans in a StoryResult count Python code points; JavaScript strings count UTF-16 units, which
differ after any character outside the Basic Multilingual Plane (an emoji). The page's spans are
converted here, once, so the script can slice `text.slice(start, end)` as it is.
"""

from __future__ import annotations

import base64
import hashlib
import json
from collections.abc import Iterable, Mapping
from html import escape
from pathlib import PurePath

from summarizer.story.result import (
    Cell,
    Checked,
    Coverage,
    Span,
    StoryClaim,
    StoryResult,
    StorySource,
)

_CELL_SYMBOL = {Cell.STATES: "●", Cell.NOT_MENTIONED: "–", Cell.CONTRADICTS: "✕"}
_CELL_WORDS = {
    Cell.STATES: "states it",
    Cell.NOT_MENTIONED: "does not mention it",
    Cell.CONTRADICTS: "contradicts it",
}


def render_html(story: StoryResult, texts: Mapping[str, str]) -> str:
    """The page for `story`; `texts` maps each source id (a1, a2, ...) to its article's text,
    the text the story's spans point into."""
    missing = [s.id for s in story.sources if s.id not in texts]
    if missing:
        raise ValueError(f"render_html needs the text of every source; missing {missing}")
    page = _Page(story, {s.id: texts[s.id] for s in story.sources})
    body = "\n".join(
        [
            '<div class="layout">',
            "<main>",
            page.header(),
            page.matrix(),
            page.variants(),
            page.disagreements(),
            "</main>",
            page.reader(),
            "</div>",
            page.footer(),
            f'<script type="application/json" id="story-texts">{page.data()}</script>',
            f"<script>{_SCRIPT}</script>",
        ]
    )
    policy = "; ".join(
        [
            "default-src 'none'",
            f"style-src '{_sha256(_STYLE)}'",
            f"script-src '{_sha256(_SCRIPT)}'",
            "base-uri 'none'",
            "form-action 'none'",
        ]
    )
    return "\n".join(
        [
            "<!doctype html>",
            '<html lang="en">',
            "<head>",
            '<meta charset="utf-8">',
            f'<meta http-equiv="Content-Security-Policy" content="{policy}">',
            '<meta name="viewport" content="width=device-width, initial-scale=1">',
            '<meta name="referrer" content="no-referrer">',
            f"<title>{escape(story.summary.headline or 'Story')}</title>",
            f"<style>{_STYLE}</style>",
            "</head>",
            "<body>",
            body,
            "</body>",
            "</html>",
        ]
    )


class _Page:
    """The sections of one page, each a function of the story and the texts."""

    def __init__(self, story: StoryResult, texts: dict[str, str]) -> None:
        self.story = story
        self.texts = texts
        self.names = {s.id: _name(s) for s in story.sources}
        self.claims = {c.id: c for c in story.claims}

    # --- sections ----------------------------------------------------------------------------

    def header(self) -> str:
        story = self.story
        sentences = " ".join(
            f"<span>{escape(s.text)}</span>"
            + "".join(
                f'<a class="cite" href="#claim-{escape(i)}">{escape(i)}</a>' for i in s.claim_ids
            )
            for s in story.summary.sentences
        )
        shared = sum(c.coverage is not Coverage.SINGLE for c in story.claims)
        facts = [
            f"{len(story.sources)} articles",
            f"{len(story.claims)} claims, {shared} reported by more than one",
            _plural(len(story.variants), "variant"),
            _plural(len(story.disagreements), "disagreement"),
        ]
        warned = ""
        if story.warnings:
            warned = (
                f'<p class="notice"><a href="#warnings">{_plural(len(story.warnings), "warning")}'
                "</a> about this story: see below.</p>"
            )
        return (
            "<header>"
            f'<p class="eyebrow">Story · {escape(" · ".join(facts))}</p>'
            f"<h1>{escape(story.summary.headline or 'Untitled story')}</h1>"
            f'<p class="summary">{sentences}</p>{warned}'
            "</header>"
        )

    def matrix(self) -> str:
        story = self.story
        heads = "".join(
            f'<th scope="col" class="source-head"><button type="button" class="source-btn" '
            f"{self._open(s.id, [], f'The whole of {self.names[s.id]}')} "
            f'title="{escape(self.names[s.id])} ({escape(s.path)})">'
            f'<span class="sid">{escape(s.id)}</span>'
            f'<span class="sname">{escape(self.names[s.id])}</span></button></th>'
            for s in story.sources
        )
        cells = {row.claim_id: row.cells for row in story.matrix}
        rows = []
        for claim in story.claims:
            tds = "".join(
                self._cell(claim, source, cells.get(claim.id, {}).get(source.id))
                for source in story.sources
            )
            speaker = f" · {escape(claim.speaker)}" if claim.speaker else ""
            rows.append(
                f'<tr id="claim-{escape(claim.id)}"><th scope="row" class="claim">'
                f'<span class="cid">{escape(claim.id)}</span>'
                f'<span class="ctext">{escape(claim.text)}</span>'
                f'<span class="tags"><span class="tag kind">{escape(claim.kind)}{speaker}</span>'
                f'<span class="tag cov-{escape(claim.coverage)}">{_coverage(claim, story)}</span>'
                f"</span></th>{tds}</tr>"
            )
        legend = "".join(
            f'<span class="legend-item"><span class="swatch {cell.value}">{_CELL_SYMBOL[cell]}'
            f"</span>{escape(_CELL_WORDS[cell])}</span>"
            for cell in Cell
        )
        return (
            '<section id="matrix" aria-labelledby="matrix-title">'
            '<h2 id="matrix-title">Who reports what</h2>'
            '<p class="hint">One row per claim, one column per article. Click a cell to read '
            f'that article with its evidence highlighted.</p><p class="legend">{legend}</p>'
            '<div class="table-wrap"><table class="matrix">'
            f'<thead><tr><th scope="col" class="claim-head">Claim</th>{heads}</tr></thead>'
            f"<tbody>{''.join(rows)}</tbody></table></div></section>"
        )

    def variants(self) -> str:
        if not self.story.variants:
            return ""
        cards = []
        for variant in self.story.variants:
            who = f" · {escape(variant.speaker)}" if variant.speaker else ""
            claim = self.claims.get(variant.claim_id)
            wordings = "".join(
                f"<li>{self._quote(w, w.text, f'{variant.id}: the wording in')}</li>"
                for w in variant.wordings
            )
            cards.append(
                f'<article class="card" id="variant-{escape(variant.id)}">'
                f'<p class="card-meta"><span class="cid">{escape(variant.id)}</span>'
                f"{escape(variant.kind)}{who} · claim "
                f'<a href="#claim-{escape(variant.claim_id)}">{escape(variant.claim_id)}</a></p>'
                + (f'<p class="card-topic">{escape(claim.text)}</p>' if claim else "")
                + f'<ul class="side-by-side">{wordings}</ul></article>'
            )
        return (
            '<section id="variants" aria-labelledby="variants-title">'
            '<h2 id="variants-title">Same remark, different words</h2>'
            f"{''.join(cards)}</section>"
        )

    def disagreements(self) -> str:
        if not self.story.disagreements:
            return ""
        cards = []
        for item in self.story.disagreements:
            columns = []
            for position in item.positions:
                said = f"{item.id}: {position.statement}, in"
                spans = "".join(
                    f"<li>{self._quote(span, span.evidence, said)}</li>" for span in position.spans
                )
                columns.append(
                    f'<li class="position"><h3>{escape(position.statement)}</h3>'
                    f'<ul class="spans">{spans}</ul></li>'
                )
            claims = ", ".join(
                f'<a href="#claim-{escape(c)}">{escape(c)}</a>' for c in item.claim_ids
            )
            cards.append(
                f'<article class="card" id="disagreement-{escape(item.id)}">'
                f'<p class="card-meta"><span class="cid">{escape(item.id)}</span>'
                f"claims {claims}</p>"
                f'<p class="card-topic">{escape(item.topic)}</p>'
                f'<ul class="side-by-side positions">{"".join(columns)}</ul></article>'
            )
        return (
            '<section id="disagreements" aria-labelledby="disagreements-title">'
            '<h2 id="disagreements-title">Where the articles disagree</h2>'
            f"{''.join(cards)}</section>"
        )

    def reader(self) -> str:
        # Until a click fills it, the pane lists the articles, each a way in.
        index = "".join(
            f'<li><button type="button" class="quote-btn" '
            f"{self._open(s.id, [], f'The whole of {self.names[s.id]}')}>"
            f'<span class="who">{escape(s.id)} · {s.chars:,} characters · '
            f"{_plural(s.claims, 'claim')} of its own</span>"
            f"{escape(self.names[s.id])}</button></li>"
            for s in self.story.sources
        )
        return (
            '<aside id="reader" aria-labelledby="reader-title">'
            '<div class="reader-head">'
            '<h2 id="reader-title">The articles</h2>'
            '<button type="button" id="reader-close" aria-label="Close the article">×</button>'
            '<p id="reader-path" class="reader-path"></p>'
            '<p id="reader-caption" class="reader-caption">Click a cell of the table, a '
            "wording or a position to read the article it comes from, with the evidence "
            "highlighted.</p></div>"
            '<div id="reader-text" class="article-text" tabindex="-1">'
            f'<ul class="reader-index">{index}</ul></div>'
            "</aside>"
        )

    def footer(self) -> str:
        story = self.story
        rows = "".join(
            f"<tr><td>{escape(s.id)}</td><td>{escape(s.outlet or '')}</td>"
            f"<td>{escape(s.title or '')}</td><td><code>{escape(s.path)}</code>"
            + (f'<br><span class="url">{escape(s.url)}</span>' if s.url else "")
            + f'</td><td><code title="{escape(s.sha256)}">{escape(s.sha256[:12])}</code></td>'
            f'<td class="num">{s.chars:,}</td><td class="num">{s.claims}</td></tr>'
            for s in story.sources
        )
        u = story.usage
        run = [
            ("Model", f"{story.model.backend}:{story.model.name}"),
            ("Embedder", story.embedder or "none"),
            ("Relations checked by", "the model" if story.relations_checked is Checked.MODEL else
             "the deterministic rules only (no model judged them)"),
            ("Calls", f"{u.calls} ({u.cached_calls} from the cache, {u.failed_calls} failed)"),
            ("Tokens", f"{u.prompt_tokens:,} prompt, {u.completion_tokens:,} completion"),
            ("Prompts", ", ".join(f"{p.name} v{p.version} ({p.sha256[:8]})" for p in story.prompts)
             or "none"),
            ("Schema", f"story v{story.schema_version}"),
        ]  # fmt: skip
        facts = "".join(f"<dt>{escape(k)}</dt><dd>{escape(v)}</dd>" for k, v in run)
        warnings = ""
        if story.warnings:
            items = "".join(f"<li>{escape(w)}</li>" for w in story.warnings)
            warnings = (
                '<section id="warnings" class="warnings"><h2>Warnings</h2>'
                f"<ul>{items}</ul></section>"
            )
        return (
            f"<footer>{warnings}"
            '<section id="sources"><h2>Sources</h2><div class="table-wrap"><table class="sources">'
            "<thead><tr><th>id</th><th>outlet</th><th>title</th><th>path</th><th>sha256</th>"
            '<th class="num">chars</th><th class="num">claims</th></tr></thead>'
            f"<tbody>{rows}</tbody></table></div></section>"
            f'<section id="run"><h2>How this was made</h2><dl class="run">{facts}</dl></section>'
            "</footer>"
        )

    def data(self) -> str:
        """The data block: each source's name, path and text, for the reader."""
        payload = {
            s.id: {"name": self.names[s.id], "path": f"{s.id} · {s.path}", "text": self.texts[s.id]}
            for s in self.story.sources
        }
        return _json_for_script(payload)

    # --- pieces ------------------------------------------------------------------------------

    def _cell(self, claim: StoryClaim, source: StorySource, cell: Cell | None) -> str:
        cell = cell or Cell.NOT_MENTIONED
        spans = self._evidence(claim, source.id, cell)
        name = self.names[source.id]
        caption = f"{claim.id} in {name}: {_CELL_WORDS[cell]}"
        support = next((s for s in claim.support if s.source == source.id), None)
        if cell is Cell.STATES and support is not None:
            caption += f" (match {support.score:.2f}"
            caption += f", its own claim {support.claim_id})" if support.claim_id else ")"
        if cell is Cell.NOT_MENTIONED:
            caption += "; nothing to highlight."
        label = f"{name} {_CELL_WORDS[cell]}: {claim.id}"
        return (
            f'<td class="cell {cell.value}"><button type="button" class="cell-btn" '
            f'{self._open(source.id, spans, caption)} data-claim="{escape(claim.id)}" '
            f'aria-label="{escape(label)}" title="{escape(label)}">'
            f'<span aria-hidden="true">{_CELL_SYMBOL[cell]}</span></button></td>'
        )

    def _evidence(self, claim: StoryClaim, source: str, cell: Cell) -> list[Span]:
        """What a cell highlights: the supporting span when the article states the claim; when it
        contradicts it, the spans that disagree (a denial), else its support."""
        support: list[Span] = [s for s in claim.support if s.source == source]
        if cell is Cell.STATES:
            return support
        if cell is Cell.CONTRADICTS:
            against = [
                span
                for item in self.story.disagreements
                if claim.id in item.claim_ids
                for position in item.positions
                for span in position.spans
                if span.source == source and span.span not in {s.span for s in support}
            ]
            return against or support
        return []

    def _quote(self, span: Span, words: str, caption: str) -> str:
        """A button that shows `words` and opens the article at `span`."""
        name = self.names[span.source]
        opens = self._open(span.source, [span], f"{caption} {name}")
        return (
            f'<button type="button" class="quote-btn" {opens}>'
            f'<span class="who">{escape(span.source)} · {escape(name)}</span>'
            f"<q>{escape(words)}</q></button>"
        )

    def _open(self, source: str, spans: Iterable[Span], caption: str) -> str:
        """The attributes that make a button open `source` with `spans` highlighted."""
        text = self.texts[source]
        ranges = ",".join(
            f"{_utf16(text, s.span[0])}-{_utf16(text, s.span[1])}"
            for s in sorted(spans, key=lambda s: s.span)
        )
        return (
            f'data-source="{escape(source)}" data-spans="{ranges}" data-caption="{escape(caption)}"'
        )


def _name(source: StorySource) -> str:
    return source.outlet or source.title or PurePath(source.path).stem


def _coverage(claim: StoryClaim, story: StoryResult) -> str:
    count = len({s.source for s in claim.support})
    return escape(f"{claim.coverage} · {count} of {len(story.sources)}")


def _plural(count: int, word: str) -> str:
    return f"{count} {word}" + ("" if count == 1 else "s")


def _utf16(text: str, offset: int) -> int:
    """A code-point offset of `text` as the UTF-16 offset JavaScript uses."""
    prefix = text[:offset]
    return offset + sum(1 for ch in prefix if ord(ch) > 0xFFFF)


def _json_for_script(value: object) -> str:
    """JSON that can sit inside a <script> element: no `<`, `>` or `&` survives literally, so
    no `</script>` or `<!--` in an article can end or change the block."""
    text = json.dumps(value, ensure_ascii=False)
    return text.replace("&", "\\u0026").replace("<", "\\u003c").replace(">", "\\u003e")


def _sha256(source: str) -> str:
    digest = hashlib.sha256(source.encode()).digest()
    return "sha256-" + base64.b64encode(digest).decode()


_STYLE = """
:root {
  --ink: #1d2430; --muted: #5b6472; --line: #dfe3ea; --paper: #ffffff; --wash: #f5f6f8;
  --accent: #1f5fbf; --states: #1e7a46; --states-bg: #e3f4e9; --none: #98a1ae;
  --none-bg: #f3f4f6; --contra: #b42318; --contra-bg: #fde8e6; --mark: #ffe58a;
  --reader-w: 440px;
  color-scheme: light;
}
* { box-sizing: border-box; }
html { -webkit-text-size-adjust: 100%; }
body {
  margin: 0; background: var(--wash); color: var(--ink);
  font: 15px/1.5 system-ui, -apple-system, "Segoe UI", Roboto, "Helvetica Neue", Arial,
    sans-serif;
}
a { color: var(--accent); }
h1, h2, h3 { line-height: 1.25; margin: 0 0 .5rem; }
h1 { font-size: 1.75rem; letter-spacing: -.01em; }
h2 { font-size: 1.15rem; }
h3 { font-size: .95rem; }
code { font: .85em/1.4 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace; }
.layout {
  display: grid; grid-template-columns: minmax(0, 1fr) var(--reader-w); align-items: start;
  max-width: 1600px; margin: 0 auto;
}
main { padding: 1.5rem 1.75rem 2rem; min-width: 0; }
section { margin-top: 2rem; }
header .eyebrow {
  margin: 0 0 .35rem; color: var(--muted); font-size: .8rem; text-transform: uppercase;
  letter-spacing: .06em;
}
.summary { font-size: 1.02rem; max-width: 60rem; margin: .25rem 0 0; }
.summary > span { margin-right: .1rem; }
.cite {
  display: inline-block; margin: 0 .3rem 0 .1rem; padding: 0 .3rem; border-radius: .6rem;
  background: #e7eefb; font-size: .72rem; font-weight: 600; text-decoration: none;
  vertical-align: .15em; line-height: 1.35;
}
.cite:hover, .cite:focus-visible { background: var(--accent); color: #fff; }
.notice {
  margin: .75rem 0 0; padding: .4rem .7rem; border-left: 3px solid #c98a00;
  background: #fff7e0; font-size: .9rem;
}
.hint { color: var(--muted); margin: 0 0 .4rem; font-size: .9rem; }
.legend { display: flex; flex-wrap: wrap; gap: .3rem 1.1rem; margin: 0 0 .6rem; font-size: .85rem; }
.legend-item { display: inline-flex; align-items: center; gap: .35rem; }
.swatch {
  display: inline-grid; place-items: center; width: 1.4rem; height: 1.2rem; border-radius: .25rem;
  font-size: .8rem;
}
.table-wrap {
  overflow-x: auto; background: var(--paper); border: 1px solid var(--line); border-radius: .5rem;
}
table { border-collapse: collapse; width: 100%; }
.matrix th, .matrix td { border-bottom: 1px solid var(--line); }
.matrix thead th {
  position: sticky; top: 0; background: #fafbfc; font-size: .8rem; font-weight: 600;
  text-align: left; vertical-align: bottom; z-index: 1;
}
.claim-head { padding: .5rem .75rem; min-width: 16rem; }
.source-head { padding: 0; width: 4.6rem; }
.source-btn {
  display: flex; flex-direction: column; align-items: center; width: 100%; padding: .45rem .2rem;
  border: 0; background: none; font: inherit; color: inherit; cursor: pointer;
}
.source-btn:hover, .source-btn:focus-visible { background: #eef2f8; }
.sid { font-weight: 700; }
.sname {
  max-width: 4.4rem; overflow: hidden; text-overflow: ellipsis; white-space: nowrap;
  color: var(--muted); font-weight: 400; font-size: .72rem;
}
.matrix tbody tr:target th.claim { box-shadow: inset 4px 0 0 var(--accent); background: #f0f5fd; }
th.claim { text-align: left; font-weight: 400; padding: .55rem .75rem; vertical-align: top; }
.cid {
  display: inline-block; min-width: 1.9rem; margin-right: .4rem; color: var(--muted);
  font: 600 .75rem/1.6 ui-monospace, SFMono-Regular, Menlo, Consolas, monospace;
}
.ctext { display: inline; font-size: .93rem; }
.tags { display: flex; flex-wrap: wrap; gap: .3rem; margin: .3rem 0 0 2.3rem; }
.tag {
  font-size: .7rem; padding: .05rem .45rem; border-radius: .6rem; background: var(--none-bg);
  color: var(--muted);
}
.tag.cov-all { background: var(--states-bg); color: var(--states); font-weight: 600; }
.tag.cov-several { background: #e7eefb; color: var(--accent); }
td.cell {
  position: relative; height: 2.6rem; padding: 0; text-align: center;
  border-left: 1px solid var(--line);
}
/* The button fills its cell, whatever the row's height, so all of the cell is the target. */
.cell-btn {
  position: absolute; inset: 0; width: 100%; border: 0; font-size: 1.15rem; cursor: pointer;
  background: transparent; color: inherit;
}
.states, .states .cell-btn { background: var(--states-bg); color: var(--states); }
.not_mentioned, .not_mentioned .cell-btn { background: var(--paper); color: var(--none); }
.contradicts, .contradicts .cell-btn {
  background: var(--contra-bg); color: var(--contra); font-weight: 700;
}
.swatch.not_mentioned { background: var(--none-bg); }
.cell-btn:hover { filter: brightness(.94); }
.cell-btn:focus-visible, .source-btn:focus-visible, .quote-btn:focus-visible {
  outline: 2px solid var(--accent); outline-offset: -2px;
}
.cell-btn[aria-pressed="true"], .quote-btn[aria-pressed="true"],
.source-btn[aria-pressed="true"] { box-shadow: inset 0 0 0 3px var(--accent); }
.card {
  background: var(--paper); border: 1px solid var(--line); border-radius: .5rem;
  padding: .8rem 1rem; margin-bottom: .8rem;
}
.card-meta { margin: 0; font-size: .8rem; color: var(--muted); }
.card-topic { margin: .2rem 0 .6rem; }
.side-by-side {
  list-style: none; margin: 0; padding: 0; display: grid; gap: .6rem;
  grid-template-columns: repeat(auto-fit, minmax(13rem, 1fr));
}
.positions > .position {
  border-top: 3px solid var(--states); padding-top: .4rem;
}
.positions > .position + .position { border-top-color: var(--contra); }
.spans { list-style: none; margin: 0; padding: 0; display: grid; gap: .4rem; }
.quote-btn {
  display: block; width: 100%; height: 100%; text-align: left; padding: .5rem .65rem;
  border: 1px solid var(--line); border-radius: .4rem; background: #fbfcfd; font: inherit;
  color: inherit; cursor: pointer;
}
.quote-btn:hover { border-color: var(--accent); }
.who { display: block; font-size: .75rem; color: var(--muted); margin-bottom: .15rem; }
q { quotes: "“" "”"; }
#reader {
  position: sticky; top: 0; height: 100vh; overflow: hidden; display: flex;
  flex-direction: column; background: var(--paper); border-left: 1px solid var(--line);
}
.reader-head {
  position: relative; padding: 1rem 1.25rem .7rem; border-bottom: 1px solid var(--line);
}
.reader-head h2 { padding-right: 2rem; margin-bottom: .1rem; }
.reader-path { margin: 0; color: var(--muted); font-size: .78rem; overflow-wrap: anywhere; }
.reader-caption { margin: .4rem 0 0; font-size: .85rem; }
#reader-close {
  display: none; position: absolute; top: .6rem; right: .75rem; width: 2rem; height: 2rem;
  border: 0; border-radius: 1rem; background: var(--none-bg); font-size: 1.2rem; cursor: pointer;
}
.article-text {
  flex: 1; overflow-y: auto; padding: 1rem 1.25rem 3rem; white-space: pre-wrap;
  overflow-wrap: anywhere; font-size: .95rem; line-height: 1.65;
}
.article-text:focus { outline: none; }
.reader-index {
  list-style: none; margin: 0; padding: 0; display: grid; gap: .5rem; white-space: normal;
}
mark {
  background: var(--mark); color: inherit; padding: .05em 0; border-radius: .15em;
  box-shadow: 0 0 0 2px var(--mark);
}
footer {
  max-width: 1600px; margin: 0 auto; padding: 1rem 1.75rem 3rem; border-top: 1px solid var(--line);
  color: var(--muted); font-size: .88rem;
}
footer h2 { color: var(--ink); font-size: 1rem; }
.sources th, .sources td {
  padding: .35rem .6rem; text-align: left; border-bottom: 1px solid var(--line);
  vertical-align: top;
}
.sources .num { text-align: right; }
.url { overflow-wrap: anywhere; }
.run { display: grid; grid-template-columns: max-content 1fr; gap: .2rem 1rem; margin: 0; }
.run dt { color: var(--ink); }
.run dd { margin: 0; overflow-wrap: anywhere; }
.warnings {
  color: var(--ink); background: #fff7e0; border: 1px solid #f0d58a; border-radius: .5rem;
  padding: .6rem 1rem;
}
.warnings ul { margin: 0; padding-left: 1.2rem; }
@media (max-width: 1100px) {
  .layout { display: block; }
  main { padding: 1rem; }
  footer { padding: 1rem; }
  h1 { font-size: 1.4rem; }
  #reader {
    position: fixed; left: 0; right: 0; bottom: 0; top: auto; height: 60vh; z-index: 10;
    border-left: 0; border-top: 1px solid var(--line); box-shadow: 0 -8px 24px rgb(0 0 0 / .15);
    border-radius: .75rem .75rem 0 0; display: none;
  }
  #reader.open { display: flex; }
  #reader-close { display: block; }
  body.reading { padding-bottom: 60vh; }
}
@media (max-width: 640px) {
  .claim-head { min-width: 12rem; }
  .source-head { width: 3rem; }
  .sname { display: none; }
  .tags { margin-left: 0; }
}
@media print {
  #reader { display: none; }
  .layout { display: block; }
}
"""

_SCRIPT = """
(function () {
  "use strict";
  var sources = JSON.parse(document.getElementById("story-texts").textContent);
  var reader = document.getElementById("reader");
  var title = document.getElementById("reader-title");
  var path = document.getElementById("reader-path");
  var caption = document.getElementById("reader-caption");
  var body = document.getElementById("reader-text");
  var pressed = null;

  function ranges(attr) {
    if (!attr) { return []; }
    return attr.split(",").map(function (pair) {
      var ends = pair.split("-");
      return [parseInt(ends[0], 10), parseInt(ends[1], 10)];
    });
  }

  function show(button) {
    var source = sources[button.getAttribute("data-source")];
    if (!source) { return; }
    var text = source.text;
    var spans = ranges(button.getAttribute("data-spans"));
    var parts = document.createDocumentFragment();
    var at = 0;
    var first = null;
    spans.forEach(function (span) {
      var start = Math.max(span[0], at);
      var end = span[1];
      if (end <= start) { return; }
      parts.appendChild(document.createTextNode(text.slice(at, start)));
      var mark = document.createElement("mark");
      mark.textContent = text.slice(start, end);
      parts.appendChild(mark);
      if (!first) { first = mark; }
      at = end;
    });
    parts.appendChild(document.createTextNode(text.slice(at)));
    body.replaceChildren(parts);
    title.textContent = source.name;
    path.textContent = source.path;
    caption.textContent = button.getAttribute("data-caption") || "";
    if (pressed) { pressed.removeAttribute("aria-pressed"); }
    pressed = button;
    button.setAttribute("aria-pressed", "true");
    reader.classList.add("open");
    document.body.classList.add("reading");
    if (first) {
      first.scrollIntoView({ block: "center", inline: "nearest" });
    } else {
      body.scrollTop = 0;
    }
  }

  document.addEventListener("click", function (event) {
    var button = event.target.closest("button[data-source]");
    if (button) { show(button); }
  });
  document.getElementById("reader-close").addEventListener("click", function () {
    reader.classList.remove("open");
    document.body.classList.remove("reading");
    if (pressed) { pressed.focus(); }
  });
  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" && reader.classList.contains("open")) {
      reader.classList.remove("open");
      document.body.classList.remove("reading");
    }
  });
})();
"""
