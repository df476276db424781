"""A logistic combination of lexical signals, fitted to REALSumm's human verdicts (dev half).

Opt-in (`LearnedMatcher`), not the default: on held-out folds it agrees with people about 1
point of balanced accuracy better than `LexicalMatcher`, ranks systems slightly worse, and any
change of matcher invalidates stored baselines (docs/evaluation.md has the numbers).

Signals, each in [0, 1]: the lexical matcher's score; plain word overlap; stem recall in the
best window and in the whole summary; and, for each kind of fact word (digit numbers, names,
long words of 6+ letters, short words), its recall in the best window and in the whole summary
plus whether the fact has such a word at all. People forgive a missing common word more than a
missing name; the fitted weights say by how much.
"""

from __future__ import annotations

import itertools
import math
from collections.abc import Sequence

from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers.base import MatcherInfo, MatchResult
from summarizer.evaluation.matchers.lexical import (
    LexicalMatcher,
    _norms,
    _Slot,
    _slots,
    _word_credit,
    must_include_satisfied,
)
from summarizer.evaluation.matchers.overlap import _words
from summarizer.text import split_sentences

KINDS = ("number", "name", "long", "short")
FEATURE_NAMES = (
    "lexical",
    "overlap",
    "window_recall",
    "summary_recall",
    *(f"{part}_{kind}" for kind in KINDS for part in ("window", "summary", "has")),
)
# Fitted by `evals/calibrate.py --fit` on all of the REALSumm dev half (13,425 verdicts); the
# numbers in docs/evaluation.md come from coefficients refitted inside each training fold.
INTERCEPT = -3.5419
COEFFICIENTS: tuple[float, ...] = (
    2.6126, 1.8458, -0.1805, 1.2060,          # lexical, overlap, window, summary recall
    0.2432, 0.5359, 1.1670,                    # numbers: window, summary, has
    -0.4218, -0.1192, -0.7648,                 # names
    0.0034, 0.6040, 0.1316,                    # long words
    -0.2963, 0.3109, -0.1890,                  # short words
)  # fmt: skip
DEFAULT_THRESHOLD = 0.44
_LONG_WORD = 6


def _kind(slot: _Slot) -> str:
    if slot.digits:
        return "number"
    if slot.weight > 1.0:
        return "name"
    return "long" if max(len(n) for n in slot.norms) >= _LONG_WORD else "short"


def _credits(slots: Sequence[_Slot], window: frozenset[str]) -> list[float]:
    return [max(_word_credit(n, window) for n in slot.norms) for slot in slots]


def _mean(values: Sequence[float]) -> float:
    return sum(values) / len(values) if values else 1.0


def features(fact: Fact, summary_text: str, lexical_score: float, overlap: float) -> list[float]:
    """The signals the combiner weighs, in FEATURE_NAMES order."""
    slots = _slots(fact.text)
    sentences = [_norms(s) for s in split_sentences(summary_text)]
    windows = sentences + [a | b for a, b in itertools.pairwise(sentences)]
    per_window = [_credits(slots, w) for w in windows] or [[0.0] * len(slots)]
    best = max(per_window, key=sum)
    whole = _credits(slots, _norms(summary_text))
    kinds = [_kind(s) for s in slots]
    row = [lexical_score, overlap, _mean(best) if slots else 0.0, _mean(whole) if slots else 0.0]
    for kind in KINDS:
        picked = [i for i, k in enumerate(kinds) if k == kind]
        row += [
            _mean([best[i] for i in picked]),
            _mean([whole[i] for i in picked]),
            1.0 if picked else 0.0,
        ]
    return row


def _overlap(fact_text: str, summary_text: str) -> float:
    wanted = _words(fact_text)
    return len(wanted & _words(summary_text)) / len(wanted) if wanted else 0.0


class LearnedMatcher:
    def __init__(
        self,
        *,
        coefficients: Sequence[float] = COEFFICIENTS,
        intercept: float = INTERCEPT,
        threshold: float = DEFAULT_THRESHOLD,
    ) -> None:
        if len(coefficients) != len(FEATURE_NAMES):
            raise ValueError(f"{len(coefficients)} coefficients for {len(FEATURE_NAMES)} features")
        self.coefficients = tuple(coefficients)
        self.intercept = intercept
        self.threshold = threshold
        self._lexical = LexicalMatcher()

    @property
    def info(self) -> MatcherInfo:
        return MatcherInfo(name="learned", version="1", threshold=self.threshold)

    def feature_rows(self, pairs: Sequence[tuple[Fact, str]]) -> list[list[float]]:
        lexical = self._lexical.match_many(pairs)
        return [
            features(fact, text, found.score, _overlap(fact.text, text))
            for (fact, text), found in zip(pairs, lexical, strict=True)
        ]

    def score_row(self, row: Sequence[float]) -> float:
        z = self.intercept + sum(w * x for w, x in zip(self.coefficients, row, strict=True))
        return 1.0 / (1.0 + math.exp(-max(min(z, 50.0), -50.0)))

    def matches(self, fact: Fact, summary_text: str) -> MatchResult:
        return self.match_many([(fact, summary_text)])[0]

    def match_many(self, pairs: Sequence[tuple[Fact, str]]) -> list[MatchResult]:
        lexical = self._lexical.match_many(pairs)
        results: list[MatchResult] = []
        for (fact, text), found in zip(pairs, lexical, strict=True):
            row = features(fact, text, found.score, _overlap(fact.text, text))
            score = round(self.score_row(row), 6)
            present = score >= self.threshold and must_include_satisfied(fact, text)
            results.append(MatchResult(score, present, found.evidence))
        return results
