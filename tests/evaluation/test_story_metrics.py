"""Story metrics on hand-built StoryResults over the seed articles: each metric can fail."""

from __future__ import annotations

import pytest

from summarizer.evaluation.story_metrics import StoryMetrics, wording_overlap
from summarizer.story.result import (
    Checked,
    Coverage,
    Disagreement,
    Position,
    Span,
    Variant,
    Wording,
)
from tests.evaluation.story_builders import (
    A000,
    A001,
    A002,
    A003,
    A004,
    ALL,
    TREATY,
    article,
    claim,
    score,
    sentence_stating,
    sid,
    span_of,
    stating,
    story,
    support,
)


def fact_row(metrics: StoryMetrics, fact_id: str) -> tuple[list[str], list[str], list[str]]:
    row = next(f for f in metrics.shared_facts if f.id == fact_id)
    return row.found, row.missed, row.wrong


# --- support precision / recall ------------------------------------------------------------


def test_a_claim_stated_in_all_five_articles_is_found_and_accepted() -> None:
    metrics = score(story([stating("c1", TREATY)]))
    assert fact_row(metrics, "s01") == (ALL, [], [])
    assert metrics.acceptance["s01_all_articles"] is True
    assert metrics.sources == {sid(a): a for a in ALL}


def test_an_empty_story_loses_recall_and_predicts_nothing() -> None:
    metrics = score(story())
    assert metrics.support.correct == 0 and metrics.support.recall == 0.0
    assert metrics.support.precision is None
    assert fact_row(metrics, "s01") == ([], ALL, [])
    assert not any(metrics.acceptance.values())


def test_claiming_every_article_supports_everything_loses_precision() -> None:
    # One claim whose evidence in each article is the whole article: it "states" every fact.
    everything = claim("c1", [support(a, article(a).text) for a in ALL])
    metrics = score(story([everything]))
    # Every fact it is the claim of predicts all five articles, labelled or not...
    claimed = [f for f in metrics.shared_facts if f.claim_id == "c1"]
    assert metrics.support.predicted == 5 * len(claimed)
    # ...so s07 (landmark document, labelled in 000-002 only) has 003 and 004 wrong.
    assert fact_row(metrics, "s07")[2] == [A003, A004]
    assert metrics.support.precision is not None and metrics.support.precision < 0.8
    assert metrics.support.recall is not None and metrics.support.recall > 0.7


def test_a_missing_article_is_named_and_fails_acceptance() -> None:
    metrics = score(story([stating("c1", TREATY[:4])]))
    assert fact_row(metrics, "s01") == (ALL[:4], [A004], [])
    assert metrics.acceptance["s01_all_articles"] is False


def test_an_article_cited_with_a_sentence_that_does_not_state_the_fact_is_wrong() -> None:
    off_topic = support(A004, sentence_stating(A004, "004-f23"))  # the denial, not the treaty
    metrics = score(story([claim("c1", [*stating("c1", TREATY[:4]).support, off_topic])]))
    assert fact_row(metrics, "s01") == (ALL[:4], [A004], [A004])
    assert metrics.support.precision is not None and metrics.support.precision < 1.0
    assert metrics.acceptance["s01_all_articles"] is False


def test_a_span_that_is_not_verbatim_in_the_seed_fails_acceptance() -> None:
    good = stating("c1", TREATY)
    first = good.support[0]
    shifted = first.model_copy(update={"span": (first.span[0] + 1, first.span[1] + 1)})
    metrics = score(story([good.model_copy(update={"support": [shifted, *good.support[1:]]})]))
    assert fact_row(metrics, "s01")[0] == ALL  # the evidence still states it...
    assert metrics.acceptance["s01_all_articles"] is False  # ...but not at that span


def test_the_most_precise_claim_is_chosen_for_a_fact() -> None:
    everything = claim("wide", [support(a, article(a).text) for a in ALL])
    landmark = stating("narrow", [(A000, "000-f07"), (A001, "001-f06"), (A002, "002-f04")])
    metrics = score(story([everything, landmark]))
    row = next(f for f in metrics.shared_facts if f.id == "s07")
    assert row.claim_id == "narrow" and row.wrong == []


def test_sources_map_by_path_stem_when_the_text_differs() -> None:
    paths = {a: f"elsewhere/{a}.txt" for a in ALL}
    paths[A004] = "elsewhere/unknown.txt"
    metrics = score(story([stating("c1", TREATY)], paths=paths))
    assert metrics.unmapped_sources == ["a5"]
    assert fact_row(metrics, "s01") == (ALL[:4], [A004], [])


# --- quote variants ------------------------------------------------------------------------


def wording(article_id: str, text: str) -> Wording:
    evidence, span = span_of(article_id, text)
    return Wording(source=sid(article_id), evidence=evidence, span=span, text=text)


def variant(*wordings: Wording) -> Variant:
    return Variant(
        id="v1", claim_id="c1", kind="quote", speaker="Vladimir Putin",
        wordings=list(wordings), checked=Checked.RULES,
    )  # fmt: skip


LANDMARK = wording(A000, "This is truly a landmark document")
BREAKTHROUGH = wording(A001, "It is really a breakthrough document")
TRULY_BREAKTHROUGH = wording(A002, "a truly breakthrough document")


def group(metrics: StoryMetrics, group_id: str) -> bool:
    return next(g for g in metrics.variant_groups if g.id == group_id).found


def test_the_landmark_breakthrough_variant_is_found_in_all_three_articles() -> None:
    metrics = score(story(variants=[variant(LANDMARK, BREAKTHROUGH, TRULY_BREAKTHROUGH)]))
    assert group(metrics, "q01") and metrics.acceptance["q01_all_articles"]
    assert metrics.variant_groups_found == 1


def test_two_articles_find_the_group_but_not_the_acceptance() -> None:
    metrics = score(story(variants=[variant(LANDMARK, BREAKTHROUGH)]))
    assert group(metrics, "q01") and not metrics.acceptance["q01_all_articles"]


def test_a_variant_of_another_remark_does_not_find_the_group() -> None:
    unrelated = wording(A001, "dearest friend of the Korean people")
    metrics = score(story(variants=[variant(LANDMARK, unrelated)]))
    assert not group(metrics, "q01") and metrics.variant_groups_found == 0


def test_wording_overlap_threshold_separates_translations_from_other_remarks() -> None:
    assert wording_overlap(BREAKTHROUGH.text, TRULY_BREAKTHROUGH.text) >= 0.5
    assert wording_overlap(LANDMARK.text, "dearest friend of the Korean people") == 0.0


# --- disagreements -------------------------------------------------------------------------

ACCUSATION = sentence_stating(A000, "000-f09")  # the US and allies accuse North Korea


def position(*spans: Span) -> Position:
    return Position(statement="s", spans=list(spans))


def at(article_id: str, text: str) -> Span:
    evidence, span = span_of(article_id, text)
    return Span(source=sid(article_id), evidence=evidence, span=span)


def disagreement(*positions: Position) -> Disagreement:
    return Disagreement(
        id="x1", topic="weapons", claim_ids=[], positions=list(positions), checked=Checked.RULES
    )


def found(metrics: StoryMetrics, label_id: str) -> bool:
    return next(d for d in metrics.disagreements if d.id == label_id).found


def test_a_disagreement_with_both_sides_is_found() -> None:
    denial = sentence_stating(A004, "004-f23")
    sides = disagreement(position(at(A000, ACCUSATION)), position(at(A004, denial)))
    assert found(score(story(disagreements=[sides])), "d01")


def test_a_disagreement_about_another_topic_does_not_count() -> None:
    # By articles alone this would also be d02 (the defence clause: 002 vs the rest), but no
    # span states a labelled fact of d02's positions.
    denial = sentence_stating(A004, "004-f23")
    accused_002 = sentence_stating(A002, "002-f21")
    sides = disagreement(
        position(at(A000, ACCUSATION)), position(at(A004, denial), at(A002, accused_002))
    )
    metrics = score(story(disagreements=[sides]))
    assert found(metrics, "d01") and not found(metrics, "d02")


def test_a_disagreement_with_one_side_only_is_not_found() -> None:
    one_side = disagreement(position(at(A000, ACCUSATION)), position(at(A001, "Pyongyang")))
    metrics = score(story(disagreements=[one_side]))
    assert not found(metrics, "d01")
    assert next(d for d in metrics.disagreements if d.id == "d01").covered_positions == 1


def test_both_sides_lumped_into_one_position_is_not_found() -> None:
    denial = sentence_stating(A004, "004-f23")
    lumped = disagreement(position(at(A000, ACCUSATION), at(A004, denial)), position())
    metrics = score(story(disagreements=[lumped]))
    assert not found(metrics, "d01")
    assert next(d for d in metrics.disagreements if d.id == "d01").covered_positions == 2


def test_a_side_that_also_reports_the_other_still_counts() -> None:
    # 004 reports the accusation too; what matters is that its denial is a position of its own.
    denial = sentence_stating(A004, "004-f23")
    accusation_004 = sentence_stating(A004, "004-f22")
    sides = disagreement(
        position(at(A000, ACCUSATION), at(A004, accusation_004)), position(at(A004, denial))
    )
    assert found(score(story(disagreements=[sides])), "d01")


# --- single-source facts -------------------------------------------------------------------


@pytest.mark.parametrize(("coverage", "share"), [(Coverage.SINGLE, 1.0), (Coverage.SEVERAL, 0.0)])
def test_single_source_facts_count_only_when_marked_single(
    coverage: Coverage, share: float
) -> None:
    # 000-f19 (AFP footage of Putin arriving in Hanoi) is in no shared fact.
    hanoi = claim("c1", [support(A000, sentence_stating(A000, "000-f19"))], coverage=coverage)
    singles = score(story([hanoi])).single_facts
    assert "000-f19" in {f.fact_id for f in singles.facts}
    assert singles.share == share
    assert singles.total > singles.stated > 0


def test_single_source_share_is_none_when_the_story_states_none() -> None:
    singles = score(story()).single_facts
    assert singles.stated == 0 and singles.share is None
