"""Turn the command line's INPUTs into batch items, each with a stable, filesystem-safe id.

An INPUT is a file, a directory (searched recursively with a glob pattern; hidden files and the
output directory are skipped), or a `.jsonl` file with one article per line:
`{"id": ..., "text": ..., "metadata": {...}}`, optionally with `outlet`, `title`, `url` and
`story` (kept in the metadata).

Ids come from what the user controls, never from the order of discovery, so the same article
keeps its id (and its ledger row and output file) from run to run: a directory's files use their
path relative to that directory, a file given directly uses its name, and a JSONL article uses
its `id`. Problems with the input itself are not exceptions: an unreadable file becomes an item
that fails with the reason, and a JSONL line that cannot even name an item (bad JSON, no id)
becomes an `InputProblem`. Only a missing INPUT path is a usage error.
"""

from __future__ import annotations

import errno
import hashlib
import json
import math
import os
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, BinaryIO

from pydantic import BaseModel, ConfigDict, StrictInt, StrictStr, ValidationError

from summarizer.errors import ConfigError, InputError
from summarizer.sources import (
    BYTE_ORDER_MARKS,
    DEFAULT_MAX_BYTES,
    Source,
    open_regular,
    read_regular_file,
    source_from_bytes,
    source_from_text,
)

MAX_ID_CHARS = 120
_UNSAFE = re.compile(r"[^A-Za-z0-9._-]")
_SAFE = re.compile(r"[A-Za-z0-9._-]+")


@dataclass(frozen=True)
class BatchItem:
    """One article to summarise, or (with `error`) one that fails without a model call."""

    id: str
    origin: str
    input_sha256: str
    source: Source | None
    metadata: dict[str, Any] | None = None
    error: str | None = None


@dataclass(frozen=True)
class InputProblem:
    """Input that names no usable item (a malformed JSONL line, a duplicate id)."""

    origin: str
    reason: str


@dataclass
class Discovery:
    items: list[BatchItem] = field(default_factory=list)
    problems: list[InputProblem] = field(default_factory=list)


class JsonlArticle(BaseModel):
    # Other fields belong under `metadata`; forbidding them catches a misspelt "text".
    model_config = ConfigDict(extra="forbid")

    # Strict: `true` or `1.0` is no id (lax validation would make them "1").
    id: StrictStr | StrictInt
    text: str
    metadata: dict[str, Any] | None = None
    # Where the article came from, and which story it belongs to (`summarizer story`,
    # `batch --stories`); kept in the item's metadata under the same names.
    outlet: str | None = None
    title: str | None = None
    url: str | None = None
    story: str | None = None

    def full_metadata(self) -> dict[str, Any] | None:
        named = {
            key: value
            for key in ("outlet", "title", "url", "story")
            if (value := getattr(self, key)) is not None
        }
        return {**(self.metadata or {}), **named} or None


def item_id(key: str) -> str:
    """A filesystem-safe id for `key`: readable where that is safe, and unique per key.

    Path segments are joined with `__`. That is reversible when every segment is made of safe
    characters, starts with none of `.`, `_`, `-` (hidden files, option-like names), does not end
    with `_` and holds no `__`; any other
    key (or a long one) gets `_` for unsafe characters and a hash of the key appended, so two
    different keys never share an id.
    """
    segments = key.split("/")
    slug = "__".join(segments)
    if len(slug) <= MAX_ID_CHARS and all(_safe_segment(s) for s in segments):
        return slug
    cleaned = _UNSAFE.sub("_", slug).lstrip("._-")[:MAX_ID_CHARS] or "item"
    return f"{cleaned}-{hashlib.sha256(key.encode('utf-8')).hexdigest()[:10]}"


def _safe_segment(segment: str) -> bool:
    return (
        _SAFE.fullmatch(segment) is not None
        and not segment.startswith((".", "_", "-"))
        and not segment.endswith("_")
        and "__" not in segment
    )


@dataclass(frozen=True)
class ReadLimits:
    """What one input may hold; past a limit the item or line fails, and reading goes on.

    `line_bytes` is larger than `article_bytes` because JSON escapes can double an article's
    size (`\\u00e9` for `é`); the article itself is then held to `article_bytes`, as a file is.
    `jsonl_bytes` bounds a whole JSONL file, so a file with no newline (or a sparse file of
    zeros) ends with a reason instead of reading until memory runs out.
    """

    article_bytes: int = DEFAULT_MAX_BYTES
    line_bytes: int = 3 * DEFAULT_MAX_BYTES
    jsonl_bytes: int = 1 << 30
    depth: int = 32


def discover(
    inputs: Sequence[str],
    *,
    pattern: str = "*.txt",
    exclude: Path | None = None,
    limits: ReadLimits = ReadLimits(),
) -> Discovery:
    """Read every INPUT into items (in command-line order), ids unique across the run."""
    found = Discovery()
    seen: dict[str, str] = {}
    excluded = _resolved(exclude) if exclude is not None else None
    for raw in inputs:
        path = Path(raw)
        _check_input(raw)
        for entry in _expand(path, pattern, excluded, limits):
            if isinstance(entry, InputProblem):
                found.problems.append(entry)
                continue
            first = seen.get(entry.id)
            if first is None:
                seen[entry.id] = entry.origin
                found.items.append(entry)
            elif first != entry.origin:
                found.problems.append(
                    InputProblem(entry.origin, f"duplicate item id {entry.id!r} (also {first})")
                )
    return found


def _check_input(raw: str) -> None:
    """A usage error for an INPUT that names nothing at all; other problems are the item's."""
    try:
        os.stat(raw)
    except OSError as error:
        if error.errno == errno.ELOOP:
            raise ConfigError(f"input is a symlink loop: {raw}") from None
        if error.errno in (errno.ENOENT, errno.ENOTDIR) or not os.path.lexists(raw):
            raise ConfigError(f"input not found: {raw}") from None
        # Anything else (permission denied, a broken link) is reported by the read itself.


def _resolved(path: Path) -> Path | None:
    try:
        return path.resolve()
    except (OSError, RuntimeError):  # RuntimeError: a symlink loop, before Python 3.13
        return None


def _expand(
    path: Path, pattern: str, excluded: Path | None, limits: ReadLimits
) -> Iterator[BatchItem | InputProblem]:
    if path.is_dir():
        for file in sorted(path.rglob(pattern)):
            relative = file.relative_to(path)
            # Not only regular files: a FIFO, a broken link or a loop that matches the pattern
            # fails as an item with its reason, instead of vanishing from the run.
            if file.is_dir() or _hidden(relative) or _inside(file, excluded):
                continue
            yield from _from_file(file, key=relative.as_posix(), limits=limits)
    else:
        yield from _from_file(path, key=path.name, limits=limits)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _inside(file: Path, directory: Path | None) -> bool:
    if directory is None:
        return False
    resolved = _resolved(file)
    return resolved is not None and resolved.is_relative_to(directory)


def _from_file(path: Path, *, key: str, limits: ReadLimits) -> Iterator[BatchItem | InputProblem]:
    if path.suffix.lower() == ".jsonl":
        yield from _from_jsonl(path, limits)
        return
    origin = str(path)
    data = b""
    try:
        data = read_regular_file(origin, max_bytes=limits.article_bytes)
        source = source_from_bytes(data, path=origin, max_bytes=limits.article_bytes)
    except InputError as error:
        yield _failed(key, origin, str(error), data or origin.encode())
        return
    yield BatchItem(id=item_id(key), origin=origin, input_sha256=source.sha256, source=source)


def _from_jsonl(path: Path, limits: ReadLimits) -> Iterator[BatchItem | InputProblem]:
    """One item or problem per line, read as a stream: memory never holds more than a line."""
    where = str(path)
    try:
        fd = open_regular(where)
    except InputError as error:
        yield InputProblem(where, f"cannot read JSONL: {_reason(error)}")
        return
    with os.fdopen(fd, "rb") as handle:
        try:
            yield from _jsonl_lines(handle, path, limits)
        except OSError as error:
            yield InputProblem(where, f"cannot read JSONL: {error.strerror}")


def _jsonl_lines(
    handle: BinaryIO, path: Path, limits: ReadLimits
) -> Iterator[BatchItem | InputProblem]:
    where = str(path)
    read = 0
    number = 0
    while line := handle.readline(limits.line_bytes + 1):
        number += 1
        read += len(line)
        origin = f"{path}:{number}"
        if number == 1:
            unreadable = _unreadable_jsonl(line)
            if unreadable is not None:
                yield InputProblem(where, unreadable)
                return
            line = line.removeprefix(b"\xef\xbb\xbf")
        if len(line) > limits.line_bytes:
            # Skip to the end of this line, still within the file's bound.
            while read <= limits.jsonl_bytes and not line.endswith(b"\n"):
                line = handle.readline(1 << 20)
                read += len(line)
                if not line:
                    break
            yield InputProblem(origin, f"line longer than the {_mib(limits.line_bytes)} limit")
        elif line.strip():
            yield _from_jsonl_line(line, origin=origin, label=where, limits=limits)
        if read > limits.jsonl_bytes:
            yield InputProblem(
                where,
                f"larger than the {_mib(limits.jsonl_bytes)} limit for a JSONL file: stopped "
                f"after line {number}; split the file",
            )
            return


def _unreadable_jsonl(first_line: bytes) -> str | None:
    """Why the file cannot be JSONL at all, judged by its first line; None if it may be."""
    for mark, name in BYTE_ORDER_MARKS:
        if first_line.startswith(mark):
            return f"is {name} text: JSONL must be UTF-8 (iconv -f {name} -t UTF-8)"
    if b"\x00" in first_line[:8192]:
        return "looks binary (contains NUL bytes), expected UTF-8 JSON lines"
    return None


def _from_jsonl_line(
    line: bytes, *, origin: str, label: str, limits: ReadLimits
) -> BatchItem | InputProblem:
    try:
        text = line.decode("utf-8")
    except UnicodeDecodeError as error:
        return InputProblem(origin, f"not valid UTF-8 (byte {error.start})")
    try:
        value = json.loads(text, parse_constant=_no_constant, parse_float=_finite_float)
    except json.JSONDecodeError as error:
        return InputProblem(origin, f"not JSON ({error.msg} at column {error.colno})")
    except RecursionError:
        return InputProblem(origin, f"nested deeper than {limits.depth} levels")
    except ValueError as error:  # a number we refuse, or one with thousands of digits
        return InputProblem(origin, _number_problem(error))
    problem = _unusable(value, limits.depth) or _bad_id(value)
    try:
        article = JsonlArticle.model_validate(value) if problem is None else None
    except ValidationError as error:
        return InputProblem(origin, _describe(error))
    key = _usable_id(value)
    if key is not None and not key.strip():
        return InputProblem(origin, "empty id")
    if article is None:
        # A record that names its item fails as that item, so a rerun after the fix redoes it.
        reason = problem or "unusable record"
        return _failed(key, origin, reason, line) if key else InputProblem(origin, reason)
    key = str(article.id)
    encoded = article.text.encode("utf-8")
    if len(encoded) > limits.article_bytes:
        reason = f"{label}#{key}: larger than the {_mib(limits.article_bytes)} limit"
        return _failed(key, origin, reason, encoded, article.full_metadata())
    try:
        source = source_from_text(article.text, path=f"{label}#{key}")
    except InputError as error:
        return _failed(key, origin, str(error), encoded, article.metadata)
    return BatchItem(
        id=item_id(key),
        origin=origin,
        input_sha256=source.sha256,
        source=source,
        metadata=article.full_metadata(),
    )


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a JSON number")


def _finite_float(text: str) -> float:
    number = float(text)
    if not math.isfinite(number):
        raise ValueError(f"number out of range ({text[:40]})")
    return number


def _number_problem(error: ValueError) -> str:
    message = str(error)
    if "integer string conversion" in message:
        return "an integer with thousands of digits"
    return message.split(":")[0] if "JSON number" not in message else message


_SURROGATE = re.compile(r"[\ud800-\udfff]")
_INT_RANGE = 1 << 63


def _unusable(value: Any, max_depth: int) -> str | None:
    """Why a parsed record cannot travel on (into UTF-8, SQLite, strict JSON), or None.

    Walked without recursion, so depth is measured, not discovered by a RecursionError.
    """
    stack: list[tuple[Any, int, str]] = [(value, 1, "")]
    while stack:
        node, depth, where = stack.pop()
        if depth > max_depth:
            return f"{where or 'record'}: nested deeper than {max_depth} levels"
        named = where or "record"
        if isinstance(node, str):
            if _SURROGATE.search(node):
                return f"{named}: a lone UTF-16 surrogate (\\ud800-\\udfff) is not text"
        elif isinstance(node, bool) or node is None or isinstance(node, float):
            continue
        elif isinstance(node, int):
            if not -_INT_RANGE <= node < _INT_RANGE:
                return f"{named}: integer out of the 64-bit range"
        elif isinstance(node, dict):
            for name, child in node.items():
                if _SURROGATE.search(name):
                    return f"{named}: a key holds a lone UTF-16 surrogate"
                stack.append((child, depth + 1, f"{where}.{name}"[:80].lstrip(".")))
        elif isinstance(node, list):
            stack.extend((child, depth + 1, f"{named}[{i}]"[:80]) for i, child in enumerate(node))
    return None


def _usable_id(value: Any) -> str | None:
    """The record's id as a key, if it has one we accept: a string or an integer, not a bool."""
    raw = value.get("id") if isinstance(value, dict) else None
    if isinstance(raw, bool) or not isinstance(raw, str | int):
        return None
    key = str(raw) if isinstance(raw, str) or -_INT_RANGE <= raw < _INT_RANGE else None
    return key if key is not None and not _SURROGATE.search(key) else None


def _bad_id(value: Any) -> str | None:
    raw = value.get("id") if isinstance(value, dict) else None
    if raw is None or _usable_id(value) is not None:
        return None  # a missing id is pydantic's to report
    return f"id must be a string or an integer, not {json.dumps(raw)[:40]}"


def _reason(error: InputError) -> str:
    return str(error).removeprefix(f"{error.path}: ") if error.path else str(error)


def _mib(size: int) -> str:
    mib = 1024 * 1024
    return f"{size // mib} MiB" if size % mib == 0 else f"{size} byte"


def _failed(
    key: str, origin: str, reason: str, data: bytes, metadata: dict[str, Any] | None = None
) -> BatchItem:
    return BatchItem(
        id=item_id(key),
        origin=origin,
        input_sha256=hashlib.sha256(data).hexdigest(),
        source=None,
        metadata=metadata,
        error=reason,
    )


def _describe(error: ValidationError) -> str:
    problems = []
    for detail in error.errors()[:3]:
        where = ".".join(str(part) for part in detail["loc"]) or "line"
        hint = " (put other fields under metadata)" if detail["type"] == "extra_forbidden" else ""
        problems.append(f"{where}: {detail['msg']}{hint}")
    return "; ".join(problems)
