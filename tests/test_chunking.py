from __future__ import annotations

import hashlib
import itertools
import json
import re
from collections.abc import Callable
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from summarizer import chunking, tokens
from summarizer.chunking import (
    _BOUNDARY,
    chunk_sentences,
    chunk_text,
    neutralise_delimiters,
    render_sentences,
    split_counted,
    split_sentences,
)
from summarizer.tokens import TokenCounter
from tests.support import repeated_seeds

COUNTER = TokenCounter("cl100k_base")
SEEDS = Path(__file__).parent.parent / "evals" / "seeds" / "articles"
LAYOUTS = Path(__file__).parent / "data" / "chunking" / "seed_layouts.json"

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


# --- pathological shapes -------------------------------------------------------------------------

# Words and gaps chosen where token counts stop adding up or tiktoken's pieces get odd: \r after
# punctuation (".\r" is one piece), \x1c-\x1f (whitespace to Python, punctuation to tiktoken),
# combining marks, CJK without spaces, long runs of one character, delimiter tags, digits.
odd_words = st.sampled_from(
    ["Putin", "said.", "“landmark”", "U.S.", "e\u0301t\u00e9", "中文字符。", "テスト", "😀😀",
     "!!!!!!!!", "......", "1234567", "x" * 700, "<article>", "</parts>", "—", "a,", "Why?",
     "https://example.com/a/b/c?d=e", "'s", "₂", "\u0663\u0664", "ß", "İ"]
)  # fmt: skip
odd_gaps = st.sampled_from(
    [" ", " ", " ", "  ", "\t", "\r", ".\r", " \r ", "\x1c", "\x1f ", "\u3000", "\xa0", ". ", "\n"]
)
odd_documents = st.lists(st.tuples(odd_words, odd_gaps), min_size=1, max_size=150).map(
    lambda pairs: "".join(w + s for w, s in pairs)
)
ENCODINGS = {name: TokenCounter(name) for name in ("cl100k_base", "o200k_base")}


def assert_invariants(text: str, counter: TokenCounter, budget: int, overlap: int) -> None:
    sentences, chunks = chunk_text(text, counter, budget, overlap)
    previous_end = 0
    for index, sentence in enumerate(sentences, start=1):
        assert sentence.id == index
        assert text[sentence.start : sentence.end] == sentence.text
        assert text[previous_end : sentence.start].strip() == ""
        assert sentence.text == sentence.text.strip() != ""
        # the count kept on the sentence is exact, so chunking can trust it without recounting
        shown = neutralise_delimiters(sentence.text)
        assert sentence.tokens == counter.count(f"[999999] {shown}") <= budget
        previous_end = sentence.end
    assert text[previous_end:].strip() == ""
    for chunk in chunks:
        assert chunk.tokens == counter.count(render_sentences(chunk.sentences)) <= budget
    seen = [s.id for chunk in chunks for s in chunk.sentences]
    assert sorted(set(seen)) == [s.id for s in sentences]
    if overlap == 0:
        assert seen == [s.id for s in sentences]


@settings(max_examples=80, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=odd_documents,
    budget=st.integers(min_value=16, max_value=160),
    overlap=st.sampled_from([0, 0, 25]),
    encoding=st.sampled_from(sorted(ENCODINGS)),
)
def test_odd_text_keeps_every_invariant(
    text: str, budget: int, overlap: int, encoding: str
) -> None:
    assert_invariants(text, ENCODINGS[encoding], budget, overlap)


@settings(max_examples=30, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    words=st.lists(odd_words, min_size=1, max_size=400),
    gap=odd_gaps.filter(lambda g: "\n" not in g and "." not in g),
    budget=st.integers(min_value=16, max_value=400),
)
def test_one_long_line_without_sentence_ends_is_cut_within_budget(
    words: list[str], gap: str, budget: int
) -> None:
    # Longer than the short-sentence path, so it is measured stretch by stretch.
    text = gap.join(words * (1 + 3000 // len(gap.join(words))))
    assert_invariants(text, COUNTER, budget, 0)


def seed_texts() -> list[tuple[str, str]]:
    return [(path.name, path.read_text()) for path in sorted(SEEDS.glob("*.txt"))]


def layout(text: str, counter: TokenCounter, budget: int) -> dict[str, list[list[int]]]:
    sentences, chunks = chunk_text(text, counter, budget)
    return {
        "sentences": [[s.start, s.end, s.paragraph] for s in sentences],
        "chunks": [[c.sentences[0].id, c.sentences[-1].id, c.tokens] for c in chunks],
    }


def test_seed_articles_split_and_chunk_exactly_as_before() -> None:
    # Captured from the chunker before it was made linear (tests/data/chunking): the eval gate's
    # baselines depend on these exact sentences and chunks.
    expected = json.loads(LAYOUTS.read_text())
    for encoding, by_seed in expected["encodings"].items():
        counter = ENCODINGS[encoding]
        for name, text in seed_texts():
            for budget in ("150", "1500"):
                assert layout(text, counter, int(budget)) == by_seed[name][budget], (name, budget)
    for name, text in seed_texts():
        chunks = chunk_text(text, COUNTER, 150, 30)[1]
        got = [[s.id for s in c.sentences] + [c.tokens] for c in chunks]
        assert got == expected["overlap"][name]["150/30"]["chunks"], name


def test_a_long_article_of_seeds_chunks_exactly_as_before() -> None:
    expected = json.loads(LAYOUTS.read_text())["repeated"]
    text = repeated_seeds(1_800_000)
    assert len(text) == expected["size"]
    for key, digest in expected["digests"].items():
        budget, overlap = map(int, key.split("/"))
        sentences, chunks = chunk_text(text, COUNTER, budget, overlap)
        data = json.dumps(
            [
                [[s.start, s.end, s.paragraph] for s in sentences],
                [[[s.id for s in c.sentences], c.tokens] for c in chunks],
            ]
        )
        assert hashlib.sha256(data.encode()).hexdigest() == digest, key


class CountingCounter(TokenCounter):
    """The real counter, keeping a tally of how much text it was asked to encode."""

    def __init__(self) -> None:
        super().__init__("cl100k_base")
        self.calls = 0
        self.chars = 0

    def count(self, text: str) -> int:
        self.calls += 1
        self.chars += len(text)
        return super().count(text)

    def prefix_length(self, text: str, max_tokens: int) -> int:
        self.calls += 1
        self.chars += len(text)
        return super().prefix_length(text, max_tokens)

    def token_ends(self, text: str) -> list[int]:
        self.calls += 1
        self.chars += len(text)
        return super().token_ends(text)


def no_punctuation_line(size: int) -> str:
    words = [w.strip(".,!?;:“”\"'’") for _, text in seed_texts() for w in text.split()]
    line = " ".join(w for w in words if w)
    return (line + " ") * (size // len(line)) + line[: size % len(line)].strip()


PATHOLOGICAL: dict[str, Callable[[int], str]] = {
    "one line, no punctuation": no_punctuation_line,
    "one paragraph of prose": lambda size: repeated_seeds(size).replace("\n", " "),
    "one long word": lambda size: "x" * size,
    "base64-like word": lambda size: ("aB3+/Zq9" * (size // 8 + 1))[:size],
    "CJK without spaces": lambda size: ("中华人民共和国的首都是北京。" * (size // 14 + 1))[:size],
    "only spaces and newlines": lambda size: (" \n  \n\t " * (size // 7 + 1))[:size],
    "many tiny lines": lambda size: ("a\nb.\n" * (size // 5 + 1))[:size],
    "dots and spaces": lambda size: (". . ...... " * (size // 11 + 1))[:size],
    "commas before \\r": lambda size: ("word,\r" * (size // 6 + 1))[:size],
}


@pytest.mark.parametrize("shape", sorted(PATHOLOGICAL))
@pytest.mark.parametrize("budget", [150, 1500])
def test_pathological_text_is_counted_a_bounded_number_of_times(shape: str, budget: int) -> None:
    """Work grows linearly: a chunker that recounts growing prefixes (the old one encoded 3,000
    times its input on one unpunctuated line) fails the per-character bound, and one that
    re-renders chunks to count them fails the scaling check."""
    tallies = []
    for size in (40_000, 160_000):
        text = PATHOLOGICAL[shape](size)
        counter = CountingCounter()
        sentences, chunks = chunk_text(text, counter, budget)
        assert "".join(s.text for s in sentences) == "".join(text.split()) or all(
            s.text.strip() for s in sentences
        )
        assert all(c.tokens <= budget for c in chunks)
        assert counter.chars <= 6 * len(text) + 1000, (size, counter.chars)
        tallies.append((counter.calls, counter.chars))
    (small_calls, small_chars), (large_calls, large_chars) = tallies
    assert large_chars <= 4.5 * small_chars + 1000
    assert large_calls <= 4.5 * small_calls + 50


def test_chunking_counts_nothing_again_on_prose() -> None:
    text = repeated_seeds(200_000)
    counter = CountingCounter()
    split_sentences("", counter, 1500)
    setup = counter.calls  # the fixed parts of a line: "[999999]", brackets, line break
    sentences = split_sentences(text, counter, 1500)
    assert counter.calls - setup <= len(sentences) + setup  # each sentence once at most
    counter.calls = counter.chars = 0
    chunk_sentences(sentences, counter, 1500)
    # Only the parts of a rendered line, each once: id digit groups ("1" to "999", at most 1,110
    # strings) and punctuation tails; re-rendering chunks to count them would be >= len(text).
    assert counter.chars < 5_000 < len(text) // 40


def test_a_line_of_delimiter_tags_is_budgeted_as_shown() -> None:
    # "</article>" is shown as "‹/article>", which takes more tokens: budgeting the source text
    # cut pieces that overflowed once shown ("sentence 1 does not fit in 64 tokens").
    text = "</article> " * 3000
    sentences, chunks = chunk_text(text, COUNTER, 64)
    assert len(sentences) > 1
    assert all(c.tokens == COUNTER.count(render_sentences(c.sentences)) <= 64 for c in chunks)


def split_both_ways(text: str, counter: TokenCounter, budget: int) -> None:
    """`split_counted` gives exactly `split_sentences`' sentences, and the whole text's count."""
    counted, total = split_counted(text, counter, budget)
    alone = split_sentences(text, counter, budget)
    assert [(s.id, s.start, s.end, s.text, s.paragraph, s.tokens) for s in counted] == [
        (s.id, s.start, s.end, s.text, s.paragraph, s.tokens) for s in alone
    ]
    assert total == counter.count(text)


# Joins where tiktoken's pieces run across a sentence's edge: punctuation takes the line breaks
# (and in o200k the "/") after it, "\x1c" is punctuation to tiktoken, "\r" joins punctuation.
edge_gaps = st.sampled_from(
    [" ", " ", ". ", ".\n", "\n", "\n\n", ".\r\n", "\r\n", "!\n/", "\n/", ". /", "\t",
     ".\t", "\x1c", ".\x1c ", "  ", "\n ", "\v", "\u3000", "\u2028", ". <", "\n<parts>"]
)  # fmt: skip
edge_documents = st.lists(
    st.tuples(st.one_of(odd_words, words), edge_gaps), min_size=1, max_size=150
).map(lambda pairs: "".join(w + s for w, s in pairs))


@pytest.mark.parametrize("long_path", [False, True], ids=["short-text path", "long-text path"])
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(
    text=st.one_of(edge_documents, odd_documents, documents),
    budget=st.integers(min_value=16, max_value=400),
    encoding=st.sampled_from(sorted(ENCODINGS)),
)
def test_counts_read_off_the_whole_text_equal_counts_alone(
    long_path: bool, text: str, budget: int, encoding: str
) -> None:
    # The long-text path at any length: the encode in parts on other threads while the cuts
    # are found, the ends in doubled characters from numpy, every count read at once.
    with pytest.MonkeyPatch.context() as patch:
        if long_path:
            patch.setattr(chunking, "OVERLAP_ENCODE_FROM", 0)
            patch.setattr(tokens, "NUMPY_TOKEN_ENDS_FROM", 0)
            patch.setattr(tokens, "PART_CHARS", 8)
        split_both_ways(text, ENCODINGS[encoding], budget)


@pytest.mark.parametrize("encoding", sorted(ENCODINGS))
def test_seeds_split_the_same_when_counted_with_the_whole_text(encoding: str) -> None:
    counter = ENCODINGS[encoding]
    for _, text in seed_texts():
        for budget in (60, 150, 1500):
            split_both_ways(text, counter, budget)
    split_both_ways(repeated_seeds(1_800_000), counter, 1500)


def test_pathological_shapes_split_the_same_when_counted_with_the_whole_text() -> None:
    for make in PATHOLOGICAL.values():
        split_both_ways(make(20_000), COUNTER, 150)


def test_split_counted_encodes_prose_about_once() -> None:
    # The whole text once, plus first and last words of lines; counting every sentence again
    # (what the old plan did, then counting the whole text) is twice the text.
    text = repeated_seeds(200_000)
    counter = CountingCounter()
    split_counted(text, counter, 1500)
    assert counter.chars < 1.15 * len(text), counter.chars


# The sentence-end regex as it was before its lookbehind moved after the first mark.
LOOKBEHIND_FIRST = re.compile(
    r"""(?<![.!?…])[.!?…]++["'”’»)\]]*+(?=\s++(?:``|["'“‘«(\[]?[A-Z0-9À-ÖØ-Þ]))"""
)


@settings(max_examples=300, deadline=None)
@given(
    text=st.lists(
        st.sampled_from(
            [".", "!", "?", "…", "”", ")", "]", " ", "\n", "\t", "A", "a", "“", "``", "0"]
        )
    ).map("".join)
)
def test_the_sentence_end_regex_finds_what_the_lookbehind_first_form_finds(text: str) -> None:
    assert [m.span() for m in _BOUNDARY.finditer(text)] == [
        m.span() for m in LOOKBEHIND_FIRST.finditer(text)
    ]


def test_the_collector_pauses_for_many_sentences_and_comes_back_as_it_was(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    import gc

    from summarizer.errors import PlanError

    seen: list[bool] = []
    real_split = chunking._split

    def spy(*args: object, **kwargs: object) -> list[chunking.Sentence]:
        seen.append(gc.isenabled())
        return real_split(*args, **kwargs)  # type: ignore[arg-type]

    monkeypatch.setattr(chunking, "_split", spy)
    monkeypatch.setattr(chunking, "MANY_SENTENCES", 3)
    text = "One sentence here. Another one here. And a third one. A fourth."
    assert gc.isenabled()
    split_counted(text, COUNTER, 100)
    split_counted("Just one sentence.", COUNTER, 100)
    assert seen == [False, True] and gc.isenabled()  # paused for four sentences, not for one
    gc.disable()
    try:
        split_counted(text, COUNTER, 100)
        assert not gc.isenabled()  # a collector someone else turned off stays off
    finally:
        gc.enable()
    with pytest.raises(PlanError):
        chunk_sentences(split_sentences(text, COUNTER, 100), COUNTER, 3)
    assert gc.isenabled()  # back on after an error too
