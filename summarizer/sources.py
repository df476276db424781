"""Read an article into a `Source`, refusing what cannot be summarised with a clear reason.

Spans in every result are character offsets into `Source.text`: the file decoded as UTF-8 (a
byte-order mark removed). HTML is converted to plain text first, and spans then refer to that
text; the result says so in `warnings`.
"""

from __future__ import annotations

import hashlib
import re
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser
from pathlib import Path

from summarizer.errors import InputError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
_HTML_SNIFF = re.compile(r"^\s*(<!doctype html|<html[\s>]|<head[\s>]|<body[\s>])", re.IGNORECASE)


@dataclass(frozen=True)
class Source:
    path: str
    text: str
    warnings: tuple[str, ...] = field(default=())

    @property
    def sha256(self) -> str:
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def read_source(path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    """Read `path` (`-` for stdin) and validate it; raises InputError with a one-line reason."""
    if path == "-":
        data = sys.stdin.buffer.read(max_bytes + 1)
    else:
        file = Path(path)
        if not file.exists():
            raise InputError("file not found", path=path)
        if file.is_dir():
            raise InputError("is a directory, not a file", path=path)
        try:
            with file.open("rb") as handle:
                data = handle.read(max_bytes + 1)
        except OSError as error:
            raise InputError(f"cannot read: {error.strerror}", path=path) from None
    return source_from_bytes(data, path=path, max_bytes=max_bytes)


def source_from_bytes(data: bytes, *, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    if len(data) > max_bytes:
        raise InputError(f"larger than the {max_bytes // (1024 * 1024)} MiB limit", path=path)
    if b"\x00" in data[:8192]:
        raise InputError("looks binary (contains NUL bytes), expected UTF-8 text", path=path)
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"not valid UTF-8 (byte {error.start})", path=path) from None
    return source_from_text(text, path=path)


def source_from_text(text: str, *, path: str) -> Source:
    warnings: tuple[str, ...] = ()
    if _HTML_SNIFF.match(text):
        text = html_to_text(text)
        warnings = ("input was HTML: converted to text; spans refer to the extracted text",)
    if not text.strip():
        raise InputError("is empty (no text to summarise)", path=path)
    return Source(path=path, text=text, warnings=warnings)


class _TextExtractor(HTMLParser):
    _SKIP = frozenset({"script", "style", "noscript", "template", "head"})
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
        ]
    )

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self._skipping = 0

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in self._SKIP:
            self._skipping += 1
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_endtag(self, tag: str) -> None:
        if tag in self._SKIP:
            self._skipping = max(0, self._skipping - 1)
        elif tag in self._BLOCK:
            self.parts.append("\n")

    def handle_data(self, data: str) -> None:
        if not self._skipping:
            self.parts.append(data)


def html_to_text(html: str) -> str:
    extractor = _TextExtractor()
    extractor.feed(html)
    extractor.close()
    lines = (" ".join(line.split()) for line in "".join(extractor.parts).splitlines())
    return "\n".join(line for line in lines if line)
