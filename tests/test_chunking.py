from __future__ import annotations

import itertools
import re

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarizer.chunking import (
    chunk_sentences,
    chunk_text,
    render_sentences,
    split_sentences,
)
from summarizer.tokens import TokenCounter

COUNTER = TokenCounter("cl100k_base")

words = st.sampled_from(
    ["Putin", "said", "the", "treaty", "“landmark”", "U.S.", "Mr.", "Kim", "signed", "2024.",
     "It", "is!", "Why?", "x" * 300, "naïve", "—", "\"Yes,\"", "https://example.com/a/b/c"]
)  # fmt: skip
separators = st.sampled_from([" ", " ", " ", ". ", "\n", "\n\n", "  ", "\t"])
documents = st.lists(st.tuples(words, separators), min_size=1, max_size=120).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)


@settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(text=documents, budget=st.integers(min_value=20, max_value=200), overlap=st.integers(0, 40))
def test_offsets_reproduce_text_and_chunks_respect_budget(
    text: str, budget: int, overlap: int
) -> None:
    sentences, chunks = chunk_text(text, COUNTER, budget, overlap)
    covered = []
    previous_end = 0
    for index, sentence in enumerate(sentences, start=1):
        assert sentence.id == index
        assert text[sentence.start : sentence.end] == sentence.text
        assert sentence.start >= previous_end
        # only whitespace between consecutive sentences: nothing is dropped
        assert text[previous_end : sentence.start].strip() == ""
        previous_end = sentence.end
        covered.append(sentence.text)
    assert text[previous_end:].strip() == ""
    for chunk in chunks:
        assert chunk.tokens == COUNTER.count(render_sentences(chunk.sentences))
        assert chunk.tokens <= budget
    # every sentence appears in some chunk, in order
    seen = [s.id for chunk in chunks for s in chunk.sentences]
    assert sorted(set(seen)) == [s.id for s in sentences]
    if overlap == 0:
        assert seen == [s.id for s in sentences]


def test_quote_and_attribution_stay_one_sentence() -> None:
    text = "“This is truly a landmark document,” Putin stated at a news conference. Then he left."
    sentences = split_sentences(text, COUNTER, 500)
    assert [s.text for s in sentences] == [
        "“This is truly a landmark document,” Putin stated at a news conference.",
        "Then he left.",
    ]


def test_abbreviations_and_initials_do_not_split() -> None:
    text = "Mr. Smith met U.S. officials in Jan. 2024 at 5 p.m. local time. They talked."
    assert len(split_sentences(text, COUNTER, 500)) == 2


def test_paragraphs_are_kept_whole_when_they_fit() -> None:
    paragraph = "One short sentence here. Another short one follows."
    text = "\n".join([paragraph] * 6)
    per_paragraph = COUNTER.count(render_sentences(split_sentences(paragraph, COUNTER, 500)))
    _, chunks = chunk_text(text, COUNTER, per_paragraph * 2 + 5)
    for chunk in chunks:
        assert len({s.paragraph for s in chunk.sentences}) * 2 == len(chunk.sentences)


def test_overlong_sentence_is_split_at_word_boundaries() -> None:
    text = " ".join(f"word{i}" for i in range(400)) + "."
    sentences, chunks = chunk_text(text, COUNTER, 60)
    assert len(sentences) > 1
    for sentence in sentences:
        assert not re.match(r"\S", text[sentence.end : sentence.end + 1] or " ")
    assert all(chunk.tokens <= 60 for chunk in chunks)


def test_overlap_repeats_tail_sentences() -> None:
    text = " ".join(f"Sentence number {i} is here." for i in range(40))
    sentences = split_sentences(text, COUNTER, 100)
    chunks = chunk_sentences(sentences, COUNTER, 60, overlap_tokens=15)
    assert len(chunks) > 2
    for before, after in itertools.pairwise(chunks):
        assert after.sentences[0].id <= before.sentences[-1].id


@pytest.mark.parametrize("budget", [1, 3])
def test_budget_too_small_for_a_character_is_an_error(budget: int) -> None:
    from summarizer.errors import PlanError

    with pytest.raises(PlanError):
        split_sentences("Hello world.", COUNTER, budget)
