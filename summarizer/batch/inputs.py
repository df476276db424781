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

import hashlib
import json
import re
from collections.abc import Iterator, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict, ValidationError

from summarizer.errors import ConfigError, InputError
from summarizer.sources import DEFAULT_MAX_BYTES, Source, source_from_bytes, source_from_text

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

    id: str | int
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


def discover(
    inputs: Sequence[str], *, pattern: str = "*.txt", exclude: Path | None = None
) -> Discovery:
    """Read every INPUT into items (in command-line order), ids unique across the run."""
    found = Discovery()
    seen: dict[str, str] = {}
    excluded = exclude.resolve() if exclude is not None else None
    for raw in inputs:
        path = Path(raw)
        if not path.exists():
            raise ConfigError(f"input not found: {raw}")
        for entry in _expand(path, pattern, excluded):
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


def _expand(path: Path, pattern: str, excluded: Path | None) -> Iterator[BatchItem | InputProblem]:
    if path.is_dir():
        for file in sorted(path.rglob(pattern)):
            relative = file.relative_to(path)
            if not file.is_file() or _hidden(relative) or _inside(file, excluded):
                continue
            yield from _from_file(file, key=relative.as_posix())
    else:
        yield from _from_file(path, key=path.name)


def _hidden(relative: Path) -> bool:
    return any(part.startswith(".") for part in relative.parts)


def _inside(file: Path, directory: Path | None) -> bool:
    return directory is not None and file.resolve().is_relative_to(directory)


def _from_file(path: Path, *, key: str) -> Iterator[BatchItem | InputProblem]:
    if path.suffix.lower() == ".jsonl":
        yield from _from_jsonl(path)
        return
    origin = str(path)
    try:
        with path.open("rb") as handle:
            data = handle.read(DEFAULT_MAX_BYTES + 1)
    except OSError as error:
        yield _failed(key, origin, f"cannot read: {error.strerror}", origin.encode())
        return
    try:
        source = source_from_bytes(data, path=origin)
    except InputError as error:
        yield _failed(key, origin, str(error), data)
        return
    yield BatchItem(id=item_id(key), origin=origin, input_sha256=source.sha256, source=source)


def _from_jsonl(path: Path) -> Iterator[BatchItem | InputProblem]:
    try:
        lines = path.read_text(encoding="utf-8-sig").splitlines()
    except (OSError, UnicodeDecodeError) as error:
        yield InputProblem(str(path), f"cannot read JSONL: {error}")
        return
    for number, line in enumerate(lines, start=1):
        if not line.strip():
            continue
        origin = f"{path}:{number}"
        try:
            article = JsonlArticle.model_validate(json.loads(line))
        except json.JSONDecodeError as error:
            yield InputProblem(origin, f"not JSON ({error.msg} at column {error.colno})")
            continue
        except ValidationError as error:
            yield InputProblem(origin, _describe(error))
            continue
        key = str(article.id)
        if not key.strip():
            yield InputProblem(origin, "empty id")
            continue
        label = f"{path}#{key}"
        try:
            source = source_from_text(article.text, path=label)
        except InputError as error:
            yield _failed(key, origin, str(error), article.text.encode(), article.metadata)
            continue
        yield BatchItem(
            id=item_id(key),
            origin=origin,
            input_sha256=source.sha256,
            source=source,
            metadata=article.full_metadata(),
        )


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
