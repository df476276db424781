"""Is generated text well-formed? Pure checks, shared by the pipeline and the eval harness.

The shapes a summary must have live here once: the summary's sentence range, the key points'
range, and how many claims an article of so many words owes (`claim_range`). The call schemas
(`call_schemas.py`) put them in the JSON schema, so grammars and strict schemas enforce them;
these checks find what a schema cannot express:

* a string that ends mid-clause ("Kim Jong Un praised Putin as the"): no closing punctuation
  where a sentence is due, a dangling function word or comma, a quotation opened and not closed;
* a claim identical to another, or one that is the whole summary pasted;
* a summary that copies more than `MAX_COPIED_SENTENCES` consecutive source sentences.

The pipeline re-asks once with `describe(problems)` and then drops or flags what is still wrong
(`tidy_digest`), with a warning; the eval harness counts the same problems, plus the share of
text copied from the source in runs of `COPY_RUN_WORDS` words (`copied_share`).
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass

from summarizer.replies import ChunkDigest, CitedClaim, MergedSummary

SUMMARY_SENTENCES = (2, 4)
KEY_POINTS = (3, 5)
MIN_CLAIMS = 3
WORDS_PER_CLAIM = 80
MAX_COPIED_SENTENCES = 2
COPY_RUN_WORDS = 8
# Most characters a string may have, by construction (the call schemas' patterns): a backstop
# against a string that never closes (Qwen2.5-Coder put the whole article in one "sentence", then
# the next field's name inside the array, until the output limit), set above what a sane answer
# writes (a long news sentence is 250-300 characters), since a string held to its bound ends cut.
HEADLINE_CHARS = 200
SUMMARY_SENTENCE_CHARS = 400
KEY_POINT_CHARS = 300
CLAIM_CHARS = 300
SPEAKER_CHARS = 80

# Words a finished English sentence or headline does not end on.
_DANGLING_WORDS = """
    a an the of to as and or but nor for with by from in on at into onto about than that
    which who whom whose his her its their our your my this these those is are was were be
    been has have had will would can could should may might must not no very so such if
    because while when where whether
"""
_DANGLING = frozenset(_DANGLING_WORDS.split())
_SENTENCE_END = re.compile(r"[.!?…][”’'\")\]]*$")
_DANGLING_PUNCTUATION = re.compile(r"[,;:\-–—(“‘/]$")
_WORD = re.compile(r"[^\W_]+(?:['’][^\W_]+)*")


def claim_range(words: int, max_claims: int, sentences: int) -> tuple[int, int]:
    """(least, most) claims for a text of `words` words in `sentences` sentences: one per
    `WORDS_PER_CLAIM` words, at least `MIN_CLAIMS`, at most `max_claims`; and never more than
    one per sentence, so a short text (a last chunk) is not asked to invent claims."""
    most = max(1, max_claims)
    least = max(MIN_CLAIMS, math.ceil(words / WORDS_PER_CLAIM))
    return min(least, most, max(1, sentences)), most


def cut_short(text: str, *, sentence: bool) -> str | None:
    """Why `text` looks cut off mid-clause, or None. With `sentence`, it must also end like a
    sentence (summary sentences and claims; headlines and key points need not)."""
    stripped = text.strip()
    if not stripped:
        return "is empty"
    if text[-1].isspace() and not _SENTENCE_END.search(stripped):
        return "ends in a space"  # where a quotation's `"` was read as the string's end
    if stripped.count("“") > stripped.count("”"):
        return "opens a quotation it never closes"
    if _DANGLING_PUNCTUATION.search(stripped):
        return f"ends on {stripped[-1]!r}"
    words = _WORD.findall(stripped)
    last = words[-1].lower() if words else ""
    if last in _DANGLING and not _SENTENCE_END.search(stripped):
        return f"ends on {words[-1]!r}"
    if sentence and not _SENTENCE_END.search(stripped):
        return "does not end like a sentence"
    return None


def normalise(text: str) -> str:
    """Lowercase words only: the wording two texts share whatever their typography."""
    return " ".join(w.lower().replace("’", "'") for w in _WORD.findall(text))


def longest_copied_run(summary: str, source_sentences: Sequence[str]) -> int:
    """The most consecutive source sentences that `summary` contains word for word."""
    text = f" {normalise(summary)} "
    norms = [normalise(s) for s in source_sentences]
    best = 0
    for start in range(len(norms)):
        run = 0
        while start + run < len(norms) and norms[start + run]:
            joined = " ".join(norms[start : start + run + 1])
            if f" {joined} " not in text:
                break
            run += 1
        best = max(best, run)
    return best


def copied_share(texts: Sequence[str], source: str, *, run: int = COPY_RUN_WORDS) -> float | None:
    """Share of the words of `texts` that lie in a run of `run`+ words copied from `source`."""
    source_words = normalise(source).split()
    grams = {tuple(source_words[i : i + run]) for i in range(len(source_words) - run + 1)}
    total = copied = 0
    for text in texts:
        words = normalise(text).split()
        covered = [False] * len(words)
        for i in range(len(words) - run + 1):
            if tuple(words[i : i + run]) in grams:
                covered[i : i + run] = [True] * run
        total += len(words)
        copied += sum(covered)
    return copied / total if total else None


@dataclass(frozen=True)
class Problem:
    """One thing wrong with one field: `field` as in a validation error ("claims.2.text")."""

    field: str
    reason: str
    text: str

    def __str__(self) -> str:
        shown = self.text if len(self.text) <= 80 else f"{self.text[:77]}..."
        return f"{self.field} {shown!r} {self.reason}"


def text_problems(
    *,
    headline: str,
    summary: Sequence[str],
    key_points: Sequence[str],
    claims: Sequence[str] = (),
    source_sentences: Sequence[str] = (),
) -> list[Problem]:
    """Everything `cut_short` and the degeneracy checks find in one generated summary."""
    problems: list[Problem] = []
    if reason := cut_short(headline, sentence=False):
        problems.append(Problem("headline", reason, headline))
    for n, sentence in enumerate(summary):
        if reason := cut_short(sentence, sentence=True):
            problems.append(Problem(f"summary.{n}", reason, sentence))
    for n, point in enumerate(key_points):
        if reason := cut_short(point, sentence=False):
            problems.append(Problem(f"key_points.{n}", reason, point))
    whole = " ".join(summary)
    copied = longest_copied_run(whole, source_sentences)
    if copied > MAX_COPIED_SENTENCES:
        problems.append(
            Problem("summary", f"copies {copied} consecutive article sentences word for word", "")
        )
    problems += claim_problems(claims, whole)
    return problems


def claim_problems(claims: Sequence[str], summary: str) -> list[Problem]:
    """Claims cut short, repeating an earlier claim, or pasting the whole summary."""
    problems: list[Problem] = []
    seen: set[str] = set()
    summary_norm = normalise(summary)
    for n, claim in enumerate(claims):
        field = f"claims.{n}.text"
        wording = normalise(claim)
        if reason := cut_short(claim, sentence=True):
            problems.append(Problem(field, reason, claim))
        elif wording in seen:
            problems.append(Problem(field, "repeats an earlier claim", claim))
        elif is_whole_summary(claim, summary, summary_norm=summary_norm):
            problems.append(Problem(field, "is the whole summary, not one claim", claim))
        seen.add(wording)
    return problems


def is_whole_summary(claim: str, summary: str, *, summary_norm: str | None = None) -> bool:
    """The claim is the summary, or holds two or more of its sentences."""
    norm = normalise(claim)
    whole = normalise(summary) if summary_norm is None else summary_norm
    if not norm or not whole:
        return False
    if norm == whole:
        return True
    sentences = [normalise(s) for s in re.split(r"(?<=[.!?])\s+", summary.strip())]
    return sum(1 for s in sentences if s and s in norm) >= 2


def digest_problems(
    digest: ChunkDigest | MergedSummary,
    source_sentences: Sequence[str] = (),
    claims: tuple[int, int] | None = None,
) -> list[Problem]:
    """What is wrong with a digest (or a merged summary): `text_problems`, and counts outside
    the ranges asked for (a schema enforces them only where the backend honours schemas)."""
    cited = digest.claims if isinstance(digest, ChunkDigest) else []
    problems = text_problems(
        headline=digest.headline,
        summary=digest.summary,
        key_points=digest.key_points,
        claims=[c.text for c in cited],
        source_sentences=source_sentences,
    )
    counts = [("summary", len(digest.summary), SUMMARY_SENTENCES, "sentences")]
    counts.append(("key_points", len(digest.key_points), KEY_POINTS, "points"))
    if claims is not None:
        counts.append(("claims", len(cited), claims, "claims"))
    for field, count, (least, most), unit in counts:
        if not least <= count <= most:
            problems.append(Problem(field, f"has {count} {unit}, not {least} to {most}", ""))
    return problems


@dataclass(frozen=True)
class Tidied:
    headline: str
    summary: list[str]
    key_points: list[str]
    claims: list[CitedClaim]
    warnings: list[str]


def tidy(
    digest: ChunkDigest | MergedSummary,
    source_sentences: Sequence[str] = (),
    claims: tuple[int, int] | None = None,
) -> Tidied:
    """What is left of an output after the re-ask: text cut short, repeated or pasted is dropped
    and over-long lists are cut to their range; whatever cannot be dropped is flagged. Every
    change and flag is a warning, so nothing is left out or kept silently."""
    warnings: list[str] = []
    if reason := cut_short(digest.headline, sentence=False):
        warnings.append(f"headline {digest.headline!r} {reason}")
    summary = _drop_cut(list(digest.summary), "summary sentence", warnings, sentence=True)
    least, most = SUMMARY_SENTENCES
    if len(summary) > most:
        warnings.append(f"kept the first {most} of {len(summary)} summary sentences")
        summary = summary[:most]
    elif len(summary) < least:
        warnings.append(f"summary has {len(summary)} sentence(s), not {least} to {most}")
    copied = longest_copied_run(" ".join(summary), source_sentences)
    if copied > MAX_COPIED_SENTENCES:
        warnings.append(f"summary copies {copied} consecutive article sentences word for word")
    points = _drop_cut(_unique(digest.key_points), "key point", warnings, sentence=False)
    if len(points) > KEY_POINTS[1]:
        points = points[: KEY_POINTS[1]]
    kept = _tidy_claims(
        digest.claims if isinstance(digest, ChunkDigest) else [], " ".join(summary), warnings
    )
    if claims is not None and isinstance(digest, ChunkDigest) and len(kept) < claims[0]:
        warnings.append(f"{len(kept)} claim(s) where at least {claims[0]} were asked for")
    return Tidied(digest.headline, summary, points, kept, warnings)


def _unique(texts: Sequence[str]) -> list[str]:
    return list({normalise(t): t for t in reversed(texts)}.values())[::-1]


def _drop_cut(texts: list[str], what: str, warnings: list[str], *, sentence: bool) -> list[str]:
    """Drop texts that show a cut (keeping at least one); flag what only lacks its full stop."""
    cut = [t for t in texts if cut_short(t, sentence=False)]
    kept = [t for t in texts if t not in cut] or texts
    if len(kept) < len(texts):
        warnings.append(f"dropped {len(texts) - len(kept)} {what}(s) cut off mid-clause")
    for text in kept:
        if reason := cut_short(text, sentence=sentence):
            warnings.append(f"{what} {text!r} {reason}")
    return kept


def _tidy_claims(
    claims: Sequence[CitedClaim], summary: str, warnings: list[str]
) -> list[CitedClaim]:
    kept: list[CitedClaim] = []
    dropped: dict[str, int] = {}
    seen: set[str] = set()
    for claim in claims:
        wording = normalise(claim.text)
        reason = None
        if cut_short(claim.text, sentence=False):
            reason = "cut off mid-clause"
        elif wording in seen:
            reason = "repeating another"
        elif is_whole_summary(claim.text, summary):
            reason = "pasting the whole summary"
        if reason is None:
            kept.append(claim)
            seen.add(wording)
            if flaw := cut_short(claim.text, sentence=True):
                warnings.append(f"claim {claim.text!r} {flaw}")
        else:
            dropped[reason] = dropped.get(reason, 0) + 1
    warnings += [f"dropped {n} claim(s) {reason}" for reason, n in dropped.items()]
    return kept


def describe(problems: Sequence[Problem], *, limit: int = 6) -> str | None:
    """The re-ask's message: the specific problems, and how to avoid them."""
    if not problems:
        return None
    listed = "; ".join(str(p) for p in problems[:limit])
    more = f" (and {len(problems) - limit} more)" if len(problems) > limit else ""
    return (
        f"{listed}{more}. Write every sentence in full, in your own words; quote with “ and ” "
        '(never a bare " inside a string); give each claim once, as one statement.'
    )
