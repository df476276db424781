"""Turn cited sentence ids into verbatim evidence and spans, and merge claims across chunks.

The model never copies text: it cites ids. Here the program looks the ids up, keeps only ids
that exist in the part of the document the model was shown, and takes the evidence verbatim
from the source, so `evidence == source_text[start:end]` holds by construction. A claim left
with no valid id is dropped and counted in the result's warnings.

Kinds and speakers come from the wording of the cited sentences when the model gave none: a
claim that cites a quotation is a quote, and its speaker is read from the attribution
("“…,” Putin said"), the same reader the extractive tier uses.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

from summarizer.chunking import Sentence
from summarizer.replies import CitedClaim
from summarizer.schemas import Claim, ClaimKind

_QUOTE_MARKS = re.compile(r"[“”\"]")
_SPEECH_VERBS = (
    r"said|says|stated|states|told|added|noted|declared|warned|insisted|claimed|"
    r"announced|argued|wrote|explained|stressed|emphasi[sz]ed|according to|expressed|praised|"
    r"indicated|criticized|criticised|called|assured|highlighted|pledged|vowed|described"
)
_NAME = r"(?:[A-Z][\w.’'\-]*)(?:\s+(?:[A-Z][\w.’'\-]*|of|the|de|al))*"
# “…,” Putin stated  /  “…,” said Putin  /  Putin said: “…”
_AFTER_QUOTE = re.compile(
    rf"[”\"]\s*,?\s*(?:(?P<a>{_NAME})\s+(?:{_SPEECH_VERBS})\b|(?:{_SPEECH_VERBS})\s+(?P<b>{_NAME}))"
)
_BEFORE_QUOTE = re.compile(rf"(?P<c>{_NAME})\s+(?:{_SPEECH_VERBS})\b[^“\"]{{0,80}}[“\"]")
# A quoted passage of four words or more.
_QUOTATION = re.compile(r"[“\"](?:[^“”\"\s]+\s+){3,}[^“”\"]*[”\"]")
_PRONOUNS = frozenset({"He", "She", "They", "It", "We", "I", "The", "This", "That", "In"})


@dataclass(frozen=True)
class ResolvedClaim:
    text: str
    kind: ClaimKind
    speaker: str | None
    sentence_ids: tuple[int, ...]
    start: int
    end: int


def resolve_claim(claim: CitedClaim, visible: Mapping[int, Sentence]) -> ResolvedClaim | None:
    """Resolve against the sentences the model was shown; None when no cited id is among them.

    Cited ids that are not adjacent cannot form one span: the span covers the first run of
    consecutive ids, and `sentence_ids` lists exactly the sentences inside it.
    """
    ids = sorted({i for i in claim.sentence_ids if i in visible})
    if not ids:
        return None
    run = [ids[0]]
    for sid in ids[1:]:
        if sid != run[-1] + 1:
            break
        run.append(sid)
    kind, speaker = attributed(claim, [visible[i].text for i in run])
    return ResolvedClaim(
        text=claim.text.strip(),
        kind=kind,
        speaker=speaker,
        sentence_ids=tuple(run),
        start=visible[run[0]].start,
        end=visible[run[-1]].end,
    )


def attributed(claim: CitedClaim, cited: Sequence[str]) -> tuple[ClaimKind, str | None]:
    """The claim's kind and speaker, completed from the cited sentences: a `fact` that cites a
    quotation becomes a `quote`, and a quote with no speaker gets the attributed one. A kind
    the model chose otherwise (opinion, allegation, prediction) and a speaker it named stay."""
    kind = claim.kind
    speaker = (claim.speaker or "").strip() or None
    quoting = [text for text in cited if _QUOTE_MARKS.search(text)]
    said_by = next((who for text in quoting if (who := attributed_speaker(text))), None)
    # Scare quotes ('the so-called “deal”') are no quotation: it takes a speaker or words.
    if kind == ClaimKind.FACT and (said_by or any(_QUOTATION.search(t) for t in quoting)):
        kind = ClaimKind.QUOTE
    if speaker is None and kind == ClaimKind.QUOTE:
        speaker = said_by
    return kind, speaker


def claim_from_sentence(sentence: Sentence) -> ResolvedClaim:
    """An extractive claim: the sentence itself, its kind and speaker read off its wording."""
    speaker = attributed_speaker(sentence.text)
    kind = ClaimKind.QUOTE if _QUOTE_MARKS.search(sentence.text) else ClaimKind.FACT
    return ResolvedClaim(
        text=sentence.text,
        kind=kind,
        speaker=speaker,
        sentence_ids=(sentence.id,),
        start=sentence.start,
        end=sentence.end,
    )


def attributed_speaker(text: str) -> str | None:
    for pattern, groups in ((_AFTER_QUOTE, ("a", "b")), (_BEFORE_QUOTE, ("c",))):
        match = pattern.search(text)
        if match:
            for group in groups:
                who = match.group(group)
                if who and who not in _PRONOUNS:
                    return who
    return None


def _normalise(text: str) -> str:
    return " ".join(re.findall(r"\w+", text.lower()))


def merge_claims(resolved: Iterable[ResolvedClaim], source_text: str) -> list[Claim]:
    """De-duplicate by wording (overlapping chunks repeat claims) and number in source order."""
    seen: set[str] = set()
    unique: list[ResolvedClaim] = []
    for claim in resolved:
        wording = _normalise(claim.text)
        if not wording or wording in seen:
            continue
        seen.add(wording)
        unique.append(claim)
    unique.sort(key=lambda c: (c.start, c.end))
    return [
        Claim(
            id=f"c{index}",
            text=claim.text,
            kind=claim.kind,
            speaker=claim.speaker,
            evidence=source_text[claim.start : claim.end],
            span=(claim.start, claim.end),
            sentence_ids=list(claim.sentence_ids),
        )
        for index, claim in enumerate(unique, start=1)
    ]


def verify_claims(claims: Sequence[Claim], source_text: str) -> list[str]:
    """Problems with any claim whose evidence is not exactly its span of the source."""
    return [
        f"claim {c.id}: evidence does not match span {list(c.span)}"
        for c in claims
        if not (0 <= c.span[0] < c.span[1] <= len(source_text))
        or source_text[c.span[0] : c.span[1]] != c.evidence
    ]
