"""Scores for one summary of one labelled article. Pure functions: no I/O, no clock.

* **Fact recall**: the share of labelled facts (all, and `core` only) that the matcher finds in
  the *matched text*: the headline, the summary text, every key point and every claim text, one
  per line (`matched_text`). Claims count because a fact the result states only as a claim is
  still delivered to the reader.
* **Claim support**: the share of claims whose evidence resolves to its span of the source
  (`source_text[start:end] == evidence`), and the share whose text the matcher finds in its own
  evidence (the claim says what the cited sentences say).
* **Unsupported specifics**: numbers and capitalised names in the headline, summary, key points
  and claims that never occur in the source: a cheap signal of invented detail. Words are
  compared by stem ("Signs" is supported by "signed"), numbers as digits ("1,000" == "1000",
  "five" in the source supports "5"). A lone capitalised word that opens a sentence is skipped,
  because it is capitalised by position, not because it is a name.
* **Length**: words and characters of the summary text; `compression_ratio` is source words per
  summary word (higher = shorter summary).
* **Usage**: calls, cached calls, tokens from the result; wall time measured by the caller.
* **Well-formedness** (`wellformed.py` holds the checks and the requested ranges): strings cut
  off mid-clause, duplicate claims, claims per 100 source words, summary sentences and words
  against the requested range, the verbatim-copy rate (share of summary and claim words in runs
  of 8+ words copied from the source), quote claims without a speaker, and unsupported claims
  (`unsupported_claims`: a hook that stays None until claims carry a support verdict).
"""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel, ConfigDict

from summarizer.evaluation.dataset import Fact
from summarizer.evaluation.matchers.base import FactMatcher
from summarizer.schemas import Claim, ClaimKind, SummaryResult, SupportVerdict, Usage
from summarizer.text import Token, split_sentences, tokens, word_count
from summarizer.wellformed import (
    SUMMARY_SENTENCES,
    copied_share,
    cut_short,
    is_whole_summary,
    normalise,
)


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class FactRecall(_Strict):
    all: float
    core: float | None  # None when the article has no core facts
    matched: list[str]
    missed: list[str]
    missed_core: list[str]
    scores: dict[str, float]


class ClaimSupport(_Strict):
    """Shares are None when there are no claims: nothing to support is not full support."""

    claims: int
    resolved: int
    resolved_share: float | None
    supported: int
    supported_share: float | None
    unresolved_ids: list[str]
    unsupported_ids: list[str]


class LengthStats(_Strict):
    summary_words: int
    summary_chars: int
    source_words: int
    source_chars: int
    compression_ratio: float | None
    key_points: int
    claims: int


class UsageStats(Usage):
    """The result's usage and the wall time it took."""

    wall_time_s: float


class WellFormedness(_Strict):
    """What a reader would find broken or padded; `truncated` names each cut string."""

    truncated_strings: int
    truncated: list[str]
    duplicate_claims: int
    whole_summary_claims: int
    claims_per_100_words: float | None
    summary_sentences: int
    summary_in_range: bool
    verbatim_copy_rate: float | None
    quote_claims: int
    quotes_without_speaker: int
    # None until claims carry the support checker's verdict (issue 10, the `support` field).
    unsupported_claims: int | None = None


class ArticleMetrics(_Strict):
    article_id: str
    fact_recall: FactRecall
    claim_support: ClaimSupport
    unsupported_specifics: list[str]
    length: LengthStats
    usage: UsageStats
    wellformed: WellFormedness | None = None  # None in reports from before it was measured


def matched_text(result: SummaryResult) -> str:
    """The text facts are looked for in: headline, summary, key points, claims; one per line."""
    parts = [result.summary.headline, result.summary.text, *result.summary.key_points]
    parts += [claim.text for claim in result.claims]
    return "\n".join(part.strip() for part in parts if part.strip())


def fact_recall(facts: Sequence[Fact], text: str, matcher: FactMatcher) -> FactRecall:
    results = matcher.match_many([(fact, text) for fact in facts])
    matched = [f.id for f, r in zip(facts, results, strict=True) if r.present]
    missed = [f.id for f, r in zip(facts, results, strict=True) if not r.present]
    core = [f for f in facts if f.importance == "core"]
    core_found = sum(f.id in matched for f in core)
    return FactRecall(
        all=len(matched) / len(facts) if facts else 0.0,
        core=core_found / len(core) if core else None,
        matched=matched,
        missed=missed,
        missed_core=[f.id for f in core if f.id not in matched],
        scores={f.id: r.score for f, r in zip(facts, results, strict=True)},
    )


def evidence_resolves(claim: Claim, source_text: str) -> bool:
    start, end = claim.span
    return 0 <= start < end <= len(source_text) and source_text[start:end] == claim.evidence


def claim_support(claims: Sequence[Claim], source_text: str, matcher: FactMatcher) -> ClaimSupport:
    resolved = [evidence_resolves(c, source_text) for c in claims]
    # The claim is the "fact"; its own evidence is the "summary" that has to state it.
    as_facts = [
        Fact(id=f"claim-{index}", text=claim.text, importance="detail")
        for index, claim in enumerate(claims)
    ]
    verdicts = matcher.match_many([(f, c.evidence) for f, c in zip(as_facts, claims, strict=True)])
    supported = [v.present for v in verdicts]
    total = len(claims)
    return ClaimSupport(
        claims=total,
        resolved=sum(resolved),
        resolved_share=sum(resolved) / total if total else None,
        supported=sum(supported),
        supported_share=sum(supported) / total if total else None,
        unresolved_ids=[c.id for c, ok in zip(claims, resolved, strict=True) if not ok],
        unsupported_ids=[c.id for c, ok in zip(claims, supported, strict=True) if not ok],
    )


def unsupported_specifics(texts: Sequence[str], source_text: str) -> list[str]:
    """Numbers and names in `texts` that the source never mentions, in order of appearance."""
    source = {t.norm for t in tokens(source_text)}
    found: list[str] = []
    for text in texts:
        for sentence in split_sentences(text):
            for specific in _specifics(tokens(sentence)):
                norms = [t.norm for t in specific]
                label = " ".join(t.surface for t in specific)
                if any(n not in source for n in norms) and label not in found:
                    found.append(label)
    return found


def _specifics(sentence: list[Token]) -> list[list[Token]]:
    """Digit-written numbers, and runs of capitalised non-stopwords (a name like "Kim Jong Un")."""
    runs: list[list[Token]] = []
    current: list[Token] = []
    start = 0
    for index, token in enumerate([*sentence, None]):
        if token is not None and token.is_capitalised and not token.is_stopword:
            if not current:
                start = index
            current.append(token)
            continue
        if current and not (start == 0 and len(current) == 1):
            runs.append(current)
        current = []
        if token is not None and token.is_number and token.surface[:1].isdigit():
            runs.append([token])
    return runs


def length_stats(result: SummaryResult, source_text: str) -> LengthStats:
    summary_words = word_count(result.summary.text)
    source_words = word_count(source_text)
    return LengthStats(
        summary_words=summary_words,
        summary_chars=len(result.summary.text),
        source_words=source_words,
        source_chars=len(source_text),
        compression_ratio=round(source_words / summary_words, 3) if summary_words else None,
        key_points=len(result.summary.key_points),
        claims=len(result.claims),
    )


def wellformedness(result: SummaryResult, source_text: str) -> WellFormedness:
    summary = result.summary
    sentences = split_sentences(summary.text)
    cut = [
        f"{where}: {text}"
        for where, text, is_sentence in (
            ("headline", summary.headline, False),
            *(("summary", s, True) for s in sentences),
            *(("key point", p, False) for p in summary.key_points),
            *((f"claim {c.id}", c.text, True) for c in result.claims),
        )
        if cut_short(text, sentence=is_sentence) and not _whole_line(text, source_text)
    ]
    wordings = [normalise(c.text) for c in result.claims]
    duplicates = len(wordings) - len(set(wordings))
    source_words = word_count(source_text)
    quotes = [c for c in result.claims if c.kind == ClaimKind.QUOTE]
    least, most = SUMMARY_SENTENCES
    return WellFormedness(
        truncated_strings=len(cut),
        truncated=cut,
        duplicate_claims=duplicates,
        whole_summary_claims=sum(is_whole_summary(c.text, summary.text) for c in result.claims),
        claims_per_100_words=(
            round(100 * len(result.claims) / source_words, 3) if source_words else None
        ),
        summary_sentences=len(sentences),
        summary_in_range=least <= len(sentences) <= most,
        verbatim_copy_rate=_round(
            copied_share([summary.text, *(c.text for c in result.claims)], source_text)
        ),
        quote_claims=len(quotes),
        quotes_without_speaker=sum(1 for c in quotes if not c.speaker),
        unsupported_claims=unsupported_claims(result.claims),
    )


def _whole_line(text: str, source_text: str) -> bool:
    """A whole line of the source (a title the extractive tier quotes) is not cut short."""
    line = text.strip()
    return bool(line) and f"\n{line}\n" in f"\n{source_text}\n"


def unsupported_claims(claims: Sequence[Claim]) -> int | None:
    """Claims the support checker found unsupported; None when no claim was checked at all
    (`--check-claims off`), so an unchecked run is not read as a clean one."""
    if claims and all(claim.support.verdict == SupportVerdict.UNCHECKED for claim in claims):
        return None
    return sum(claim.support.verdict == SupportVerdict.UNSUPPORTED for claim in claims)


def _round(value: float | None) -> float | None:
    return None if value is None else round(value, 4)


def usage_stats(result: SummaryResult, wall_time_s: float) -> UsageStats:
    return UsageStats(**result.usage.model_dump(), wall_time_s=round(wall_time_s, 3))


def article_metrics(
    article_id: str,
    result: SummaryResult,
    facts: Sequence[Fact],
    source_text: str,
    matcher: FactMatcher,
    *,
    wall_time_s: float = 0.0,
) -> ArticleMetrics:
    summary = result.summary
    return ArticleMetrics(
        article_id=article_id,
        fact_recall=fact_recall(facts, matched_text(result), matcher),
        claim_support=claim_support(result.claims, source_text, matcher),
        unsupported_specifics=unsupported_specifics(
            [summary.headline, summary.text, *summary.key_points, *(c.text for c in result.claims)],
            source_text,
        ),
        length=length_stats(result, source_text),
        usage=usage_stats(result, wall_time_s),
        wellformed=wellformedness(result, source_text),
    )
