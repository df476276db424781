"""Decide how the statements aligned into one story claim relate: the same, a variant, or a
contradiction.

Two deciders, one contract (`Relations` per group):

* **Rules** (always, and alone on the embedded tiny model): the same quotation attributed to
  the same speaker but worded differently is a quote variant; the same unit counted with a
  different number is a figure variant; a sentence that denies what the others report
  ("denied", "rejected the accusations") is the other side of a disagreement.
* **The backend's model** (`ModelJudge`, with a capable backend): groups are shown to the model
  several at a time, each statement beside the claim, and it labels each one same / variant /
  contradicts / unrelated. Calls grow with the number of groups (linear in the articles), never
  with the number of article pairs.

Rules only ever add what they can see in the text; the model may also remove a match that
similarity proposed but that says something else ("unrelated").
"""

from __future__ import annotations

import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from summarizer.evidence import attributed_speaker
from summarizer.replies import Relation, RelationBatch
from summarizer.story.align import (
    DENIAL_PATTERN,
    DENIAL_THRESHOLD,
    Article,
    Group,
    Site,
    word_share,
)
from summarizer.text import content_tokens

# A quotation worth comparing: three words or more between matching quote marks.
_QUOTATION = re.compile(r"“([^”]{12,}?)”|\"([^\"]{12,}?)\"")
# A number followed by the thing it counts ("24 years", "1,000 troops").
_FIGURE = re.compile(r"\b(\d[\d,.]*)\s+([A-Za-z]{3,})")


@dataclass(frozen=True)
class QuoteWording:
    article: str
    start: int
    end: int
    text: str


@dataclass
class Relations:
    """What was decided for one group: per article, and the wordings that differ."""

    verdicts: dict[str, Relation] = field(default_factory=dict)
    quotes: list[QuoteWording] = field(default_factory=list)
    figures: list[QuoteWording] = field(default_factory=list)
    denials: dict[str, Site] = field(default_factory=dict)
    # Denials too far from the claim for the rules to call them the other side; shown to a
    # judging model, and a denial only where it says the statement contradicts the claim.
    proposed: dict[str, Site] = field(default_factory=dict)
    by_model: bool = False


def rule_relations(group: Group, articles: Sequence[Article]) -> Relations:
    """Quote and figure variants, and denials, read off the text alone."""
    texts = {a.id: a.text for a in articles}
    relations = Relations(verdicts=dict.fromkeys(group.sites, Relation.SAME))
    relations.quotes = _quote_variants(group, texts)
    relations.figures = _figure_variants(group, texts)
    for wording in (*relations.quotes, *relations.figures):
        relations.verdicts[wording.article] = Relation.VARIANT
    for article, denial in group.denials.items():
        if not _denies_the_claim(texts[article][denial.start : denial.end], group.seed.text):
            continue
        if denial.score >= DENIAL_THRESHOLD:
            relations.denials[article] = denial
            relations.verdicts[article] = Relation.CONTRADICTS
        elif article not in group.sites:  # shown in place of its support, it would hide that
            relations.proposed[article] = denial
    return relations


def _quote_variants(group: Group, texts: dict[str, str]) -> list[QuoteWording]:
    quoted: list[tuple[str | None, QuoteWording]] = []
    for article, site in group.sites.items():
        sentence = texts[article][site.start : site.end]
        speaker = _surname(
            attributed_speaker(sentence) or (site.claim.speaker if site.claim else None)
        )
        for match in _QUOTATION.finditer(sentence):
            group_index = 1 if match.group(1) is not None else 2
            start = site.start + match.start(group_index)
            end = site.start + match.end(group_index)
            # "…document,” Putin said": the comma belongs to the sentence, not to the remark.
            while end > start and texts[article][end - 1] in ",.;: ":
                end -= 1
            quoted.append((speaker, QuoteWording(article, start, end, texts[article][start:end])))
            break  # the sentence's first quotation is the remark it reports
    speakers = {speaker for speaker, _ in quoted if speaker}
    if len(quoted) < 2 or len(speakers) > 1:
        return []  # nothing to compare, or different people speaking
    wordings = {_normalised(w.text) for _, w in quoted}
    if len(wordings) < 2:
        return []  # the same words everywhere: the same claim, not a variant
    # Only quotations of the same remark: most of their words shared with another's.
    kept = [
        w
        for _, w in quoted
        if any(other is not w and word_share(w.text, other.text) >= 0.3 for _, other in quoted)
    ]
    return kept if len({w.article for w in kept}) >= 2 else []


def _figure_variants(group: Group, texts: dict[str, str]) -> list[QuoteWording]:
    by_unit: dict[str, list[tuple[str, QuoteWording]]] = {}
    for article, site in group.sites.items():
        sentence = texts[article][site.start : site.end]
        for match in _FIGURE.finditer(sentence):
            unit_tokens = content_tokens(match.group(2))
            if not unit_tokens:
                continue
            start, end = site.start + match.start(), site.start + match.end()
            value = match.group(1).replace(",", "").rstrip(".")
            by_unit.setdefault(unit_tokens[0].norm, []).append(
                (value, QuoteWording(article, start, end, texts[article][start:end]))
            )
    figures: list[QuoteWording] = []
    for found in by_unit.values():
        if len({w.article for _, w in found}) >= 2 and len({value for value, _ in found}) >= 2:
            figures.extend(w for _, w in found)
    return figures


def _denies_the_claim(sentence: str, claim: str) -> bool:
    """A denial is the other side only when the claim itself does not deny: "X denied it"
    does not contradict "X denied it" worded another way."""
    return DENIAL_PATTERN.search(claim) is None and DENIAL_PATTERN.search(sentence) is not None


def _surname(name: str | None) -> str | None:
    if not name:
        return None
    return name.split()[-1].strip(".,").lower()


def _normalised(text: str) -> str:
    return " ".join(t.norm for t in content_tokens(text))


# --- the model as judge ---------------------------------------------------------------------


# (rendered groups, group numbers, article ids) -> the model's verdicts
AskModel = Callable[[str, Sequence[int], Sequence[str]], RelationBatch]

GROUPS_PER_CALL = 8


def render_groups(
    numbered: Sequence[tuple[int, Group, Relations]], articles: Sequence[Article]
) -> str:
    texts = {a.id: a.text for a in articles}
    blocks = []
    for number, group, relations in numbered:
        lines = [f"[{number}] claim: {group.seed.text}"]
        sites = {**group.sites, **relations.proposed, **relations.denials}
        for article, site in sites.items():
            lines.append(f"  ({article}) {texts[article][site.start : site.end]}")
        blocks.append("\n".join(lines))
    return "\n\n".join(blocks)


def judge_with_model(
    groups: Sequence[Group],
    relations: Sequence[Relations],
    articles: Sequence[Article],
    ask: AskModel,
) -> None:
    """Let the model relabel every statement of every group with more than one article; calls
    are batched `GROUPS_PER_CALL` groups at a time. Updates `relations` in place."""
    shared = [
        (n, group, rel)
        for n, (group, rel) in enumerate(zip(groups, relations, strict=True), start=1)
        if len(group.sites) + len(rel.denials) + len(rel.proposed) > 1
    ]
    ids = [a.id for a in articles]
    for start in range(0, len(shared), GROUPS_PER_CALL):
        batch = shared[start : start + GROUPS_PER_CALL]
        answer = ask(render_groups(batch, articles), [n for n, _, _ in batch], ids)
        by_number = {n: (group, rel) for n, group, rel in batch}
        for verdict in answer.groups:
            if verdict.group not in by_number:
                continue
            group, rel = by_number[verdict.group]
            rel.by_model = True
            for statement in verdict.statements:
                article = statement.article
                if article in rel.proposed:
                    if statement.relation is not Relation.CONTRADICTS:
                        continue  # the model does not see a denial of this claim in it
                    rel.denials[article] = rel.proposed.pop(article)
                if article in group.sites or article in rel.denials:
                    rel.verdicts[article] = statement.relation
