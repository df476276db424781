"""Markup to text: whether an input is HTML (or XML), and the text a reader would see.

Markup is judged by parsing, not by the first tag (`judge_markup`): a document is converted
when it starts with markup (an HTML element, a comment, a doctype, `<?xml`), declares itself
HTML anywhere (`<!doctype html>`, `<html>`), or is at least half markup. A plain-text article
that quotes a few tags (`<script>` included) stays text, verbatim: those tags are its content.
In converted markup, `<script>`, `<style>` and the head's metadata never become text.
Python's `html.parser` is quadratic on unclosed constructs (`<a<a<a…`, `<!--<!--…`), so the
text is first made well-formed in one linear pass (`_linear_safe`).

Apart from `sources.py` so that reading a plain-text article (a cache hit included) does not
import `html.parser`.
"""

from __future__ import annotations

import re
from html.parser import HTMLParser

# Elements whose text is never article text. The head is handled apart: HTML5 lets it end
# without `</head>` (or begin without `<head>`), at the first element or text of the body; a
# `title` there is metadata, while one in the body (an RSS item's) is text.
_SKIP = frozenset({"script", "style", "noscript", "template", "textarea", "svg"})
_HEAD_ONLY = frozenset({"meta", "link", "base", "title", "style", "script", "noscript", "template"})
_BLOCK = frozenset(
    [
        "p",
        "div",
        "br",
        "li",
        "h1",
        "h2",
        "h3",
        "h4",
        "h5",
        "h6",
        "tr",
        "article",
        "section",
        "blockquote",
        "header",
        "footer",
        "main",
        "aside",
        "nav",
        "figure",
        "figcaption",
        "ul",
        "ol",
        "dl",
        "dt",
        "dd",
        "table",
        "pre",
        "hr",
        "address",
    ]
)
_HTML_ELEMENTS = (
    _BLOCK
    | _SKIP
    | _HEAD_ONLY
    | frozenset(
        [
            "html",
            "head",
            "body",
            "a",
            "b",
            "i",
            "u",
            "s",
            "em",
            "strong",
            "small",
            "span",
            "img",
            "sub",
            "sup",
            "code",
            "q",
            "cite",
            "abbr",
            "time",
            "mark",
            "label",
            "input",
            "button",
            "form",
            "select",
            "option",
            "iframe",
            "video",
            "audio",
            "source",
            "picture",
            "td",
            "th",
            "thead",
            "tbody",
            "tfoot",
            "caption",
            "col",
            "colgroup",
            "details",
            "summary",
            "dialog",
            "canvas",
            "wbr",
            "del",
            "ins",
            "kbd",
            "samp",
            "var",
            "font",
            "center",
            "big",
            "strike",
            "tt",
        ]
    )
)
_MARKUP_SHARE = 0.5


class _TextExtractor(HTMLParser):
    """One pass that extracts the text and measures how much of the input is markup."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.markup_chars = 0
        self.html_elements = 0
        self.declares_html = False
        self.starts_with_markup: bool | None = None  # decided by the first non-blank token
        self._skipping = 0
        self._in_head = True
        self._head_title = False

    def _first(self, markup: bool) -> None:
        if self.starts_with_markup is None:
            self.starts_with_markup = markup

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        self.markup_chars += len(self.get_starttag_text() or tag) + 2
        known = tag in _HTML_ELEMENTS
        self.html_elements += known
        self.declares_html |= tag == "html"
        self._first(known)
        if tag == "head":
            self._in_head = True
        elif self._in_head and tag != "html" and (tag == "body" or tag not in _HEAD_ONLY):
            self._in_head = False
        if tag in _SKIP or (tag == "title" and self._in_head and not self._head_title):
            self._head_title |= tag == "title"
            self._skipping += 1
        elif tag in _BLOCK or tag == "title" or not known:
            # Elements HTML does not know (an XML feed's) are structure, so they separate text.
            self.parts.append("\n")

    def handle_startendtag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        # `<br/>`, `<img/>`: no content, so never a skipped region.
        self.markup_chars += len(self.get_starttag_text() or tag)
        known = tag in _HTML_ELEMENTS
        self.html_elements += known
        self._first(known)
        if tag in _BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        self.markup_chars += len(tag) + 3
        self._first(tag in _HTML_ELEMENTS)
        if tag == "head":
            self._in_head = False
        if tag in _SKIP or (tag == "title" and self._head_title):
            self._head_title &= tag != "title"
            self._skipping = max(0, self._skipping - 1)
        elif tag in _BLOCK or tag == "title" or tag not in _HTML_ELEMENTS:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if self._skipping:
            self.markup_chars += len(data)
            return
        if not data.strip():
            self.parts.append(data)
            return
        self._first(False)
        self._in_head = False  # text in the head starts the body
        self.parts.append(data)

    def handle_comment(self, data: str) -> None:
        self.markup_chars += len(data) + 7
        self._first(True)

    def handle_decl(self, decl: str) -> None:
        self.markup_chars += len(decl) + 3
        self._first(True)
        self.declares_html |= decl.lower().startswith("doctype html")

    def handle_pi(self, data: str) -> None:
        self.markup_chars += len(data) + 3
        self._first(True)

    def unknown_decl(self, data: str) -> None:
        self.markup_chars += len(data) + 3
        self._first(True)


def judge_markup(text: str) -> str | None:
    """The extracted text if `text` is markup (see the module docstring), else None."""
    extractor = _TextExtractor()
    extractor.feed(_linear_safe(text))
    extractor.close()
    is_markup = (
        extractor.declares_html
        or bool(extractor.starts_with_markup)
        or extractor.markup_chars >= _MARKUP_SHARE * len(text)
    )
    return _tidy("".join(extractor.parts)) if is_markup else None


def html_to_text(html: str) -> str:
    """The text of `html`, as a reader sees it: no tags, scripts, styles or head metadata."""
    extractor = _TextExtractor()
    extractor.feed(_linear_safe(html))
    extractor.close()
    return _tidy("".join(extractor.parts))


def _tidy(text: str) -> str:
    lines = (" ".join(line.split()) for line in text.splitlines())
    return "\n".join(line for line in lines if line)


# A `<` that opens a complete construct: a tag, declaration or PI closed before the next `<`.
# The lookahead stops at the next `<`, so the whole substitution is linear.
_STRAY_LT = re.compile(r"<(?![A-Za-z/!?][^<>]*>)")


def _linear_safe(html: str) -> str:
    """`html` with every construct `html.parser` would rescan to the end made complete.

    Comments are kept as they are; an unclosed one swallows the rest of the document (as in a
    browser). Elsewhere a `<` that opens nothing complete is written `&lt;` (text, as a browser
    shows it).
    """
    pieces: list[str] = []
    start = 0
    while (opened := html.find("<!--", start)) >= 0:
        pieces.append(_STRAY_LT.sub("&lt;", html[start:opened]))
        closed = html.find("-->", opened + 4)
        if closed < 0:
            return "".join(pieces)
        pieces.append(html[opened : closed + 3])
        start = closed + 3
    pieces.append(_STRAY_LT.sub("&lt;", html[start:]))
    return "".join(pieces)
