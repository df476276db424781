"""Align statements across articles: which sentences of the other articles state a claim.

Each article brings its claims (from its own single-article run) and its sentences (with exact
spans). A claim is compared with every sentence of every other article by two signals:

* **meaning**: cosine similarity of sentence embeddings (the offline MiniLM embedder, or any
  `Embedder`), which sees paraphrase ("landmark document" ~ "breakthrough document");
* **words**: the share of the claim's content words (stemmed, numbers normalised) that the
  sentence contains, each word weighted by how rare it is among the story's sentences, which
  keeps names and figures honest without letting the names every outlet repeats carry a match.

A sentence matches when the combined score passes `MATCH_THRESHOLD`. Similarity only proposes:
it cannot see negation ("refused to sign" scores like "signed"), so whether two matched
statements agree, differ in wording or contradict is decided afterwards (`relations.py`).

**Clauses.** One outlet's sentence often states two facts another outlet states apart ("...in
Pyongyang, marking Putin's first visit in 24 years" against "...on his first visit to the Asian
country in 24 years, expressed..."). So each sentence is also cut into its clauses
(`clauses.py`), and each claim that copies its sentence's clauses yields *facets*: one clause
each, looked for in the other articles' clauses as well as their sentences. A claim of several
clauses is looked for in whole sentences only (as before clauses existed); a facet, or a claim
that is one clause, in both. Evidence stays the whole sentence either way.

Story claims are grown greedily, the claim that the most articles state first, so a fact every
outlet reports becomes one story claim supported by all of them instead of five one-article
claims. A claim whose own evidence an earlier story claim already covers adds nothing and is
skipped; a sentence may still support several story claims (one sentence can state two facts).
A facet becomes a story claim only where it reaches more articles than its whole claim and no
chosen claim already states it in every article it reaches.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from summarizer.chunking import Sentence
from summarizer.llm.embedder import Embedder
from summarizer.schemas import Claim, ClaimKind
from summarizer.story.clauses import clauses, content_size
from summarizer.text import content_tokens

# Weights and threshold of the combined score, chosen on the seed story (docs/story.md).
MEANING_WEIGHT = 0.7
WORDS_WEIGHT = 0.3
MATCH_THRESHOLD = 0.6
# A facet stands for a statement of its own only with this many content words ("Putin said the
# agreement" is a fragment, not a fact).
MIN_FACET_WORDS = 4
_QUOTE_MARK = re.compile(r"[“”\"]")
# How much closer another sentence of the seed's article may be to a candidate than the seed's
# own evidence is, for the candidate still to match (see `reciprocal`).
RECIPROCAL_SLACK = 0.1
# A denying sentence words things its own way ("denied claims of weapons transfers" against
# "accused of supplying ammunition"), so it needs less to count as about the same thing: this
# much for the rules to call it the other side, and `PROPOSED_DENIAL_THRESHOLD` to be shown to a
# model that judges the relation (it decides; the rules cannot tell a near miss from a denial).
DENIAL_THRESHOLD = 0.4
PROPOSED_DENIAL_THRESHOLD = 0.35
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
    # The stretch that matched: the sentence itself, or one clause of it.
    unit: tuple[int, int]

    def overlaps(self, other: Site) -> bool:
        (start, end), (other_start, other_end) = self.unit, other.unit
        return self.article == other.article and start < other_end and other_start < end


@dataclass
class Group:
    """A candidate story claim: the seed claim and, per other article, its best match, and
    per article the sentence that best matches it while denying something (`relations.py`
    decides whether that is the other side of a disagreement)."""

    seed: Claim
    seed_article: str
    facet: bool = False  # the seed is one clause of an article's claim
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

    Scores are matrices (numpy): every probe (claim or facet) against every unit (sentence or
    clause), and every unit against every unit for the second pass, so a 50-article story is a
    few matrix products rather than millions of Python-level comparisons.
    """
    import numpy as np

    units = [u for a in articles for u in _units(a)]
    probes = [p for a in articles for p in _probes(a)]
    if not probes or not units:
        return []
    vectors = np.asarray(
        embedder.embed([u.text for u in units] + [p.claim.text for p in probes]),
        dtype=np.float32,
    )
    unit_vectors, probe_vectors = vectors[: len(units)], vectors[len(units) :]
    unit_bags, probe_bags = _bags(
        [_words(u.text) for u in units], [_words(p.claim.text) for p in probes]
    )
    # A claim of several clauses is looked for in whole sentences; a one-clause statement (a
    # facet, or a short claim) in clauses too.
    whole = np.array([u.start == u.sentence.start and u.end == u.sentence.end for u in units])
    alike = unit_vectors @ unit_vectors.T
    weights = _rarity(unit_bags[whole])
    probe_scores = _combined(probe_vectors @ unit_vectors.T, probe_bags, unit_bags, weights)
    # Unit x unit, for the second pass: an article that words the claim its own way is often
    # closer to the other articles' wordings of it than to the claim itself. Their mean, not
    # their best: a sentence like one wording alone is like that wording's other facts.
    unit_scores = _combined(alike, unit_bags, unit_bags, weights)
    spans: dict[str, tuple[int, int]] = {}
    for index, unit in enumerate(units):
        first, _ = spans.get(unit.article, (index, index))
        spans[unit.article] = (first, index + 1)  # an article's units are contiguous
    denying = np.array([DENIAL_PATTERN.search(u.text) is not None for u in units])
    # The closest any unit (any sentence, for a claim looked for in sentences) of each article
    # comes to each unit, for `reciprocal`.
    closest = {
        clause: {
            a: np.where(clause | whole[slice(*span)], alike[:, slice(*span)], -np.inf).max(axis=1)
            for a, span in spans.items()
        }
        for clause in (False, True)
    }
    index_of = {(u.article, u.start, u.end): i for i, u in enumerate(units)}
    by_id = {a.id: a for a in articles}

    groups: list[Group] = []
    for row, probe in enumerate(probes):
        article_id, (seed_start, seed_end) = probe.article, probe.span
        first, last = spans.get(article_id, (0, 0))
        seed_columns = [
            i
            for i in range(first, last)
            if seed_start <= units[i].start < seed_end and (probe.clause or whole[i])
        ] or [i for i in range(first, last) if units[i].start <= seed_start < units[i].end]
        # The candidate's own closest unit in the seed's article must be the seed's evidence
        # (or nearly as close): a lead sentence that resembles everything matches nothing in
        # particular.
        reciprocal = (
            alike[:, seed_columns].max(axis=1)
            >= closest[probe.clause][article_id] - RECIPROCAL_SLACK
            if seed_columns
            else np.ones(len(units), dtype=bool)
        )
        group = Group(seed=probe.claim, seed_article=article_id, facet=probe.facet)
        owner = by_id[article_id]
        sentence = _sentence_around(owner, seed_start)
        group.sites[article_id] = Site(
            article_id,
            *(probe.claim.span if not probe.facet else (sentence.start, sentence.end)),
            probe.origin,
            1.0,
            unit=probe.span,
        )
        values = probe_scores[row]
        # A facet is matched directly only: carried on through other articles' wordings (the
        # second pass), a clause about Russia and Ukraine spreads to every sentence naming them.
        for second_pass in (False, True)[: 1 if probe.facet else 2]:
            if second_pass:
                matched = [index_of[(a, *site.unit)] for a, site in group.sites.items()
                           if a != article_id and (a, *site.unit) in index_of]  # fmt: skip
                if matched:
                    values = np.maximum(values, unit_scores[matched].mean(axis=0))
            for other in articles:
                if other.id == article_id or other.id not in spans:
                    continue
                lo, hi = spans[other.id]
                scores = values[lo:hi]
                matches = (scores >= MATCH_THRESHOLD) & reciprocal[lo:hi]
                if not probe.clause:
                    matches &= whole[lo:hi]
                if matches.any() and other.id not in group.sites:
                    best = int(np.argmax(np.where(matches, scores, -np.inf)))
                    group.sites[other.id] = _site(other, units[lo + best], scores[best])
                denials = denying[lo:hi] & (scores >= PROPOSED_DENIAL_THRESHOLD)
                if denials.any():
                    best = int(np.argmax(np.where(denials, scores, -np.inf)))
                    known = group.denials.get(other.id)
                    if known is None or scores[best] > known.score:
                        group.denials[other.id] = _site(other, units[lo + best], scores[best])
        groups.append(group)

    order = {a.id: n for n, a in enumerate(articles)}
    groups.sort(
        key=lambda g: (
            -len(g.sites),
            -sum(s.score for s in g.sites.values()),
            order[g.seed_article],
            g.sites[g.seed_article].unit[0],
            g.facet,
        )
    )
    # Whole claims first, as if there were no facets: the widest first, each skipped when an
    # earlier one already states its evidence.
    chosen: list[Group] = []
    for group in groups:
        seed_site = group.sites[group.seed_article]
        if group.facet or any(
            seed_site.overlaps(site) for kept in chosen for site in kept.sites.values()
        ):
            continue
        chosen.append(group)
    # Then a facet, where it reaches more articles than its whole claim and no story claim
    # already states it in every article it reaches. It never hides the whole claim, which
    # says more.
    reach = {(g.seed_article, g.seed.id): len(g.sites) for g in groups if not g.facet}
    for group in groups:
        if not group.facet or len(group.sites) <= reach[(group.seed_article, group.seed.id)]:
            continue
        if any(_covers(kept, group) for kept in chosen):
            continue
        chosen.append(group)
    rank = {id(g): n for n, g in enumerate(groups)}
    return sorted(chosen, key=lambda g: rank[id(g)])


def _covers(kept: Group, group: Group) -> bool:
    """`kept` has a site overlapping `group`'s in every article of `group`."""
    return all(
        article in kept.sites and kept.sites[article].overlaps(site)
        for article, site in group.sites.items()
    )


@dataclass(frozen=True)
class _Unit:
    """A stretch alignment compares: a whole sentence, or one clause of it."""

    article: str
    start: int
    end: int
    text: str
    sentence: Sentence


@dataclass(frozen=True)
class _Probe:
    """What is looked for in the other articles: an article's claim, or one clause of it
    (a facet) found verbatim in its evidence."""

    article: str
    claim: Claim  # for a facet, the article's claim with the clause as its text
    span: tuple[int, int]
    origin: Claim  # the article's claim itself
    clause: bool  # one clause long (a facet, or a claim without a break)

    @property
    def facet(self) -> bool:
        return self.claim is not self.origin


def _units(article: Article) -> list[_Unit]:
    found: list[_Unit] = []
    for sentence in article.sentences:
        found.append(_Unit(article.id, sentence.start, sentence.end, sentence.text, sentence))
        parts = clauses(sentence.text)
        if len(parts) < 2:
            continue
        for start, end in parts:
            begin, finish = sentence.start + start, sentence.start + end
            found.append(_Unit(article.id, begin, finish, article.text[begin:finish], sentence))
    return found


def _probes(article: Article) -> list[_Probe]:
    found: list[_Probe] = []
    for claim in article.claims:
        parts = clauses(claim.text)
        found.append(_Probe(article.id, claim, claim.span, origin=claim, clause=len(parts) < 2))
        if len(parts) < 2:
            continue
        evidence = article.text[claim.span[0] : claim.span[1]]
        for start, end in parts:
            piece = claim.text[start:end]
            if content_size(piece) < MIN_FACET_WORDS:
                continue
            at = evidence.find(piece)
            if at < 0:
                continue  # the claim words it its own way: no verbatim facet to point at
            begin = claim.span[0] + at
            update: dict[str, object] = {"text": piece[:1].upper() + piece[1:]}
            if claim.kind is ClaimKind.QUOTE and not _QUOTE_MARK.search(piece):
                update |= {"kind": ClaimKind.FACT, "speaker": None}  # the quotation is elsewhere
            facet = claim.model_copy(update=update)
            found.append(
                _Probe(article.id, facet, (begin, begin + len(piece)), origin=claim, clause=True)
            )
    return found


def _sentence_around(article: Article, start: int) -> Sentence:
    for sentence in article.sentences:
        if sentence.start <= start < sentence.end:
            return sentence
    raise ValueError(f"no sentence of {article.id} holds offset {start}")


def _site(article: Article, unit: _Unit, score: float) -> Site:
    sentence = unit.sentence
    own = _claim_covering(article, sentence)
    return Site(
        article.id,
        sentence.start,
        sentence.end,
        own,
        score=round(float(score), 3),
        unit=(unit.start, unit.end),
    )


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


def _rarity(sentences: Any) -> Any:
    """Per word, how rare it is among the story's sentences (smoothed inverse document
    frequency): names every outlet repeats ("Putin", "North Korea") weigh less than the words
    that say what happened ("visit", "24")."""
    import numpy as np

    frequency = sentences.sum(axis=0)
    return (np.log((len(sentences) + 1) / (frequency + 1)) + 1).astype(np.float32)


def _combined(meaning: Any, probe_bags: Any, sentence_bags: Any, weights: Any) -> Any:
    """MEANING_WEIGHT x cosine + WORDS_WEIGHT x the share of each probe's words in each
    sentence, each word weighted by its rarity (`_rarity`; the matrix form of `word_share`)."""
    import numpy as np

    weighted = probe_bags * weights
    shared = weighted @ sentence_bags.T
    sizes = weighted.sum(axis=1)[:, None]
    share = np.divide(shared, sizes, out=np.zeros_like(shared), where=sizes > 0)
    return MEANING_WEIGHT * meaning + WORDS_WEIGHT * share


def _claim_covering(article: Article, sentence: Sentence) -> Claim | None:
    """The article's own claim whose evidence contains this sentence, if its run made one."""
    for claim in article.claims:
        if claim.span[0] <= sentence.start and sentence.end <= claim.span[1]:
            return claim
    return None
