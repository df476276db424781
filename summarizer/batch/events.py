"""One event per finished item, for progress bars and JSON-lines logs.

The runner reports to a `BatchObserver` from its event-loop thread; observers only render.
"""

from __future__ import annotations

import json
import sys
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Literal, Protocol, TextIO

from pydantic import BaseModel, ConfigDict, Field

from summarizer.schemas import Usage

if TYPE_CHECKING:
    from rich.progress import Progress, TaskID

    from summarizer.batch.report import BatchReport

ItemStatus = Literal["done", "failed", "skipped", "duplicate", "recovered"]


def utc_now() -> str:
    return datetime.now(UTC).isoformat(timespec="milliseconds")


class ItemEvent(BaseModel):
    """`done`: summarised now; `skipped`: done by an earlier run with the same input;
    `duplicate`: copied from an item with identical input; `recovered`: an earlier run wrote the
    output but was killed before recording it."""

    model_config = ConfigDict(extra="forbid")

    event: Literal["item"] = "item"
    at: str = Field(default_factory=utc_now)
    id: str | None
    origin: str
    status: ItemStatus
    reason: str | None = None
    seconds: float = 0.0
    output: str | None = None
    usage: Usage = Field(default_factory=Usage)


class BatchObserver(Protocol):
    def started(self, total: int) -> None: ...

    def item(self, event: ItemEvent) -> None: ...


class SilentObserver:
    def started(self, total: int) -> None:
        pass

    def item(self, event: ItemEvent) -> None:
        pass


class JsonLinesObserver:
    """One JSON object per line per item, then one `run` line: for cron and log shippers."""

    def __init__(self, stream: TextIO | None = None) -> None:
        self.stream = stream or sys.stderr

    def started(self, total: int) -> None:
        pass

    def item(self, event: ItemEvent) -> None:
        self.stream.write(event.model_dump_json() + "\n")
        self.stream.flush()

    def finished(self, report: BatchReport) -> None:
        line = {"event": "run", "at": utc_now(), **report.model_dump(mode="json")}
        self.stream.write(json.dumps(line, ensure_ascii=False, separators=(",", ":")) + "\n")
        self.stream.flush()


class RichProgressObserver:
    """A progress bar with ETA on a terminal; failures are printed above it as they happen."""

    def __init__(self) -> None:
        from rich.console import Console

        self.console = Console(stderr=True)
        self._progress: Progress | None = None
        self._task: TaskID | None = None

    def started(self, total: int) -> None:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self._progress = Progress(
            TextColumn("[progress.description]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TextColumn("{task.fields[failed]} failed"),
            TimeElapsedColumn(),
            TextColumn("ETA"),
            TimeRemainingColumn(),
            console=self.console,
            transient=False,
        )
        self._task = self._progress.add_task("summarising", total=total, failed=0)
        self._progress.start()

    def item(self, event: ItemEvent) -> None:
        if self._progress is None or self._task is None:
            return
        if event.status == "failed":
            failed = int(self._progress.tasks[0].fields["failed"]) + 1
            self._progress.update(self._task, failed=failed)
            from rich.text import Text

            # Text, not markup: a reason may quote server output with [brackets] in it.
            line = Text("failed ", style="red")
            line.append(f"{event.id or event.origin}: {event.reason}")
            self._progress.console.print(line)
        self._progress.advance(self._task)

    def close(self) -> None:
        if self._progress is not None:
            self._progress.stop()
            self._progress = None
