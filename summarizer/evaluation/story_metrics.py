"""Scores for one story of a labelled suite (`story.json`). Pure functions: no I/O, no clock.

Story sources are mapped to seed articles by sha256 of their text, else by path stem
(`000_792d….txt` -> article `000_792d…`); a source that maps to none is listed and ignored.
"The matcher" is the eval's fact matcher, applied to one support's evidence (a verbatim
stretch of one article) against that article's labelled fact.

* **Support precision / recall** over (shared fact, article) pairs. For each labelled shared
  fact F, the candidates are the story claims whose text states one of F's per-article facts
  (a claim about something else that shares a sentence is not a claim of F); the *best claim*
  is the candidate whose support states F in the most articles of F (fewest support entries
  elsewhere, then the highest summed match score, break ties). Its
  predicted pairs are (F, a) for *every* article a in its support; a pair is correct when a
  has a fact in F and a's evidence matches that fact. Gold pairs are (F, a) for every article
  with a fact id in F. Precision = correct / predicted, recall = correct / gold. A story that
  claims every article supports everything predicts pairs for articles without the fact and
  loses precision; one that finds nothing predicts nothing and loses recall. Pairs of a shared
  fact no claim states are gold and missed.
* **Quote-variant groups found**: a labelled group counts when one story `Variant` has
  wordings from two or more of the group's articles whose `text` matches that article's
  labelled wording: Dice overlap of their content-word stems >= `WORDING_OVERLAP` (0.5).
  "It is really a breakthrough document" vs "a truly breakthrough document" scores 0.67; a
  different remark by the same speaker scores near 0.
* **Disagreements found with both sides**: a labelled disagreement counts when one story
  disagreement has, for every labelled position, a span in one of that position's articles
  that matches one of the position's labelled facts there, and two labelled positions are
  found in different story positions (a story that lumps every side into one position has not
  found it). A story position may touch both sides: the seeds' 004 reports the accusation
  *and* the denial. The facts stand in for the topic: a story disagreement about weapons
  supplies does not find the one about the defence clause.
* **Single-source facts marked single**: labelled facts of the story's articles that are in no
  shared fact. A story states one when some claim's support in its article has evidence that
  matches it (the best-scoring such claim is its claim); the share is those whose claim has
  coverage `single`, over those stated.
* **Acceptance** (issue 9, on the seeds): for shared facts s01, s02, s03, the best claim is
  supported by every story article, each pair correct and each span verified against the seed
  text (`evidence == text[start:end]`); for quote group q01, one variant has matching wordings
  from every article of the group, each span verified. Ids the suite lacks are skipped.
"""

from __future__ import annotations

import hashlib
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path

from pydantic import BaseModel, ConfigDict

from summarizer.errors import EvalError
from summarizer.evaluation.dataset import (
    Fact,
    LabelledArticle,
    LabelledSuite,
    Position,
    QuoteVariant,
    SharedFact,
)
from summarizer.evaluation.matchers.base import FactMatcher
from summarizer.story.result import Coverage, Span, StoryClaim, StoryResult, Variant, Wording
from summarizer.text import content_tokens

WORDING_OVERLAP = 0.5
SEED_ACCEPTANCE: tuple[str, ...] = ("s01", "s02", "s03", "q01")


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class SupportScore(_Strict):
    predicted: int
    gold: int
    correct: int
    precision: float | None  # None when nothing was predicted
    recall: float | None  # None when there is nothing to find


class SharedFactSupport(_Strict):
    """One labelled shared fact: its best claim and the articles it was found in or missed."""

    id: str
    text: str
    claim_id: str | None
    found: list[str]
    missed: list[str]
    wrong: list[str]  # in the claim's support, but the article's evidence does not state F


class VariantGroupResult(_Strict):
    id: str
    gist: str
    articles: list[str]
    found: bool
    variant_id: str | None  # the closest story variant, found or not
    matched_articles: list[str]


class DisagreementResult(_Strict):
    id: str
    topic: str
    found: bool
    disagreement_id: str | None  # the closest story disagreement, found or not
    covered_positions: int  # labelled positions with a span in the best story disagreement
    positions: int


class SingleFact(_Strict):
    fact_id: str
    article_id: str
    claim_id: str
    coverage: Coverage


class SingleFacts(_Strict):
    total: int
    stated: int
    marked_single: int
    share: float | None  # None when the story states none of them
    facts: list[SingleFact]  # the stated ones


class StoryMetrics(_Strict):
    story_id: str
    sources: dict[str, str]  # story source id -> article id
    unmapped_sources: list[str]
    support: SupportScore
    shared_facts: list[SharedFactSupport]
    variant_groups_found: int
    variant_groups: list[VariantGroupResult]
    disagreements_found: int
    disagreements: list[DisagreementResult]
    single_facts: SingleFacts
    acceptance: dict[str, bool]

    @property
    def variant_groups_share(self) -> float | None:
        total = len(self.variant_groups)
        return round(self.variant_groups_found / total, 4) if total else None

    @property
    def disagreements_share(self) -> float | None:
        total = len(self.disagreements)
        return round(self.disagreements_found / total, 4) if total else None

    def figures(self) -> dict[str, float | None]:
        """The headline numbers, as the gate and the run log name them."""
        return {
            "story_support_precision": self.support.precision,
            "story_support_recall": self.support.recall,
            "story_variant_groups_found": float(self.variant_groups_found),
            "story_disagreements_found": float(self.disagreements_found),
            "story_single_marked_share": self.single_facts.share,
            "story_acceptance_passed": float(sum(self.acceptance.values())),
        }

    def found_items(self) -> dict[str, list[str]]:
        """What the gate remembers: each item a later run can lose, by kind."""
        return {
            "support_pairs": [f"{f.id}@{a}" for f in self.shared_facts for a in f.found],
            "variant_groups": [g.id for g in self.variant_groups if g.found],
            "disagreements": [d.id for d in self.disagreements if d.found],
            "single_marked": [
                s.fact_id for s in self.single_facts.facts if s.coverage is Coverage.SINGLE
            ],
            "acceptance": [name for name, ok in self.acceptance.items() if ok],
        }


@dataclass
class _Scorer:
    """The story seen through the labels: sources mapped to articles, verdicts memoised (one
    evidence is matched against many facts)."""

    story: StoryResult
    suite: LabelledSuite
    articles: dict[str, LabelledArticle]  # by story source id
    matcher: FactMatcher
    fact_owner: dict[str, tuple[LabelledArticle, Fact]] = field(init=False)
    _verdicts: dict[tuple[str, str], tuple[bool, float]] = field(default_factory=dict)

    def __post_init__(self) -> None:
        self.fact_owner = {f.id: (a, f) for a in self.suite.articles for f in a.facts.facts}

    def article_of(self, span: Span) -> LabelledArticle | None:
        return self.articles.get(span.source)

    def states(self, fact: Fact, text: str) -> tuple[bool, float]:
        """Does this text state the fact? (present, score)"""
        key = (fact.id, text)
        if key not in self._verdicts:
            verdict = self.matcher.matches(fact, text)
            self._verdicts[key] = (verdict.present, verdict.score)
        return self._verdicts[key]

    def verified(self, span: Span) -> bool:
        """The span is verbatim in the seed article (not only in the text the story read)."""
        article = self.article_of(span)
        if article is None:
            return False
        start, end = span.span
        return 0 <= start < end <= len(article.text) and article.text[start:end] == span.evidence


def map_sources(story: StoryResult, suite: LabelledSuite) -> dict[str, LabelledArticle]:
    """Story source id -> seed article, by sha256 of the text, else by path stem."""
    by_sha = {hashlib.sha256(a.text.encode("utf-8")).hexdigest(): a for a in suite.articles}
    by_stem = {a.id: a for a in suite.articles}
    mapped: dict[str, LabelledArticle] = {}
    for source in story.sources:
        article = by_sha.get(source.sha256) or by_stem.get(Path(source.path).stem)
        if article is not None:
            mapped[source.id] = article
    return mapped


def story_metrics(
    story: StoryResult,
    suite: LabelledSuite,
    matcher: FactMatcher,
    *,
    acceptance: Sequence[str] = SEED_ACCEPTANCE,
) -> StoryMetrics:
    """Score `story` against the suite's `story.json` labels (see the module docstring)."""
    labels = suite.story
    if labels is None:
        raise EvalError(f"suite {suite.suite.id!r} has no story labels")
    scorer = _Scorer(story, suite, map_sources(story, suite), matcher)
    in_story = set(labels.articles)
    shared = [_shared_fact(scorer, fact, in_story) for fact in labels.shared_facts]
    gold = sum(len(f.found) + len(f.missed) for f in shared)
    correct = sum(len(f.found) for f in shared)
    predicted = correct + sum(len(f.wrong) for f in shared)
    groups = [_variant_group(scorer, group) for group in labels.quote_variants]
    disagreements = [
        _disagreement(scorer, d.id, d.topic, d.positions) for d in labels.disagreements
    ]
    shared_ids = {i for f in labels.shared_facts for i in f.fact_ids}
    singles = [
        (article, fact)
        for article in suite.articles
        if article.id in in_story
        for fact in article.facts.facts
        if fact.id not in shared_ids
    ]
    checks: dict[str, bool] = {}
    for item in acceptance:
        fact = next((f for f in shared if f.id == item), None)
        group = next((q for q in labels.quote_variants if q.id == item), None)
        if fact is not None:
            checks[f"{item}_all_articles"] = _claim_accepted(scorer, fact, in_story)
        elif group is not None:
            checks[f"{item}_all_articles"] = _variant_accepted(scorer, group)
    return StoryMetrics(
        story_id=labels.story_id,
        sources={sid: a.id for sid, a in scorer.articles.items()},
        unmapped_sources=[s.id for s in story.sources if s.id not in scorer.articles],
        support=SupportScore(
            predicted=predicted,
            gold=gold,
            correct=correct,
            precision=round(correct / predicted, 4) if predicted else None,
            recall=round(correct / gold, 4) if gold else None,
        ),
        shared_facts=shared,
        variant_groups_found=sum(g.found for g in groups),
        variant_groups=groups,
        disagreements_found=sum(d.found for d in disagreements),
        disagreements=disagreements,
        single_facts=_single_facts(scorer, singles),
        acceptance=checks,
    )


# --- shared facts --------------------------------------------------------------------------


def _shared_fact(scorer: _Scorer, shared: SharedFact, in_story: set[str]) -> SharedFactSupport:
    facts = {
        article.id: fact
        for article, fact in (scorer.fact_owner[i] for i in shared.fact_ids)
        if article.id in in_story
    }
    best: tuple[tuple[int, int, float], StoryClaim, list[str], list[str]] | None = None
    for claim in scorer.story.claims:
        if not any(scorer.states(fact, claim.text)[0] for fact in facts.values()):
            continue  # a claim about something else that happens to share a sentence
        found: set[str] = set()
        elsewhere: set[str] = set()
        total = 0.0
        for support in claim.support:
            article = scorer.article_of(support)
            if article is None:
                continue
            fact = facts.get(article.id)
            present, score = scorer.states(fact, support.evidence) if fact else (False, 0.0)
            if present:
                found.add(article.id)
                total += score
            else:
                elsewhere.add(article.id)
        wrong = elsewhere - found
        rank = (len(found), -len(wrong), total)
        if found and (best is None or rank > best[0]):
            best = (rank, claim, sorted(found), sorted(wrong))
    gold = sorted(facts)
    if best is None:
        return SharedFactSupport(
            id=shared.id, text=shared.text, claim_id=None, found=[], missed=gold, wrong=[]
        )
    _, claim, found_ids, wrong_ids = best
    return SharedFactSupport(
        id=shared.id,
        text=shared.text,
        claim_id=claim.id,
        found=found_ids,
        missed=[a for a in gold if a not in found_ids],
        wrong=wrong_ids,
    )


def _claim_accepted(scorer: _Scorer, fact: SharedFactSupport, in_story: set[str]) -> bool:
    """Every story article states it in the one claim, with spans verbatim in the seeds."""
    claim = next((c for c in scorer.story.claims if c.id == fact.claim_id), None)
    if claim is None or set(fact.found) != in_story or fact.wrong:
        return False
    return claim.coverage is Coverage.ALL and all(scorer.verified(s) for s in claim.support)


# --- quote variants ------------------------------------------------------------------------


def wording_overlap(a: str, b: str) -> float:
    """Dice overlap of the content-word stems of two wordings (0-1)."""
    left = {t.norm for t in content_tokens(a)}
    right = {t.norm for t in content_tokens(b)}
    if not left or not right:
        return 0.0
    return 2 * len(left & right) / (len(left) + len(right))


def _matched_wordings(scorer: _Scorer, variant: Variant, group: QuoteVariant) -> dict[str, Wording]:
    """Article id -> the story wording that matches that article's labelled wording."""
    labelled: dict[str, list[str]] = {}
    for wording in group.variants:
        owner, _ = scorer.fact_owner[wording.fact_id]
        labelled.setdefault(owner.id, []).append(wording.wording)
    matched: dict[str, Wording] = {}
    for story_wording in variant.wordings:
        article = scorer.article_of(story_wording)
        if article is None or article.id in matched or article.id not in labelled:
            continue
        if any(
            wording_overlap(story_wording.text, label) >= WORDING_OVERLAP
            for label in labelled[article.id]
        ):
            matched[article.id] = story_wording
    return matched


def _variant_group(scorer: _Scorer, group: QuoteVariant) -> VariantGroupResult:
    articles = sorted({scorer.fact_owner[w.fact_id][0].id for w in group.variants})
    best_id: str | None = None
    best: dict[str, Wording] = {}
    for variant in scorer.story.variants:
        matched = _matched_wordings(scorer, variant, group)
        if len(matched) > len(best):
            best_id, best = variant.id, matched
    found = len(best) >= 2
    return VariantGroupResult(
        id=group.id,
        gist=group.gist,
        articles=articles,
        found=found,
        variant_id=best_id,
        matched_articles=sorted(best),
    )


def _variant_accepted(scorer: _Scorer, group: QuoteVariant) -> bool:
    """One variant matches the wording of every article of the group, spans verbatim."""
    articles = {scorer.fact_owner[w.fact_id][0].id for w in group.variants}
    for variant in scorer.story.variants:
        matched = _matched_wordings(scorer, variant, group)
        if set(matched) == articles and all(scorer.verified(w) for w in matched.values()):
            return True
    return False


# --- disagreements -------------------------------------------------------------------------


def _disagreement(
    scorer: _Scorer, label_id: str, topic: str, positions: Sequence[Position]
) -> DisagreementResult:
    best_id: str | None = None
    best_covered = 0
    found = False
    for disagreement in scorer.story.disagreements:
        # For each story position: the labelled positions it has a span in an article of.
        touches = [
            {
                label
                for label, position in enumerate(positions)
                for span in story_position.spans
                if _holds(scorer, position, span)
            }
            for story_position in disagreement.positions
        ]
        covered = len(set().union(*touches))
        # Both sides: two labelled positions are found in different story positions.
        separated = any(
            p != q and p in mine and q in theirs
            for i, mine in enumerate(touches)
            for j, theirs in enumerate(touches)
            if i != j
            for p in mine
            for q in theirs
        )
        both_sides = covered == len(positions) and separated
        if (both_sides, covered) > (found, best_covered):
            best_id, best_covered, found = disagreement.id, covered, both_sides
    return DisagreementResult(
        id=label_id,
        topic=topic,
        found=found,
        disagreement_id=best_id,
        covered_positions=best_covered,
        positions=len(positions),
    )


def _holds(scorer: _Scorer, position: Position, span: Span) -> bool:
    """The span is in an article of the labelled position and states one of its facts there
    (any span of its articles when the position lists no facts)."""
    article = scorer.article_of(span)
    if article is None or article.id not in position.articles:
        return False
    facts = [f for a, f in (scorer.fact_owner[i] for i in position.fact_ids) if a.id == article.id]
    if not position.fact_ids:
        return True
    return any(scorer.states(fact, span.evidence)[0] for fact in facts)


# --- single-source facts -------------------------------------------------------------------


def _single_facts(scorer: _Scorer, singles: Sequence[tuple[LabelledArticle, Fact]]) -> SingleFacts:
    stated: list[SingleFact] = []
    for article, fact in singles:
        best: tuple[float, StoryClaim] | None = None
        for claim in scorer.story.claims:
            for support in claim.support:
                owner = scorer.article_of(support)
                if owner is None or owner.id != article.id:
                    continue
                present, score = scorer.states(fact, support.evidence)
                if present and (best is None or score > best[0]):
                    best = (score, claim)
        if best is not None:
            claim = best[1]
            stated.append(
                SingleFact(
                    fact_id=fact.id,
                    article_id=article.id,
                    claim_id=claim.id,
                    coverage=claim.coverage,
                )
            )
    marked = sum(s.coverage is Coverage.SINGLE for s in stated)
    return SingleFacts(
        total=len(singles),
        stated=len(stated),
        marked_single=marked,
        share=round(marked / len(stated), 4) if stated else None,
        facts=stated,
    )
