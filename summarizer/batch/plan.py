"""`--dry-run`: what a batch run would do and cost, without a model call or a write.

Items the ledger already has done (same input, output present) and duplicates of an input seen
earlier are counted but not planned, so the estimate is for the work the run would really do.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from summarizer.batch.inputs import Discovery
from summarizer.batch.ledger import ItemState, Ledger
from summarizer.batch.report import Failure
from summarizer.batch.runner import LEDGER_NAME
from summarizer.config import Settings
from summarizer.errors import SummarizerError
from summarizer.llm.factory import BackendProfile
from summarizer.pricing import estimate_cost
from summarizer.service import Summarizer


class BatchPlan(BaseModel):
    model_config = ConfigDict(extra="forbid")

    backend: str
    model: str
    items: int
    to_summarize: int
    already_done: int
    duplicates: int
    failed: int
    chunks: int
    calls: int
    estimated_prompt_tokens: int
    estimated_completion_tokens: int
    estimated_cost_usd: float | None
    failures: list[Failure]


def plan_batch(
    discovery: Discovery,
    settings: Settings,
    out_dir: Path,
    *,
    profile: BackendProfile | None = None,
) -> BatchPlan:
    done = _done_inputs(out_dir)
    service = Summarizer(settings, profile=profile)
    failures = [Failure(id=None, origin=p.origin, reason=p.reason) for p in discovery.problems]
    seen = set(done.values())
    to_summarize = already_done = duplicates = chunks = calls = prompt = completion = 0
    try:
        for item in discovery.items:
            if item.source is None:
                failures.append(Failure(id=item.id, origin=item.origin, reason=item.error or ""))
            elif done.get(item.id) == item.input_sha256:
                already_done += 1
            elif item.input_sha256 in seen:
                duplicates += 1
            else:
                try:
                    report = service.plan(item.source)
                except SummarizerError as error:
                    failures.append(Failure(id=item.id, origin=item.origin, reason=str(error)))
                    continue
                seen.add(item.input_sha256)
                to_summarize += 1
                chunks += report.plan.chunks
                calls += report.plan.calls
                prompt += report.plan.prompt_tokens
                completion += report.plan.completion_tokens
    finally:
        service.close()
    return BatchPlan(
        backend=service.profile.backend,
        model=service.profile.model,
        items=len(discovery.items) + len(discovery.problems),
        to_summarize=to_summarize,
        already_done=already_done,
        duplicates=duplicates,
        failed=len(failures),
        chunks=chunks,
        calls=calls,
        estimated_prompt_tokens=prompt,
        estimated_completion_tokens=completion,
        estimated_cost_usd=estimate_cost(
            service.profile.backend, service.profile.model, prompt, completion
        ),
        failures=failures,
    )


def _done_inputs(out_dir: Path) -> dict[str, str]:
    """Item id -> input hash of every item done with its output present (empty if no ledger)."""
    path = out_dir / LEDGER_NAME
    if not path.is_file():
        return {}  # a dry run creates nothing
    with Ledger(path) as ledger:
        return {
            row.id: row.input_sha256
            for row in ledger.rows(ItemState.DONE)
            if row.output_path is not None and (out_dir / row.output_path).is_file()
        }
