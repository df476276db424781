"""What a batch run leaves besides the per-item files: `results.jsonl` and `report.json`.

`results.jsonl` is rebuilt from the ledger at the end of every run (one line per done item, in
id order, written atomically), so it can never hold an item twice or a half-written line, even
after crashes and reruns. An item file that is damaged (truncated, edited) is left out, not
copied and not a crash; the next run redoes that item (`triage.py`). `report.json` covers this
run only.

Both are strict JSON: no NaN or Infinity (which `json.dumps` would write, and most parsers then
reject). Results are re-serialised from the validated model; metadata from an old ledger row that
holds a non-finite number gets null there.
"""

from __future__ import annotations

import hashlib
import json
import math
import os
import stat
from collections.abc import Iterator
from pathlib import Path
from typing import Any

from pydantic import BaseModel, ConfigDict

from summarizer.batch.layout import read_result
from summarizer.batch.ledger import FileDigest, ItemState, Ledger
from summarizer.batch.stories import StoriesReport
from summarizer.files import write_atomic
from summarizer.schemas import Usage

RESULTS_NAME = "results.jsonl"
REPORT_NAME = "report.json"


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class Counts(_Model):
    total: int = 0
    done: int = 0
    summarized: int = 0
    skipped: int = 0
    duplicates: int = 0
    recovered: int = 0
    failed: int = 0


class Failure(_Model):
    id: str | None
    origin: str
    reason: str


class Throughput(_Model):
    items_per_s: float
    calls_per_s: float


class BatchReport(_Model):
    """One run: `done` counts every item finished (now or earlier); `summarized` only new work."""

    out_dir: str
    backend: str
    model: str
    started_at: str
    finished_at: str
    duration_s: float
    interrupted: bool = False
    counts: Counts
    failures: list[Failure]
    usage: Usage
    rate_limited_calls: int
    rate_limit_wait_s: float
    estimated_cost_usd: float | None
    throughput: Throughput
    # With --stories: one line per story (built, unchanged, recovered, rejected, failed, removed).
    stories: StoriesReport | None = None

    @property
    def exit_code(self) -> int:
        failed_stories = self.stories is not None and self.stories.counts.failed > 0
        return 1 if self.failures or failed_stories else 0


def rebuild_results(ledger: Ledger, out_dir: Path, *, unchanged: bool = False) -> int:
    """Rewrite `results.jsonl` from the done rows whose output is valid; return the line count.

    Streamed: rows are read from the ledger and lines written as they come, so the memory a
    rebuild takes does not grow with the number of items. `unchanged`: the caller changed no
    ledger row and validated every done item's output this run (a rerun that skipped them all);
    then a file that still matches the digest the last rebuild recorded is left as it is,
    instead of reading and re-serialising every result a second time."""
    path = out_dir / RESULTS_NAME
    recorded = ledger.results_digest(RESULTS_NAME) if unchanged else None
    if recorded is not None and _digest_of(path) == (recorded.bytes, recorded.sha256):
        return recorded.lines
    written = 0
    size = 0
    digest = hashlib.sha256()

    def lines() -> Iterator[str]:
        nonlocal written, size
        for row in ledger.iter_rows(ItemState.DONE):
            if row.output_path is None:
                continue
            result = read_result(out_dir / row.output_path)
            if result is None:
                continue  # missing or damaged: not done after all, and the next run redoes it
            head = json.dumps(
                {
                    "id": row.id,
                    "origin": row.origin,
                    "input_sha256": row.input_sha256,
                    "metadata": _finite(row.metadata),
                },
                ensure_ascii=False,
                separators=(",", ":"),
                allow_nan=False,
            )
            # The result serialised by pydantic (in Rust: most of a rebuild's time was
            # `json.dumps` of the dumped model); it writes NaN and Infinity as null.
            line = f'{head[:-1]},"result":{result.model_dump_json()}}}\n'
            encoded = line.encode("utf-8")
            digest.update(encoded)
            size += len(encoded)
            written += 1
            yield line

    write_atomic(path, lines())
    ledger.record_results_digest(RESULTS_NAME, FileDigest(written, size, digest.hexdigest()))
    return written


def _digest_of(path: Path) -> tuple[int, str] | None:
    """(bytes, sha256) of the regular file at `path`, or None if there is none to read."""
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NONBLOCK)  # a FIFO put there must not block
    except OSError:
        return None
    with open(fd, "rb") as handle:
        info = os.fstat(fd)
        if not stat.S_ISREG(info.st_mode):
            return None
        try:
            return info.st_size, hashlib.file_digest(handle, "sha256").hexdigest()
        except OSError:
            return None


def _finite(value: Any) -> Any:
    """`value` with every NaN or infinity replaced by None (JSON has neither)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {key: _finite(item) for key, item in value.items()}
    if isinstance(value, list):
        return [_finite(item) for item in value]
    return value


def write_report(report: BatchReport, out_dir: Path) -> None:
    write_atomic(out_dir / REPORT_NAME, report.model_dump_json(indent=2) + "\n")


def render_text(report: BatchReport) -> str:
    """The short summary printed on stderr at the end of a run."""
    c, u = report.counts, report.usage
    parts = [f"{c.summarized} summarised"]
    parts += [f"{c.skipped} already done"] if c.skipped else []
    parts += [f"{c.duplicates} duplicate{'s' * (c.duplicates != 1)}"] if c.duplicates else []
    parts += [f"{c.recovered} recovered"] if c.recovered else []
    status = "interrupted" if report.interrupted else "finished"
    cost = (
        f"${report.estimated_cost_usd:.4f}" if report.estimated_cost_usd is not None else "unknown"
    )
    lines = [
        f"batch {status} in {report.duration_s:.1f}s: {c.done}/{c.total} done "
        f"({', '.join(parts)}), {c.failed} failed",
        f"calls {u.calls} (cached {u.cached_calls}, failed {u.failed_calls}, "
        f"rate-limited {report.rate_limited_calls}) · tokens {u.prompt_tokens} in / "
        f"{u.completion_tokens} out · estimated cost {cost}",
        f"throughput {report.throughput.items_per_s:.2f} items/s, "
        f"{report.throughput.calls_per_s:.2f} calls/s · report {report.out_dir}/{REPORT_NAME}",
    ]
    if report.stories is not None:
        lines += _story_lines(report.stories)
    if report.failures:
        lines.append("failed:")
        lines += [f"  {f.id or f.origin}: {f.reason}" for f in report.failures]
    return "\n".join(lines)


def _story_lines(stories: StoriesReport) -> list[str]:
    s = stories.counts
    parts = [
        f"{count} {name}" for name, count in s.model_dump().items() if count and name != "stories"
    ]
    lines = [
        f"stories {s.stories}{': ' + ', '.join(parts) if parts else ''} · "
        f"{len(stories.alone)} article{'s' * (len(stories.alone) != 1)} in no story"
    ]
    for line in stories.stories:
        note = f" ({line.reason})" if line.reason and line.status != "removed" else ""
        lines.append(f"  {line.id}: {line.status}, {len(line.articles)} articles{note}")
    return lines
