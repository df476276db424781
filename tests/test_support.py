"""The claim support checker: each signal, the offline and judge methods, --min-support and
the cache key."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from pydantic import SecretStr

from summarizer.cli.options import settings_from
from summarizer.config import Settings, load_settings
from summarizer.llm import CompletionRequest
from summarizer.schemas import SupportVerdict
from summarizer.service import Summarizer
from summarizer.sources import source_from_text
from summarizer.support import check_support, with_support
from summarizer.support.checker import LEXICAL_WEIGHTS, check_offline
from summarizer.support.judge import CLAIMS_PER_CALL
from summarizer.support.signals import lexical_signals
from tests.fakes import ScriptedBackend, WordsEmbedder, plausible_answer, request_from_body
from tests.openai_server import OpenAIServer

EVIDENCE = (
    "Russian President Vladimir Putin signed a defence treaty with North Korea on Wednesday, "
    "pledging 1,000 troops to the border."
)
FAITHFUL = "Putin signed a defence treaty with North Korea, pledging 1,000 troops."
NEGATED = "Putin did not sign a defence treaty with North Korea, pledging 1,000 troops."
NUMBER = "Putin signed a defence treaty with North Korea, pledging 5,000 troops."
ENTITY = "Xi signed a defence treaty with North Korea, pledging 1,000 troops."
UNRELATED = "The central bank raised interest rates to curb inflation."

ARTICLE = (
    "Putin and Kim signed a mutual defence treaty in Pyongyang on Wednesday. "
    "It was the first visit by Putin to North Korea in 24 years. "
    "Children waved flags along the road into the city. "
    "The treaty obliges each side to help the other if attacked."
)


# --- signals ---------------------------------------------------------------------------------


def test_each_signal_sees_its_own_error_and_not_the_faithful_paraphrase() -> None:
    faithful = lexical_signals(FAITHFUL, EVIDENCE)
    assert (faithful.negation_differs, faithful.missing_numbers, faithful.missing_entities) == (
        0.0,
        0.0,
        0.0,
    )
    assert lexical_signals(NEGATED, EVIDENCE).negation_differs == 1.0
    assert lexical_signals(NUMBER, EVIDENCE).missing_numbers == 1.0
    assert lexical_signals(ENTITY, EVIDENCE).missing_entities > 0.0
    assert lexical_signals(UNRELATED, EVIDENCE).coverage < 0.2 < faithful.coverage


def test_negation_is_compared_with_the_closest_cited_sentence() -> None:
    # A "not" in another cited sentence says nothing about this claim.
    evidence = f"{EVIDENCE} Officials did not say when the troops would arrive."
    assert lexical_signals(FAITHFUL, evidence).negation_differs == 0.0


@pytest.mark.parametrize("wrong", [NEGATED, NUMBER, ENTITY, UNRELATED])
def test_every_corrupted_claim_scores_below_the_faithful_one(wrong: str) -> None:
    faithful, corrupted = check_offline([(FAITHFUL, EVIDENCE), (wrong, EVIDENCE)])
    assert faithful.verdict == SupportVerdict.SUPPORTED
    assert corrupted.score is not None and faithful.score is not None
    assert corrupted.score < faithful.score


@pytest.mark.parametrize("wrong", [NEGATED, NUMBER, ENTITY, UNRELATED])
def test_the_combined_checker_ranks_them_the_same_way(wrong: str) -> None:
    faithful, corrupted = check_offline([(FAITHFUL, EVIDENCE), (wrong, EVIDENCE)], WordsEmbedder())
    assert faithful.method == corrupted.method == "combined"
    assert corrupted.score is not None and faithful.score is not None
    assert corrupted.score < faithful.score


def test_a_changed_number_or_a_claim_with_no_word_of_its_evidence_is_unsupported() -> None:
    number, unrelated = check_offline([(NUMBER, EVIDENCE), (UNRELATED, EVIDENCE)])
    assert number.verdict == unrelated.verdict == SupportVerdict.UNSUPPORTED
    assert unrelated.score == 0.0


def test_the_weights_point_the_way_their_signals_do() -> None:
    signs = dict(zip(LEXICAL_WEIGHTS.features, LEXICAL_WEIGHTS.coefficients, strict=True))
    assert signs["coverage"] >= 0
    assert all(signs[name] <= 0 for name in ("missing_numbers", "missing_entities"))


def test_a_claim_that_is_its_evidence_is_verbatim_not_checked() -> None:
    calls: list[str] = []

    def embedder() -> WordsEmbedder:
        calls.append("embedder")
        return WordsEmbedder()

    supports, warnings = check_support(
        [(EVIDENCE, f" {EVIDENCE}\n")], "combined", embedder=embedder
    )
    assert [(s.verdict, s.score, s.method) for s in supports] == [
        (SupportVerdict.SUPPORTED, 1.0, "verbatim")
    ]
    assert calls == [] and warnings == []


def test_off_leaves_every_claim_unchecked() -> None:
    supports, _ = check_support([(NEGATED, EVIDENCE)], "off")
    assert [(s.verdict, s.score, s.method) for s in supports] == [
        (SupportVerdict.UNCHECKED, None, "off")
    ]


# --- through the service -----------------------------------------------------------------------


def settings(tmp_path: Path, **overrides: object) -> Settings:
    values: dict[str, object] = {
        "backend": "openai", "api_key": SecretStr("sk-test"), "model": "gpt-4o-mini",
        "cache_dir": tmp_path / "cache", "models_dir": tmp_path / "models",
        "mode": "abstractive",
    }  # fmt: skip
    return Settings.model_validate({**values, **overrides})


def claiming(*texts: str):  # type: ignore[no-untyped-def]
    """A responder whose digest makes the given claims, each citing the first sentence shown;
    judge batches are answered by `judging`."""

    def respond(request: CompletionRequest) -> str:
        if request.schema_name == "ChunkDigest":
            answer = json.loads(plausible_answer(request))
            first = answer["claims"][0]["sentence_ids"]
            answer["claims"] = [
                {"text": t, "kind": "fact", "speaker": None, "sentence_ids": first} for t in texts
            ]
            return json.dumps(answer)
        if request.schema_name == "ClaimJudgements":
            return judging(request)
        return plausible_answer(request)

    return respond


_SHOWN = re.compile(r"^\[(\d+)\] claim: (.*)$", re.MULTILINE)


def judging(request: CompletionRequest) -> str:
    """A judge that calls a claim unsupported exactly when it says "not"."""
    text = "\n".join(m.content for m in request.messages)
    return json.dumps(
        {"claims": [
            {"claim": int(n), "verdict": "unsupported" if " not " in claim else "supported"}
            for n, claim in _SHOWN.findall(text)
        ]}
    )  # fmt: skip


FIRST = "Putin and Kim signed a mutual defence treaty in Pyongyang."
NOT_FIRST = "Putin and Kim did not sign a mutual defence treaty in Pyongyang."
NUMBER_FIRST = "Putin and Kim signed 5 treaties in Pyongyang."


def test_lexical_is_the_default_and_every_claim_gets_a_support(tmp_path: Path) -> None:
    backend = ScriptedBackend(claiming(FIRST, NUMBER_FIRST))
    result = Summarizer(settings(tmp_path), backend=backend).summarize(
        source_from_text(ARTICLE, path="treaty.txt")
    )
    assert [(c.text, c.support.verdict, c.support.method) for c in result.claims] == [
        (FIRST, SupportVerdict.SUPPORTED, "lexical"),
        (NUMBER_FIRST, SupportVerdict.UNSUPPORTED, "lexical"),
    ]
    # The offline checker calls no model: every call is the digest (a re-ask included, as the
    # scripted digest has fewer claims than the article asks for).
    assert {r.schema_name for r in backend.history} == {"ChunkDigest"}


def test_min_support_drops_low_claims_and_says_so(tmp_path: Path) -> None:
    backend = ScriptedBackend(claiming(FIRST, NUMBER_FIRST))
    service = Summarizer(settings(tmp_path, min_support=0.5), backend=backend)
    result = service.summarize(source_from_text(ARTICLE, path="treaty.txt"))
    assert [c.text for c in result.claims] == [FIRST]
    assert any(
        w.startswith("dropped 1 claim(s) with support below 0.5: c") for w in result.warnings
    )


def test_min_support_never_drops_unchecked_claims() -> None:
    supports, _ = check_support([(NUMBER, EVIDENCE)], "off")
    from summarizer.schemas import Claim, ClaimKind

    claim = Claim(
        id="c1", text=NUMBER, kind=ClaimKind.FACT, speaker=None, evidence=EVIDENCE,
        span=(0, len(EVIDENCE)), sentence_ids=[1],
    )  # fmt: skip
    kept, warnings = with_support([claim], supports, 0.9)
    assert [c.id for c in kept] == ["c1"] and warnings == []


def test_the_judge_is_batched_cached_and_named_in_the_prompts(tmp_path: Path) -> None:
    texts = [FIRST, NOT_FIRST] + [f"Putin and Kim signed treaty number {n}." for n in range(9)]
    backend = ScriptedBackend(claiming(*texts))
    service = Summarizer(settings(tmp_path, check_claims="judge"), backend=backend)
    result = service.summarize(source_from_text(ARTICLE, path="treaty.txt"))
    judge_calls = [r for r in backend.history if r.schema_name == "ClaimJudgements"]
    assert len(judge_calls) == -(-len(texts) // CLAIMS_PER_CALL) == 2
    verdicts = {c.text: (c.support.verdict, c.support.method) for c in result.claims}
    assert verdicts[FIRST] == (SupportVerdict.SUPPORTED, "judge")
    assert verdicts[NOT_FIRST] == (SupportVerdict.UNSUPPORTED, "judge")
    assert "check_claims" in {p.name for p in result.prompts}
    digests = sum(r.schema_name == "ChunkDigest" for r in backend.history)
    assert result.usage.calls == digests + 2
    # The same claims again, checked again (another document entry): the judge is cached.
    again = Summarizer(
        settings(tmp_path, check_claims="judge", min_support=0.0), backend=backend
    ).summarize(source_from_text(ARTICLE, path="treaty.txt"))
    # From the cache: the digest's final answer (one entry however often it was asked) and
    # the two judge batches.
    assert again.usage.calls == 0 and again.usage.cached_calls == 3
    assert [c.support for c in again.claims] == [c.support for c in result.claims]


def test_a_judge_that_never_answers_validly_falls_back_to_lexical_with_a_warning(
    tmp_path: Path,
) -> None:
    def respond(request: CompletionRequest) -> str:
        if request.schema_name == "ClaimJudgements":
            return '{"claims": "no"}'
        return claiming(FIRST, NUMBER_FIRST)(request)  # type: ignore[no-any-return]

    backend = ScriptedBackend(respond)
    service = Summarizer(settings(tmp_path, check_claims="judge", max_reasks=1), backend=backend)
    result = service.summarize(source_from_text(ARTICLE, path="treaty.txt"))
    assert [c.support.method for c in result.claims] == ["lexical", "lexical"]
    assert "the model judged 0 of 2 claim(s); 2 checked lexically instead" in result.warnings
    digests = sum(r.schema_name == "ChunkDigest" for r in backend.history)
    assert result.usage.calls == digests + 2  # the digest(s), and the judge asked twice


def test_the_judge_through_the_openai_backend_on_loopback(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = lambda body: claiming(FIRST, NOT_FIRST)(request_from_body(body))
    service = Summarizer(
        settings(tmp_path, base_url=openai_server.base_url, check_claims="judge", timeout=5)
    )
    try:
        result = service.summarize(source_from_text(ARTICLE, path="treaty.txt"))
    finally:
        service.close()
    assert [(c.support.verdict, c.support.method) for c in result.claims] == [
        (SupportVerdict.SUPPORTED, "judge"),
        (SupportVerdict.UNSUPPORTED, "judge"),
    ]
    names = [b["response_format"]["json_schema"]["name"] for b in openai_server.requests]
    assert names[-1] == "ClaimJudgements" and set(names[:-1]) == {"ChunkDigest"}


def test_the_extractive_tier_is_verbatim_and_never_loads_the_embedder(tmp_path: Path) -> None:
    class NoEmbedder(WordsEmbedder):
        def embed(self, texts: object) -> list[tuple[float, ...]]:
            raise AssertionError("verbatim claims need no embedding")

    service = Summarizer(
        settings(tmp_path, mode="extractive", check_claims="combined"),
        backend=ScriptedBackend(),
        embedder=NoEmbedder(),
    )
    result = service.summarize(source_from_text(ARTICLE, path="treaty.txt"))
    assert result.claims
    assert {(c.support.verdict, c.support.score, c.support.method) for c in result.claims} == {
        (SupportVerdict.SUPPORTED, 1.0, "verbatim")
    }


# --- settings and the cache key --------------------------------------------------------------


@pytest.mark.parametrize(
    "change", [{"check_claims": "off"}, {"check_claims": "combined"}, {"min_support": 0.7}]
)
def test_a_changed_checker_setting_is_never_answered_by_a_stale_document(
    tmp_path: Path, change: dict[str, object]
) -> None:
    backend = ScriptedBackend(claiming(FIRST, NUMBER_FIRST))
    source = source_from_text(ARTICLE, path="treaty.txt")
    first = Summarizer(settings(tmp_path), backend=backend).summarize(source)
    service = Summarizer(settings(tmp_path, **change), backend=backend, embedder=WordsEmbedder())
    assert service._document_key(source) != Summarizer(settings(tmp_path))._document_key(source)
    second = service.summarize(source)
    assert second.usage.cached_calls == 1  # the digest, from the call cache; no document hit
    assert [c.support for c in second.claims] != [c.support for c in first.claims]


def test_the_options_reach_the_settings_from_flags_and_environment(tmp_path: Path) -> None:
    from_flags = settings_from({"check_claims": "judge", "min_support": 0.4})
    assert (from_flags.check_claims, from_flags.min_support) == ("judge", 0.4)
    env = {"SUMMARIZER_CHECK_CLAIMS": "off", "SUMMARIZER_MIN_SUPPORT": "0.25"}
    from_env = load_settings(env=env, dotenv_path=None)
    assert (from_env.check_claims, from_env.min_support) == ("off", 0.25)
    flags_win = load_settings({"check_claims": "combined"}, env=env, dotenv_path=None)
    assert flags_win.check_claims == "combined"


def test_a_bad_check_method_is_a_one_line_config_error() -> None:
    from summarizer.errors import ConfigError

    with pytest.raises(ConfigError, match="invalid setting check_claims"):
        load_settings(env={"SUMMARIZER_CHECK_CLAIMS": "vibes"}, dotenv_path=None)


# --- the real embedder -------------------------------------------------------------------------


@pytest.mark.local_model
def test_with_the_real_embedder_similarity_misses_negation_and_the_checker_does_not(
    tmp_path: Path,
) -> None:
    from summarizer.errors import BackendUnavailable
    from summarizer.llm.embedder import local_embedder
    from summarizer.support.signals import signals

    pytest.importorskip("llama_cpp")
    try:
        embedder = local_embedder(tmp_path / "models", threads=2)
        faithful = signals(FAITHFUL, EVIDENCE, embedder)
    except BackendUnavailable as error:
        pytest.skip(str(error))
    negated = signals(NEGATED, EVIDENCE, embedder)
    unrelated = signals(UNRELATED, EVIDENCE, embedder)
    assert faithful.similarity is not None and negated.similarity is not None
    assert unrelated.similarity is not None and unrelated.similarity < 0.5 < faithful.similarity
    # Embeddings barely see the "not" (it scores as a near paraphrase); the negation signal does.
    assert negated.similarity > 0.7 and negated.negation_differs == 1.0
    checked = check_offline([(FAITHFUL, EVIDENCE), (NEGATED, EVIDENCE)], embedder)
    assert [s.method for s in checked] == ["combined", "combined"]
    assert checked[1].score is not None and checked[0].score is not None
    assert checked[1].score < checked[0].score
    embedder.close()


@pytest.mark.slow
def test_the_cli_flags_drop_and_warn(openai_server: OpenAIServer, tmp_path: Path) -> None:
    from tests.support import run_summarizer

    openai_server.responder = lambda body: claiming(FIRST, NUMBER_FIRST)(request_from_body(body))
    article = tmp_path / "treaty.txt"
    article.write_text(ARTICLE, encoding="utf-8")
    env = {"OPENAI_API_KEY": "sk-test-support", "SUMMARIZER_TIMEOUT": "5"}
    common = ["claims", str(article), "--base-url", openai_server.base_url, "--mode", "abstractive"]
    kept = run_summarizer(*common, env=env)
    dropped = run_summarizer(*common, "--min-support", "0.5", env=env)
    off = run_summarizer(*common, "--check-claims", "off", env=env)
    assert kept.returncode == dropped.returncode == off.returncode == 0, dropped.stderr
    assert [c["support"]["method"] for c in json.loads(kept.stdout)["claims"]] == ["lexical"] * 2
    result = json.loads(dropped.stdout)
    assert [c["text"] for c in result["claims"]] == [FIRST]
    assert any("dropped 1 claim(s) with support below 0.5" in w for w in result["warnings"])
    assert {c["support"]["verdict"] for c in json.loads(off.stdout)["claims"]} == {"unchecked"}
    bad = run_summarizer(*common, "--check-claims", "vibes", env=env)
    assert bad.returncode != 0 and "vibes" in bad.stderr and "Traceback" not in bad.stderr
