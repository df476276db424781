"""Well-formedness checks, the call shapes built from them, and the pipeline's re-ask and tidy."""

from __future__ import annotations

import json
import re
from typing import Any

import pytest

from summarizer.call_schemas import digest_schema, merge_schema, sentence_pattern, text_pattern
from summarizer.evidence import attributed
from summarizer.llm import CompletionRequest
from summarizer.pipeline import PipelineOptions, summarize
from summarizer.replies import ChunkDigest, CitedClaim
from summarizer.schemas import ClaimKind
from summarizer.sources import source_from_text
from summarizer.wellformed import (
    CLAIM_CHARS,
    HEADLINE_CHARS,
    SUMMARY_SENTENCE_CHARS,
    claim_problems,
    claim_range,
    copied_share,
    cut_short,
    digest_problems,
    longest_copied_run,
    tidy,
)
from tests.fakes import ScriptedBackend, allowed_ids, plausible_answer

# What the capable local tier wrote on the seed articles (issue 10), each cut at a quotation mark.
CUT_AT_A_QUOTE = [
    "Kim Jong Un praised Putin as the",
    "Putin criticized Western",
    "Kim called it the",
    "The president, who offered his ",
    "They said they executed a ",
    "Putin called the pact a “breakthrough",
]
FINISHED = [
    "Kim Jong Un praised Putin as “the dearest friend of the Korean people”.",
    "Putin said the pact was a 'breakthrough'.",
    "The file sat in C:\\archive\\2024 for years.",
    "Кремль назвал визит историческим.",
    "환영합니다 was written on a banner.",
    "It’s the first visit since 2000!",
    "Analysts asked whether it would last?",
]


@pytest.mark.parametrize("text", CUT_AT_A_QUOTE)
def test_text_cut_at_a_quote_is_found(text: str) -> None:
    assert cut_short(text, sentence=True) is not None
    assert re.match(SENTENCE_PATTERN, text) is None, "the grammar would not let it end there"


@pytest.mark.parametrize("text", FINISHED)
def test_finished_sentences_in_any_script_pass(text: str) -> None:
    assert cut_short(text, sentence=True) is None
    has_forbidden = '"' in text or "\\" in text
    assert (re.match(SENTENCE_PATTERN, text) is None) == has_forbidden


SENTENCE_PATTERN = sentence_pattern(CLAIM_CHARS)
TEXT_PATTERN = text_pattern(HEADLINE_CHARS)


def test_patterns_admit_nothing_that_ends_or_escapes_a_json_string() -> None:
    for pattern in (SENTENCE_PATTERN, TEXT_PATTERN):
        assert re.match(pattern, 'He said "no".') is None
        assert re.match(pattern, "A back\\slash.") is None
        assert re.match(pattern, "A line\nbreak.") is None
        assert re.match(pattern, "He said “no”.")
    assert re.match(TEXT_PATTERN, "Kim and Putin sign a pact")
    assert re.match(TEXT_PATTERN, "Kim and Putin sign a pact ") is None


def test_patterns_bound_the_length_so_a_string_cannot_run_on() -> None:
    """Qwen2.5-Coder on seed 000 wrote the whole article as one summary "sentence", then the
    next field's name inside the array, to the output limit: the length bound ends that."""
    longest = "A" + "a" * (CLAIM_CHARS - 2) + "."
    assert re.match(SENTENCE_PATTERN, longest)
    assert re.match(SENTENCE_PATTERN, longest + "”")  # a closing quote may follow the stop
    assert re.match(SENTENCE_PATTERN, "A" + longest) is None
    assert re.match(TEXT_PATTERN, "b" * HEADLINE_CHARS)
    assert re.match(TEXT_PATTERN, "b" * (HEADLINE_CHARS + 1)) is None
    schema = digest_schema([1, 2])
    summary = schema["properties"]["summary"]["items"]["pattern"]
    assert summary == sentence_pattern(SUMMARY_SENTENCE_CHARS)
    assert re.match(summary, "X" * (SUMMARY_SENTENCE_CHARS + 5) + ".") is None


@pytest.mark.parametrize(
    ("text", "one_sentence"),
    [
        ("Kim met Putin.", True),
        ("U.S. officials said the pact was 3.5 pages long.", True),
        ("Kim met Putin. They signed a pact.", False),  # a paragraph as one item
        ("key_points1: Russia and North Korea signed a treaty.", False),  # a field name as text
        (" Leading space.", False),
    ],
)
def test_a_sentence_item_holds_one_sentence(text: str, one_sentence: bool) -> None:
    """Qwen2.5-Coder wrote seed 000's summary as one item of three sentences, and then, held to
    two items at least, the names of the next fields as items."""
    assert (re.match(SENTENCE_PATTERN, text) is not None) == one_sentence


def test_headlines_and_key_points_need_no_full_stop_but_no_dangling_word() -> None:
    assert cut_short("Kim and Putin sign a defence pact", sentence=False) is None
    assert cut_short("Kim praises Putin as the", sentence=False) == "ends on 'the'"
    assert cut_short("Kim praises Putin,", sentence=False) == "ends on ','"


def test_claim_count_scales_with_the_article() -> None:
    assert claim_range(100, 8, 6) == (3, 8)
    assert claim_range(330, 8, 12) == (5, 8)  # one per 80 words, rounded up
    assert claim_range(2000, 8, 80) == (8, 8)  # never above max_claims
    assert claim_range(20, 8, 2) == (2, 8)  # a two-sentence text owes at most two


def test_digest_schema_shapes_every_count_and_string() -> None:
    schema = digest_schema([4, 5, 6], (4, 7))
    properties = schema["properties"]
    assert (properties["summary"]["minItems"], properties["summary"]["maxItems"]) == (2, 4)
    assert (properties["key_points"]["minItems"], properties["key_points"]["maxItems"]) == (3, 5)
    assert (properties["claims"]["minItems"], properties["claims"]["maxItems"]) == (4, 7)
    claim = schema["$defs"]["CitedClaim"]["properties"]
    assert claim["text"]["pattern"] == SENTENCE_PATTERN
    assert properties["summary"]["items"]["pattern"] == sentence_pattern(SUMMARY_SENTENCE_CHARS)
    assert properties["headline"]["pattern"] == TEXT_PATTERN
    merged = merge_schema()["properties"]
    assert (merged["summary"]["minItems"], merged["summary"]["maxItems"]) == (2, 4)
    # A grammar writes fields in this order: as the prompt lists them, or (a per-model choice)
    # the claims before the summary and key points they would otherwise copy; all still required.
    assert list(properties) == ["headline", "summary", "key_points", "claims"]
    first = digest_schema([4, 5, 6], (4, 7), claims_first=True)
    assert list(first["properties"]) == ["headline", "claims", "summary", "key_points"]
    assert first["properties"]["claims"] == properties["claims"]
    assert sorted(first["required"]) == sorted(properties)


def test_copy_detection() -> None:
    source = ["Kim met Putin.", "They signed a pact.", "It covers defence.", "Talks ended."]
    assert longest_copied_run("Kim met Putin. They signed a pact. It covers defence.", source) == 3
    assert longest_copied_run("Kim met Putin. A pact followed.", source) == 1
    article = "one two three four five six seven eight nine ten"
    assert copied_share(["one two three four five six seven eight"], article) == 1.0
    assert copied_share(["one two three four five six seven nine"], article) == 0.0
    assert copied_share(["x y one two three four five six seven eight"], article) == 0.8


def test_duplicate_and_whole_summary_claims_are_named() -> None:
    summary = "Kim met Putin in Pyongyang. They signed a defence pact."
    problems = claim_problems(
        ["Kim met Putin.", "Kim met  Putin!", summary, "They signed a pact."], summary
    )
    assert [(p.field, p.reason) for p in problems] == [
        ("claims.1.text", "repeats an earlier claim"),
        ("claims.2.text", "is the whole summary, not one claim"),
    ]


def digest(**changes: Any) -> ChunkDigest:
    base: dict[str, Any] = {
        "headline": "Kim and Putin sign a pact",
        "summary": ["Kim met Putin in Pyongyang.", "They signed a defence pact."],
        "key_points": ["The pact covers defence.", "It was signed in June.", "Seoul objected."],
        "claims": [
            {"text": "Kim met Putin.", "kind": "fact", "speaker": None, "sentence_ids": [1]},
            {"text": "They signed a pact.", "kind": "fact", "speaker": None, "sentence_ids": [2]},
            {"text": "Seoul objected.", "kind": "fact", "speaker": None, "sentence_ids": [3]},
        ],
    }
    return ChunkDigest.model_validate(base | changes)


def test_a_well_formed_digest_has_no_problems() -> None:
    assert digest_problems(digest(), ["Kim arrived.", "Talks began."], (3, 8)) == []


def test_tidy_drops_cut_repeated_and_pasted_claims_and_says_so() -> None:
    claims = [
        {"text": "Kim Jong Un praised Putin as the", "kind": "quote", "speaker": "Kim",
         "sentence_ids": [1]},
        {"text": "Kim met Putin.", "kind": "fact", "speaker": None, "sentence_ids": [1]},
        {"text": "Kim met Putin.", "kind": "fact", "speaker": None, "sentence_ids": [2]},
        {"text": "Kim met Putin in Pyongyang. They signed a defence pact.", "kind": "fact",
         "speaker": None, "sentence_ids": [2]},
    ]  # fmt: skip
    tidied = tidy(digest(claims=claims), [], (3, 8))
    assert [c.text for c in tidied.claims] == ["Kim met Putin."]
    assert "dropped 1 claim(s) cut off mid-clause" in tidied.warnings
    assert "dropped 1 claim(s) repeating another" in tidied.warnings
    assert "dropped 1 claim(s) pasting the whole summary" in tidied.warnings
    assert "1 claim(s) where at least 3 were asked for" in tidied.warnings


def test_tidy_cuts_an_overlong_summary_and_flags_a_copied_one() -> None:
    source = ["Kim met Putin.", "They signed a pact.", "It covers defence.", "Talks ended."]
    long = digest(summary=[*source, "Seoul objected."])
    tidied = tidy(long, source)
    assert tidied.summary == source
    assert "kept the first 4 of 5 summary sentences" in tidied.warnings
    assert "summary copies 4 consecutive article sentences word for word" in tidied.warnings


# --- quotes attributed -------------------------------------------------------------------


def cited(kind: str = "fact", speaker: str | None = None) -> CitedClaim:
    return CitedClaim(
        text="Putin praised the ties.", kind=ClaimKind(kind), speaker=speaker, sentence_ids=[1]
    )


def test_a_fact_citing_a_quotation_becomes_a_quote_with_the_attributed_speaker() -> None:
    quoting = "“Our friendship is stronger than ever,” Putin said on Wednesday."
    assert attributed(cited(), [quoting]) == (ClaimKind.QUOTE, "Putin")
    assert attributed(cited("quote"), [quoting]) == (ClaimKind.QUOTE, "Putin")
    # What the model gave is kept: its speaker, and a kind other than fact.
    assert attributed(cited("quote", "Vladimir Putin"), [quoting]) == (
        ClaimKind.QUOTE,
        "Vladimir Putin",
    )
    assert attributed(cited("opinion"), [quoting]) == (ClaimKind.OPINION, None)


def test_scare_quotes_and_plain_sentences_stay_facts() -> None:
    assert attributed(cited(), ["The so-called “deal” was signed."]) == (ClaimKind.FACT, None)
    assert attributed(cited(), ["The pact was signed in June."]) == (ClaimKind.FACT, None)


# --- the pipeline: re-ask once with the problem, then tidy -------------------------------

QUOTES_ARTICLE = (
    "Kim Jong Un praised Vladimir Putin as “the dearest friend of the Korean people” on "
    "Wednesday.\n"
    "“Our friendship is stronger than ever,” Putin said at the banquet in Pyongyang.\n"
    'The Kremlin called the visit "a historic milestone" and the pact "comprehensive".\n'
    "A banner read «Добро пожаловать», another 환영합니다, and the path C:\\archive\\2024 held "
    "the transcripts.\n"
)


def cut_digest(request: CompletionRequest) -> str:
    """A digest as the capable local tier wrote it: strings cut where the article quotes."""
    ids = allowed_ids(request)
    return json.dumps({
        "headline": "Kim praises Putin",
        "summary": ["Kim Jong Un praised Putin as the", "Putin said their friendship is."],
        "key_points": ["Kim hosted Putin.", "They signed a pact.", "The Kremlin was pleased."],
        "claims": [
            {"text": "Kim Jong Un praised Putin as the", "kind": "fact", "speaker": None,
             "sentence_ids": [ids[0]]},
            {"text": "Putin praised the friendship.", "kind": "fact", "speaker": None,
             "sentence_ids": [ids[1]]},
            {"text": "The Kremlin called the visit historic.", "kind": "fact", "speaker": None,
             "sentence_ids": [ids[2]]},
        ],
    })  # fmt: skip


def options() -> PipelineOptions:
    return PipelineOptions(max_chunk_tokens=1500, max_output_tokens=400)


def test_a_cut_answer_is_asked_again_with_the_specific_problem() -> None:
    backend = ScriptedBackend()
    backend.enqueue(cut_digest(CompletionRequest(
        messages=(), schema_name="ChunkDigest", json_schema=digest_schema([1, 2, 3, 4]),
        max_tokens=1, temperature=0, seed=0,
    )))  # fmt: skip
    result = summarize(source_from_text(QUOTES_ARTICLE, path="q.txt"), backend, options())
    assert len(backend.history) == 2
    reask = backend.history[1].messages[-1].content
    assert "claims.0.text 'Kim Jong Un praised Putin as the' ends on 'the'" in reask
    assert "summary.0 'Kim Jong Un praised Putin as the' ends on 'the'" in reask
    assert "never a bare" in reask
    # The second (plausible) answer is used: nothing cut survives.
    for text in [result.summary.text, *(c.text for c in result.claims)]:
        assert "as the" not in text


def test_an_answer_still_cut_after_the_reask_is_tidied_with_warnings() -> None:
    backend = ScriptedBackend(cut_digest)
    result = summarize(source_from_text(QUOTES_ARTICLE, path="q.txt"), backend, options())
    assert len(backend.history) == 2, "one re-ask for a flawed answer, not a loop"
    assert [c.text for c in result.claims] == [
        "Putin praised the friendship.",
        "The Kremlin called the visit historic.",
    ]
    assert result.summary.text == "Putin said their friendship is."
    assert "dropped 1 claim(s) cut off mid-clause" in result.warnings
    assert "dropped 1 summary sentence(s) cut off mid-clause" in result.warnings
    assert "summary has 1 sentence(s), not 2 to 4" in result.warnings
    # The claims citing a quotation are quotes, with the speaker the attribution names.
    by_text = {c.text: c for c in result.claims}
    assert by_text["Putin praised the friendship."].kind == ClaimKind.QUOTE
    assert by_text["Putin praised the friendship."].speaker == "Putin"
    assert by_text["The Kremlin called the visit historic."].kind == ClaimKind.QUOTE


def test_a_well_formed_answer_is_not_asked_again() -> None:
    backend = ScriptedBackend(plausible_answer)
    summarize(source_from_text(QUOTES_ARTICLE, path="q.txt"), backend, options())
    assert len(backend.history) == 1
