"""What differs between a claim and the sentences it cites, as numbers a checker can weigh.

Each signal is one way a claim can say more than, or other than, its evidence:

* `coverage`: the share of the claim's content words (stemmed) found in the evidence; a
  paraphrase keeps most of them, an invented detail brings new ones.
* `missing_numbers`: the share of the claim's numbers ("35", "1,000", "three") the evidence
  does not contain; a changed figure is the commonest error a fluent summary makes.
* `missing_entities`: the share of the claim's names (capitalised words that are not
  stopwords, so "Xi" opening a claim counts and "The" does not) the evidence does not contain;
  a swapped person or place.
* `negation_differs`: 1 when exactly one side negates ("not", "never", "denied", "refused to"):
  embeddings and word overlap barely see an inserted "not".
* `similarity`: cosine of the claim's and the best evidence sentence's embeddings, when an
  embedder is given (None otherwise); meaning without exact words, but blind to negation, so it
  is one signal among these, never the judge.

All of it is computed against the cited evidence only, not the whole article: a claim must be
supported by what it cites.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from summarizer.llm.embedder import Embedder, cosine
from summarizer.text import Token, content_tokens, split_sentences, tokens

_NEGATION = re.compile(
    r"\b(?:not|no|never|none|nobody|nothing|neither|nor|without|cannot|"
    r"den(?:y|ies|ied|ying)|refus(?:e|es|ed|ing)|reject(?:s|ed|ing)?|"
    r"fail(?:s|ed|ing)?\s+to|declin(?:e|es|ed|ing)\s+to)\b|n't\b|n’t\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Signals:
    coverage: float
    missing_numbers: float
    missing_entities: float
    negation_differs: float
    similarity: float | None = None


def lexical_signals(claim: str, evidence: str) -> Signals:
    """Every signal but `similarity`, from the words alone."""
    claim_words = content_tokens(claim)
    evidence_norms = {t.norm for t in tokens(evidence)}
    # Negation is compared with the one cited sentence that shares most words with the claim:
    # a "not" elsewhere in a three-sentence citation says nothing about this claim.
    closest = max(
        split_sentences(evidence) or [evidence],
        key=lambda s: _share_found(claim_words, {t.norm for t in tokens(s)}, default=0.0),
    )
    return Signals(
        coverage=_share_found(claim_words, evidence_norms, default=1.0),
        missing_numbers=1.0
        - _share_found([t for t in claim_words if t.is_number], evidence_norms, default=1.0),
        missing_entities=1.0 - _share_found(_names(claim), evidence_norms, default=1.0),
        negation_differs=float(_negates(claim) != _negates(closest)),
    )


def signals(claim: str, evidence: str, embedder: Embedder | None = None) -> Signals:
    """The lexical signals, plus `similarity` when an embedder is given."""
    found = lexical_signals(claim, evidence)
    if embedder is None:
        return found
    return _with_similarity(found, claim, evidence, embedder)


def with_similarity(
    found: Sequence[Signals], claims: Sequence[str], evidence: Sequence[str], embedder: Embedder
) -> list[Signals]:
    """`found` with `similarity` filled in, all texts embedded in one call."""
    pieces = [split_sentences(e) or [e] for e in evidence]
    vectors = embedder.embed([*claims, *(s for p in pieces for s in p)])
    claim_vectors, rest = vectors[: len(claims)], iter(vectors[len(claims) :])
    result = []
    for signal, claim_vector, sentences in zip(found, claim_vectors, pieces, strict=True):
        best = max(cosine(claim_vector, next(rest)) for _ in sentences)
        result.append(_replaced(signal, similarity=best))
    return result


def _with_similarity(found: Signals, claim: str, evidence: str, embedder: Embedder) -> Signals:
    return with_similarity([found], [claim], [evidence], embedder)[0]


def _replaced(signal: Signals, *, similarity: float) -> Signals:
    return Signals(
        coverage=signal.coverage,
        missing_numbers=signal.missing_numbers,
        missing_entities=signal.missing_entities,
        negation_differs=signal.negation_differs,
        similarity=similarity,
    )


def _share_found(wanted: Sequence[Token], found: set[str], *, default: float) -> float:
    if not wanted:
        return default
    return sum(t.norm in found for t in wanted) / len(wanted)


def _names(text: str) -> list[Token]:
    """Capitalised content words: names, mostly (a claim's first word is often its subject)."""
    return [t for t in tokens(text) if t.is_capitalised and not t.is_stopword]


def _negates(text: str) -> bool:
    return _NEGATION.search(text) is not None
