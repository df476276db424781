"""Render results for people (Markdown, plain text) or programs (JSON).

Articles are hostile input, and text and Markdown go to terminals: an ESC sequence quoted from
an article (clear the screen, set the clipboard with OSC 52, retitle the window) would be obeyed.
So every control character but newline and tab is made visible (`visible_controls`): C0 and DEL
as their Unicode control pictures (ESC as ␛), C1 as `\x9b`-style text. JSON needs nothing: it
escapes every control character, and its values stay exactly the article's.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import Literal

from summarizer.schemas import Claim, ClaimsResult, SummaryResult

Format = Literal["json", "md", "text"]

_CONTROLS = re.compile(r"[\x00-\x08\x0b-\x1f\x7f-\x9f]")


def _picture(match: re.Match[str]) -> str:
    code = ord(match.group())
    if code < 0x20:
        return chr(0x2400 + code)  # ␀ ... ␟ (ESC is ␛)
    if code == 0x7F:
        return "\u2421"  # ␡
    return f"\\x{code:02x}"  # C1 has no pictures


def visible_controls(text: str) -> str:
    """`text` with every control character except newline and tab made visible and inert."""
    return _CONTROLS.sub(_picture, text)


def _claim_line(claim: Claim, markdown: bool) -> str:
    who = f" — {claim.speaker}" if claim.speaker else ""
    span = f"[{claim.span[0]}:{claim.span[1]}]"
    support = _support_note(claim)
    if markdown:
        return (
            f"- **{claim.kind}**{who} · *{support}*: {claim.text}  \n  > {claim.evidence} `{span}`"
        )
    return f"- ({claim.kind}{who}; {support}) {claim.text}\n    evidence {span}: {claim.evidence}"


def _support_note(claim: Claim) -> str:
    """How far the evidence bears the claim out: "supported, verbatim", "unsupported 0.31,
    lexical", "unchecked"."""
    support = claim.support
    if support.verdict == "unchecked":
        return "unchecked"
    score = "" if support.score is None or support.method == "verbatim" else f" {support.score:.2f}"
    return f"{support.verdict}{score}, {support.method}"


def _usage_line(result: SummaryResult | ClaimsResult) -> str:
    u = result.usage
    return (
        f"{result.model.backend}:{result.model.name} · calls {u.calls} "
        f"(cached {u.cached_calls}, failed {u.failed_calls}) · tokens {u.prompt_tokens} in / "
        f"{u.completion_tokens} out"
    )


def render_summary(result: SummaryResult, fmt: Format) -> str:
    if fmt == "json":
        return result.model_dump_json(indent=2)
    markdown = fmt == "md"
    lines = [f"# {result.summary.headline}" if markdown else result.summary.headline.upper(), ""]
    lines += [result.summary.text, "", "## Key points" if markdown else "Key points:"]
    lines += [f"- {point}" for point in result.summary.key_points]
    lines += ["", "## Claims" if markdown else "Claims:"]
    lines += [_claim_line(claim, markdown) for claim in result.claims]
    lines += ["", _footer(result)]
    return visible_controls("\n".join(lines))


def render_claims(result: ClaimsResult, fmt: Format) -> str:
    if fmt == "json":
        return result.model_dump_json(indent=2)
    markdown = fmt == "md"
    lines = [f"# Claims in {result.source.path}" if markdown else f"Claims in {result.source.path}"]
    lines += [_claim_line(claim, markdown) for claim in result.claims]
    lines += ["", _footer(result)]
    return visible_controls("\n".join(lines))


def _footer(result: SummaryResult | ClaimsResult) -> str:
    notes = [_usage_line(result)] + [f"warning: {w}" for w in result.warnings]
    return "\n".join(notes)


def render_many(rendered: Sequence[str], fmt: Format) -> str:
    """Several documents: a JSON array, or the documents one after another."""
    if fmt == "json":
        return "[\n" + ",\n".join(rendered) + "\n]" if len(rendered) > 1 else rendered[0]
    return "\n\n---\n\n".join(rendered)
