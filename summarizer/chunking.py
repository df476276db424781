"""Split text into numbered sentences and token-bounded chunks, with exact character offsets.

Invariants (property-tested): `text[s.start:s.end] == s.text` for every sentence; sentences are
in order, never overlap, and together cover every non-whitespace character; a chunk's rendered
prompt text (`render_sentences`) never exceeds its token budget, and `Chunk.tokens` is exactly
its token count; nothing is dropped.

Chunks are packed from whole paragraphs while they fit, then from whole sentences; a sentence
longer than the budget is cut at word boundaries, and a "word" longer than the budget (a URL,
base64) at character boundaries.

Every path is linear in the text's length, each character counted about once. That rests on how
tiktoken works: it cuts text into pieces with a regex (a word with its leading space, up to three
digits, a run of punctuation, a run of whitespace) and encodes each piece alone, so the count of
a concatenation is the sum of its parts wherever a piece boundary falls at the join. Boundaries
are certain after a rendered sentence's `[id]`, before the `[` of the next line, and between
words parted by whitespace other than `\\r`; the one join that merges is punctuation followed by
`\\r` or `\\n` (`.\\n` is one token), and that is measured, never assumed. So a sentence is
counted once while splitting (`Sentence.tokens`), a chunk's exact count is a sum of per-sentence
parts, and an over-long sentence is cut by counting consecutive stretches of it rather than
ever-growing prefixes. Counted strings stay bounded in length too, because tiktoken itself
slows down more than linearly on one long piece (a megabyte without spaces).
"""

from __future__ import annotations

import gc
import re
from bisect import bisect_right
from collections import deque
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from itertools import accumulate, compress, islice

from summarizer.errors import PlanError
from summarizer.tokens import TokenCounter

# A sentence ends at . ! ? or … (plus closing quotes/brackets) followed by whitespace and then
# something that can open a sentence. Commas inside quotes ("…document,” Putin said) never end one.
# The lookbehind and possessive quantifiers only stop the regex from retrying inside a run of
# dots or spaces (quadratic on "......"); no backtracking could have found another match there.
# The lookbehind comes after the first mark (a match starts a run: the mark before it is not
# one) so that `re` can skip ahead to the next mark at C speed; that is twice as fast as
# `(?<![.!?…])[.!?…]++`, which finds the same matches (tests/test_chunking.py).
# Tokenised corpora (REALSumm's CNN/DM) open a quotation with "``" and go on in lower case.
_BOUNDARY = re.compile(
    r"""[.!?…](?<![.!?…][.!?…])[.!?…]*+["'”’»)\]]*+(?=\s++(?:``|["'“‘«(\[]?[A-Z0-9À-ÖØ-Þ]))"""
)
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
_LONGEST_ABBREVIATION = max(map(len, _ABBREVIATIONS))
_TRAILING_LETTERS = re.compile(r"[A-Za-z]+$")
_PARAGRAPH = re.compile(r"[^\n]+")
_WORD = re.compile(r"\S+")
_NON_SPACE = re.compile(r"\S")
_OTHER_WHITESPACE = re.compile(r"[^\S ]")
# Separators across which token counts may not add up: tiktoken glues \r to punctuation before
# it, and \x1c-\x1f are whitespace to Python but punctuation to tiktoken.
_UNSAFE_SEPARATOR = re.compile(r"[\r\x1c-\x1f]")

# Every sentence is budgeted with the widest id it could get, so renumbering never breaks a fit.
_WIDEST_ID = "[999999]"
# Sentences up to this many characters are counted whole; longer ones stretch by stretch.
_SHORT_SENTENCE = 2048
# Counts of texts up to this long are remembered within one split.
_MEMO_CHARS = 24
# From this many characters `split_counted` encodes on other threads while it splits.
OVERLAP_ENCODE_FROM = 1_000_000
# From this many sentences the collector is paused while they and their chunks are built.
MANY_SENTENCES = 20_000
# Characters after which "\n" is known to stand alone as one piece: a line ending in a letter or
# digit. After these plain punctuation marks it may merge, by an amount measured once per tail.
_PLAIN_PUNCTUATION = frozenset("!\"#$%&'()*+,-./:;<=>?@[\\]^_`{|}~“”‘’«»…—–")


@dataclass(frozen=True, slots=True)
class Sentence:
    id: int
    start: int
    end: int
    text: str
    paragraph: int
    # Tokens of "[999999] text" as shown to a model (`render_sentences`), in `encoding`: what the
    # sentence costs in any chunk, whatever id it is given. Counted once, while splitting.
    tokens: int = field(compare=False, repr=False)
    encoding: str = field(compare=False, repr=False)


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
    return _DELIMITER_TAG.sub(r"‹\1", text) if "<" in text else text


def render_sentences(sentences: Sequence[Sentence]) -> str:
    """The numbered form a model sees: one `[id] text` line per sentence."""
    return "\n".join(f"[{s.id}] {neutralise_delimiters(s.text)}" for s in sentences)


class _Measure:
    """Token counts of the parts a rendered chunk is made of, for one counter."""

    def __init__(self, counter: TokenCounter) -> None:
        self.counter = counter
        self.widest_id = counter.count(_WIDEST_ID)
        self._newline = counter.count("\n")
        self._digit_groups: dict[str, int] = {}
        self._tails: dict[str, int] = {}
        self._short: dict[str, int] = {}
        self._spaced: dict[str, int] = {}
        self._brackets = counter.count("[") + counter.count("]")
        self._encoding = counter.encoding_name
        self._single_digit_groups = counter.digit_groups_are_single_tokens

    def cost(self, text: str) -> int:
        """Tokens of `[999999] text` as shown, the budget a sentence of this text takes."""
        if len(text) > _MEMO_CHARS:
            return self._cost(text)
        if text not in self._short:  # many tiny lines repeat ("-", "Advertisement", "1.")
            self._short[text] = self._cost(text)
        return self._short[text]

    def spaced(self, word: str) -> int:
        """Tokens of " " + word, for a word without delimiter tags (remembered when short)."""
        if len(word) > _MEMO_CHARS:
            return self.counter.count(" " + word)
        if word not in self._spaced:  # first words repeat ("The", "“I", "But")
            self._spaced[word] = self.counter.count(" " + word)
        return self._spaced[word]

    def _cost(self, text: str) -> int:
        return self.widest_id + self.counter.count(" " + neutralise_delimiters(text))

    def sentence_cost(self, sentence: Sentence) -> int:
        if sentence.encoding == self._encoding:
            return sentence.tokens
        return self.cost(sentence.text)

    def line(self, sentence: Sentence) -> tuple[int, int]:
        """(tokens of `[id] text`, tokens its line break adds when another line follows)."""
        text_tokens = self.sentence_cost(sentence) - self.widest_id  # "]" ends a piece
        shown = neutralise_delimiters(sentence.text)
        return self._id(sentence.id) + text_tokens, self._line_break(shown, text_tokens)

    def _id(self, sentence_id: int) -> int:
        # "[", each run of up to three digits, and "]" are separate pieces.
        digits = str(sentence_id)
        if self._single_digit_groups:  # cl100k and o200k
            return self._brackets + (len(digits) + 2) // 3
        total = self._brackets
        for i in range(0, len(digits), 3):
            group = digits[i : i + 3]
            if group not in self._digit_groups:
                self._digit_groups[group] = self.counter.count(group)
            total += self._digit_groups[group]
        return total

    def _line_break(self, shown: str, text_tokens: int) -> int:
        last = shown[-1]
        if last.isalnum():
            return self._newline  # a word or number piece never takes the "\n" in
        if len(shown) > 1 and last in _PLAIN_PUNCTUATION and shown[-2].isalnum():
            tail: str | None = last  # "word." (most lines): what `_punctuation_tail` finds
        else:
            tail = _punctuation_tail(shown)
        if tail is None:  # an unusual ending: measure it whole
            return self.counter.count(f" {shown}\n") - text_tokens
        if tail not in self._tails:
            self._tails[tail] = self.counter.count(f"{tail}\n") - self.counter.count(tail)
        return self._tails[tail]


def _punctuation_tail(shown: str) -> str | None:
    """The last tiktoken piece of " " + shown when it is plain punctuation, else None."""
    start = len(shown)
    while start > 0 and shown[start - 1] in _PLAIN_PUNCTUATION:
        start -= 1
        if len(shown) - start > 32:
            return None  # a long run: not worth a memo entry
    if start == len(shown):
        return None
    before = shown[start - 1] if start else " "
    if before == " ":
        return " " + shown[start:]
    return shown[start:] if before.isalnum() else None


def _spans(text: str) -> list[tuple[int, int, int, str]]:
    """(start, end, paragraph, text) of each sentence, stripped of surrounding whitespace."""
    spans: list[tuple[int, int, int, str]] = []
    append = spans.append
    boundaries = _BOUNDARY.finditer
    for paragraph, match in enumerate(_PARAGRAPH.finditer(text)):
        line_start = match.start()
        line = match.group()
        cursor = 0
        for boundary in boundaries(line):
            if _is_abbreviation(line, boundary.start()):
                continue
            end = boundary.end()
            segment = line[cursor:end]
            content = segment.strip()  # str.strip() and str.isspace() agree on whitespace
            if content:  # all before content's first character is whitespace: find finds it
                start = line_start + cursor + segment.find(content[0])
                append((start, start + len(content), paragraph, content))
            cursor = end
        segment = line[cursor:] if cursor else line
        content = segment.strip()
        if content:
            start = line_start + cursor + segment.find(content[0])
            append((start, start + len(content), paragraph, content))
    return spans


def _is_abbreviation(line: str, dot: int) -> bool:
    if line[dot] != ".":
        return False
    # Only the letters just before the dot matter, and no abbreviation is longer than a few.
    window = line[max(0, dot - _LONGEST_ABBREVIATION - 1) : dot]
    word = _TRAILING_LETTERS.search(window)
    if word is None:
        return False
    token = word.group()
    # Single initials ("J. Smith", "U.S.") and known abbreviations do not end a sentence.
    return len(token) == 1 or token.lower() in _ABBREVIATIONS


def split_sentences(text: str, counter: TokenCounter, max_tokens: int) -> list[Sentence]:
    """Sentences numbered from 1; any longer than `max_tokens` once rendered are cut into pieces."""
    measure = _Measure(counter)
    return _split(text, _spans(text), counter, measure, max_tokens, None)


def split_counted(text: str, counter: TokenCounter, max_tokens: int) -> tuple[list[Sentence], int]:
    """`split_sentences` and the token count of the whole text, from one encode of the text.

    A sentence's count is read off the whole text's tokens where its pieces are certain to be
    the ones it has when counted alone (`_cuts`), so a caller that needs the whole count too (a
    plan) encodes each character about once instead of twice; elsewhere it is counted alone, as
    `split_sentences` does. The counts are the same either way. A long text is encoded on other
    threads while this one finds its sentences and where to read each one's count (tiktoken
    encodes without the GIL), and the counts are then read off in numpy, all at once.
    """
    measure = _Measure(counter)
    if len(text) < OVERLAP_ENCODE_FROM:
        ends = counter.token_char_ends(text)
        spans = _spans(text)
        known = _read_counts(ends, _cuts(text, spans, measure), measure.widest_id)
    else:
        from concurrent.futures import ThreadPoolExecutor

        with ThreadPoolExecutor(1, thread_name_prefix="encode") as pool:
            encoded = pool.submit(counter.token_char_ends, text)
            spans = _spans(text)
            cuts = _cuts(text, spans, measure)
            ends = encoded.result()
        known = _read_counts_numpy(ends, cuts, measure.widest_id)
    with _collector_paused(len(spans) >= MANY_SENTENCES):
        return _split(text, spans, counter, measure, max_tokens, known), len(ends)


def _split(
    text: str,
    spans: Sequence[tuple[int, int, int, str]],
    counter: TokenCounter,
    measure: _Measure,
    max_tokens: int,
    known: Sequence[int] | None,
) -> list[Sentence]:
    """The one splitting loop; `known` may give a short sentence's count (-1: count it alone)."""
    encoding = counter.encoding_name
    sentences: list[Sentence] = []
    for index, (start, end, paragraph, content) in enumerate(spans):
        if end - start <= _SHORT_SENTENCE:  # nearly every sentence: counted once, whole
            tokens = -1 if known is None else known[index]
            if tokens < 0:
                tokens = measure.cost(content)
            if tokens <= max_tokens:
                sentences.append(
                    Sentence(len(sentences) + 1, start, end, content, paragraph, tokens, encoding)
                )
                continue
        for piece_start, piece_end, tokens in _cut_words(text, start, end, measure, max_tokens):
            piece = text[piece_start:piece_end]
            sentences.append(
                Sentence(
                    len(sentences) + 1, piece_start, piece_end, piece, paragraph, tokens, encoding
                )
            )
    return sentences


# Per span: where to read its count off the whole text's tokens (from, to; -1 where unsure) and
# the tokens of the words counted alone at its edges.
_Cuts = tuple[list[int], list[int], list[int]]


def _cuts(text: str, spans: Sequence[tuple[int, int, int, str]], measure: _Measure) -> _Cuts:
    """Where each span's `measure.cost(content)` can be read off the whole text's token ends.

    tiktoken cuts text into pieces by a regex that looks only forward, and encodes each piece
    alone, so a piece boundary in both strings splits a count in two. Boundaries are certain
    before a space that follows a non-space. " " + content is read off the whole text from the
    space before the sentence, or (after a line break) from the space after its first word,
    whose " word" is counted alone; and up to its end when what follows cannot join its last
    piece (a space or tab; a line break after a letter or digit; the end of the text), else up
    to the space before its last word, whose " word." is counted alone. Short words repeat and
    are memoised. Token ends falling exactly on both cuts are checked when the counts are read
    (`_read_counts`). Needs no tokens, so it runs while the text is being encoded.
    """
    size = len(text)
    spaced = measure.spaced
    froms: list[int] = []
    tos: list[int] = []
    counted: list[int] = []
    for start, end, _, content in spans:
        cut = cut_end = -1
        count = 0
        # Long sentences are counted stretch by stretch; shown text may differ from the source
        # where it holds "<" (`neutralise_delimiters`).
        if end - start <= _SHORT_SENTENCE and "<" not in content:
            if start and text[start - 1] == " ":
                cut = start - 1
            else:  # after a line break: count the first word alone
                space = content.find(" ")
                if space >= 1 and not content[space - 1].isspace():
                    count = spaced(content[:space])
                    cut = start + space
            after = text[end] if end < size else " "
            if cut < 0:
                pass
            elif after in " \t" or (after == "\n" and content[-1].isalnum()):
                cut_end = end
            else:  # "." before a line break is one piece with it: count the last word alone
                space = content.rfind(" ")
                if start + space > cut and not content[space - 1].isspace():
                    count += spaced(content[space + 1 :])
                    cut_end = start + space
        froms.append(cut if cut_end >= 0 else -1)
        tos.append(cut_end)
        counted.append(count)
    return froms, tos, counted


def _read_counts(ends: Sequence[int], cuts: _Cuts, widest_id: int) -> list[int]:
    """Each span's count read off `ends` (doubled character offsets) at its cuts, or -1 where
    no token ends exactly on both."""
    found: list[int] = []
    for cut, cut_end, counted in zip(*cuts, strict=True):
        if cut < 0:
            found.append(-1)
            continue
        first, last = 2 * cut, 2 * cut_end
        low, high = bisect_right(ends, first), bisect_right(ends, last)
        if high == 0 or ends[high - 1] != last or (first and (low == 0 or ends[low - 1] != first)):
            found.append(-1)
        else:
            found.append(widest_id + counted + high - low)
    return found


def _read_counts_numpy(ends: Sequence[int], cuts: _Cuts, widest_id: int) -> list[int]:
    """`_read_counts` for every span at once, in numpy (116 k sentences of an 18 MB text)."""
    try:
        import numpy as np
    except ImportError:  # numpy comes with the local extra
        return _read_counts(ends, cuts, widest_id)

    marks = np.asarray(ends, dtype=np.int64)
    froms, tos, counted = (np.asarray(values, dtype=np.int64) for values in cuts)
    first, last = 2 * froms, 2 * tos
    low = np.searchsorted(marks, first, side="right")
    high = np.searchsorted(marks, last, side="right")
    before = np.concatenate(([-1], marks))  # before[i]: the end of token i - 1, -1 for none
    exact = (before[high] == last) & ((first == 0) | (before[low] == first))
    counts: list[int] = np.where(
        (froms >= 0) & exact, widest_id + counted + high - low, -1
    ).tolist()
    return counts


def _cut_words(
    text: str, start: int, end: int, measure: _Measure, max_tokens: int
) -> Iterator[tuple[int, int, int]]:
    """Greedy pieces of whole words, each the longest run of words from its start that fits.

    Pieces end only where counts add up across the gap (`_cut_points`). A piece's count is then
    its first unit's (with the space a rendered line gives it) plus counts of the stretches that
    follow, each stretch counted once; a stretch guessed too long costs one wasted count.
    """
    counter = measure.counter
    room = max_tokens - measure.widest_id  # for " " + piece
    if _DELIMITER_TAG.search(text, start, end):
        # Shown text differs from the source here, and a piece ending in "<" would be shown
        # unchanged: count each candidate piece as shown, with a bounded number of counts.
        words = [word.end() for word in _WORD.finditer(text, start, end)]
        yield from _cut_at(text, start, words, measure, max_tokens)
        return
    ends = _cut_points(text, start, end)
    longest_chars = room * counter.max_token_bytes  # anything this long cannot fit
    counted_chars = counted_tokens = 0
    i = 0
    while i < len(ends):
        unit_start = _word_start(text, ends[i - 1]) if i else start
        unit_end = ends[i]
        first = None
        if unit_end - unit_start < longest_chars:
            first = counter.count(" " + text[unit_start:unit_end])
        if first is None or first > room:
            yield from _cut_unit(text, unit_start, unit_end, measure, max_tokens)
            i += 1
            continue
        used, last, high = first, i, len(ends) - 1  # units i..last fit; beyond high cannot
        counted_chars += unit_end - unit_start + 1
        counted_tokens += first
        misses = 0
        while last < high and used < room:
            left = room - used
            aim = ends[last] + int(left * 0.9 * counted_chars / counted_tokens)
            probe = min(high, max(last + 1, bisect_right(ends, aim, last + 1, high + 1) - 1))
            if misses >= 2:  # the estimate keeps missing: bisect instead
                probe = min(probe, (last + 1 + high) // 2)
            stretch = ends[probe] - ends[last]
            if stretch > left * counter.max_token_bytes:  # surely more than `left` tokens
                high = probe - 1
                continue
            tokens = counter.count(text[ends[last] : ends[probe]])
            counted_chars += stretch
            counted_tokens += tokens
            if used + tokens <= room:
                used, last = used + tokens, probe
            else:
                high, misses = probe - 1, misses + 1
        yield unit_start, ends[last], measure.widest_id + used
        i = last + 1


def _cut_points(text: str, start: int, end: int) -> list[int]:
    """Word ends in text[start:end] where a piece may end: counts add up across what follows."""
    if _OTHER_WHITESPACE.search(text, start, end) is None:
        # Words parted by plain spaces only (the common case): find them at C speed.
        parts = text[start:end].split(" ")
        ends = accumulate(map((1).__add__, map(len, parts)), initial=start - 1)
        return list(compress(islice(ends, 1, None), parts))
    words = [word.end() for word in _WORD.finditer(text, start, end)]
    if _UNSAFE_SEPARATOR.search(text, start, end) is None:
        return words
    # Never cut where the gap holds \r or \x1c-\x1f: counts may not add up across it.
    safe = [
        word_end
        for word_end in words[:-1]
        if _UNSAFE_SEPARATOR.search(text, word_end, _word_start(text, word_end)) is None
    ]
    return [*safe, words[-1]]


def _word_start(text: str, position: int) -> int:
    """Where the next word starts at or after `position` (the end of the text if none does)."""
    found = _NON_SPACE.search(text, position)
    return found.start() if found else len(text)


def _cut_unit(
    text: str, start: int, end: int, measure: _Measure, max_tokens: int
) -> Iterator[tuple[int, int, int]]:
    """Pieces of one unit too long to fit: at its inner word boundaries, else by characters."""
    ends = [word.end() for word in _WORD.finditer(text, start, end)]
    if len(ends) == 1:
        yield from _cut_characters(text, start, end, measure, max_tokens)
    else:
        yield from _cut_at(text, start, ends, measure, max_tokens)


def _cut_at(
    text: str, start: int, ends: list[int], measure: _Measure, max_tokens: int
) -> Iterator[tuple[int, int, int]]:
    """Greedy pieces ending at `ends`, each counted whole: for text where counts do not add."""
    i = 0
    guess = 1
    while i < len(ends):
        piece_start = _word_start(text, ends[i - 1]) if i else start
        costs: dict[int, int] = {}

        def fits(index: int, piece_start: int = piece_start, costs: dict[int, int] = costs) -> bool:
            return _fits(text, piece_start, ends[index], measure, max_tokens, costs, index)

        if not fits(i):
            yield from _cut_unit(text, piece_start, ends[i], measure, max_tokens)
            i += 1
            continue
        last = _longest(fits, i, len(ends) - 1, guess=i + guess)
        guess = max(1, last - i)  # the next piece is likely about as long
        yield piece_start, ends[last], costs[last]
        i = last + 1


def _cut_characters(
    text: str, start: int, end: int, measure: _Measure, max_tokens: int
) -> Iterator[tuple[int, int, int]]:
    """Pieces of one word, each its longest prefix that fits, guessed from a bounded window."""
    counter = measure.counter
    room = max_tokens - measure.widest_id
    window = 2 * max(1, room)  # characters; then a little more than the last piece took
    while start < end:
        costs: dict[int, int] = {}

        def fits(position: int, start: int = start, costs: dict[int, int] = costs) -> bool:
            return _fits(text, start, position, measure, max_tokens, costs, position)

        if not fits(start + 1):
            raise PlanError(f"max_tokens={max_tokens} cannot hold even one character")
        window = min(end - start, window)
        while True:  # widen until the window holds more tokens than fit, or is the whole rest
            covered = counter.prefix_length(" " + text[start : start + window], room) - 1
            if covered < window or start + window == end:
                break
            window = min(end - start, 2 * window)
        piece_end = _longest(fits, start + 1, end, guess=start + max(1, covered))
        yield start, piece_end, costs[piece_end]
        window = (piece_end - start) * 5 // 4 + 8
        start = piece_end


def _fits(
    text: str,
    start: int,
    end: int,
    measure: _Measure,
    max_tokens: int,
    costs: dict[int, int],
    key: int,
) -> bool:
    room_chars = (max_tokens - measure.widest_id) * measure.counter.max_token_bytes
    if end - start >= room_chars:
        return False
    costs[key] = measure.cost(text[start:end])
    return costs[key] <= max_tokens


def _longest(fits: Callable[[int], bool], low: int, high: int, guess: int) -> int:
    """The largest i in [low, high] with fits(i), given fits(low), for a monotone fits.

    Gallops from `guess` (usually right or next to it) and then bisects, so a good guess costs
    two calls and a bad one a logarithmic number.
    """
    fitting, failing = low, high + 1  # fits(fitting) holds; fits(failing) does not (or beyond)
    probe = min(max(guess, low + 1), high)
    if probe > fitting:
        step = 1
        if fits(probe):
            fitting = probe
            while fitting + step < failing:
                if not fits(fitting + step):
                    failing = fitting + step
                    break
                fitting += step
                step *= 2
        else:
            failing = probe
            while failing - step > fitting:
                if fits(failing - step):
                    fitting = failing - step
                    break
                failing -= step
                step *= 2
    while failing - fitting > 1:
        middle = (fitting + failing) // 2
        if fits(middle):
            fitting = middle
        else:
            failing = middle
    return fitting


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
    with _collector_paused(len(sentences) >= MANY_SENTENCES):
        return _chunk_sentences(sentences, counter, max_tokens, overlap_tokens)


@contextmanager
def _collector_paused(paused: bool) -> Iterator[None]:
    """Pause Python's cyclic garbage collector while a long text's sentences and chunks are
    built: ~100 k new objects, none in a cycle, whose growing heap the collector otherwise walks
    again and again (~0.25 s of an 18 MB plan). What is made meanwhile is collected afterwards.
    The collector is process-wide, so another thread's garbage waits too, for that long."""
    if not paused or not gc.isenabled():
        yield
        return
    gc.disable()
    try:
        yield
    finally:
        gc.enable()


def _chunk_sentences(
    sentences: Sequence[Sentence],
    counter: TokenCounter,
    max_tokens: int,
    overlap_tokens: int,
) -> list[Chunk]:
    measure = _Measure(counter)
    chunks: list[Chunk] = []
    current: list[Sentence] = []
    carried = 0  # how many of `current`'s leading sentences are overlap from the last chunk
    current_tokens = 0
    work: deque[Sentence] = deque()
    lines: dict[int, tuple[int, int]] = {}

    def line(sentence: Sentence) -> tuple[int, int]:
        if sentence.id not in lines:
            lines[sentence.id] = measure.line(sentence)
        return lines[sentence.id]

    def exact(sentences: list[Sentence]) -> tuple[int, int]:
        """(exact tokens of the rendered sentences, the same plus the last one's line break)."""
        total = sum(sum(line(s)) for s in sentences)
        return total - line(sentences[-1])[1], total

    def emit() -> list[Sentence]:
        """Close the current chunk; return sentences that must move on to the next one."""
        nonlocal current, carried, current_tokens
        spilled: list[Sentence] = []
        tokens, total = exact(current)
        # Token counts are not perfectly additive: move sentences on until the chunk fits.
        while tokens > max_tokens and len(current) - carried > 1:
            popped = current.pop()
            spilled.append(popped)
            total -= sum(line(popped))
            tokens = total - line(current[-1])[1]
        spilled.reverse()
        if tokens > max_tokens and carried:
            current, carried = current[carried:], 0
            tokens, _ = exact(current)
        if tokens > max_tokens:
            raise PlanError(f"sentence {current[0].id} does not fit in {max_tokens} tokens")
        chunks.append(Chunk(len(chunks), tuple(current), tokens))
        current = _overlap(current, measure, overlap_tokens) if overlap_tokens else []
        carried = len(current)
        current_tokens = sum(measure.sentence_cost(s) for s in current)
        return spilled

    def drain() -> None:
        nonlocal current, carried, current_tokens
        while work:
            sentence = work.popleft()
            sentence_cost = measure.sentence_cost(sentence)
            if current_tokens + sentence_cost > max_tokens:
                if len(current) > carried:
                    work.appendleft(sentence)
                    work.extendleft(reversed(emit()))
                    continue
                current, carried, current_tokens = [], 0, 0  # the overlap leaves no room
            current.append(sentence)
            current_tokens += sentence_cost

    for paragraph in _paragraphs(sentences):
        paragraph_tokens = sum(measure.sentence_cost(s) for s in paragraph)
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


def _overlap(sentences: list[Sentence], measure: _Measure, budget: int) -> list[Sentence]:
    carried: list[Sentence] = []
    used = 0
    for sentence in reversed(sentences[1:]):  # never carry a whole chunk forward
        cost = measure.sentence_cost(sentence)
        if used + cost > budget:
            break
        carried.append(sentence)
        used += cost
    carried.reverse()
    return carried


def chunk_text(
    text: str, counter: TokenCounter, max_tokens: int, overlap_tokens: int = 0
) -> tuple[list[Sentence], list[Chunk]]:
    sentences = split_sentences(text, counter, max_tokens)
    return sentences, chunk_sentences(sentences, counter, max_tokens, overlap_tokens)
