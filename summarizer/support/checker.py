"""The offline checker: signals weighed into a 0-1 score and a verdict, with no model call.

The weights are a logistic regression fitted on human labels (SummEdits news,
`evals/calibrate_support.py --fit`, which prints them), its intercept moved to equal class
priors, so a score of 0.5 is the balanced decision boundary and `verdict` is `supported` from
there up. Each weight points the way its signal does (a signal fitted the other way is left out).
Features are used as the signals give them (each 0-1), so the weights read directly: how much
a missing number or a flipped negation costs against a claim.

A claim whose text is its evidence (the extractive tier quotes sentences) is supported by
construction; it is marked `method="verbatim"` instead of being scored as if it were checked.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

from summarizer.llm.embedder import Embedder
from summarizer.schemas import Support, SupportVerdict
from summarizer.support.signals import Signals, lexical_signals, with_similarity

THRESHOLD = 0.5
# The lowest coverage of any consistent SummEdits summary (evals/calibrate_support.py).
COVERAGE_FLOOR = 0.4

LEXICAL_FEATURES = ("coverage", "missing_numbers", "missing_entities", "negation_differs")
COMBINED_FEATURES = (*LEXICAL_FEATURES, "similarity")


@dataclass(frozen=True)
class Weights:
    bias: float
    coefficients: tuple[float, ...]
    features: tuple[str, ...]

    def score(self, signal: Signals) -> float:
        values = feature_vector(signal, self.features)
        z = self.bias + math.fsum(w * x for w, x in zip(self.coefficients, values, strict=True))
        fitted = 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))
        # The labelled summaries are small edits, all sharing most words with their evidence
        # (no consistent one below COVERAGE_FLOOR), so the fit cannot learn what a claim with
        # hardly a word of its evidence is worth; below the floor the score falls to 0.
        return fitted * min(1.0, signal.coverage / COVERAGE_FLOOR)


def feature_vector(signal: Signals, features: Sequence[str]) -> list[float]:
    values = []
    for name in features:
        value = getattr(signal, name)
        if value is None:
            raise ValueError(f"signal {name} was not computed")
        values.append(float(value))
    return values


# Fitted on all 13 SummEdits news articles (`python evals/calibrate_support.py --fit`).
# (coverage is 0: fitted against its sign on these labels, see the script; the floor remains.)
LEXICAL_WEIGHTS = Weights(
    bias=0.4512, coefficients=(0.0, -4.6484, -1.5827, -0.5438), features=LEXICAL_FEATURES
)
# Similarity earns no weight on these labels (fitted against its sign: the consistent summaries
# are paraphrases, the inconsistent ones near-copies with one word changed), so for now
# "combined" scores as "lexical" does; refit when labels of model-written claims exist.
COMBINED_WEIGHTS = Weights(
    bias=0.4512, coefficients=(0.0, -4.6484, -1.5827, -0.5438, 0.0), features=COMBINED_FEATURES
)

VERBATIM = Support(verdict=SupportVerdict.SUPPORTED, score=1.0, method="verbatim")


def is_verbatim(claim: str, evidence: str) -> bool:
    return " ".join(claim.split()) == " ".join(evidence.split())


def support_from_score(score: float, method: str) -> Support:
    verdict = SupportVerdict.SUPPORTED if score >= THRESHOLD else SupportVerdict.UNSUPPORTED
    return Support(verdict=verdict, score=round(score, 4), method=method)


def check_offline(
    pairs: Sequence[tuple[str, str]], embedder: Embedder | None = None
) -> list[Support]:
    """One `Support` per (claim, evidence) pair: "combined" with an embedder, else "lexical"."""
    found = [lexical_signals(claim, evidence) for claim, evidence in pairs]
    if embedder is None:
        return [support_from_score(LEXICAL_WEIGHTS.score(s), "lexical") for s in found]
    if not pairs:
        return []
    claims, evidence = zip(*pairs, strict=True)
    found = with_similarity(found, claims, evidence, embedder)
    return [support_from_score(COMBINED_WEIGHTS.score(s), "combined") for s in found]
