"""The backend's model as judge: claims shown with their evidence, several per call.

Claims go to the model `CLAIMS_PER_CALL` at a time (as story mode batches its relation groups),
each beside the sentences it cites, and the model labels each one supported or unsupported. The
call schema names exactly the claim numbers shown, so an answer cannot label a claim it was not
given; one it leaves out, or a batch with no valid answer after the call layer's re-asks, is
left undecided here (None) for the caller to check another way and say so.
"""

from __future__ import annotations

import json
from collections.abc import Callable, Sequence
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from summarizer.errors import OutputTruncated, StructuredOutputError
from summarizer.schemas import Support, SupportVerdict

CLAIMS_PER_CALL = 8


class ClaimJudgement(BaseModel):
    model_config = ConfigDict(extra="forbid")

    claim: int
    verdict: Literal["supported", "unsupported"]


class ClaimJudgements(BaseModel):
    """What the model says of one batch of claims."""

    model_config = ConfigDict(extra="forbid")

    claims: list[ClaimJudgement] = Field(min_length=1)


# (rendered claims, the claim numbers shown) -> the model's judgements
AskJudge = Callable[[str, Sequence[int]], ClaimJudgements]


def judgement_schema(numbers: Sequence[int]) -> dict[str, Any]:
    """`ClaimJudgements` that labels each shown claim number (and only those)."""
    schema: dict[str, Any] = json.loads(json.dumps(ClaimJudgements.model_json_schema()))
    schema["$defs"]["ClaimJudgement"]["properties"]["claim"] = {
        "type": "integer",
        "enum": list(numbers),
    }
    schema["properties"]["claims"]["minItems"] = len(numbers)
    schema["properties"]["claims"]["maxItems"] = len(numbers)
    return schema


def render_claims(numbered: Sequence[tuple[int, str, str]]) -> str:
    return "\n\n".join(
        f"[{number}] claim: {' '.join(claim.split())}\n    evidence: {' '.join(evidence.split())}"
        for number, claim, evidence in numbered
    )


def judge_claims(pairs: Sequence[tuple[str, str]], ask: AskJudge) -> list[Support | None]:
    """One verdict per (claim, evidence) pair, or None where the model gave none."""
    verdicts: list[Support | None] = [None] * len(pairs)
    for start in range(0, len(pairs), CLAIMS_PER_CALL):
        numbered = [
            (start + offset + 1, claim, evidence)
            for offset, (claim, evidence) in enumerate(pairs[start : start + CLAIMS_PER_CALL])
        ]
        try:
            answer = ask(render_claims(numbered), [n for n, _, _ in numbered])
        except (StructuredOutputError, OutputTruncated):
            continue  # these claims stay undecided; the caller checks them offline and says so
        shown = {n for n, _, _ in numbered}
        for judgement in answer.claims:
            if judgement.claim in shown and verdicts[judgement.claim - 1] is None:
                supported = judgement.verdict == "supported"
                verdicts[judgement.claim - 1] = Support(
                    verdict=SupportVerdict.SUPPORTED if supported else SupportVerdict.UNSUPPORTED,
                    score=1.0 if supported else 0.0,
                    method="judge",
                )
    return verdicts
