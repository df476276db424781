"""The baseline: share of the fact's words that occur anywhere in the summary.

Deliberately plain (lowercased words, no stemming, no stopword list, whole summary as one bag)
so that it measures what "word overlap" means in the issue; every other matcher must beat it.
"""

from __future__ import annotations

import re
from collections.abc import Sequence

from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers.base import MatcherInfo, MatchResult

_WORD = re.compile(r"\w+")

# Best balanced accuracy on the REALSumm dev half (evals/calibrate.py).
DEFAULT_THRESHOLD = 0.57


def _words(text: str) -> set[str]:
    return set(_WORD.findall(text.lower()))


class OverlapMatcher:
    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD) -> None:
        self.threshold = threshold

    @property
    def info(self) -> MatcherInfo:
        return MatcherInfo(name="overlap", version="1", threshold=self.threshold)

    def matches(self, fact: Fact, summary_text: str) -> MatchResult:
        wanted = _words(fact.text)
        if not wanted:
            return MatchResult(score=0.0, present=False)
        score = len(wanted & _words(summary_text)) / len(wanted)
        return MatchResult(score=score, present=score >= self.threshold)

    def match_many(self, pairs: Sequence[tuple[Fact, str]]) -> list[MatchResult]:
        return [self.matches(fact, text) for fact, text in pairs]
