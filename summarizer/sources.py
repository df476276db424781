"""Read an article into a `Source`, refusing what cannot be summarised with a clear reason.

Spans in every result are character offsets into `Source.text`: the file decoded as UTF-8 (a
byte-order mark removed). UTF-16 and UTF-32 (which Windows tools write) are refused with the
command that converts them, not decoded: a UTF-16 mark is also two Latin-1 characters, and
guessing wrong would summarise nonsense. Markup is converted to plain text first, and spans then
refer to that text; the result says so in `warnings`.

Reads are bounded and never block: only regular files are opened (a FIFO, device or socket is
refused at once, since a FIFO with no writer would hang the read forever and `/dev/zero` never
ends); `-` reads stdin, up to the same limit.

Markup is judged by parsing, not by the first tag (`_judge_markup`): a document is converted
when it starts with markup (an HTML element, a comment, a doctype, `<?xml`), declares itself
HTML anywhere (`<!doctype html>`, `<html>`), or is at least half markup. A plain-text article
that quotes a few tags (`<script>` included) stays text, verbatim: those tags are its content.
In converted markup, `<script>`, `<style>` and the head's metadata never become text.
Python's `html.parser` is quadratic on unclosed constructs (`<a<a<a…`, `<!--<!--…`), so the
text is first made well-formed in one linear pass (`_linear_safe`).
"""

from __future__ import annotations

import errno
import hashlib
import os
import re
import stat
import sys
from dataclasses import dataclass, field
from html.parser import HTMLParser

from summarizer.errors import InputError

DEFAULT_MAX_BYTES = 20 * 1024 * 1024

BYTE_ORDER_MARKS = (
    # UTF-32 first: its little-endian mark starts with UTF-16's.
    (b"\xff\xfe\x00\x00", "UTF-32"),
    (b"\x00\x00\xfe\xff", "UTF-32"),
    (b"\xff\xfe", "UTF-16"),
    (b"\xfe\xff", "UTF-16"),
)
_FILE_KINDS = (
    (stat.S_ISFIFO, "a FIFO (named pipe)"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
    (stat.S_ISSOCK, "a socket"),
)
_READ_ERRORS = {
    errno.ENOENT: "file not found",
    errno.ELOOP: "symlink loop (the link resolves to itself)",
    errno.EACCES: "permission denied",
    errno.EPERM: "permission denied",
    errno.ENOTDIR: "file not found (a parent in the path is not a directory)",
    errno.ENAMETOOLONG: "file name too long",
}


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
        data = read_regular_file(path, max_bytes=max_bytes)
    return source_from_bytes(data, path=path, max_bytes=max_bytes)


def read_regular_file(path: str, *, max_bytes: int = DEFAULT_MAX_BYTES) -> bytes:
    """Up to `max_bytes + 1` bytes of the regular file at `path` (symlinks followed).

    Opened non-blocking and checked with `fstat` on the open descriptor, so a FIFO without a
    writer is refused instead of hanging, and the file checked is the file read.
    """
    fd = open_regular(path)
    with os.fdopen(fd, "rb") as handle:
        try:
            return handle.read(max_bytes + 1)
        except OSError as error:
            raise InputError(f"cannot read: {error.strerror}", path=path) from None


def open_regular(path: str) -> int:
    """A blocking read descriptor for the regular file at `path`, or InputError saying why not."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK | os.O_CLOEXEC)
    except OSError as error:
        raise InputError(_open_failure(path, error), path=path) from None
    try:
        mode = os.fstat(fd).st_mode
        if not stat.S_ISREG(mode):
            raise InputError(_not_regular(mode), path=path)
        os.set_blocking(fd, True)
    except BaseException:
        os.close(fd)
        raise
    return fd


def _open_failure(path: str, error: OSError) -> str:
    if error.errno == errno.EISDIR:
        return "is a directory, not a file"
    if error.errno == errno.ENOENT and os.path.islink(path):
        return f"broken symlink (its target {os.readlink(path)} does not exist)"
    known = _READ_ERRORS.get(error.errno or 0)
    return known or f"cannot read: {error.strerror}"


def _not_regular(mode: int) -> str:
    if stat.S_ISDIR(mode):
        return "is a directory, not a file"
    kind = next((name for test, name in _FILE_KINDS if test(mode)), "not a regular file")
    return f"is {kind}, not a regular file: give it as - (stdin) to read it as a stream"


def source_from_bytes(data: bytes, *, path: str, max_bytes: int = DEFAULT_MAX_BYTES) -> Source:
    if len(data) > max_bytes:
        raise InputError(f"larger than the {max_bytes // (1024 * 1024)} MiB limit", path=path)
    return source_from_text(decode_text(data, path=path), path=path)


def decode_text(data: bytes, *, path: str) -> str:
    """`data` as UTF-8 text, or InputError naming the encoding it seems to be in."""
    for mark, name in BYTE_ORDER_MARKS:
        if data.startswith(mark):
            raise InputError(
                f"not valid UTF-8 (byte 0): it starts with a {name} byte-order mark; convert it "
                f"to UTF-8 (iconv -f {name} -t UTF-8)",
                path=path,
            )
    head = data[:8192]
    if b"\x00" in head:
        if _looks_like_utf16(head):
            raise InputError(
                "looks like UTF-16 without a byte-order mark: convert it to UTF-8 "
                "(iconv -f UTF-16LE -t UTF-8)",
                path=path,
            )
        raise InputError("looks binary (contains NUL bytes), expected UTF-8 text", path=path)
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise InputError(f"not valid UTF-8 (byte {error.start})", path=path) from None


def _looks_like_utf16(head: bytes) -> bool:
    """Mostly ASCII text in UTF-16: every other byte is NUL, the others mostly are not."""
    if len(head) < 4:
        return False
    even, odd = head[0::2], head[1::2]
    for zeros, other in ((odd, even), (even, odd)):
        if zeros.count(0) >= 0.9 * len(zeros) and other.count(0) <= 0.1 * len(other):
            return True
    return False


def source_from_text(text: str, *, path: str) -> Source:
    warnings: tuple[str, ...] = ()
    if "<" in text:
        extracted = _judge_markup(text)
        if extracted is not None:
            text = extracted
            warnings = ("input was HTML: converted to text; spans refer to the extracted text",)
    if not text.strip():
        what = "markup with no text outside its tags and scripts" if warnings else "empty"
        raise InputError(f"is {what} (no text to summarise)", path=path)
    return Source(path=path, text=text, warnings=warnings)


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


def _judge_markup(text: str) -> str | None:
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
