"""The embedding seam: one protocol, `Embedder.embed(texts) -> vectors`, and the offline one.

Story mode aligns claims across articles by sentence similarity; this module turns text into
unit-length vectors for that, and `cosine` / `similarity_matrix` compare them. Similarity only
proposes candidates: embeddings do not see negation ("Putin refused to sign" scores like a
paraphrase of "Putin signed"), so what two claims have to do with each other is decided elsewhere.

`LocalEmbedder` runs all-MiniLM-L6-v2, converted to GGUF (`catalogue.resolve_embedding_model`),
in llama-cpp-python, as sentence-transformers runs it: mean pooling over the word pieces, then L2
normalisation. Why it is built the way it is:

* One text per decode. llama.cpp can pack several sequences into one batch, but the vectors then
  shift in the fifth decimal with their batch-mates; alone, a text's vector is a function of the
  text, the same in any call, order or process (which a cache keyed on the text relies on). Packing
  was no faster on the seed sentences (68-72 sentences/s either way on 2 cores,
  docs/benchmarks.md).
* `n_ctx = n_batch = n_ubatch = MAX_TOKENS` (128, the length the model was trained at): a BERT
  sequence must fit in one micro-batch. Longer texts keep their longest word-aligned prefix that
  fits, [CLS] and [SEP] included, as sentence-transformers truncates (it cuts mid-word, we at the
  last whole word).
* `llama_cpp` is imported on first use, never at import time, and one lock guards the model: a
  `Llama` holds one context and is not thread-safe.
"""

from __future__ import annotations

import math
import os
import threading
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol, runtime_checkable

from pydantic import BaseModel, ConfigDict

from summarizer.errors import BackendUnavailable

if TYPE_CHECKING:
    from summarizer.llm.catalogue import ResolvedEmbeddingModel

# A unit-length vector; a tuple so a cached one cannot be changed in place.
Vector = tuple[float, ...]

MAX_TOKENS = 128
# As for the chat models: more threads buy nothing on a model this small.
MAX_DEFAULT_THREADS = 4


class EmbedderIdentity(BaseModel):
    """What produced a vector, for cache keys: `model` is `name@sha256-prefix`."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    model: str
    dimensions: int
    max_tokens: int


@runtime_checkable
class Embedder(Protocol):
    @property
    def identity(self) -> EmbedderIdentity: ...

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        """One unit-length vector per text, in order; equal texts get equal vectors."""
        ...


class LocalEmbedder:
    """A GGUF BERT embedding model in this process."""

    def __init__(
        self, *, model_path: Path, model_name: str, dimensions: int, threads: int | None = None
    ) -> None:
        self._model_path = model_path
        self._identity = EmbedderIdentity(
            model=model_name, dimensions=dimensions, max_tokens=MAX_TOKENS
        )
        self._threads = threads or min(os.cpu_count() or 1, MAX_DEFAULT_THREADS)
        self._lock = threading.Lock()
        self._llama: Any = None

    @classmethod
    def from_resolved(
        cls, resolved: ResolvedEmbeddingModel, *, threads: int | None = None
    ) -> LocalEmbedder:
        return cls(
            model_path=resolved.path,
            model_name=resolved.model_id,
            dimensions=resolved.dimensions,
            threads=threads,
        )

    @property
    def identity(self) -> EmbedderIdentity:
        return self._identity

    @property
    def threads(self) -> int:
        return self._threads

    def load(self) -> None:
        """Load the model now rather than on the first call (idempotent)."""
        with self._lock:
            self._ensure_loaded()

    def close(self) -> None:
        with self._lock:
            if self._llama is not None:
                self._llama.close()
            self._llama = None

    def count_tokens(self, text: str) -> int:
        """Word pieces in `text`, [CLS] and [SEP] included."""
        with self._lock:
            return len(self._tokens(text))

    def tokenize(self, text: str) -> list[int]:
        """The model's token ids for `text`, [CLS] first and [SEP] last (before truncation)."""
        with self._lock:
            return self._tokens(text)

    def embed(self, texts: Sequence[str]) -> list[Vector]:
        if isinstance(texts, str):
            # A str is a Sequence[str] of characters; embedding each letter is never meant.
            raise TypeError("embed() takes a sequence of texts, not one str")
        with self._lock:
            self._ensure_loaded()
            return [self._embed_one(text) for text in texts]

    def _embed_one(self, text: str) -> Vector:
        fitted = self._fitted(text)
        raw = self._llama.embed(fitted, normalize=False, truncate=False)
        return _normalised(raw)

    def _fitted(self, text: str) -> str:
        """`text`, or its longest word-aligned prefix of at most MAX_TOKENS tokens."""
        if self._fits(text):
            return text
        words = text.split()
        count = _longest_prefix(len(words), lambda n: self._fits(" ".join(words[:n])))
        if count:
            return " ".join(words[:count])
        # One "word" longer than the window (a URL, a run of CJK characters): cut it.
        first = words[0]
        return first[: _longest_prefix(len(first), lambda n: self._fits(first[:n]))]

    def _fits(self, text: str) -> bool:
        return len(self._tokens(text)) <= MAX_TOKENS

    def _tokens(self, text: str) -> list[int]:
        self._ensure_loaded()
        tokens: list[int] = self._llama.tokenize(text.encode("utf-8"), add_bos=True)
        return tokens

    def _ensure_loaded(self) -> None:
        if self._llama is not None:
            return
        if not self._model_path.is_file():
            raise BackendUnavailable(f"embedding model file {self._model_path} does not exist")
        try:
            import llama_cpp
        except ImportError:
            raise BackendUnavailable(
                "the local embedder needs llama-cpp-python: pip install 'summarizer[local]'"
            ) from None
        try:
            llama = llama_cpp.Llama(
                model_path=str(self._model_path),
                embedding=True,
                pooling_type=llama_cpp.LLAMA_POOLING_TYPE_MEAN,
                n_ctx=MAX_TOKENS,
                n_batch=MAX_TOKENS,
                n_ubatch=MAX_TOKENS,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise BackendUnavailable(
                f"cannot load {self._model_path} as a GGUF embedding model ({error})"
            ) from None
        if llama.n_embd() != self._identity.dimensions:
            llama.close()
            raise BackendUnavailable(
                f"{self._model_path} gives {llama.n_embd()}-dimensional vectors, expected "
                f"{self._identity.dimensions}"
            )
        self._llama = llama


def local_embedder(
    models_dir: Path, name: str | None = None, *, threads: int | None = None
) -> LocalEmbedder:
    """The catalogued embedder (all-MiniLM-L6-v2 by default), converted into `models_dir` on
    first use and verified; loaded on its first call."""
    from summarizer.llm.catalogue import (
        DEFAULT_EMBEDDING_MODEL,
        embedding_entry,
        resolve_embedding_model,
    )

    entry = embedding_entry(name or DEFAULT_EMBEDDING_MODEL)
    return LocalEmbedder.from_resolved(resolve_embedding_model(entry, models_dir), threads=threads)


def _longest_prefix(count: int, fits: Callable[[int], bool]) -> int:
    """The largest n <= count with fits(n), by binary search (fits(0) is taken as true)."""
    low, high = 0, count
    while low < high:
        middle = (low + high + 1) // 2
        if fits(middle):
            low = middle
        else:
            high = middle - 1
    return low


def _normalised(vector: Sequence[float]) -> Vector:
    norm = math.sqrt(math.fsum(x * x for x in vector))
    if norm == 0.0:
        raise BackendUnavailable("the embedding model returned a zero vector")
    return tuple(x / norm for x in vector)


# --- comparing vectors ---------------------------------------------------------------------


def cosine(a: Sequence[float], b: Sequence[float]) -> float:
    """Cosine similarity of two vectors of any length (1.0 for the same direction)."""
    if len(a) != len(b):
        raise ValueError(f"vectors of {len(a)} and {len(b)} dimensions cannot be compared")
    norms = math.sqrt(math.fsum(x * x for x in a)) * math.sqrt(math.fsum(y * y for y in b))
    if norms == 0.0:
        raise ValueError("the cosine of a zero vector is undefined")
    return math.fsum(x * y for x, y in zip(a, b, strict=True)) / norms


def similarity_matrix(rows: Sequence[Vector], columns: Sequence[Vector]) -> list[list[float]]:
    """Cosine of every row vector with every column vector: `result[i][j]` is rows[i] . columns[j].

    Uses numpy (installed with llama-cpp-python), since a story of 50 articles compares thousands
    of claims and pure Python would take minutes. Assumes unit vectors, as `embed` returns.
    """
    if not rows or not columns:
        return [[] for _ in rows]
    import numpy as np

    left = np.asarray(rows, dtype=np.float64)
    right = np.asarray(columns, dtype=np.float64)
    if left.shape[1] != right.shape[1]:
        raise ValueError(
            f"vectors of {left.shape[1]} and {right.shape[1]} dimensions cannot be compared"
        )
    result: list[list[float]] = (left @ right.T).tolist()
    return result


__all__ = [
    "MAX_TOKENS",
    "Embedder",
    "EmbedderIdentity",
    "LocalEmbedder",
    "Vector",
    "cosine",
    "local_embedder",
    "similarity_matrix",
]
