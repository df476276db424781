from __future__ import annotations

from summarizer.text import clean, content_tokens, split_sentences, stem, tokens


def norms(text: str) -> list[str]:
    return [t.norm for t in content_tokens(text)]


def test_inflections_share_a_stem() -> None:
    for family in (
        ["signed", "signing", "signs"],
        ["sanctions", "sanctioned", "sanction"],
        ["countries", "country"],
        ["defense", "defensive"],
        ["hegemony", "hegemonism"],
        ["stopped", "stopping", "stop"],
    ):
        assert len({stem(w) for w in family}) == 1, family


def test_stemming_keeps_distinct_words_apart() -> None:
    assert stem("sanctions") != stem("signs")
    assert stem("treaty") != stem("trade")


def test_tokenised_corpus_text_reads_like_prose() -> None:
    tokenised = "-lrb- cnn -rrb- nigeria 's leaders do n't `` agree '' with the u.s."
    prose = "(CNN) Nigeria's leaders don't “agree” with the U.S."
    assert norms(tokenised) == norms(prose)
    assert "lrb" not in clean(tokenised)


def test_numbers_are_compared_as_digits() -> None:
    assert norms("1,000 troops") == norms("1000 troops")
    assert norms("five children") == norms("5 children")
    number = tokens("28,000")[0]
    assert number.is_number and number.norm == "28000"


def test_capitalised_us_is_the_country_not_the_pronoun() -> None:
    assert "us" in norms("The US and its allies")
    assert "us" not in norms("he told us")


def test_slash_marks_an_alternative() -> None:
    parts = tokens("425/many young women")
    assert [t.after_slash for t in parts[:2]] == [False, True]


def test_sentences_split_on_tokenised_full_stops_and_lines() -> None:
    text = "two heroes are among the survivors . and they struggle .\nKey point"
    assert split_sentences(text) == [
        "two heroes are among the survivors .",
        "and they struggle .",
        "Key point",
    ]
