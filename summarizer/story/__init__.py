"""Story mode: several outlets' articles on one event become one verified account.

    result     the StoryResult contract (sources, claims with support, variants,
               disagreements, matrix, summary)
    align      claims x sentences across articles: embeddings propose, words keep it honest
    relations  same / variant / contradicts: deterministic rules, or the model in batches
    compose    coverage, matrix, variants, disagreements and the summary from the same groups

Built on the single-article pipeline: `Summarizer.story` runs (or reads from the cache) each
article's own result, and only the story step is new work. The embedded tiny model cannot judge
relations, so there the rules decide alone and the result says so (`relations_checked`).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from summarizer.chunking import split_sentences
from summarizer.errors import InputError
from summarizer.llm.embedder import Embedder
from summarizer.schemas import ModelRef, PromptRef, SummaryResult, Usage
from summarizer.sources import Source
from summarizer.story.align import Article, align
from summarizer.story.compose import compose_claims, compose_summary, verify_spans
from summarizer.story.relations import AskModel, judge_with_model, rule_relations
from summarizer.story.result import (
    Checked,
    Coverage,
    Span,
    StoryClaim,
    StoryResult,
    StorySource,
)
from summarizer.tokens import TokenCounter

# Sentences are never cut for the story step: it makes no call with the article text.
_SENTENCE_TOKENS = 100_000


@dataclass(frozen=True)
class StoryArticle:
    """One article of a story, with what is known of where it came from."""

    source: Source
    outlet: str | None = None
    title: str | None = None
    url: str | None = None


class StoryError(InputError):
    """The articles cannot form a story (fewer than two, or nothing shared)."""


def distinct(articles: Sequence[StoryArticle]) -> tuple[list[StoryArticle], list[str]]:
    """The articles with each text once (the first of identical ones), and a warning for
    every repeat; raises StoryError when fewer than two distinct ones remain."""
    kept: dict[str, StoryArticle] = {}
    warnings = []
    for article in articles:
        first = kept.get(article.source.sha256)
        if first is not None:
            warnings.append(
                f"{article.source.path} has the same text as {first.source.path}: counted once"
            )
            continue
        kept[article.source.sha256] = article
    if len(kept) < 2:
        raise StoryError(
            f"a story needs two or more different articles; got {len(kept)}"
            + (" (the others repeat it)" if len(articles) > len(kept) else "")
        )
    return list(kept.values()), warnings


def build_story(
    articles: Sequence[StoryArticle],
    results: Sequence[SummaryResult],
    embedder: Embedder,
    *,
    model: ModelRef,
    prompts: Sequence[PromptRef] = (),
    ask: AskModel | None = None,
    counter: TokenCounter | None = None,
) -> StoryResult:
    """The story of `articles`, whose own single-article `results` come in the same order.

    With `ask` the model relabels the relations; without it the rules decide alone. `usage` is
    left for the caller, who owns the meter of the whole run.
    """
    counter = counter or TokenCounter()
    aligned = [
        Article(
            id=f"a{n}",
            text=article.source.text,
            sentences=tuple(split_sentences(article.source.text, counter, _SENTENCE_TOKENS)),
            claims=tuple(result.claims),
        )
        for n, (article, result) in enumerate(zip(articles, results, strict=True), start=1)
    ]
    warnings: list[str] = []
    for article, story_article in zip(aligned, articles, strict=True):
        if not article.claims:
            warnings.append(
                f"{story_article.source.path}: its run produced no claims; its column only shows "
                "what other articles' claims found in it"
            )
    groups = align(aligned, embedder)
    relations = [rule_relations(group, aligned) for group in groups]
    if ask is not None:
        judge_with_model(groups, relations, aligned, ask)
    claims, variants, disagreements, matrix = compose_claims(groups, relations, aligned)
    if not disagreements and not any(c.coverage is not Coverage.SINGLE for c in claims):
        raise StoryError(
            "the articles share no statement: they do not form one story (summarise them "
            "one by one instead)"
        )
    warnings.extend(_unrelated(aligned, articles, claims))
    facets = {claim.id for claim, group in zip(claims, groups, strict=True) if group.facet}
    summary = compose_summary(claims, aligned, facets)
    spans: list[Span] = [s for c in claims for s in c.support]
    spans += [w for v in variants for w in v.wordings]
    spans += [s for d in disagreements for p in d.positions for s in p.spans]
    verify_spans(spans, aligned)
    sources = [
        StorySource(
            id=article.id,
            path=story_article.source.path,
            outlet=story_article.outlet,
            title=story_article.title,
            url=story_article.url,
            sha256=story_article.source.sha256,
            chars=len(article.text),
            claims=len(article.claims),
        )
        for article, story_article in zip(aligned, articles, strict=True)
    ]
    return StoryResult(
        sources=sources,
        claims=claims,
        variants=variants,
        disagreements=disagreements,
        summary=summary,
        matrix=matrix,
        model=model,
        embedder=embedder.identity.model,
        prompts=list(prompts),
        relations_checked=Checked.MODEL if ask is not None else Checked.RULES,
        usage=Usage(),
        warnings=warnings,
    )


def _unrelated(
    aligned: Sequence[Article], articles: Sequence[StoryArticle], claims: Sequence[StoryClaim]
) -> list[str]:
    """A warning for every article that shares nothing with the others, and for articles that
    fall into separate groups: they may be about different events."""
    links: dict[str, set[str]] = {a.id: set() for a in aligned}
    for claim in claims:
        ids = {s.source for s in claim.support}
        for source in ids:
            links[source] |= ids - {source}
    paths = {a.id: s.source.path for a, s in zip(aligned, articles, strict=True)}
    warnings = [
        f"{paths[a]} shares no statement with the other articles: it may be about another event"
        for a, linked in links.items()
        if not linked
    ]
    seen: set[str] = set()
    components: list[set[str]] = []
    for start in links:
        if start in seen or not links[start]:
            continue
        component: set[str] = set()
        frontier = [start]
        while frontier:
            node = frontier.pop()
            if node not in component:
                component.add(node)
                frontier.extend(links[node] - component)
        seen |= component
        components.append(component)
    if len(components) > 1:
        groups = "; ".join(", ".join(paths[a] for a in sorted(c)) for c in components)
        warnings.append(
            f"the articles form {len(components)} groups that share nothing with each other "
            f"({groups}): they may be separate stories"
        )
    return warnings


__all__ = ["StoryArticle", "StoryError", "StoryResult", "build_story", "distinct"]
