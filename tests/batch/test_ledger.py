"""The ledger: state changes are single transactions that survive reopening; WAL lets readers in."""

from __future__ import annotations

import sqlite3
from pathlib import Path

import pytest

from summarizer.batch.ledger import ItemState, Ledger
from summarizer.errors import ConfigError
from summarizer.schemas import Usage


def test_an_item_goes_pending_running_done_and_stays_done_after_reopening(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.schedule("a", origin="in/a.txt", input_sha256="h1", metadata={"k": 1})
        pending = ledger.get("a")
        assert pending is not None and pending.state is ItemState.PENDING
        ledger.mark_running("a")
        ledger.mark_done("a", output_path="items/a.json", usage=Usage(calls=2, prompt_tokens=9))
    with Ledger(path) as reopened:
        row = reopened.get("a")
    assert row is not None
    assert (row.state, row.attempts, row.output_path) == (ItemState.DONE, 1, "items/a.json")
    assert row.usage == Usage(calls=2, prompt_tokens=9)
    assert row.metadata == {"k": 1}
    assert row.started_at is not None and row.finished_at is not None


def test_rescheduling_keeps_attempts_and_a_failure_keeps_its_reason(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger:
        ledger.schedule("a", origin="a", input_sha256="h1", metadata=None)
        ledger.mark_running("a")
        ledger.mark_failed("a", error="HTTP 500", usage=Usage(calls=3, failed_calls=3))
        ledger.schedule("a", origin="a", input_sha256="h2", metadata=None)
        ledger.mark_running("a")
        row = ledger.get("a")
        assert row is not None
        assert (row.state, row.attempts, row.input_sha256) == (ItemState.RUNNING, 2, "h2")
        assert row.last_error is None  # cleared when the item runs again
        ledger.mark_failed("a", error="timed out", usage=Usage())
        assert [r.last_error for r in ledger.rows(ItemState.FAILED)] == ["timed out"]
        assert ledger.counts() == {"failed": 1}


def test_changing_an_unknown_item_is_a_bug_not_a_no_op(tmp_path: Path) -> None:
    with Ledger(tmp_path / "ledger.sqlite") as ledger, pytest.raises(KeyError):
        ledger.mark_done("ghost", output_path="items/ghost.json", usage=Usage())


def test_wal_mode_lets_a_reader_see_committed_states_while_the_writer_is_open(
    tmp_path: Path,
) -> None:
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        ledger.schedule("a", origin="a", input_sha256="h", metadata=None)
        reader = sqlite3.connect(path)
        try:
            assert reader.execute("PRAGMA journal_mode").fetchone()[0] == "wal"
            assert reader.execute("SELECT state FROM items").fetchall() == [("pending",)]
        finally:
            reader.close()


def test_a_file_that_is_not_a_ledger_is_a_clear_error(tmp_path: Path) -> None:
    path = tmp_path / "ledger.sqlite"
    path.write_text("not a database, just text " * 100)
    with pytest.raises(ConfigError, match="cannot use batch ledger"):
        Ledger(path)


def test_changes_made_together_are_one_transaction_all_or_none(tmp_path: Path) -> None:
    # A run's triage schedules every item in one commit (one per item made a 10,000-item
    # start-up spend seconds committing); a reader sees none of them until it ends.
    path = tmp_path / "ledger.sqlite"
    with Ledger(path) as ledger:
        reader = sqlite3.connect(path)
        with ledger.together():
            for n in range(3):
                ledger.schedule(f"i{n}", origin=f"i{n}.txt", input_sha256="0" * 64, metadata=None)
            ledger.mark_failed("i0", error="unreadable", usage=Usage())
            assert reader.execute("SELECT count(*) FROM items").fetchone()[0] == 0
        assert reader.execute("SELECT count(*) FROM items").fetchone()[0] == 3
        with pytest.raises(RuntimeError), ledger.together():
            ledger.schedule("i3", origin="i3.txt", input_sha256="0" * 64, metadata=None)
            raise RuntimeError("triage stopped")
        assert reader.execute("SELECT count(*) FROM items").fetchone()[0] == 3
        assert (row := ledger.get("i0")) is not None and row.state is ItemState.FAILED
        assert ledger.get("i3") is None
        ledger.schedule(
            "i3", origin="i3.txt", input_sha256="0" * 64, metadata=None
        )  # commits on its own again
        assert reader.execute("SELECT count(*) FROM items").fetchone()[0] == 4
        reader.close()
