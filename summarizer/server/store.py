"""The job store: which jobs were accepted, by whom, and where each stands.

One small interface (`JobStore`), so the store can change without touching the API or the
runner. `SqliteJobStore` keeps `DATA_DIR/jobs.sqlite` in WAL mode with `synchronous=NORMAL`, as
the batch ledger does: a commit survives `kill -9` of the server, readers never block the
writer, and several worker processes on one machine share it. A PostgreSQL store for several
machines would implement the same eight methods (docs/service.md); the items themselves are kept
by each job's batch ledger, not here.

A job is accepted only once its articles are on disk (`DATA_DIR/jobs/<id>/articles.jsonl`,
written atomically) and its row is committed; the 202 goes out after both. States:

    queued -> running -> done        (every item has an outcome; some may have failed)
                      -> failed      (the job itself could not run: a damaged ledger, say)
    queued | running  -> cancelled   (DELETE; a running job's items stop at their next call)

`finish` never overwrites a final state, so a job cancelled while its last item was finishing
stays cancelled.
"""

from __future__ import annotations

import sqlite3
import threading
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Protocol

from pydantic import BaseModel, ConfigDict

from summarizer.errors import LedgerError


class JobState(StrEnum):
    QUEUED = "queued"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"
    CANCELLED = "cancelled"


FINAL_STATES = (JobState.DONE, JobState.FAILED, JobState.CANCELLED)


class JobRecord(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    owner: str
    state: JobState
    total: int
    created_at: str
    updated_at: str
    error: str | None = None


class JobStore(Protocol):
    def create(self, job: JobRecord) -> None: ...

    def get(self, job_id: str) -> JobRecord | None: ...

    def unfinished(self) -> list[JobRecord]: ...

    def start(self, job_id: str) -> None: ...

    def finish(self, job_id: str, state: JobState, *, error: str | None = None) -> None: ...

    def cancel(self, job_id: str) -> JobRecord | None: ...

    def writable(self) -> bool: ...

    def close(self) -> None: ...


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


_SCHEMA = """
CREATE TABLE IF NOT EXISTS jobs (
    id          TEXT PRIMARY KEY,
    owner       TEXT NOT NULL,
    state       TEXT NOT NULL,
    total       INTEGER NOT NULL,
    created_at  TEXT NOT NULL,
    updated_at  TEXT NOT NULL,
    error       TEXT
)
"""


class SqliteJobStore:
    """`JobStore` on one SQLite file; safe to share between threads and processes."""

    def __init__(self, path: Path) -> None:
        self.path = path
        self._lock = threading.Lock()
        try:
            path.parent.mkdir(parents=True, exist_ok=True)
            self._db = sqlite3.connect(
                path, isolation_level=None, timeout=30, check_same_thread=False
            )
            self._db.row_factory = sqlite3.Row
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            self._db.execute(_SCHEMA)
        except (OSError, sqlite3.Error) as error:
            raise self._error(error) from None

    def _error(self, error: Exception) -> LedgerError:
        return LedgerError(
            str(error), path=self.path, advice="check the server's --data-dir (space, rights)"
        )

    def _execute(self, sql: str, params: tuple[object, ...] = ()) -> list[sqlite3.Row]:
        with self._lock:
            try:
                return self._db.execute(sql, params).fetchall()
            except sqlite3.Error as error:
                raise self._error(error) from None

    def create(self, job: JobRecord) -> None:
        self._execute(
            "INSERT INTO jobs (id, owner, state, total, created_at, updated_at, error) "
            "VALUES (?, ?, ?, ?, ?, ?, ?)",
            (job.id, job.owner, job.state.value, job.total, job.created_at, job.updated_at,
             job.error),
        )  # fmt: skip

    def get(self, job_id: str) -> JobRecord | None:
        rows = self._execute("SELECT * FROM jobs WHERE id = ?", (job_id,))
        return _record(rows[0]) if rows else None

    def unfinished(self) -> list[JobRecord]:
        rows = self._execute(
            "SELECT * FROM jobs WHERE state IN (?, ?) ORDER BY created_at, id",
            (JobState.QUEUED.value, JobState.RUNNING.value),
        )
        return [_record(row) for row in rows]

    def start(self, job_id: str) -> None:
        self._execute(
            "UPDATE jobs SET state = ?, updated_at = ? WHERE id = ? AND state = ?",
            (JobState.RUNNING.value, utc_now(), job_id, JobState.QUEUED.value),
        )

    def finish(self, job_id: str, state: JobState, *, error: str | None = None) -> None:
        self._execute(
            "UPDATE jobs SET state = ?, error = ?, updated_at = ? "
            "WHERE id = ? AND state NOT IN (?, ?, ?)",
            (state.value, error, utc_now(), job_id, *(s.value for s in FINAL_STATES)),
        )

    def cancel(self, job_id: str) -> JobRecord | None:
        self.finish(job_id, JobState.CANCELLED)
        return self.get(job_id)

    def writable(self) -> bool:
        try:
            self._execute("BEGIN IMMEDIATE")
            self._execute("ROLLBACK")
        except LedgerError:
            return False
        return True

    def close(self) -> None:
        with self._lock:
            self._db.close()


def _record(row: sqlite3.Row) -> JobRecord:
    return JobRecord(**dict(row))
