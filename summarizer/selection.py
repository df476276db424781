"""Which whole sentences say the most within a word budget: the extractive tier's content choice.

    select_sentences(sentences, words) -> the chosen sentences, in document order
    rank_rest(sentences, chosen, count) -> the next sentences that add most, by added value
    within_words(sentences, words) -> the leading sentences that fit (an abstractive summary)
    count_words(text)                 -> words as a reader counts them (no lone punctuation)

The value of a set of sentences is the sum, over the distinct content words it contains (stems,
stopwords left out), of each word's weight: how often the article repeats it (capped), damped by
how late it first appears; plus a position prior for each sentence, weighted by its length. A word
counts once however many chosen sentences repeat it, so redundancy earns nothing and the set
covers distinct facts; numbers and names are content words like any other. Sentences under
`MIN_SENTENCE_WORDS` ("Scroll down for video.", bylines) are never chosen.

Among the first `CANDIDATES` eligible sentences every subset that fits the budget is scored and
the best kept (news puts its facts early, and an exhaustive search over a dozen sentences, at
most 4,095 subsets, packs the budget better than greedy choice); a budget larger than those
sentences together is filled greedily from the whole article.

Why these signals and not others, on REALSumm's 50 dev articles at 65 words (docs/evaluation.md,
`summarizer eval --suite realsumm`): centrality under the sentence embedder and a penalty for
sentences opening with a pronoun both lowered fact recall, and the tiny model (SmolLM2) picks the
first sentences whatever it is shown, so neither the embedder nor a model is called here.
"""

from __future__ import annotations

import itertools
import re
from collections import Counter
from collections.abc import Sequence

from summarizer.chunking import Sentence
from summarizer.config import DEFAULT_SUMMARY_WORDS
from summarizer.text import content_tokens

__all__ = [
    "DEFAULT_SUMMARY_WORDS",
    "count_words",
    "rank_rest",
    "select_sentences",
    "within_words",
]

MIN_SENTENCE_WORDS = 8
CANDIDATES = 12
# Word weight: min(repeats, TF_CAP) / (1 + FIRST_SEEN_DECAY * sentence index of first use).
TF_CAP = 5
FIRST_SEEN_DECAY = 0.1
# Sentence prior: 1 / (1 + POSITION_DECAY * index), times its share of the budget.
POSITION_DECAY = 0.2
PRIOR_WEIGHT = 10.0

_WORD = re.compile(r"\S*[^\W_]\S*")


def count_words(text: str) -> int:
    """Whitespace-separated words with a letter or digit: "nepal ." is one word, as in prose."""
    return len(_WORD.findall(text))


class _Scorer:
    def __init__(self, sentences: Sequence[Sentence]) -> None:
        self.words = [count_words(s.text) for s in sentences]
        self.stems = [frozenset(t.norm for t in content_tokens(s.text)) for s in sentences]
        repeats: Counter[str] = Counter()
        first: dict[str, int] = {}
        for index, stems in enumerate(self.stems):
            for stem in stems:
                repeats[stem] += 1
                first.setdefault(stem, index)
        self.weight = {
            stem: min(TF_CAP, count) / (1 + FIRST_SEEN_DECAY * first[stem])
            for stem, count in repeats.items()
        }
        self.prior = [1 / (1 + POSITION_DECAY * i) for i in range(len(sentences))]

    def value(self, chosen: Sequence[int], budget: int) -> float:
        covered = frozenset().union(*(self.stems[i] for i in chosen))
        prior = sum(self.prior[i] * self.words[i] for i in chosen) / max(1, budget)
        return sum(self.weight[s] for s in covered) + PRIOR_WEIGHT * prior


def select_sentences(sentences: Sequence[Sentence], words: int) -> list[Sentence]:
    """The whole sentences, at most `words` words together, that carry most of the article."""
    scorer = _Scorer(sentences)
    eligible = [i for i, n in enumerate(scorer.words) if MIN_SENTENCE_WORDS <= n <= words]
    if not eligible:  # a note of short lines: any sentence that fits
        eligible = [i for i, n in enumerate(scorer.words) if 0 < n <= words]
    candidates = eligible[:CANDIDATES]
    if sum(scorer.words[i] for i in candidates) <= words:
        chosen = _greedy(scorer, eligible, words)  # a budget the first sentences cannot fill
    else:
        shortest = min(scorer.words[i] for i in candidates)
        chosen = _exhaustive(scorer, candidates, words, words // shortest)
    return [sentences[i] for i in sorted(chosen)]


def _exhaustive(scorer: _Scorer, candidates: list[int], budget: int, longest: int) -> list[int]:
    best: tuple[float, list[int]] = (-1.0, [])
    for size in range(1, longest + 1):
        for subset in itertools.combinations(candidates, size):
            if sum(scorer.words[i] for i in subset) > budget:
                continue
            value = scorer.value(subset, budget)
            if value > best[0]:
                best = (value, list(subset))
    return best[1]


def _greedy(scorer: _Scorer, eligible: list[int], budget: int) -> list[int]:
    chosen: list[int] = []
    used = 0
    while True:
        base = scorer.value(chosen, budget)
        gains = [
            (scorer.value([*chosen, i], budget) - base, -i)
            for i in eligible
            if i not in chosen and used + scorer.words[i] <= budget
        ]
        if not gains:
            return chosen
        _, negative = max(gains)
        chosen.append(-negative)
        used += scorer.words[-negative]


def rank_rest(
    sentences: Sequence[Sentence], chosen: Sequence[Sentence], count: int
) -> list[Sentence]:
    """Up to `count` further sentences, each the one that adds most to what is chosen so far:
    key points that tell the reader something the summary does not."""
    scorer = _Scorer(sentences)
    index = {s.id: i for i, s in enumerate(sentences)}
    picked = [index[s.id] for s in chosen]
    rest: list[int] = []
    budget = sum(scorer.words)
    for _ in range(count):
        base = scorer.value([*picked, *rest], budget)
        options = [
            (scorer.value([*picked, *rest, i], budget) - base, -i)
            for i, n in enumerate(scorer.words)
            if n >= MIN_SENTENCE_WORDS and i not in picked and i not in rest
        ]
        if not options or max(options)[0] <= 0:
            break
        rest.append(-max(options)[1])
    return [sentences[i] for i in rest]


def within_words(texts: Sequence[str], words: int) -> list[str]:
    """The sentences, in order, that fit in `words` together; one that does not fit is left out
    (never cut), and later, shorter ones may still fit."""
    kept: list[str] = []
    used = 0
    for text in texts:
        n = count_words(text)
        if used + n <= words:
            kept.append(text)
            used += n
    return kept
