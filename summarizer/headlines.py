"""A headline from a sentence: its news clause, short enough to read at a glance.

Shared by the extractive summary (`pipeline.py`) and the story's consolidated headline
(`story/compose.py`); kept apart so the summary path does not import story mode.
"""

from __future__ import annotations

import re

HEADLINE_CHARS = 120
# A first clause of this many words or fewer before a comma is a lead-in, not the news.
INTRO_WORDS = 6
_CLAUSE_END = re.compile(r"[,;:–—]\s|\s-\s")


def headline(text: str) -> str:
    """The first clause of a sentence, when the sentence is too long to be a headline; a short
    lead-in ("In a significant development, ...") is not a headline, so it is skipped."""
    text = " ".join(text.split())
    lead_in = re.match(r"([^,;:]{1,60}),\s+(?=\S)", text)
    if lead_in and len(lead_in.group(1).split()) <= INTRO_WORDS and len(text) > HEADLINE_CHARS:
        rest = text[lead_in.end() :]
        text = rest[:1].upper() + rest[1:]
    if len(text) <= HEADLINE_CHARS:
        return text.rstrip(".")
    match = _CLAUSE_END.search(text, 30)
    cut = match.start() if match and match.start() <= HEADLINE_CHARS else None
    if cut is None:
        words = text[:HEADLINE_CHARS].rsplit(" ", 1)[0]
        return words.rstrip(",;:") + "…"
    return text[:cut].rstrip(".")
