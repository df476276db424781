"""Assemble the story result from aligned groups and their relations, spans verified.

Coverage, the claims x articles matrix, variants, disagreements and the consolidated summary are
all computed from the same groups, so they cannot disagree with each other. Every span is
checked against its article's text before the result is returned; a mismatch is a bug, and the
story is refused rather than emitted.
"""

from __future__ import annotations

from collections.abc import Sequence, Set

from summarizer.errors import PlanError
from summarizer.headlines import headline
from summarizer.replies import Relation
from summarizer.schemas import ClaimKind
from summarizer.story.align import Article, Group, Site
from summarizer.story.relations import QuoteWording, Relations
from summarizer.story.result import (
    Cell,
    Checked,
    Coverage,
    Disagreement,
    MatrixRow,
    Position,
    Span,
    StoryClaim,
    StorySummary,
    SummarySentence,
    Support,
    Variant,
    Wording,
)

SUMMARY_SENTENCES = 4


def compose_claims(
    groups: Sequence[Group], relations: Sequence[Relations], articles: Sequence[Article]
) -> tuple[list[StoryClaim], list[Variant], list[Disagreement], list[MatrixRow]]:
    texts = {a.id: a.text for a in articles}
    claims: list[StoryClaim] = []
    variants: list[Variant] = []
    disagreements: list[Disagreement] = []
    matrix: list[MatrixRow] = []
    for group, rel in zip(groups, relations, strict=True):
        # A site the model judged unrelated or contradicting is no support; an article that
        # reports the claim and also carries a denial (rules) keeps its support.
        kept = {
            article: site
            for article, site in group.sites.items()
            if article == group.seed_article
            or article in rel.denials
            or rel.verdicts.get(article) not in (Relation.UNRELATED, Relation.CONTRADICTS)
        }
        claim_id = f"s{len(claims) + 1}"
        checked = Checked.MODEL if rel.by_model else Checked.RULES
        claims.append(
            StoryClaim(
                id=claim_id,
                text=group.seed.text,
                kind=group.seed.kind,
                speaker=group.seed.speaker,
                coverage=_coverage(len(kept), len(articles)),
                support=[_support(site, texts) for site in kept.values()],
                checked=checked,
            )
        )
        variants.extend(_variants(claim_id, group, rel, kept, texts, len(variants), checked))
        against = {
            article: rel.denials.get(article) or site
            for article, site in {**group.sites, **rel.denials}.items()
            if rel.verdicts.get(article) is Relation.CONTRADICTS and article != group.seed_article
        }
        if against:
            disagreements.append(
                Disagreement(
                    id=f"d{len(disagreements) + 1}",
                    topic=group.seed.text,
                    claim_ids=[claim_id],
                    positions=[
                        Position(
                            statement="states it",
                            spans=[_span(site, texts) for site in kept.values()],
                        ),
                        Position(
                            statement="contradicts or denies it",
                            spans=[_span(site, texts) for site in against.values()],
                        ),
                    ],
                    checked=checked,
                )
            )
        matrix.append(
            MatrixRow(
                claim_id=claim_id,
                cells={
                    a.id: Cell.CONTRADICTS
                    if a.id in against
                    else Cell.STATES
                    if a.id in kept
                    else Cell.NOT_MENTIONED
                    for a in articles
                },
            )
        )
    return claims, variants, disagreements, matrix


def compose_summary(
    claims: Sequence[StoryClaim], articles: Sequence[Article], facets: Set[str] = frozenset()
) -> StorySummary:
    """The most widely stated claims, in the order the first article tells them, under a
    headline made of the most widely stated one. Claims whose text is one clause of a sentence
    (`facets`, by id) are not sentences, so not summary sentences either."""
    rank = {Coverage.ALL: 0, Coverage.SEVERAL: 1, Coverage.SINGLE: 2}
    order = {a.id: n for n, a in enumerate(articles)}
    whole = [c for c in claims if c.id not in facets]
    chosen = sorted(whole, key=lambda c: (rank[c.coverage], -len(c.support), -_mean_score(c)))[
        :SUMMARY_SENTENCES
    ]
    if not chosen:
        return StorySummary(headline="", sentences=[])
    # The headline: the most widely stated, a fact before a quote, then the earliest told.
    widest = min(
        chosen,
        key=lambda c: (
            rank[c.coverage],
            -len(c.support),
            c.kind != ClaimKind.FACT,
            order[c.support[0].source],
            c.support[0].span[0],
        ),
    )
    chosen.sort(key=lambda c: (order[c.support[0].source], c.support[0].span[0]))
    return StorySummary(
        headline=headline(widest.text),
        sentences=[SummarySentence(text=c.text, claim_ids=[c.id]) for c in chosen],
    )


def verify_spans(spans: Sequence[Span], articles: Sequence[Article]) -> None:
    texts = {a.id: a.text for a in articles}
    for span in spans:
        start, end = span.span
        if texts[span.source][start:end] != span.evidence:
            raise PlanError(f"story span {span.source}{list(span.span)} does not match its text")


def _coverage(count: int, total: int) -> Coverage:
    if count >= total:
        return Coverage.ALL
    return Coverage.SEVERAL if count >= 2 else Coverage.SINGLE


def _support(site: Site, texts: dict[str, str]) -> Support:
    return Support(
        source=site.article,
        evidence=texts[site.article][site.start : site.end],
        span=(site.start, site.end),
        claim_id=site.claim.id if site.claim else None,
        claim_text=site.claim.text if site.claim else None,
        score=site.score,
    )


def _span(site: Site, texts: dict[str, str]) -> Span:
    return Span(
        source=site.article,
        evidence=texts[site.article][site.start : site.end],
        span=(site.start, site.end),
    )


def _variants(
    claim_id: str,
    group: Group,
    rel: Relations,
    kept: dict[str, Site],
    texts: dict[str, str],
    numbered: int,
    checked: Checked,
) -> list[Variant]:
    found: list[Variant] = []
    for kind, wordings in (("quote", rel.quotes), ("figure", rel.figures)):
        shown = [w for w in wordings if w.article in kept]
        if len({w.article for w in shown}) < 2:
            continue
        found.append(
            Variant(
                id=f"v{numbered + len(found) + 1}",
                claim_id=claim_id,
                kind="quote" if kind == "quote" else "figure",
                speaker=group.seed.speaker if kind == "quote" else None,
                wordings=[_wording(w, texts) for w in shown],
                checked=checked,
            )
        )
    model_variants = [
        article for article, verdict in rel.verdicts.items() if verdict is Relation.VARIANT
    ]
    if rel.by_model and not found and model_variants:
        sites = [kept[group.seed_article], *(kept[a] for a in model_variants if a in kept)]
        if len({s.article for s in sites}) >= 2:
            found.append(
                Variant(
                    id=f"v{numbered + 1}",
                    claim_id=claim_id,
                    kind="quote" if group.seed.kind == "quote" else "figure",
                    speaker=group.seed.speaker,
                    wordings=[
                        _wording(QuoteWording(s.article, s.start, s.end, ""), texts) for s in sites
                    ],
                    checked=checked,
                )
            )
    return found


def _wording(wording: QuoteWording, texts: dict[str, str]) -> Wording:
    evidence = texts[wording.article][wording.start : wording.end]
    return Wording(
        source=wording.article,
        evidence=evidence,
        span=(wording.start, wording.end),
        text=wording.text or evidence,
    )


def _mean_score(claim: StoryClaim) -> float:
    return sum(s.score for s in claim.support) / len(claim.support)
