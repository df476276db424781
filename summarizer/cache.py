"""The call cache: diskcache on disk, one entry per model call, safe across processes.

The key is a SHA-256 over everything that changes an answer: backend, model, endpoint, the
rendered messages (and so the exact input text), the JSON schema, generation parameters, the
prompt template's hash, and `CACHE_FORMAT`. Credentials are never part of a key or a value.
Only validated outputs are stored, so an error is never cached.

Faults: a cache that cannot be opened or read (a directory that cannot be created or written, a
damaged database) raises CacheError, which names the directory and says what to do. A command
then stops before its first model call (the cache is read before each call): running on
uncached would bill every rerun while the user thinks the answers are kept. A failure to
*store* an answer (a full disk) does not fail the run that already paid for it: it is logged as
a warning, counted in `failed_writes`, and the result goes on to its output.
"""

from __future__ import annotations

import hashlib
import json
import logging
import sqlite3
import threading
from collections.abc import Iterator, Mapping, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.errors import CacheError

if TYPE_CHECKING:
    from summarizer.llm import CompletionRequest

log = logging.getLogger(__name__)

# What a damaged or unusable cache raises from diskcache: SQLite's errors, or the file system's.
_FAULTS = (sqlite3.Error, OSError)

# Bump when the stored value's shape or the meaning of a key changes.
CACHE_FORMAT = 1


def cache_key(
    *,
    backend: str,
    model: str,
    endpoint: str | None,
    request: CompletionRequest,
    prompt_sha256: str,
) -> str:
    material = {
        "format": CACHE_FORMAT,
        "backend": backend,
        "model": model,
        "endpoint": endpoint,
        "prompt_sha256": prompt_sha256,
        "request": request.model_dump(mode="json"),
    }
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


def document_key(
    *,
    identity: Mapping[str, Any],
    options: Mapping[str, Any],
    prompt_sha256: Sequence[str],
    text_sha256: str,
    source_warnings: Sequence[str],
) -> str:
    """The key of a whole document's result: everything its calls' keys are made from, taken
    before any tokenising (the text by its hash, the options that shape the calls, every
    template the mode may use), so a repeat run is answered without building an encoder."""
    material = {
        "format": CACHE_FORMAT,
        "kind": "document",
        "identity": dict(identity),
        "options": dict(options),
        "prompts": sorted(prompt_sha256),
        "text_sha256": text_sha256,
        "source_warnings": list(source_warnings),
    }
    encoded = json.dumps(material, sort_keys=True, ensure_ascii=False, separators=(",", ":"))
    return hashlib.sha256(encoded.encode("utf-8")).hexdigest()


class CallCache:
    """A thin wrapper over `diskcache.Cache` with per-key single-flight inside a process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: Any = None
        self._guard = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}
        # Answers that could not be stored (see the module docstring).
        self.failed_writes = 0

    def _open(self) -> Any:
        if self._cache is None:
            import diskcache

            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(str(self.directory))
            except _FAULTS as error:
                raise self._unusable(error) from None
        return self._cache

    def _unusable(self, error: BaseException) -> CacheError:
        reason = getattr(error, "strerror", None) or str(error)
        return CacheError(
            f"cannot use cache directory {self.directory}: {reason}; run with --no-cache, "
            "or move the directory away (or give --cache-dir)",
            directory=self.directory,
        )

    def get(self, key: str) -> dict[str, Any] | None:
        cache = self._open()
        try:
            value = cache.get(key)
        except _FAULTS as error:
            raise self._unusable(error) from None
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        cache = self._open()
        try:
            cache.set(key, value)
        except _FAULTS as error:
            # The answer is paid for and in hand; losing only its cache entry beats losing it.
            self.failed_writes += 1
            log.warning("could not store an answer in the cache %s: %s", self.directory, error)

    @contextmanager
    def single_flight(self, key: str) -> Iterator[None]:
        """Hold while computing `key`, so concurrent identical calls make one model call."""
        with self._guard:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def stats(self) -> dict[str, Any]:
        cache = self._open()
        try:
            return {"path": str(self.directory), "entries": len(cache), "bytes": cache.volume()}
        except _FAULTS as error:
            raise self._unusable(error) from None

    def clear(self) -> int:
        cache = self._open()
        try:
            return int(cache.clear())
        except _FAULTS as error:
            raise self._unusable(error) from None

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
