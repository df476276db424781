"""The call cache: diskcache on disk, one entry per model call, safe across processes.

The key is a SHA-256 over everything that changes an answer: backend, model, endpoint, the
rendered messages (and so the exact input text), the JSON schema, generation parameters, the
prompt template's hash, and `CACHE_FORMAT`. Credentials are never part of a key or a value.
Only validated outputs are stored, so an error is never cached.
"""

from __future__ import annotations

import hashlib
import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.errors import CacheError

if TYPE_CHECKING:
    from summarizer.llm import CompletionRequest

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


class CallCache:
    """A thin wrapper over `diskcache.Cache` with per-key single-flight inside a process."""

    def __init__(self, directory: Path) -> None:
        self.directory = directory
        self._cache: Any = None
        self._guard = threading.Lock()
        self._key_locks: dict[str, threading.Lock] = {}

    def _open(self) -> Any:
        if self._cache is None:
            import diskcache

            try:
                self.directory.mkdir(parents=True, exist_ok=True)
                self._cache = diskcache.Cache(str(self.directory))
            except OSError as error:
                raise CacheError(f"cannot use cache directory {self.directory}: {error}") from None
        return self._cache

    def get(self, key: str) -> dict[str, Any] | None:
        value = self._open().get(key)
        return value if isinstance(value, dict) else None

    def set(self, key: str, value: dict[str, Any]) -> None:
        self._open().set(key, value)

    @contextmanager
    def single_flight(self, key: str) -> Iterator[None]:
        """Hold while computing `key`, so concurrent identical calls make one model call."""
        with self._guard:
            lock = self._key_locks.setdefault(key, threading.Lock())
        with lock:
            yield

    def stats(self) -> dict[str, Any]:
        cache = self._open()
        return {"path": str(self.directory), "entries": len(cache), "bytes": cache.volume()}

    def clear(self) -> int:
        return int(self._open().clear())

    def close(self) -> None:
        if self._cache is not None:
            self._cache.close()
            self._cache = None
