"""`--dry-run`: what a batch run would do and cost, without a model call or a write.

The dry run triages the items exactly as the real run does (`triage.py`) and plans only the
items it would summarise, so the estimate is for the work the run would really do: items done
earlier, outputs a killed run left to adopt, and duplicates are counted but not planned.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from summarizer.batch.inputs import BatchItem, Discovery
from summarizer.batch.layout import LEDGER_NAME
from summarizer.batch.ledger import Ledger
from summarizer.batch.report import Failure
from summarizer.batch.triage import Action, Duplicate, Fail, Recover, Skip, observe, triage
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
    recovered: int
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
    decided = _triage(discovery, out_dir)
    service = Summarizer(settings, profile=profile)
    failures = [Failure(id=None, origin=p.origin, reason=p.reason) for p in discovery.problems]
    unplannable: dict[str, str] = {}  # item id -> why it cannot be summarised
    to_summarize = already_done = recovered = duplicates = 0
    chunks = calls = prompt = completion = 0
    try:
        for item, action in decided:
            if isinstance(action, Skip):
                already_done += 1
            elif isinstance(action, Recover):
                recovered += 1
            elif isinstance(action, Fail):
                failures.append(Failure(id=item.id, origin=item.origin, reason=action.reason))
            elif isinstance(action, Duplicate):
                if action.donor in unplannable:  # as the real run fails it with its donor
                    reason = (
                        f"identical input to item {action.donor}, which failed: "
                        f"{unplannable[action.donor]}"
                    )
                    failures.append(Failure(id=item.id, origin=item.origin, reason=reason))
                else:
                    duplicates += 1
            else:
                assert item.source is not None  # an item without a source is a Fail
                try:
                    report = service.plan(item.source)
                except SummarizerError as error:
                    unplannable[item.id] = str(error)
                    failures.append(Failure(id=item.id, origin=item.origin, reason=str(error)))
                    continue
                to_summarize += 1
                chunks += report.plan.chunks
                calls += report.plan.calls
                prompt += report.plan.prompt_tokens
                completion += report.plan.completion_tokens
    finally:
        service.close()
    identity = service.profile.identity
    return BatchPlan(
        backend=identity.name,
        model=identity.model,
        items=len(discovery.items) + len(discovery.problems),
        to_summarize=to_summarize,
        already_done=already_done,
        recovered=recovered,
        duplicates=duplicates,
        failed=len(failures),
        chunks=chunks,
        calls=calls,
        estimated_prompt_tokens=prompt,
        estimated_completion_tokens=completion,
        estimated_cost_usd=estimate_cost(identity.name, identity.model, prompt, completion),
        failures=failures,
    )


def _triage(discovery: Discovery, out_dir: Path) -> list[tuple[BatchItem, Action]]:
    path = out_dir / LEDGER_NAME
    if not path.is_file():  # a dry run creates nothing
        seen = observe(discovery.items, None, out_dir)
    else:
        with Ledger(path) as ledger:
            seen = observe(discovery.items, ledger, out_dir)
    return triage(seen.items, seen.finished)
