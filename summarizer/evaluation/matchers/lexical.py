"""The default matcher: weighted recall of the fact's content words in the best-matching window.

What makes it better than plain word overlap (each measured in docs/evaluation.md):

* words are compared as stems after undoing corpus typography ("nigeria 's", "U.S.", "1,000",
  "five"), and stopwords do not count;
* the fact is looked for in one sentence, or two adjacent ones, of the summary, never in the
  whole summary as a bag, so words scattered across unrelated sentences do not add up;
* names weigh more than other words, and every number written in digits in the fact must
  occur: a summary with the wrong number does not state the fact;
* near-misses of one word ("evacuate"/"evacuation", a misspelt name) earn partial credit;
* `must_include` terms (with their aliases) are hard requirements, and an alias of any phrase
  in the fact ("DPRK" for "North Korea") counts as that phrase;
* "425/many"-style alternatives in a fact are satisfied by either word.
"""

from __future__ import annotations

import functools
import itertools
from collections.abc import Sequence
from dataclasses import dataclass

from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers.base import MatcherInfo, MatchResult
from summarizer.text import Token, content_tokens, split_sentences, tokens

# Chosen on the REALSumm dev half; see evals/calibrate.py and docs/evaluation.md.
DEFAULT_THRESHOLD = 0.61
NUMBER_WEIGHT = 2.0
NAME_WEIGHT = 1.5
NEAR_MISS_CREDIT = 0.8
# A two-sentence window must earn its extra words: without this it would win on noise.
PAIR_WINDOW_FACTOR = 0.95
_MIN_SHARED_PREFIX = 5


@dataclass(frozen=True)
class _Slot:
    """One word of the fact, or a set of alternatives ("425/many")."""

    norms: frozenset[str]
    weight: float
    digits: bool = False


@dataclass(frozen=True)
class _Window:
    text: str
    norms: frozenset[str]
    factor: float


class LexicalMatcher:
    def __init__(self, *, threshold: float = DEFAULT_THRESHOLD, pair_windows: bool = True) -> None:
        self.threshold = threshold
        self.pair_windows = pair_windows
        self._windows: dict[str, list[_Window]] = {}

    @property
    def info(self) -> MatcherInfo:
        return MatcherInfo(name="lexical", version="1", threshold=self.threshold)

    def matches(self, fact: Fact, summary_text: str) -> MatchResult:
        slots = _slots(fact.text)
        best = MatchResult(score=0.0, present=False)
        best_must = 0.0
        for window in self._windows_of(summary_text):
            recall = _recall(slots, fact, window)
            must = _must_fraction(fact, window) * _numbers_fraction(slots, window)
            score = recall * must * window.factor
            if score > best.score:
                best, best_must = MatchResult(score, False, window.text), must
        present = best.score >= self.threshold and best_must == 1.0
        return MatchResult(score=round(best.score, 6), present=present, evidence=best.evidence)

    def match_many(self, pairs: Sequence[tuple[Fact, str]]) -> list[MatchResult]:
        return [self.matches(fact, text) for fact, text in pairs]

    def _windows_of(self, summary_text: str) -> list[_Window]:
        # Each summary is matched against many facts: split and stem it once.
        cached = self._windows.get(summary_text)
        if cached is None:
            sentences = split_sentences(summary_text)
            cached = [_Window(s, _norms(s), 1.0) for s in sentences]
            if self.pair_windows:
                cached += [
                    _Window(f"{a} {b}", _norms(a) | _norms(b), PAIR_WINDOW_FACTOR)
                    for a, b in itertools.pairwise(sentences)
                ]
            if len(self._windows) > 10_000:
                self._windows.clear()
            self._windows[summary_text] = cached
        return cached


def _norms(text: str) -> frozenset[str]:
    return frozenset(t.norm for t in tokens(text))


def _slots(text: str) -> list[_Slot]:
    groups: list[list[Token]] = []
    for token in tokens(text):
        if token.after_slash and groups:
            groups[-1].append(token)
        else:
            groups.append([token])
    return [
        _Slot(
            frozenset(t.norm for t in group),
            _weight(group),
            digits=all(t.is_number and t.surface[:1].isdigit() for t in group),
        )
        for group in groups
        if not all(t.is_stopword for t in group)
    ]


def _weight(group: list[Token]) -> float:
    if any(t.is_number for t in group):
        return NUMBER_WEIGHT
    if any(t.is_capitalised and not t.is_stopword for t in group):
        return NAME_WEIGHT
    return 1.0


@functools.lru_cache(maxsize=65_536)
def _word_credit(norm: str, window: frozenset[str]) -> float:
    if norm in window:
        return 1.0
    if norm.isdigit() or len(norm) < 4:
        return 0.0
    for other in window:
        shared = _shared_prefix(norm, other)
        # Same long prefix ("evacuat"/"evacu"), or one word a long prefix of the other.
        if shared >= _MIN_SHARED_PREFIX or (shared >= 4 and shared == min(len(norm), len(other))):
            return NEAR_MISS_CREDIT
    return 0.0


def _shared_prefix(a: str, b: str) -> int:
    n = 0
    for x, y in zip(a, b, strict=False):
        if x != y:
            break
        n += 1
    return n


@functools.lru_cache(maxsize=4096)
def _phrase_norms(phrase: str) -> tuple[str, ...]:
    return tuple(t.norm for t in (content_tokens(phrase) or tokens(phrase)))


def _phrase_present(phrase: str, window: frozenset[str]) -> bool:
    words = _phrase_norms(phrase)
    return bool(words) and all(_word_credit(norm, window) > 0 for norm in words)


def _recall(slots: list[_Slot], fact: Fact, window: _Window) -> float:
    if not slots:
        return 0.0
    credited: set[str] = set()
    for phrase, forms in fact.aliases.items():
        if any(_phrase_present(form, window.norms) for form in forms):
            credited |= set(_phrase_norms(phrase))
    total = sum(s.weight for s in slots)
    earned = 0.0
    for slot in slots:
        if slot.norms & credited:
            earned += slot.weight
        else:
            earned += slot.weight * max(_word_credit(n, window.norms) for n in slot.norms)
    return earned / total


def _numbers_fraction(slots: list[_Slot], window: _Window) -> float:
    """Share of the fact's digit-written numbers ("24", "1,000") present in the window."""
    numbers = [s for s in slots if s.digits]
    if not numbers:
        return 1.0
    return sum(bool(s.norms & window.norms) for s in numbers) / len(numbers)


def _must_fraction(fact: Fact, window: _Window) -> float:
    if not fact.must_include:
        return 1.0
    found = sum(
        any(_phrase_present(form, window.norms) for form in fact.forms_of(term))
        for term in fact.must_include
    )
    return found / len(fact.must_include)


def must_include_satisfied(fact: Fact, text: str) -> bool:
    """Whether every `must_include` term (or an alias of it) occurs somewhere in `text`."""
    window = _Window(text, _norms(text), 1.0)
    return _must_fraction(fact, window) == 1.0
