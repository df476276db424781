"""Triage alone: (item, ledger row, output on disk) -> action, with no ledger, disk or model."""

from __future__ import annotations

from typing import Any

from hypothesis import given
from hypothesis import strategies as st

from summarizer.batch.inputs import BatchItem
from summarizer.batch.ledger import ItemState, LedgerRow
from summarizer.batch.triage import (
    Duplicate,
    Fail,
    Observed,
    Recover,
    Skip,
    Stored,
    Summarize,
    triage,
)
from summarizer.schemas import Usage

COST = Usage(calls=2, prompt_tokens=300, completion_tokens=80)


def item(item_id: str, sha: str = "h1", *, error: str | None = None, **fields: Any) -> BatchItem:
    return BatchItem(
        id=item_id, origin=fields.get("origin", f"in/{item_id}"), input_sha256=sha, source=None,
        metadata=fields.get("metadata"), error=error,
    )  # fmt: skip


def row(
    item_id: str, sha: str = "h1", state: ItemState = ItemState.DONE, **fields: Any
) -> LedgerRow:
    values: dict[str, Any] = {
        "id": item_id, "origin": f"in/{item_id}", "input_sha256": sha, "state": state,
        "attempts": 1, "last_error": None, "metadata": None,
        "output_path": f"items/{item_id}.json" if state is ItemState.DONE else None,
        "calls": 0, "cached_calls": 0, "failed_calls": 0, "prompt_tokens": 0,
        "completion_tokens": 0, "created_at": "t", "started_at": "t", "finished_at": "t",
        "updated_at": "t",
    }  # fmt: skip
    return LedgerRow.model_validate(values | fields)


def holding(sha: str) -> Stored:
    return Stored(input_sha256=sha, usage=COST)


def decide(seen: Observed, finished: dict[str, str] | None = None) -> object:
    ((_, action),) = triage([seen], finished)
    return action


def test_a_new_item_is_summarised() -> None:
    assert decide(Observed(item("a"), None, None)) == Summarize()


def test_bad_input_fails_with_its_reason_whatever_the_ledger_says() -> None:
    seen = Observed(item("a", error="empty file"), row("a"), holding("h1"))
    assert decide(seen) == Fail("empty file")


def test_done_with_the_same_input_and_its_output_is_skipped() -> None:
    assert decide(Observed(item("a"), row("a"), holding("h1"))) == Skip(refresh=False)


def test_a_skipped_item_whose_origin_or_metadata_changed_refreshes_its_row() -> None:
    moved = item("a", origin="elsewhere/a")
    assert decide(Observed(moved, row("a"), holding("h1"))) == Skip(refresh=True)
    tagged = item("a", metadata={"url": "https://x"})
    assert decide(Observed(tagged, row("a"), holding("h1"))) == Skip(refresh=True)


def test_a_done_row_without_a_readable_output_is_redone() -> None:
    assert decide(Observed(item("a"), row("a"), None)) == Summarize()


def test_a_changed_input_is_redone_though_its_old_output_is_there() -> None:
    assert decide(Observed(item("a", "h2"), row("a", "h1"), holding("h1"))) == Summarize()


def test_an_output_written_but_not_recorded_is_recovered_with_its_cost() -> None:
    # Killed between writing the output and marking it done: the row says running.
    running = Observed(item("a"), row("a", state=ItemState.RUNNING), holding("h1"))
    assert decide(running) == Recover(usage=COST)
    # The redo of a changed input, killed the same way: the row still has the old input.
    redone = Observed(item("a", "h2"), row("a", "h1"), holding("h2"))
    assert decide(redone) == Recover(usage=COST)
    # A power cut rolled the ledger back past the row's creation.
    assert decide(Observed(item("a"), None, holding("h1"))) == Recover(usage=COST)


def test_a_failed_item_is_tried_again() -> None:
    failed = row("a", state=ItemState.FAILED, last_error="the model refused")
    assert decide(Observed(item("a"), failed, None)) == Summarize()


def test_identical_inputs_are_summarised_once_and_the_others_await_the_first() -> None:
    decided = triage([Observed(item(name), None, None) for name in ("a", "b", "c")])
    assert [action for _, action in decided] == [
        Summarize(),
        Duplicate("a", awaits_donor=True),
        Duplicate("a", awaits_donor=True),
    ]


def test_a_done_or_recovered_item_is_a_donor_wherever_it_stands_in_the_batch() -> None:
    decided = triage(
        [
            Observed(item("new"), None, None),
            Observed(item("done"), row("done"), holding("h1")),
            Observed(item("other", "h2"), None, None),
            Observed(item("adopted", "h2"), row("adopted", "h2", ItemState.RUNNING), holding("h2")),
        ]
    )
    assert [action for _, action in decided] == [
        Duplicate("done"),
        Skip(),
        Duplicate("adopted"),
        Recover(usage=COST),
    ]


def test_an_item_done_outside_this_batch_is_a_donor() -> None:
    assert decide(Observed(item("late"), None, None), {"h1": "old"}) == Duplicate("old")


def test_an_item_being_redone_is_no_donor_for_its_old_input() -> None:
    # `a` held h1 but now reads h2; its old output is about to be removed, so `b` (h1) cannot
    # copy it.
    decided = triage(
        [Observed(item("a", "h2"), row("a", "h1"), holding("h1")), Observed(item("b"), None, None)]
    )
    assert [action for _, action in decided] == [Summarize(), Summarize()]


def test_bad_input_is_never_a_donor() -> None:
    decided = triage(
        [Observed(item("a", error="binary file"), None, None), Observed(item("b"), None, None)]
    )
    assert [action for _, action in decided] == [Fail("binary file"), Summarize()]


STATES = st.sampled_from([None, *ItemState])
HASHES = st.sampled_from(["h1", "h2", "h3"])


@st.composite
def observations(draw: st.DrawFn) -> list[Observed]:
    seen = []
    for number in range(draw(st.integers(min_value=0, max_value=12))):
        item_id = f"i{number}"
        sha = draw(HASHES)
        state = draw(STATES)
        stored = draw(st.none() | HASHES.map(holding))
        error = draw(st.none() | st.just("bad input"))
        ledger = row(item_id, draw(HASHES), state) if state is not None else None
        seen.append(Observed(item(item_id, sha, error=error), ledger, stored))
    return seen


@given(observations(), st.dictionaries(HASHES, st.sampled_from(["x1", "x2"])))
def test_each_input_is_summarised_at_most_once_and_every_copy_has_a_real_donor(
    seen: list[Observed], finished: dict[str, str]
) -> None:
    decided = triage(seen, finished)
    assert [item for item, _ in decided] == [s.item for s in seen]
    actions = {item.id: (item, action) for item, action in decided}
    summarised = [item.input_sha256 for item, action in decided if isinstance(action, Summarize)]
    assert len(summarised) == len(set(summarised))
    for item, action in decided:
        if not isinstance(action, Duplicate):
            continue
        if action.donor in finished.values():
            assert finished.get(item.input_sha256) == action.donor
            continue
        donor, donor_action = actions[action.donor]
        assert donor.input_sha256 == item.input_sha256
        expected = Summarize if action.awaits_donor else Skip | Recover
        assert isinstance(donor_action, expected)
