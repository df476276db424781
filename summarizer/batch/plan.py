"""`--dry-run`: what a batch run would do and cost, without a model call or a write.

The dry run triages the items exactly as the real run does (`triage.py`) and plans only the
items it would summarise, so the estimate is for the work the run would really do: items done
earlier, outputs a killed run left to adopt, and duplicates are counted but not planned.

With `stories`, it also groups the items that would be done as the run would (the grouping
reads only the texts and their metadata) and says what would happen to each story.
"""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, ConfigDict

from summarizer.batch.inputs import BatchItem, Discovery
from summarizer.batch.layout import LEDGER_NAME
from summarizer.batch.ledger import Ledger
from summarizer.batch.report import Failure
from summarizer.batch.stories import Member, StoriesPlan, plan_stories
from summarizer.batch.triage import Action, Duplicate, Fail, Recover, Skip, observe, triage
from summarizer.config import Settings
from summarizer.errors import SummarizerError
from summarizer.llm.embedder import Embedder
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
    stories: StoriesPlan | None = None


def plan_batch(
    discovery: Discovery,
    settings: Settings,
    out_dir: Path,
    *,
    profile: BackendProfile | None = None,
    stories: bool = False,
    embedder: Embedder | None = None,
) -> BatchPlan:
    decided = _triage(discovery, out_dir)
    service = Summarizer(settings, profile=profile, embedder=embedder)
    would_be_done: list[BatchItem] = []
    failures = [Failure(id=None, origin=p.origin, reason=p.reason) for p in discovery.problems]
    unplannable: dict[str, str] = {}  # item id -> why it cannot be summarised
    to_summarize = already_done = recovered = duplicates = 0
    chunks = calls = prompt = completion = 0
    try:
        for item, action in decided:
            if isinstance(action, Skip):
                already_done += 1
                would_be_done.append(item)
            elif isinstance(action, Recover):
                recovered += 1
                would_be_done.append(item)
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
                    would_be_done.append(item)
            else:
                assert item.source is not None  # an item without a source is a Fail
                try:
                    report = service.plan(item.source)
                except SummarizerError as error:
                    unplannable[item.id] = str(error)
                    failures.append(Failure(id=item.id, origin=item.origin, reason=str(error)))
                    continue
                to_summarize += 1
                would_be_done.append(item)
                chunks += report.plan.chunks
                calls += report.plan.calls
                prompt += report.plan.prompt_tokens
                completion += report.plan.completion_tokens
        planned_stories = _plan_stories(would_be_done, service, out_dir) if stories else None
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
        stories=planned_stories,
    )


def _plan_stories(items: list[BatchItem], service: Summarizer, out_dir: Path) -> StoriesPlan:
    members = [
        Member(item.id, item.input_sha256, item.source, item.metadata)
        for item in items
        if item.source is not None
    ]
    unnamed = sum(1 for m in members if m.text_field("story") is None)
    embedder = service.embedder if unnamed >= 2 else None
    path = out_dir / LEDGER_NAME
    if not path.is_file():
        return plan_stories(members, None, out_dir, embedder)
    with Ledger(path) as ledger:
        return plan_stories(members, ledger, out_dir, embedder)


def _triage(discovery: Discovery, out_dir: Path) -> list[tuple[BatchItem, Action]]:
    path = out_dir / LEDGER_NAME
    if not path.is_file():  # a dry run creates nothing
        seen = observe(discovery.items, None, out_dir)
    else:
        with Ledger(path) as ledger:
            seen = observe(discovery.items, ledger, out_dir)
    return triage(seen.items, seen.finished)
