"""Clause-level alignment: a sentence's clauses are compared as well as the sentence, so a fact
one outlet tucks into a longer sentence is still found where others state it alone."""

from __future__ import annotations

from pathlib import Path

from summarizer.story.clauses import clauses
from summarizer.story.result import Coverage
from tests.story.test_story import FERRY, WEATHER, article, tell, texts_of

LONG = (
    "The mutual defence treaty was signed by both leaders at a lavish summit in Pyongyang, "
    "marking the first visit by Putin to North Korea in 24 years."
)
CHEERED = (
    "Crowds lined the avenues of the capital, "
    "cheering the first visit by Putin to North Korea in 24 years."
)
HAILED = (
    "State television showed the motorcade at length, "
    "hailing the first visit by Putin to North Korea in 24 years."
)
VISIT_CLAUSES = {
    "Marking the first visit by Putin to North Korea in 24 years",
    "Cheering the first visit by Putin to North Korea in 24 years",
    "Hailing the first visit by Putin to North Korea in 24 years",
}


def pieces(text: str) -> list[str]:
    return [text[start:end] for start, end in clauses(text)]


def test_a_sentence_breaks_into_clauses_at_commas_and_linking_words() -> None:
    assert pieces(LONG) == [
        "The mutual defence treaty was signed by both leaders at a lavish summit in Pyongyang",
        "marking the first visit by Putin to North Korea in 24 years",
    ]
    assert pieces("Crowds cheered the first visit by Putin.") == [
        "Crowds cheered the first visit by Putin"
    ]


def test_as_starts_a_clause_only_where_it_is_not_a_preposition() -> None:
    serve = "The new document will serve as the basis of their relations for decades."
    assert pieces(serve) == [serve.rstrip(".")]
    assert pieces(
        "The agreement was sealed at a summit in Pyongyang as both countries face growing "
        "confrontations with the West."
    ) == [
        "The agreement was sealed at a summit in Pyongyang",
        "as both countries face growing confrontations with the West",
    ]


def test_a_short_piece_joins_its_neighbour_and_a_quotation_is_never_cut() -> None:
    # "In Seoul" is too short to stand alone; the quotation keeps its commas.
    text = "In Seoul, officials said “we will wait, watch, and then decide during the talks” today."
    assert pieces(text) == [text.rstrip(".")]
    two = "The ferry left the harbour at dawn, carrying three hundred passengers across the lake."
    assert pieces(two) == [
        "The ferry left the harbour at dawn",
        "carrying three hundred passengers across the lake",
    ]


def test_a_clause_stated_alone_elsewhere_becomes_a_story_claim_of_its_own(tmp_path: Path) -> None:
    inputs = [
        article(LONG, WEATHER, path="a.txt"),
        article(CHEERED, path="b.txt"),
        article(FERRY, HAILED, path="c.txt"),
    ]
    story = tell(tmp_path, *inputs)
    texts = texts_of(story, inputs)
    # One story claim for the visit, not one per outlet's clause: the first facet found covers
    # the others.
    (claim,) = [c for c in story.claims if c.coverage is Coverage.ALL]
    assert claim.text in VISIT_CLAUSES
    # Each support is the whole sentence that states it, verbatim.
    evidence = {s.source: s.evidence for s in claim.support}
    assert evidence == {"a1": LONG, "a2": CHEERED, "a3": HAILED}
    for support in claim.support:
        assert texts[support.source][support.span[0] : support.span[1]] == support.evidence
    # A clause is not a sentence: the consolidated summary is made of whole claims only.
    cited = {i for sentence in story.summary.sentences for i in sentence.claim_ids}
    assert story.summary.sentences and claim.id not in cited
    # The whole claim says more (the treaty) and stays, with its own, narrower support.
    treaty = next(c for c in story.claims if c.text.startswith("The mutual defence treaty"))
    assert [s.source for s in treaty.support] == ["a1"]
    assert treaty.coverage is Coverage.SINGLE


def test_a_clause_adds_no_claim_where_the_whole_claim_already_reaches_as_far(
    tmp_path: Path,
) -> None:
    inputs = [article(LONG, path="a.txt"), article(LONG, WEATHER, path="b.txt")]
    story = tell(tmp_path, *inputs)
    about_the_visit = [c for c in story.claims if "24 years" in c.text]
    assert len(about_the_visit) == 1
    assert about_the_visit[0].text == LONG
    assert about_the_visit[0].coverage is Coverage.ALL


def test_a_clause_of_a_quote_without_the_quotation_is_a_fact(tmp_path: Path) -> None:
    signed = "putin signed the new treaty with Kim at a lavish ceremony in the capital"
    quoted = (
        f"P{signed[1:]}, calling it “a new level” in relations between the two old "
        "allies after decades of mistrust and rivalry on the peninsula."
    )
    cheered = (
        "Crowds of cheering schoolchildren lined the broad avenues of the city waving paper "
        f"flags, as {signed}."
    )
    watched = (
        "Farmers in the remote northern valley watched the live broadcast on state television, "
        f"as {signed}."
    )
    inputs = [article(quoted, path="a.txt"), article(cheered, path="b.txt")]
    inputs.append(article(watched, path="c.txt"))
    story = tell(tmp_path, *inputs)
    (facet,) = [c for c in story.claims if c.coverage is Coverage.ALL]
    assert facet.text.startswith("Putin signed the new treaty")
    assert (facet.kind, facet.speaker) == ("fact", None)
    whole = next(c for c in story.claims if "new level" in c.text)
    assert whole.kind == "quote"
