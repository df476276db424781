"""The batch ledger: one SQLite row per item, the only record of what is done.

An item is *done* when its row says `done` with the current input hash **and** its output file
exists. The runner writes the output atomically first and marks it done second, each step
durable on its own, so a run killed at any instant leaves either a done item or one that the
next run redoes; never a done row without its file, never a half-written file. A row left
`running` by a killed run is simply run again.

The database is in WAL mode, so readers (a test, or `sqlite3` watching progress) never block the
run. `synchronous=NORMAL` makes a commit durable against a process crash (`kill -9`) without an
fsync per state change, which would stall the event loop three times per item. After a power
cut the last few changes may roll back; that is safe: outputs are fsynced before they are
marked done, so an output whose "done" was lost is found and adopted by the next run, and an
item whose output was lost is simply run again. All writes come from the runner's event loop.

Stories (`batch --stories`, `stories.py`) have a table of their own, one row per story: its
members (item id and input hash of each article), its state (`done`, `failed`, or `rejected`:
the articles do not form a story) and its output. The same order holds: the story file is
written atomically first, its row second, so a `done` row always has its file, and a file
whose row was lost is adopted by the next run when its sources are the members' inputs. The
table is created with the ledger, or on the first story written into a ledger made before it.

A ledger that SQLite cannot read or write (damaged pages, a full disk, a file that is no
database) raises LedgerError from whichever method met it, naming the file and the way out: for
a full disk, free space and rerun; for a damaged ledger, move it away and rerun, and the outputs
in `items/` are adopted again without a model call (their files name their input's hash).
"""

from __future__ import annotations

import functools
import json
import sqlite3
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext
from datetime import UTC, datetime
from enum import StrEnum
from pathlib import Path
from typing import Any, Concatenate, NamedTuple, ParamSpec, TypeVar

from pydantic import BaseModel, ConfigDict

from summarizer.errors import ConfigError, LedgerError
from summarizer.schemas import Usage

P = ParamSpec("P")
R = TypeVar("R")

SCHEMA_VERSION = 1

_SCHEMA = (
    """
CREATE TABLE IF NOT EXISTS items (
    id                TEXT PRIMARY KEY,
    origin            TEXT NOT NULL,
    input_sha256      TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('pending', 'running', 'done', 'failed')),
    attempts          INTEGER NOT NULL DEFAULT 0,
    last_error        TEXT,
    output_path       TEXT,
    metadata          TEXT,
    calls             INTEGER NOT NULL DEFAULT 0,
    cached_calls      INTEGER NOT NULL DEFAULT 0,
    failed_calls      INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    created_at        TEXT NOT NULL,
    started_at        TEXT,
    finished_at       TEXT,
    updated_at        TEXT NOT NULL
)
""",
    "CREATE INDEX IF NOT EXISTS items_by_hash ON items (input_sha256, state)",
)

_STORIES_SCHEMA = """
CREATE TABLE IF NOT EXISTS stories (
    id                TEXT PRIMARY KEY,
    members           TEXT NOT NULL,
    state             TEXT NOT NULL CHECK (state IN ('done', 'failed', 'rejected')),
    last_error        TEXT,
    output_path       TEXT,
    calls             INTEGER NOT NULL DEFAULT 0,
    cached_calls      INTEGER NOT NULL DEFAULT 0,
    failed_calls      INTEGER NOT NULL DEFAULT 0,
    prompt_tokens     INTEGER NOT NULL DEFAULT 0,
    completion_tokens INTEGER NOT NULL DEFAULT 0,
    updated_at        TEXT NOT NULL
)
"""

# What the last rebuild of results.jsonl wrote (`report.rebuild_results`): a run that changed no
# item finds the file as it left it, and skips rewriting every line. One row, created lazily.
_RESULTS_SCHEMA = """
CREATE TABLE IF NOT EXISTS results_file (
    name              TEXT PRIMARY KEY,
    lines             INTEGER NOT NULL,
    bytes             INTEGER NOT NULL,
    sha256            TEXT NOT NULL
)
"""


class FileDigest(NamedTuple):
    lines: int
    bytes: int
    sha256: str


# Each Usage field has a column of the same name (see _SCHEMA).
_USAGE_COLUMNS = tuple(Usage.model_fields)
_USAGE_SET = ", ".join(f"{column} = ?" for column in _USAGE_COLUMNS)


class ItemState(StrEnum):
    PENDING = "pending"
    RUNNING = "running"
    DONE = "done"
    FAILED = "failed"


class LedgerRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    origin: str
    input_sha256: str
    state: ItemState
    attempts: int
    last_error: str | None
    output_path: str | None
    metadata: dict[str, Any] | None
    calls: int
    cached_calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    created_at: str
    started_at: str | None
    finished_at: str | None
    updated_at: str

    @property
    def usage(self) -> Usage:
        return Usage.model_validate(self.model_dump(include=set(_USAGE_COLUMNS)))


class StoryState(StrEnum):
    DONE = "done"
    FAILED = "failed"
    REJECTED = "rejected"  # the articles do not form a story; not retried until they change


# A story's articles: (item id, input sha256) per article, sorted by id.
Members = tuple[tuple[str, str], ...]


class StoryRow(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    id: str
    members: Members
    state: StoryState
    last_error: str | None
    output_path: str | None
    calls: int
    cached_calls: int
    failed_calls: int
    prompt_tokens: int
    completion_tokens: int
    updated_at: str

    @property
    def usage(self) -> Usage:
        return Usage.model_validate(self.model_dump(include=set(_USAGE_COLUMNS)))


def _now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


def _faults_named(
    method: Callable[Concatenate[Ledger, P], R],
) -> Callable[Concatenate[Ledger, P], R]:
    """SQLite's errors from `method` become a LedgerError naming the file."""

    @functools.wraps(method)
    def guarded(self: Ledger, /, *args: P.args, **kwargs: P.kwargs) -> R:
        try:
            return method(self, *args, **kwargs)
        except sqlite3.DatabaseError as error:
            raise _ledger_error(error, self.path) from None

    return guarded


def _ledger_error(error: sqlite3.Error, path: Path) -> LedgerError:
    code = getattr(error, "sqlite_errorcode", None)
    if code == sqlite3.SQLITE_FULL:
        advice = "free some space and rerun"
    elif code in (sqlite3.SQLITE_READONLY, sqlite3.SQLITE_CANTOPEN, sqlite3.SQLITE_PERM):
        advice = "make its directory writable, or use another --out directory"
    else:
        advice = "move it away and rerun (finished outputs are adopted again without a model call)"
    return LedgerError(str(error), path=path, advice=advice)


class Ledger:
    """Item states in `path` (created on first use); close it, or use it as a context manager."""

    def __init__(self, path: Path, *, clock: Callable[[], str] = _now) -> None:
        self.path = path
        self._clock = clock
        self._together = False  # inside `together`: changes join its transaction
        try:
            self._db = sqlite3.connect(path, isolation_level=None, timeout=30)
        except sqlite3.Error as error:
            raise _ledger_error(error, path) from None
        try:
            self._prepare()
        except BaseException:
            self._db.close()
            raise

    def _prepare(self) -> None:
        self._db.row_factory = sqlite3.Row
        try:
            self._db.execute("PRAGMA journal_mode=WAL")
            self._db.execute("PRAGMA synchronous=NORMAL")
            version = self._db.execute("PRAGMA user_version").fetchone()[0]
            if version == 0:
                with self._transaction():
                    for statement in (*_SCHEMA, _STORIES_SCHEMA):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                version = SCHEMA_VERSION
        except sqlite3.DatabaseError as error:
            raise _ledger_error(error, self.path) from None
        if version != SCHEMA_VERSION:
            raise ConfigError(
                f"{self.path} is a batch ledger of format {version}; this version reads "
                f"format {SCHEMA_VERSION}: use a fresh --out directory"
            )

    # --- reading -----------------------------------------------------------------------------

    @_faults_named
    def get(self, item_id: str) -> LedgerRow | None:
        row = self._db.execute("SELECT * FROM items WHERE id = ?", (item_id,)).fetchone()
        return _row(row) if row is not None else None

    @_faults_named
    def rows(self, state: ItemState | None = None) -> list[LedgerRow]:
        if state is None:
            cursor = self._db.execute("SELECT * FROM items ORDER BY id")
        else:
            cursor = self._db.execute(
                "SELECT * FROM items WHERE state = ? ORDER BY id", (state.value,)
            )
        return [_row(row) for row in cursor.fetchall()]

    def iter_rows(self, state: ItemState) -> Iterator[LedgerRow]:
        """The rows in `state` by id, read as they are consumed (a 10,000-item ledger is never
        a list in memory). Do not write to the ledger while iterating."""
        try:
            cursor = self._db.execute(
                "SELECT * FROM items WHERE state = ? ORDER BY id", (state.value,)
            )
            for row in cursor:
                yield _row(row)
        except sqlite3.DatabaseError as error:
            raise _ledger_error(error, self.path) from None

    def iter_done_hashes(self) -> Iterator[tuple[str, str]]:
        """(id, input_sha256) of every done row, by id, read as consumed: one query for what
        would otherwise be one `done_with_hash` per distinct input."""
        try:
            cursor = self._db.execute(
                "SELECT id, input_sha256 FROM items WHERE state = 'done' ORDER BY id"
            )
            for item_id, digest in cursor:
                yield str(item_id), str(digest)
        except sqlite3.DatabaseError as error:
            raise _ledger_error(error, self.path) from None

    @_faults_named
    def done_with_hash(self, input_sha256: str) -> list[LedgerRow]:
        cursor = self._db.execute(
            "SELECT * FROM items WHERE input_sha256 = ? AND state = 'done' ORDER BY id",
            (input_sha256,),
        )
        return [_row(row) for row in cursor.fetchall()]

    @property
    def changes(self) -> int:
        """Rows this connection has inserted, updated or deleted since it opened."""
        return self._db.total_changes

    @_faults_named
    def results_digest(self, name: str) -> FileDigest | None:
        """What the last `record_results_digest(name, ...)` recorded, if anything."""
        try:
            row = self._db.execute(
                "SELECT lines, bytes, sha256 FROM results_file WHERE name = ?", (name,)
            ).fetchone()
        except sqlite3.OperationalError:  # a ledger from before the table: nothing recorded
            return None
        return FileDigest(*row) if row is not None else None

    @_faults_named
    def record_results_digest(self, name: str, digest: FileDigest) -> None:
        with self._transaction():
            self._db.execute(_RESULTS_SCHEMA)
            self._db.execute(
                "INSERT OR REPLACE INTO results_file (name, lines, bytes, sha256) "
                "VALUES (?, ?, ?, ?)",
                (name, *digest),
            )

    @_faults_named
    def counts(self) -> dict[str, int]:
        cursor = self._db.execute("SELECT state, COUNT(*) FROM items GROUP BY state")
        return {state: count for state, count in cursor.fetchall()}

    # --- state changes, each one transaction --------------------------------------------------

    @_faults_named
    def schedule(
        self, item_id: str, *, origin: str, input_sha256: str, metadata: dict[str, Any] | None
    ) -> None:
        """Record the item as pending with its current input (attempts are kept)."""
        now = self._clock()
        with self._transaction():
            self._db.execute(
                """
                INSERT INTO items (id, origin, input_sha256, state, metadata, created_at,
                                   updated_at)
                VALUES (?, ?, ?, 'pending', ?, ?, ?)
                ON CONFLICT (id) DO UPDATE SET
                    origin = excluded.origin, input_sha256 = excluded.input_sha256,
                    state = 'pending', metadata = excluded.metadata,
                    updated_at = excluded.updated_at
                """,
                (item_id, origin, input_sha256, _json(metadata), now, now),
            )

    @_faults_named
    def refresh(self, item_id: str, *, origin: str, metadata: dict[str, Any] | None) -> None:
        """Update where a done item came from and its metadata, which do not change its output."""
        with self._transaction():
            self._db.execute(
                "UPDATE items SET origin = ?, metadata = ? WHERE id = ?",
                (origin, _json(metadata), item_id),
            )

    @_faults_named
    def mark_running(self, item_id: str) -> None:
        now = self._clock()
        with self._transaction():
            self._updated(
                "UPDATE items SET state = 'running', attempts = attempts + 1, last_error = NULL,"
                " started_at = ?, finished_at = NULL, updated_at = ? WHERE id = ?",
                (now, now, item_id),
            )

    def mark_done(self, item_id: str, *, output_path: str, usage: Usage) -> None:
        """Call only after the output file is durably in place."""
        self._finish(item_id, ItemState.DONE, output_path=output_path, error=None, usage=usage)

    def mark_failed(self, item_id: str, *, error: str, usage: Usage) -> None:
        self._finish(item_id, ItemState.FAILED, output_path=None, error=error, usage=usage)

    @_faults_named
    def _finish(
        self,
        item_id: str,
        state: ItemState,
        *,
        output_path: str | None,
        error: str | None,
        usage: Usage,
    ) -> None:
        now = self._clock()
        with self._transaction():
            self._updated(
                f"UPDATE items SET state = ?, last_error = ?, output_path = ?, {_USAGE_SET},"
                " finished_at = ?, updated_at = ? WHERE id = ?",
                (state.value, error, output_path, *_usage(usage), now, now, item_id),
            )

    # --- stories -----------------------------------------------------------------------------

    @_faults_named
    def story_rows(self) -> list[StoryRow]:
        try:
            cursor = self._db.execute("SELECT * FROM stories ORDER BY id")
        except sqlite3.OperationalError:  # a ledger from before stories: none recorded yet
            return []
        rows = []
        for row in cursor.fetchall():
            values = dict(row)
            values["members"] = tuple(tuple(pair) for pair in json.loads(values["members"]))
            rows.append(StoryRow.model_validate(values))
        return rows

    @_faults_named
    def record_story(
        self,
        story_id: str,
        *,
        members: Members,
        state: StoryState,
        output_path: str | None,
        error: str | None,
        usage: Usage,
    ) -> None:
        """Record a story's outcome; for `done`, call only after its file is durably in place."""
        columns = ", ".join(_USAGE_COLUMNS)
        marks = ", ".join("?" for _ in _USAGE_COLUMNS)
        updates = ", ".join(f"{c} = excluded.{c}" for c in _USAGE_COLUMNS)
        with self._transaction():
            self._db.execute(_STORIES_SCHEMA)
            self._db.execute(
                f"""
                INSERT INTO stories (id, members, state, last_error, output_path, {columns},
                                     updated_at)
                VALUES (?, ?, ?, ?, ?, {marks}, ?)
                ON CONFLICT (id) DO UPDATE SET
                    members = excluded.members, state = excluded.state,
                    last_error = excluded.last_error, output_path = excluded.output_path,
                    {updates}, updated_at = excluded.updated_at
                """,
                (story_id, json.dumps(members), state.value, error, output_path, *_usage(usage),
                 self._clock()),
            )  # fmt: skip

    @_faults_named
    def forget_story(self, story_id: str) -> None:
        """Drop a story's row; call only after its file is gone."""
        with self._transaction():
            self._db.execute(_STORIES_SCHEMA)
            self._db.execute("DELETE FROM stories WHERE id = ?", (story_id,))

    def close(self) -> None:
        self._db.close()

    def __enter__(self) -> Ledger:
        return self

    def __exit__(self, *_exc: object) -> None:
        self.close()

    # --- helpers -------------------------------------------------------------------------------

    @contextmanager
    def together(self) -> Iterator[None]:
        """One transaction for every change made inside (one commit, not one per change): a
        run's triage schedules thousands of items at once. All of them or none are recorded."""
        if self._together:
            yield
            return
        try:
            with _Transaction(self._db):
                self._together = True
                try:
                    yield
                finally:
                    self._together = False
        except sqlite3.DatabaseError as error:  # BEGIN or COMMIT: the changes' own are named
            raise _ledger_error(error, self.path) from None

    def _transaction(self) -> AbstractContextManager[None]:
        return nullcontext() if self._together else _Transaction(self._db)

    def _updated(self, sql: str, params: tuple[Any, ...]) -> None:
        if self._db.execute(sql, params).rowcount != 1:
            raise KeyError(f"no ledger row for item {params[-1]!r}; schedule it first")


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on error): the write lock is taken up front."""

    def __init__(self, db: sqlite3.Connection) -> None:
        self._db = db

    def __enter__(self) -> None:
        self._db.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: type[BaseException] | None, *_rest: object) -> None:
        self._db.execute("COMMIT" if exc_type is None else "ROLLBACK")


def _row(row: sqlite3.Row) -> LedgerRow:
    values = dict(row)
    values["metadata"] = json.loads(values["metadata"]) if values["metadata"] else None
    return LedgerRow.model_validate(values)


def _json(metadata: dict[str, Any] | None) -> str | None:
    if metadata is None:
        return None
    return json.dumps(metadata, ensure_ascii=False, sort_keys=True)


def _usage(usage: Usage) -> tuple[int, ...]:
    """The values for `_USAGE_SET`, in its order."""
    return tuple(getattr(usage, column) for column in _USAGE_COLUMNS)
