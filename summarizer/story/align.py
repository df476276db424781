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

from summarizer.chunking import Sentence
from summarizer.llm.embedder import Embedder, similarity_matrix
from summarizer.schemas import Claim
from summarizer.text import content_tokens

# Weights and threshold of the combined score, chosen on the seed story (docs/story.md).
MEANING_WEIGHT = 0.7
WORDS_WEIGHT = 0.3
MATCH_THRESHOLD = 0.55
# How much closer another sentence of the seed's article may be to a candidate than the seed's
# own evidence is, for the candidate still to match (see `reciprocal`).
RECIPROCAL_SLACK = 0.05
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
    """Candidate story claims, the most widely stated first; see the module docstring."""
    sentences = [(a.id, s) for a in articles for s in a.sentences]
    claims = [(a.id, c) for a in articles for c in a.claims]
    if not claims:
        return []
    vectors = embedder.embed([s.text for _, s in sentences] + [c.text for _, c in claims])
    # One matrix product for every claim against every sentence (thousands of each at 50 articles).
    meaning = similarity_matrix(vectors[len(sentences) :], vectors[: len(sentences)])
    columns = {
        a.id: [i for i, (owner, _) in enumerate(sentences) if owner == a.id] for a in articles
    }
    sentence_words = [_words(s.text) for _, s in sentences]
    denying = {i for i, (_, s) in enumerate(sentences) if DENIAL_PATTERN.search(s.text)}

    # Sentence x sentence, for the second pass: an article that words the claim its own way
    # is often closer to another article's wording of it than to the claim itself.
    alike = similarity_matrix(vectors[: len(sentences)], vectors[: len(sentences)])
    column_of = {(owner, s.start): i for i, (owner, s) in enumerate(sentences)}

    def score(meaning_row: Sequence[float], words: frozenset[str], column: int) -> float:
        shared = len(words & sentence_words[column]) / len(words) if words else 0.0
        return MEANING_WEIGHT * meaning_row[column] + WORDS_WEIGHT * shared

    def reciprocal(column: int, seed_columns: Sequence[int], article_id: str) -> bool:
        """The candidate's own closest sentence in the seed's article is the seed's evidence
        (or nearly as close): a lead sentence that resembles everything matches nothing."""
        if not seed_columns:
            return True
        closest = max(alike[column][x] for x in columns[article_id])
        return max(alike[column][x] for x in seed_columns) >= closest - RECIPROCAL_SLACK

    groups: list[Group] = []
    for row, (article_id, claim) in enumerate(claims):
        seed_columns = [
            i for i in columns[article_id] if claim.span[0] <= sentences[i][1].start < claim.span[1]
        ]
        group = Group(seed=claim, seed_article=article_id)
        group.sites[article_id] = Site(article_id, claim.span[0], claim.span[1], claim, 1.0)
        probes = [(meaning[row], _words(claim.text))]
        for second_pass in (False, True):
            if second_pass:
                matched = [column_of[(a, site.start)] for a, site in group.sites.items()
                           if a != article_id and (a, site.start) in column_of]  # fmt: skip
                probes += [(alike[c], sentence_words[c]) for c in matched]
            for other in articles:
                if other.id == article_id:
                    continue
                best: tuple[int, float] | None = None
                denial: tuple[int, float] | None = None
                for column in columns[other.id]:
                    value = max(score(m, w, column) for m, w in probes)
                    better = best is None or value > best[1]
                    if (
                        value >= MATCH_THRESHOLD
                        and better
                        and reciprocal(column, seed_columns, article_id)
                    ):
                        best = (column, value)
                    denies = column in denying and value >= DENIAL_THRESHOLD
                    if denies and (denial is None or value > denial[1]):
                        denial = (column, value)
                if denial is not None and (
                    other.id not in group.denials or denial[1] > group.denials[other.id].score
                ):
                    group.denials[other.id] = _site(other, sentences[denial[0]][1], denial[1])
                if best is not None and other.id not in group.sites:
                    group.sites[other.id] = _site(other, sentences[best[0]][1], best[1])
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
    return Site(article.id, sentence.start, sentence.end, own, score=round(score, 3))


def _claim_covering(article: Article, sentence: Sentence) -> Claim | None:
    """The article's own claim whose evidence contains this sentence, if its run made one."""
    for claim in article.claims:
        if claim.span[0] <= sentence.start and sentence.end <= claim.span[1]:
            return claim
    return None
