"""Text normalisation shared by the lexical matcher, the metrics and story alignment.

Summaries and facts come in two shapes: ordinary prose (curly quotes, "U.S.", "1,000") and
tokenised, lowercased corpora such as REALSumm ("-lrb- cnn -rrb-", "nigeria 's", "`` quote ''").
Everything is reduced to the same tokens so that neither shape is penalised for its typography.
"""

from __future__ import annotations

import functools
import re
from dataclasses import dataclass

# Penn Treebank escapes left in tokenised corpora; they carry no content.
_PTB_ESCAPES = re.compile(r"-(?:lrb|rrb|lsb|rsb|lcb|rcb)-|``|''", re.IGNORECASE)
_APOSTROPHES = str.maketrans({"’": "'", "‘": "'", "`": "'", "“": '"', "”": '"', "´": "'"})
# "U.S." and "u.n." become "US" and "UN": one token, and never the pronoun "us".
_ACRONYM_DOTS = re.compile(r"\b((?:[A-Za-z]\.){2,})")
_TOKEN = re.compile(r"\d+(?:[.,]\d+)*|[^\W\d_]+(?:'[^\W\d_]+)?")
_SENTENCE_END = re.compile(r"(?<=[.!?])[\"')\]]*\s+(?=[\"'(\[]?[A-Za-z0-9])|\n+")

_STOPWORD_LIST = """
    a about above after again against all also am an and any are as at be because been before
    being below between both but by can could did do does doing down during each few for from
    further had has have having he her here hers herself him himself his how i if in into is it
    its itself just let me more most my myself no nor not now of off on once only or other our
    ours ourselves out over own same she should so some such than that the their theirs them
    themselves then there these they this those through to too under until up very was we were
    what when where which while who whom why will with would you your yours yourself yourselves
    s t d ll m re ve n't nt don didn doesn isn wasn weren wouldn shouldn couldn hasn haven
    hadn aren mr mrs ms many much may might must shall one's us among per via upon yet still
"""
STOPWORDS = frozenset(_STOPWORD_LIST.split())

_NUMBER_WORDS = {
    "zero": "0", "one": "1", "two": "2", "three": "3", "four": "4", "five": "5", "six": "6",
    "seven": "7", "eight": "8", "nine": "9", "ten": "10", "eleven": "11", "twelve": "12",
    "thirteen": "13", "fourteen": "14", "fifteen": "15", "sixteen": "16", "seventeen": "17",
    "eighteen": "18", "nineteen": "19", "twenty": "20", "thirty": "30", "forty": "40",
    "fifty": "50", "sixty": "60", "seventy": "70", "eighty": "80", "ninety": "90",
    "hundred": "100", "thousand": "1000", "million": "1000000", "billion": "1000000000",
    "first": "1st", "second": "2nd", "third": "3rd",
}  # fmt: skip

# Irregular forms a suffix stripper cannot reach, limited to verbs common in news reports.
_IRREGULAR = {
    "said": "say", "says": "say", "told": "tell", "went": "go", "gone": "go", "won": "win",
    "met": "meet", "left": "leave", "held": "hold", "led": "lead", "made": "make", "took": "take",
    "taken": "take", "gave": "give", "given": "give", "got": "get", "found": "find",
    "sold": "sell", "bought": "buy", "paid": "pay", "died": "die", "dies": "die", "dead": "die",
    "killed": "kill", "began": "begin", "begun": "begin", "fell": "fall", "fallen": "fall",
    "saw": "see", "seen": "see", "wrote": "write", "written": "write", "chose": "choose",
    "children": "child", "women": "woman", "men": "man", "people": "person",
}  # fmt: skip

# Longest first; each keeps a stem of at least three letters.
_SUFFIXES = (
    "ational", "ization", "isation", "fulness", "ousness", "iveness", "ements", "ations",
    "ement", "ation", "ments", "ingly", "ities", "ness", "ment", "ions", "ings", "ably", "ibly",
    "ers", "ion", "ing", "ies", "ied", "ity", "ive", "ize", "ise", "ous", "ful", "ate", "ism",
    "ist", "ly", "ed", "er", "es", "al", "s", "e", "y",
)  # fmt: skip
_MIN_STEM = 3


def clean(text: str) -> str:
    """Undo corpus typography: PTB escapes, curly quotes, acronym dots, tokenised clitics."""
    text = _PTB_ESCAPES.sub(" ", text).translate(_APOSTROPHES)
    text = _ACRONYM_DOTS.sub(lambda m: m.group(1).replace(".", "").upper(), text)
    # "nigeria 's" / "do n't" (tokenised) -> "nigeria's" / "don't"
    return re.sub(r"\s+('s|n't|'re|'ve|'ll|'d|'m)\b", r"\1", text)


@functools.lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light suffix stripper: conflates inflections, not meanings ("signed"/"signing")."""
    word = word.lower()
    if word in _IRREGULAR:
        return _IRREGULAR[word]
    if not word.isalpha() or len(word) <= 3:
        return word
    # Two passes reach the same stem from "sanctions" and "sanctioned" ("sanction" -> "sanct").
    for _ in range(2):
        for suffix in _SUFFIXES:
            if word.endswith(suffix) and len(word) - len(suffix) >= _MIN_STEM:
                word = word[: -len(suffix)]
                break
        else:
            break
    # "stopped" -> "stopp" -> "stop", so it meets "stop"; "ll"/"ss" are kept ("fall", "class").
    if len(word) > 3 and word[-1] == word[-2] and word[-1] not in "lsaeiou":
        word = word[:-1]
    return word


@dataclass(frozen=True)
class Token:
    """One word: `norm` is its comparable form, `surface` what was written.

    `after_slash` marks the second half of "425/many": an alternative to the previous word.
    """

    surface: str
    norm: str
    is_number: bool
    is_capitalised: bool
    after_slash: bool = False

    @property
    def is_stopword(self) -> bool:
        # "US" in capitals is the country, not the pronoun.
        if len(self.surface) > 1 and self.surface.isupper():
            return False
        return not self.is_number and (self.surface.lower() in STOPWORDS or len(self.norm) < 2)


def tokens(text: str) -> list[Token]:
    """Every word of `text` (stopwords included), normalised for comparison."""
    return list(_tokens(text))


# The claim checker and the fact matcher tokenise the same claims, sentences and facts again
# and again (four times per checked claim); tokens are frozen, so a text's are kept.
@functools.lru_cache(maxsize=8192)
def _tokens(text: str) -> tuple[Token, ...]:
    cleaned = clean(text)
    result: list[Token] = []
    previous_end = 0
    for match in _TOKEN.finditer(cleaned):
        between = cleaned[previous_end : match.start()]
        after_slash = bool(result) and between.strip() == "/"
        result.append(_token(match.group(), after_slash))
        previous_end = match.end()
    return tuple(result)


@functools.lru_cache(maxsize=65536)
def _token(surface: str, after_slash: bool) -> Token:
    lowered = surface.lower()
    if lowered.endswith("'s"):
        lowered = lowered[:-2]
    if lowered[:1].isdigit():
        # "1,000" and "1000" are the same number; "3.5" keeps its point.
        return Token(surface, lowered.replace(",", ""), True, False, after_slash)
    if lowered in _NUMBER_WORDS:
        return Token(surface, _NUMBER_WORDS[lowered], True, False, after_slash)
    norm = stem(lowered.replace("'", ""))
    return Token(surface, norm, False, surface[:1].isupper(), after_slash)


def content_tokens(text: str) -> list[Token]:
    """Tokens that carry meaning: no stopwords, no one-letter leftovers."""
    return [t for t in tokens(text) if not t.is_stopword]


def split_sentences(text: str) -> list[str]:
    """Sentences and lines of a summary; good enough for windows, not for offsets."""
    parts = (p.strip() for p in _SENTENCE_END.split(clean(text)))
    return [p for p in parts if p]


def word_count(text: str) -> int:
    return len(tokens(text))
