"""Clauses of a sentence: where story alignment may cut a sentence that states several facts.

"The treaty was formalized during a summit in Pyongyang, marking Putin's first visit to North
Korea in 24 years" states where the treaty was signed *and* that the visit was the first in 24
years; another outlet may state only the second, in a sentence of its own. Cuts fall at commas,
semicolons, colons and dashes, and before words that open a clause ("during", "marking",
"where", "as"...), never inside a quotation; a piece too short to say anything joins its
neighbour. Offsets are into the sentence, so every clause is a verbatim stretch of it.
"""

from __future__ import annotations

import re

from summarizer.text import content_tokens

# Where a sentence breaks into clauses, and how many content words a clause needs to stand alone.
_CLAUSE_BREAK = re.compile(
    r"\s*[,;:]\s+|\s+[–—-]\s+|\s+(?=(?:during|marking|where|while|as|after|including|which|"
    r"who|amid|despite|following)\b)"
)
MIN_CLAUSE_WORDS = 3
# "as" after these is a preposition ("serve as the basis"), not the start of a clause.
_AS_PREPOSITION = frozenset(
    {"serve", "serves", "served", "serving", "act", "acts", "acted", "acting", "such", "known",
     "well", "seen", "regarded", "described", "considered", "same", "much", "soon", "long",
     "far", "just", "so", "twice"}
)  # fmt: skip
_AS = re.compile(r"as\b", re.IGNORECASE)
_QUOTED = re.compile(r"“[^”]*”|\"[^\"]*\"")


def clauses(text: str) -> list[tuple[int, int]]:
    """Offsets of the clauses of a sentence, each with `MIN_CLAUSE_WORDS` content words or
    more (shorter pieces join a neighbour); one clause when the sentence has no break."""
    pieces: list[tuple[int, int]] = []
    position = 0
    quoted = [m.span() for m in _QUOTED.finditer(text)]
    for match in _CLAUSE_BREAK.finditer(text):
        if any(start < match.start() < end for start, end in quoted):
            continue  # a quotation is one remark: never cut inside it
        if _as_preposition(text, match):
            continue
        if match.start() > position:
            pieces.append((position, match.start()))
        position = match.end()
    pieces.append((position, len(text)))
    merged: list[tuple[int, int]] = []
    for start, end in pieces:
        end = _trimmed_end(text, start, end)
        if end <= start:
            continue
        if merged and (
            content_size(text[merged[-1][0] : merged[-1][1]]) < MIN_CLAUSE_WORDS
            or content_size(text[start:end]) < MIN_CLAUSE_WORDS
        ):
            merged[-1] = (merged[-1][0], end)
        else:
            merged.append((start, end))
    return merged


def _as_preposition(text: str, match: re.Match[str]) -> bool:
    """ "as" after "serve", "such", "known"... is a preposition ("serve as the basis"), not the
    start of a clause ("as both countries face...")."""
    if _AS.match(text, match.end()) is None:
        return False
    before = text[: match.start()].split()
    return bool(before) and before[-1].lower() in _AS_PREPOSITION


def _trimmed_end(text: str, start: int, end: int) -> int:
    while end > start and text[end - 1] in " \t\n.,;:":
        end -= 1
    return end


def content_size(text: str) -> int:
    return len(content_tokens(text))
