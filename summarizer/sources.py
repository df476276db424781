"""Read an article into a `Source`, refusing what cannot be summarised with a clear reason.

Spans in every result are character offsets into `Source.text`: the file decoded as UTF-8 (a
byte-order mark removed). UTF-16 and UTF-32 (which Windows tools write) are refused with the
command that converts them, not decoded: a UTF-16 mark is also two Latin-1 characters, and
guessing wrong would summarise nonsense. Markup is converted to plain text first, and spans then
refer to that text; the result says so in `warnings`.

Reads are bounded and never block: only regular files are opened (a FIFO, device or socket is
refused at once, since a FIFO with no writer would hang the read forever and `/dev/zero` never
ends); `-` reads stdin, up to the same limit.

Markup is judged and converted by `markup.py`, imported only for a text with a `<` in it.
"""

from __future__ import annotations

import errno
import hashlib
import os
import stat
import sys
from dataclasses import dataclass, field

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
        from summarizer.markup import judge_markup  # html.parser, for markup only

        extracted = judge_markup(text)
        if extracted is not None:
            text = extracted
            warnings = ("input was HTML: converted to text; spans refer to the extracted text",)
    if not text.strip():
        what = "markup with no text outside its tags and scripts" if warnings else "empty"
        raise InputError(f"is {what} (no text to summarise)", path=path)
    return Source(path=path, text=text, warnings=warnings)
