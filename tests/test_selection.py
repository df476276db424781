"""Sentence selection under a word budget: whole sentences that cover distinct facts."""

from __future__ import annotations

from pathlib import Path

from hypothesis import given, settings
from hypothesis import strategies as st

from summarizer.chunking import Sentence, split_sentences
from summarizer.selection import (
    MIN_SENTENCE_WORDS,
    count_words,
    rank_rest,
    select_sentences,
    within_words,
)
from summarizer.tokens import TokenCounter
from tests.support import SEEDS

COUNTER = TokenCounter.for_model("gpt-4o-mini")
SEED_TEXT = next(SEEDS.glob("000_*.txt")).read_text(encoding="utf-8")


def sentences_of(text: str) -> list[Sentence]:
    return split_sentences(text, COUNTER, 10_000)


def test_words_are_counted_as_a_reader_counts_them() -> None:
    assert count_words("( cnn ) two cnn heroes , in kathmandu , nepal .") == 7
    assert count_words("Two CNN heroes, in Kathmandu, Nepal.") == 6
    assert count_words("“ -- ” ...") == 0


@settings(max_examples=40, deadline=None)
@given(words=st.integers(min_value=10, max_value=400))
def test_the_choice_fits_the_budget_in_document_order(words: int) -> None:
    sentences = sentences_of(SEED_TEXT)
    chosen = select_sentences(sentences, words)
    assert sum(count_words(s.text) for s in chosen) <= words
    assert [s.id for s in chosen] == sorted({s.id for s in chosen})
    if words >= min(count_words(s.text) for s in sentences):
        assert chosen


def test_a_repeated_fact_earns_nothing_and_a_new_one_is_chosen() -> None:
    lead = "The council of Springfield approved a new budget of 40 million dollars on Monday."
    text = (
        f"{lead} {lead.replace('Monday', 'Monday evening')} "
        "Mayor Quimby said the money would build two bridges and a hospital by 2026. "
        "Residents of the town said they were happy with how things went this week."
    )
    chosen = [s.text for s in select_sentences(sentences_of(text), 30)]
    assert len(chosen) == 2 and chosen[0].startswith("The council")
    assert "Mayor Quimby" in chosen[1]  # not the other copy of the lead


def test_a_sentence_too_long_for_the_budget_is_skipped_not_cut() -> None:
    long = " ".join(["The storm flooded the coastal city of Tampa overnight"] * 6) + "."
    officials = "Officials in Tampa said 300 homes lost power in the storm."
    chosen = select_sentences(sentences_of(f"{long} {officials} Tampa schools closed."), 20)
    assert [s.text for s in chosen] == [officials]


def test_boilerplate_lines_are_never_chosen() -> None:
    text = (
        "Scroll down for video. The police in Leeds arrested three men after the robbery of a "
        "jewellery shop on Friday. The men, aged 20 to 31, were charged with robbery in Leeds."
    )
    chosen = select_sentences(sentences_of(text), 60)
    assert all(count_words(s.text) >= MIN_SENTENCE_WORDS for s in chosen)
    assert "Scroll" not in " ".join(s.text for s in chosen)


def test_key_points_are_sentences_the_summary_does_not_have(seed_path: Path) -> None:
    sentences = sentences_of(seed_path.read_text(encoding="utf-8"))
    chosen = select_sentences(sentences, 65)
    rest = rank_rest(sentences, chosen, 4)
    assert 1 <= len(rest) <= 4
    assert not {s.id for s in rest} & {s.id for s in chosen}


def test_within_words_keeps_whole_sentences_in_order() -> None:
    texts = ["One two three four five.", "Six seven eight nine ten eleven twelve.", "Thirteen."]
    assert within_words(texts, 6) == ["One two three four five.", "Thirteen."]
    assert within_words(texts, 100) == texts
    assert within_words(texts, 0) == []
