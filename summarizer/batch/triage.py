"""What a batch run does with each item, decided before any model call or write.

`triage` is pure: from each item, its ledger row and what its output file holds, it decides one
action. It takes the whole batch at once because duplicates are a relation between items. The
real run (`runner.py`) carries the actions out and the dry run (`plan.py`) counts them; both
triage what `observe` read, so a dry run cannot predict work that the real run would not do.

Per item, first match wins:

    bad input                                          Fail(reason)
    ledger done, same input, the output holds it       Skip
    the output holds a result for this input           Recover: a run was killed between
                                                       writing the output and recording it
    identical input is done (here or in an earlier     Duplicate(donor): copy its result
    run), or summarised earlier in this run            (awaits_donor: once the donor is done)
    otherwise                                          Summarize

A result "holds" an input when it is a valid `SummaryResult` whose `source.sha256` is that input's
hash; a missing, damaged or outdated output holds nothing, and the item is redone. A damaged one
(truncated, not JSON, not a result) is named: `Observed.damaged`, and `Summarize.redo` says why,
so the run and the dry run can tell the user which outputs they found broken.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

from summarizer.batch.inputs import BatchItem
from summarizer.batch.layout import is_damaged, output_path, read_result
from summarizer.batch.ledger import ItemState, Ledger, LedgerRow
from summarizer.schemas import Usage

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class Stored:
    """What a valid result on disk says of itself: the input it was made from, and its cost."""

    input_sha256: str
    usage: Usage


@dataclass(frozen=True)
class Observed:
    """What is known about one item before the run touches it."""

    item: BatchItem
    row: LedgerRow | None
    stored: Stored | None  # the result at the item's output path; None if none is readable
    damaged: bool = False  # something is at that path, but not a readable result


@dataclass(frozen=True)
class Observations:
    items: list[Observed]
    # Input hash -> id of a done item outside this batch whose output holds that input.
    finished: dict[str, str]


@dataclass(frozen=True)
class Skip:
    """Done by an earlier run. `refresh`: its origin or metadata changed (not its output)."""

    refresh: bool = False


@dataclass(frozen=True)
class Recover:
    """Adopt the output on disk, which a killed run wrote but did not record as done.

    `usage`: what the result says it cost, for the ledger row.
    """

    usage: Usage


@dataclass(frozen=True)
class Duplicate:
    """Copy the result of `donor`, an item with identical input; no model call.

    `awaits_donor`: the donor is summarised in this run, so this item shares its outcome.
    """

    donor: str
    awaits_donor: bool = False


@dataclass(frozen=True)
class Summarize:
    """Call the model. `redo`: why an item that has an output is summarised again."""

    redo: str | None = None


@dataclass(frozen=True)
class Fail:
    reason: str


Action = Skip | Recover | Duplicate | Summarize | Fail


def triage(
    observed: Sequence[Observed], finished: Mapping[str, str] | None = None
) -> list[tuple[BatchItem, Action]]:
    """One action per item, in order; see the module docstring. `finished` as in Observations."""
    settled = [(seen, _settled(seen)) for seen in observed]
    donors = dict(finished or {})
    # A donor in this batch is preferred: its output is known to hold the input.
    donors |= {
        seen.item.input_sha256: seen.item.id
        for seen, action in reversed(settled)
        if isinstance(action, Skip | Recover)
    }
    leaders: dict[str, str] = {}
    decided: list[tuple[BatchItem, Action]] = []
    for seen, action in settled:
        item = seen.item
        if action is None:
            digest = item.input_sha256
            if digest in donors:
                action = Duplicate(donors[digest])
            elif digest in leaders:
                action = Duplicate(leaders[digest], awaits_donor=True)
            else:
                leaders[digest] = item.id
                action = Summarize(redo=_redo_reason(seen))
        decided.append((item, action))
    return decided


def _redo_reason(seen: Observed) -> str | None:
    return _redo_reason_for(seen.item.id) if seen.damaged else None


def _redo_reason_for(item_id: str) -> str:
    return f"its output {output_path(item_id)} is damaged (not a valid result): summarising again"


def _settled(seen: Observed) -> Action | None:
    """The action that follows from the item alone, or None if it needs a result."""
    item, row = seen.item, seen.row
    if item.error is not None:
        return Fail(item.error)
    stored = seen.stored
    if stored is None or stored.input_sha256 != item.input_sha256:
        return None
    if (
        row is not None
        and row.state is ItemState.DONE
        and row.input_sha256 == item.input_sha256
        and row.output_path is not None
    ):
        return Skip(refresh=(row.origin, row.metadata) != (item.origin, item.metadata))
    return Recover(usage=stored.usage)


def observe(items: Sequence[BatchItem], ledger: Ledger | None, out_dir: Path) -> Observations:
    """Read what triage needs from the ledger (None: there is none yet) and the outputs."""
    observed = [_observe(item, ledger, out_dir) for item in items]
    finished: dict[str, str] = {}
    if ledger is not None:
        ids = {item.id for item in items}
        wanted = {item.input_sha256 for item in items if item.error is None}
        # One pass over the done rows by id: per input, the first done item outside this batch
        # whose output holds that input (one query, not one per input).
        candidates = [
            (row_id, digest)
            for row_id, digest in ledger.iter_done_hashes()
            if digest in wanted and row_id not in ids
        ]
        for row_id, digest in candidates:
            if digest in finished:
                continue
            stored = _stored(out_dir, row_id)
            if stored is not None and stored.input_sha256 == digest:
                finished[digest] = row_id
    return Observations(items=observed, finished=finished)


def _observe(item: BatchItem, ledger: Ledger | None, out_dir: Path) -> Observed:
    row = ledger.get(item.id) if ledger is not None else None
    if item.error is not None:
        return Observed(item=item, row=row, stored=None)
    stored = _stored(out_dir, item.id)
    damaged = stored is None and is_damaged(out_dir / output_path(item.id))
    if damaged:
        # Said where it is found, so the dry run and the real run both tell the user.
        log.warning("%s: %s", item.id, _redo_reason_for(item.id))
    return Observed(item=item, row=row, stored=stored, damaged=damaged)


def _stored(out_dir: Path, item_id: str) -> Stored | None:
    result = read_result(out_dir / output_path(item_id))
    return Stored(result.source.sha256, result.usage) if result is not None else None
