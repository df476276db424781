"""Split text into numbered sentences and token-bounded chunks, with exact character offsets.

Invariants (property-tested): `text[s.start:s.end] == s.text` for every sentence; sentences are
in order, never overlap, and together cover every non-whitespace character; a chunk's rendered
prompt text (`render_sentences`) never exceeds its token budget; nothing is dropped.

Chunks are packed from whole paragraphs while they fit, then from whole sentences; a sentence
longer than the budget is cut at word boundaries, and a "word" longer than the budget (a URL,
base64) at character boundaries.
"""

from __future__ import annotations

import re
from collections import deque
from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from summarizer.errors import PlanError
from summarizer.tokens import TokenCounter

# A sentence ends at . ! ? or … (plus closing quotes/brackets) followed by whitespace and then
# something that can open a sentence. Commas inside quotes ("…document,” Putin said) never end one.
_BOUNDARY = re.compile(r"""[.!?…]+["'”’»)\]]*(?=\s+["'“‘«(\[]?[A-Z0-9À-ÖØ-Þ])""")
_ABBREVIATIONS = frozenset(
    [
        "mr",
        "mrs",
        "ms",
        "dr",
        "prof",
        "sr",
        "jr",
        "st",
        "mt",
        "gen",
        "col",
        "lt",
        "sgt",
        "capt",
        "gov",
        "sen",
        "rep",
        "pres",
        "rev",
        "fr",
        "jan",
        "feb",
        "mar",
        "apr",
        "jun",
        "jul",
        "aug",
        "sep",
        "sept",
        "oct",
        "nov",
        "dec",
        "no",
        "vs",
        "etc",
        "inc",
        "ltd",
        "co",
        "corp",
        "dept",
        "est",
        "approx",
    ]
)
_PARAGRAPH = re.compile(r"[^\n]+")
_WORD = re.compile(r"\S+")


@dataclass(frozen=True)
class Sentence:
    id: int
    start: int
    end: int
    text: str
    paragraph: int


@dataclass(frozen=True)
class Chunk:
    index: int
    sentences: tuple[Sentence, ...]
    tokens: int

    @property
    def start(self) -> int:
        return self.sentences[0].start

    @property
    def end(self) -> int:
        return self.sentences[-1].end


_DELIMITER_TAG = re.compile(r"<(/?\s*(?:article|parts)\b)", re.IGNORECASE)


def neutralise_delimiters(text: str) -> str:
    """Stop article text from closing the prompt's data block (`</article>`) early.

    Only the prompt copy changes; evidence is always taken from the untouched source.
    """
    return _DELIMITER_TAG.sub(r"‹\1", text)


def render_sentences(sentences: Sequence[Sentence]) -> str:
    """The numbered form a model sees: one `[id] text` line per sentence."""
    return "\n".join(f"[{s.id}] {neutralise_delimiters(s.text)}" for s in sentences)


def _spans(text: str) -> Iterator[tuple[int, int, int]]:
    """(start, end, paragraph) of each sentence, stripped of surrounding whitespace."""
    for paragraph, match in enumerate(_PARAGRAPH.finditer(text)):
        line_start = match.start()
        line = match.group()
        cursor = 0
        for boundary in _BOUNDARY.finditer(line):
            if _is_abbreviation(line, boundary.start()):
                continue
            yield from _stripped(text, line_start + cursor, line_start + boundary.end(), paragraph)
            cursor = boundary.end()
        yield from _stripped(text, line_start + cursor, line_start + len(line), paragraph)


def _is_abbreviation(line: str, dot: int) -> bool:
    if line[dot] != ".":
        return False
    word = re.search(r"([A-Za-z]+)$", line[:dot])
    if word is None:
        return False
    token = word.group(1)
    # Single initials ("J. Smith", "U.S.") and known abbreviations do not end a sentence.
    return len(token) == 1 or token.lower() in _ABBREVIATIONS


def _stripped(text: str, start: int, end: int, paragraph: int) -> Iterator[tuple[int, int, int]]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    if start < end:
        yield start, end, paragraph


def split_sentences(text: str, counter: TokenCounter, max_tokens: int) -> list[Sentence]:
    """Sentences numbered from 1; any longer than `max_tokens` once rendered are cut into pieces."""
    sentences: list[Sentence] = []
    for start, end, paragraph in _spans(text):
        for piece_start, piece_end in _fit(text, start, end, counter, max_tokens):
            sid = len(sentences) + 1
            sentences.append(
                Sentence(sid, piece_start, piece_end, text[piece_start:piece_end], paragraph)
            )
    return sentences


def _rendered_tokens(counter: TokenCounter, text: str) -> int:
    # Budget for the worst-case id prefix so a renumbered sentence still fits.
    return counter.count(f"[999999] {text}")


def _fit(
    text: str, start: int, end: int, counter: TokenCounter, max_tokens: int
) -> Iterator[tuple[int, int]]:
    if _rendered_tokens(counter, text[start:end]) <= max_tokens:
        yield start, end
        return
    piece_start: int | None = None
    piece_end = start
    for word in _WORD.finditer(text, start, end):
        candidate_start = word.start() if piece_start is None else piece_start
        if _rendered_tokens(counter, text[candidate_start : word.end()]) <= max_tokens:
            piece_start, piece_end = candidate_start, word.end()
            continue
        if piece_start is not None:
            yield piece_start, piece_end
        if _rendered_tokens(counter, word.group()) <= max_tokens:
            piece_start, piece_end = word.start(), word.end()
        else:
            yield from _fit_characters(text, word.start(), word.end(), counter, max_tokens)
            piece_start = None
    if piece_start is not None:
        yield piece_start, piece_end


def _fit_characters(
    text: str, start: int, end: int, counter: TokenCounter, max_tokens: int
) -> Iterator[tuple[int, int]]:
    while start < end:
        low, high = start + 1, end  # the longest prefix that fits, by binary search
        if _rendered_tokens(counter, text[start:low]) > max_tokens:
            raise PlanError(f"max_tokens={max_tokens} cannot hold even one character")
        while low < high:
            middle = (low + high + 1) // 2
            if _rendered_tokens(counter, text[start:middle]) <= max_tokens:
                low = middle
            else:
                high = middle - 1
        yield start, low
        start = low


def chunk_sentences(
    sentences: Sequence[Sentence],
    counter: TokenCounter,
    max_tokens: int,
    overlap_tokens: int = 0,
) -> list[Chunk]:
    """Pack sentences into chunks of at most `max_tokens`, preferring paragraph boundaries.

    With `overlap_tokens`, each chunk after the first starts with the previous chunk's last
    sentences (up to that many tokens) for context; every chunk still has new sentences, and
    claims cited twice through the overlap are merged later.
    """
    chunks: list[Chunk] = []
    current: list[Sentence] = []
    carried = 0  # how many of `current`'s leading sentences are overlap from the last chunk
    current_tokens = 0
    work: deque[Sentence] = deque()

    def cost(sentence: Sentence) -> int:
        return _rendered_tokens(counter, sentence.text)

    def emit() -> list[Sentence]:
        """Close the current chunk; return sentences that must move on to the next one."""
        nonlocal current, carried, current_tokens
        spilled: list[Sentence] = []
        exact = counter.count(render_sentences(current))
        # Token counts are not perfectly additive: move sentences on until the chunk fits.
        while exact > max_tokens and len(current) - carried > 1:
            spilled.insert(0, current.pop())
            exact = counter.count(render_sentences(current))
        if exact > max_tokens and carried:
            current, carried = current[carried:], 0
            exact = counter.count(render_sentences(current))
        if exact > max_tokens:
            raise PlanError(f"sentence {current[0].id} does not fit in {max_tokens} tokens")
        chunks.append(Chunk(len(chunks), tuple(current), exact))
        current = _overlap(current, counter, overlap_tokens) if overlap_tokens else []
        carried = len(current)
        current_tokens = sum(cost(s) for s in current)
        return spilled

    def drain() -> None:
        nonlocal current, carried, current_tokens
        while work:
            sentence = work.popleft()
            sentence_cost = cost(sentence)
            if current_tokens + sentence_cost > max_tokens:
                if len(current) > carried:
                    work.appendleft(sentence)
                    work.extendleft(reversed(emit()))
                    continue
                current, carried, current_tokens = [], 0, 0  # the overlap leaves no room
            current.append(sentence)
            current_tokens += sentence_cost

    for paragraph in _paragraphs(sentences):
        paragraph_tokens = sum(cost(s) for s in paragraph)
        if len(current) > carried and current_tokens + paragraph_tokens > max_tokens:
            work.extend(emit())
        work.extend(paragraph)
        drain()
    while len(current) > carried:
        work.extend(emit())
        drain()
    return chunks


def _paragraphs(sentences: Sequence[Sentence]) -> list[list[Sentence]]:
    paragraphs: list[list[Sentence]] = []
    for sentence in sentences:
        if paragraphs and paragraphs[-1][-1].paragraph == sentence.paragraph:
            paragraphs[-1].append(sentence)
        else:
            paragraphs.append([sentence])
    return paragraphs


def _overlap(sentences: list[Sentence], counter: TokenCounter, budget: int) -> list[Sentence]:
    carried: list[Sentence] = []
    used = 0
    for sentence in reversed(sentences[1:]):  # never carry a whole chunk forward
        cost = _rendered_tokens(counter, sentence.text)
        if used + cost > budget:
            break
        carried.insert(0, sentence)
        used += cost
    return carried


def chunk_text(
    text: str, counter: TokenCounter, max_tokens: int, overlap_tokens: int = 0
) -> tuple[list[Sentence], list[Chunk]]:
    sentences = split_sentences(text, counter, max_tokens)
    return sentences, chunk_sentences(sentences, counter, max_tokens, overlap_tokens)
