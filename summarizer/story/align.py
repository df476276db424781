"""Align statements across articles: which sentences of the other articles state a claim.

Each article brings its claims (from its own single-article run) and its sentences (with exact
spans). A claim is compared with every sentence of every other article by two signals:

* **meaning**: cosine similarity of sentence embeddings (the offline MiniLM embedder, or any
  `Embedder`), which sees paraphrase ("landmark document" ~ "breakthrough document");
* **words**: the share of the claim's content words (stemmed, numbers normalised) that the
  sentence contains, which keeps names and figures honest.

A sentence matches when the combined score passes `MATCH_THRESHOLD`. Similarity only proposes:
it cannot see negation ("refused to sign" scores like "signed"), so whether two matched
statements agree, differ in wording or contradict is decided afterwards (`relations.py`).

Story claims are grown greedily, the claim that the most articles state first, so a fact every
outlet reports becomes one story claim supported by all of them instead of five one-article
claims. A claim whose own evidence an earlier story claim already covers adds nothing and is
skipped; a sentence may still support several story claims (one sentence can state two facts).
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from summarizer.chunking import Sentence
from summarizer.llm.embedder import Embedder
from summarizer.schemas import Claim
from summarizer.text import content_tokens

# Weights and threshold of the combined score, chosen on the seed story (docs/story.md).
MEANING_WEIGHT = 0.7
WORDS_WEIGHT = 0.3
MATCH_THRESHOLD = 0.6
# How much closer another sentence of the seed's article may be to a candidate than the seed's
# own evidence is, for the candidate still to match (see `reciprocal`).
RECIPROCAL_SLACK = 0.1
# A denying sentence words things its own way ("denied claims of weapons transfers" against
# "accused of supplying ammunition"), so it needs less to count as about the same thing.
DENIAL_THRESHOLD = 0.4
DENIAL_PATTERN = re.compile(
    r"\b(?:den(?:y|ies|ied|ial|ials)|refut\w*|rebuff\w*|"
    r"(?:reject|dismiss)(?:s|ed|ing)?\s+(?:the\s+|these\s+|such\s+)?"
    r"(?:claims?|accusations?|allegations?|reports?))\b",
    re.IGNORECASE,
)


@dataclass(frozen=True)
class Article:
    """One article as alignment sees it."""

    id: str
    text: str
    sentences: tuple[Sentence, ...]
    claims: tuple[Claim, ...]


@dataclass(frozen=True)
class Site:
    """Where a statement sits: one sentence (or a claim's evidence) of one article."""

    article: str
    start: int
    end: int
    claim: Claim | None
    score: float

    def overlaps(self, other: Site) -> bool:
        return self.article == other.article and self.start < other.end and other.start < self.end


@dataclass
class Group:
    """A candidate story claim: the seed claim and, per other article, its best match, and
    per article the sentence that best matches it while denying something (`relations.py`
    decides whether that is the other side of a disagreement)."""

    seed: Claim
    seed_article: str
    sites: dict[str, Site] = field(default_factory=dict)
    denials: dict[str, Site] = field(default_factory=dict)

    @property
    def articles(self) -> list[str]:
        return list(self.sites)


def word_share(claim: str, sentence: str) -> float:
    """The share of the claim's content words that the sentence contains (0-1)."""
    wanted = _words(claim)
    return len(wanted & _words(sentence)) / len(wanted) if wanted else 0.0


def _words(text: str) -> frozenset[str]:
    return frozenset(t.norm for t in content_tokens(text))


def align(articles: Sequence[Article], embedder: Embedder) -> list[Group]:
    """Candidate story claims, the most widely stated first; see the module docstring.

    Scores are matrices (numpy): every claim against every sentence, and every sentence against
    every sentence for the second pass, so a 50-article story is a few matrix products rather
    than millions of Python-level comparisons.
    """
    import numpy as np

    sentences = [(a.id, s) for a in articles for s in a.sentences]
    claims = [(a.id, c) for a in articles for c in a.claims]
    if not claims or not sentences:
        return []
    vectors = np.asarray(
        embedder.embed([s.text for _, s in sentences] + [c.text for _, c in claims]),
        dtype=np.float64,
    )
    sentence_vectors, claim_vectors = vectors[: len(sentences)], vectors[len(sentences) :]
    sentence_bags, claim_bags = _bags(
        [_words(s.text) for _, s in sentences], [_words(c.text) for _, c in claims]
    )
    alike = sentence_vectors @ sentence_vectors.T
    claim_scores = _combined(claim_vectors @ sentence_vectors.T, claim_bags, sentence_bags)
    # Sentence x sentence, for the second pass: an article that words the claim its own way
    # is often closer to another article's wording of it than to the claim itself.
    sentence_scores = _combined(alike, sentence_bags, sentence_bags)
    spans: dict[str, tuple[int, int]] = {}
    for index, (owner, _) in enumerate(sentences):
        first, _ = spans.get(owner, (index, index))
        spans[owner] = (first, index + 1)  # an article's sentences are contiguous
    # The closest any sentence of each article comes to each sentence (for `reciprocal`).
    closest = {a.id: alike[:, slice(*spans[a.id])].max(axis=1) for a in articles if a.sentences}
    denying = np.array([DENIAL_PATTERN.search(s.text) is not None for _, s in sentences])
    start_of = {(owner, s.start): i for i, (owner, s) in enumerate(sentences)}

    groups: list[Group] = []
    for row, (article_id, claim) in enumerate(claims):
        first, last = spans.get(article_id, (0, 0))
        seed_columns = [
            i for i in range(first, last) if claim.span[0] <= sentences[i][1].start < claim.span[1]
        ]
        # The candidate's own closest sentence in the seed's article must be the seed's
        # evidence (or nearly as close): a lead sentence that resembles everything matches
        # nothing in particular.
        reciprocal = (
            alike[:, seed_columns].max(axis=1) >= closest[article_id] - RECIPROCAL_SLACK
            if seed_columns
            else np.ones(len(sentences), dtype=bool)
        )
        group = Group(seed=claim, seed_article=article_id)
        group.sites[article_id] = Site(article_id, claim.span[0], claim.span[1], claim, 1.0)
        values = claim_scores[row]
        for second_pass in (False, True):
            if second_pass:
                matched = [start_of[(a, site.start)] for a, site in group.sites.items()
                           if a != article_id and (a, site.start) in start_of]  # fmt: skip
                if matched:
                    values = np.maximum(values, sentence_scores[matched].max(axis=0))
            for other in articles:
                if other.id == article_id or other.id not in spans:
                    continue
                lo, hi = spans[other.id]
                scores = values[lo:hi]
                matches = (scores >= MATCH_THRESHOLD) & reciprocal[lo:hi]
                if matches.any() and other.id not in group.sites:
                    best = int(np.argmax(np.where(matches, scores, -np.inf)))
                    group.sites[other.id] = _site(other, sentences[lo + best][1], scores[best])
                denials = denying[lo:hi] & (scores >= DENIAL_THRESHOLD)
                if denials.any():
                    best = int(np.argmax(np.where(denials, scores, -np.inf)))
                    known = group.denials.get(other.id)
                    if known is None or scores[best] > known.score:
                        group.denials[other.id] = _site(
                            other, sentences[lo + best][1], scores[best]
                        )
        groups.append(group)

    order = {a.id: n for n, a in enumerate(articles)}
    groups.sort(
        key=lambda g: (
            -len(g.sites),
            -sum(s.score for s in g.sites.values()),
            order[g.seed_article],
            g.seed.span[0],
        )
    )
    chosen: list[Group] = []
    for group in groups:
        seed_site = group.sites[group.seed_article]
        if any(seed_site.overlaps(site) for kept in chosen for site in kept.sites.values()):
            continue  # an earlier, wider story claim already states this
        chosen.append(group)
    return chosen


def _site(article: Article, sentence: Sentence, score: float) -> Site:
    own = _claim_covering(article, sentence)
    return Site(article.id, sentence.start, sentence.end, own, score=round(float(score), 3))


def _bags(*word_sets: Sequence[frozenset[str]]) -> list[Any]:
    """Each list of word sets as a 0/1 matrix over one shared vocabulary."""
    import numpy as np

    vocabulary: dict[str, int] = {}
    for sets in word_sets:
        for words in sets:
            for word in words:
                vocabulary.setdefault(word, len(vocabulary))
    matrices = []
    for sets in word_sets:
        matrix = np.zeros((len(sets), max(1, len(vocabulary))), dtype=np.float32)
        for row, words in enumerate(sets):
            matrix[row, [vocabulary[w] for w in words]] = 1.0
        matrices.append(matrix)
    return matrices


def _combined(meaning: Any, probe_bags: Any, sentence_bags: Any) -> Any:
    """MEANING_WEIGHT x cosine + WORDS_WEIGHT x the share of each probe's words in each
    sentence (the matrix form of `word_share`)."""
    import numpy as np

    shared = (probe_bags @ sentence_bags.T).astype(np.float64)
    sizes = probe_bags.sum(axis=1, dtype=np.float64)[:, None]
    share = np.divide(shared, sizes, out=np.zeros_like(shared), where=sizes > 0)
    return MEANING_WEIGHT * meaning + WORDS_WEIGHT * share


def _claim_covering(article: Article, sentence: Sentence) -> Claim | None:
    """The article's own claim whose evidence contains this sentence, if its run made one."""
    for claim in article.claims:
        if claim.span[0] <= sentence.start and sentence.end <= claim.span[1]:
            return claim
    return None
