from __future__ import annotations

import pytest

from summarizer.evaluation.matchers import LexicalMatcher
from summarizer.evaluation.metrics import (
    article_metrics,
    claim_support,
    fact_recall,
    length_stats,
    matched_text,
    unsupported_specifics,
)
from summarizer.schemas import Usage
from tests.evaluation.builders import claim_from, fact, result

SOURCE = (
    "Russian President Vladimir Putin and North Korean leader Kim Jong Un signed a mutual "
    "defense treaty on Wednesday. The treaty was formalized during a summit in Pyongyang, "
    "marking Putin's first visit to North Korea in 24 years. Kim Jong Un expressed his full "
    "support for Russia's military operations in Ukraine."
)
VISIT = (
    "The treaty was formalized during a summit in Pyongyang, marking Putin's first visit to "
    "North Korea in 24 years."
)
SUPPORT = "Kim Jong Un expressed his full support for Russia's military operations in Ukraine."
FACTS = [
    fact("Putin and Kim Jong Un signed a mutual defense treaty.", id="000-f01"),
    fact("It was Putin's first visit to North Korea in 24 years.", id="000-f02"),
    fact(
        "Kim expressed full support for Russia's war in Ukraine.", id="000-f03", importance="detail"
    ),
    fact("North Korea has been under UN sanctions since 2006.", id="000-f04"),
]


def test_matched_text_joins_headline_summary_key_points_and_claims() -> None:
    claim = claim_from(SOURCE, SUPPORT)
    text = matched_text(result("Summary.", headline="Head", key_points=["Point"], claims=[claim]))
    assert text.splitlines() == ["Head", "Summary.", "Point", claim.text]


def test_fact_recall_separates_core_from_all() -> None:
    summary = (
        "Putin and Kim Jong Un signed a mutual defense treaty. "
        "Kim backed Russia's war in Ukraine with full support."
    )
    recall = fact_recall(FACTS, summary, LexicalMatcher())
    assert recall.matched == ["000-f01", "000-f03"]
    assert recall.all == 0.5
    assert recall.core == pytest.approx(1 / 3)
    assert recall.missed_core == ["000-f02", "000-f04"]
    assert set(recall.scores) == {f.id for f in FACTS}


def test_a_fact_stated_only_in_a_claim_still_counts() -> None:
    with_claim = result("A treaty was signed.", claims=[claim_from(SOURCE, VISIT)])
    recall = fact_recall(FACTS, matched_text(with_claim), LexicalMatcher())
    assert "000-f02" in recall.matched
    without = fact_recall(FACTS, matched_text(result("A treaty was signed.")), LexicalMatcher())
    assert "000-f02" not in without.matched


def test_claim_support_checks_spans_and_wording() -> None:
    good = claim_from(
        SOURCE, VISIT, text="Putin's visit was his first to North Korea in 24 years.", id="c1"
    )
    shifted = good.model_copy(update={"id": "c2", "span": (good.span[0] + 1, good.span[1] + 1)})
    unsupported = claim_from(SOURCE, VISIT, text="Putin promised Kim fighter jets.", id="c3")
    support = claim_support([good, shifted, unsupported], SOURCE, LexicalMatcher())
    assert (support.claims, support.resolved, support.supported) == (3, 2, 2)
    assert support.unresolved_ids == ["c2"]
    assert support.unsupported_ids == ["c3"]
    assert support.resolved_share == pytest.approx(2 / 3)


def test_no_claims_means_no_share_rather_than_full_support() -> None:
    support = claim_support([], SOURCE, LexicalMatcher())
    assert support.resolved_share is None and support.supported_share is None


def test_unsupported_specifics_flags_invented_numbers_and_names() -> None:
    texts = [
        "Putin and Kim Jong Un met in Beijing in 2023.",
        "Putin's first visit in 24 years.",
        "Signs of support. The Kremlin welcomed it.",
    ]
    assert unsupported_specifics(texts, SOURCE) == ["Beijing", "2023", "Kremlin"]


def test_specifics_compare_numbers_as_values() -> None:
    assert unsupported_specifics(["Some 1,000 troops."], "About 1000 troops were sent.") == []
    assert unsupported_specifics(["Some 5 troops."], "Five troops were sent.") == []
    assert unsupported_specifics(["Some 6 troops."], "Five troops were sent.") == ["6"]


def test_length_and_compression() -> None:
    stats = length_stats(result("Putin and Kim signed a treaty."), SOURCE)
    assert stats.summary_words == 6
    assert stats.source_words > 40
    assert stats.compression_ratio == pytest.approx(stats.source_words / 6, abs=0.001)
    assert length_stats(result(""), SOURCE).compression_ratio is None


def test_article_metrics_carries_usage_and_wall_time() -> None:
    usage = Usage(calls=3, cached_calls=1, prompt_tokens=900, completion_tokens=120)
    metrics = article_metrics(
        "000_x", result("Putin and Kim Jong Un signed a mutual defense treaty.", usage=usage),
        FACTS, SOURCE, LexicalMatcher(), wall_time_s=1.23456,
    )  # fmt: skip
    assert metrics.usage.calls == 3 and metrics.usage.cached_calls == 1
    assert metrics.usage.prompt_tokens == 900 and metrics.usage.wall_time_s == 1.235
    assert metrics.fact_recall.matched == ["000-f01"]
