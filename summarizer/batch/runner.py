"""Run a batch: triage items against the ledger, summarise the rest concurrently, report.

Concurrency is asyncio on the outside and threads on the inside: `concurrency` worker
coroutines each take the next group of items with identical input, run the synchronous
`Summarizer.summarize` for its first item on a worker thread, then write and record the result
(overlapping the worker's next item) and copy it to the group's other items. At most
`concurrency` items are with the model at once, counting one that timed out but whose thread
is still finishing its current call.

The threads are a fixed set of daemon threads (`_DaemonThreads`) rather than
`asyncio.to_thread`: the default executor is capped at `min(32, cpus + 4)` workers (6 on a
2-core machine, silently capping `--concurrency`), and `asyncio.run` and interpreter exit both
join executor threads, so Ctrl-C would wait for every call in flight. A daemon thread killed at
exit can at worst leave a temporary file, which the next run sweeps; every durable state change
is atomic.

Per item: `schedule` (pending) → `mark_running` → summarise → `write_atomic(items/<id>.json)` →
`mark_done`, or `mark_failed` with the reason. See `ledger.py` for why that order is kill-safe.
"""

from __future__ import annotations

import asyncio
import contextlib
import dataclasses
import functools
import logging
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError

from summarizer.batch.backend import BatchBackend
from summarizer.batch.cancel import CancelToken, cancellable_sleep, current_token
from summarizer.batch.events import BatchObserver, ItemEvent, SilentObserver, utc_now
from summarizer.batch.inputs import BatchItem, Discovery
from summarizer.batch.ledger import ItemState, Ledger, LedgerRow
from summarizer.batch.lock import exclusive_lock
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.report import (
    BatchReport,
    Counts,
    Failure,
    Throughput,
    rebuild_results,
    write_report,
)
from summarizer.config import Settings
from summarizer.errors import BackendError, SummarizerError
from summarizer.files import write_atomic
from summarizer.llm import Backend
from summarizer.llm.factory import BackendProfile, LazyBackend, describe_backend
from summarizer.pricing import estimate_cost
from summarizer.schemas import SummaryResult, Usage
from summarizer.service import Summarizer
from summarizer.tokens import TokenCounter

log = logging.getLogger(__name__)

T = TypeVar("T")

ITEMS_DIR = "items"
LEDGER_NAME = "ledger.sqlite"


class BatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    out_dir: Path
    concurrency: int = Field(default=4, ge=1, le=1024)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    item_timeout: float | None = Field(default=None, gt=0)


def output_path(item_id: str) -> str:
    """Where an item's result lives, relative to the output directory."""
    return f"{ITEMS_DIR}/{item_id}.json"


def run_batch(
    discovery: Discovery,
    settings: Settings,
    options: BatchOptions,
    *,
    backend: Backend | None = None,
    profile: BackendProfile | None = None,
    observer: BatchObserver | None = None,
    limiter: RateLimiter | None = None,
) -> BatchReport:
    """Summarise every item not already done into `options.out_dir`; see the module docstring.

    Raises BatchLocked if another run holds the directory, and KeyboardInterrupt (after
    recording the run's report) when interrupted. Item failures are in the report, not raised.
    """
    out_dir = options.out_dir
    with exclusive_lock(out_dir):
        _sweep_temp_files(out_dir)
        (out_dir / ITEMS_DIR).mkdir(exist_ok=True)
        profile = profile or describe_backend(settings)
        # A backend we build is ours to close; one passed in belongs to the caller.
        owned: LazyBackend | None = None
        if backend is None:
            backend = owned = LazyBackend(settings, profile)
        wrapped = BatchBackend(backend, limiter or RateLimiter(rpm=options.rpm, tpm=options.tpm))
        service = Summarizer(settings, backend=wrapped, profile=profile)
        # tokens.get_encoding is cached but not locked: threads racing to the first use would
        # each build the encoder (seconds of CPU apiece under the GIL), so build it once here.
        TokenCounter.for_model(service.options.encoding_model)
        # Waits between retries must wake when the item is cancelled (timeout or Ctrl-C).
        service.options = dataclasses.replace(
            service.options,
            retry=dataclasses.replace(service.options.retry, sleep=cancellable_sleep),
        )
        with Ledger(out_dir / LEDGER_NAME) as ledger:
            run = _Run(discovery, service, wrapped, ledger, options, observer or SilentObserver())
            try:
                asyncio.run(run.execute())
            except KeyboardInterrupt:
                run.interrupted = True
                raise
            finally:
                service.close()
                if owned is not None:
                    owned.close()
                report = run.finish()
    return report


def _sweep_temp_files(out_dir: Path) -> None:
    """Remove temp files of writes cut short by a kill; we hold the lock, so none is live."""
    for folder in (out_dir, out_dir / ITEMS_DIR):
        if folder.is_dir():
            for temp in folder.glob(".*.tmp"):
                temp.unlink(missing_ok=True)


@dataclass
class _Group:
    """Items with identical input: the leader is summarised, the others get a copy.

    With no leader, `donor` (an item finished earlier) already holds the result.
    """

    leader: BatchItem | None
    donor: str | None = None
    followers: list[BatchItem] = field(default_factory=list)


class _Run:
    def __init__(
        self,
        discovery: Discovery,
        service: Summarizer,
        backend: BatchBackend,
        ledger: Ledger,
        options: BatchOptions,
        observer: BatchObserver,
    ) -> None:
        self.discovery = discovery
        self.service = service
        self.backend = backend
        self.ledger = ledger
        self.options = options
        self.out_dir = options.out_dir
        self.observer = observer
        self.counts = Counts(total=len(discovery.items) + len(discovery.problems))
        self.failures: list[Failure] = []
        self.usage = Usage()
        self.interrupted = False
        self.started_at = utc_now()
        self._clock_start = time.monotonic()
        self._live_tokens: set[CancelToken] = set()
        # Per worker: one item being summarised and one result being written.
        self._threads = _DaemonThreads(2 * options.concurrency, name="batch")

    # --- triage (before any model call) -------------------------------------------------------

    async def execute(self) -> None:
        self.observer.started(self.counts.total)
        for problem in self.discovery.problems:
            self._failed(None, problem.origin, problem.reason, Usage())
        groups = iter(self._triage())
        workers = [self._worker(groups) for _ in range(self.options.concurrency)]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.interrupted = True
            for token in list(self._live_tokens):
                token.cancel("the run was interrupted")
            raise

    def _triage(self) -> list[_Group]:
        """Settle what needs no model (done, recoverable, bad input); group the rest by input."""
        groups: dict[str, _Group] = {}
        for item in self.discovery.items:
            row = self.ledger.get(item.id)
            if item.error is None and row is not None and self._is_done(row, item):
                self._skip(item, row)
                continue
            if item.error is None and self._recover(item):
                continue
            self.ledger.schedule(
                item.id, origin=item.origin, input_sha256=item.input_sha256,
                metadata=item.metadata,
            )  # fmt: skip
            # An output left from an older input is wrong for this one; the ledger no longer
            # claims it (scheduled above), so remove it before anyone reads it as current.
            (self.out_dir / output_path(item.id)).unlink(missing_ok=True)
            if item.error is not None:
                self._failed(item.id, item.origin, item.error, Usage())
                continue
            group = groups.get(item.input_sha256)
            if group is None:
                donor = self._finished_with_same_input(item)
                group = _Group(leader=None if donor else item, donor=donor)
                groups[item.input_sha256] = group
                if donor is None:
                    continue
            group.followers.append(item)
        return list(groups.values())

    def _is_done(self, row: LedgerRow, item: BatchItem) -> bool:
        return (
            row.state is ItemState.DONE
            and row.input_sha256 == item.input_sha256
            and row.output_path is not None
            and (self.out_dir / row.output_path).is_file()
        )

    def _skip(self, item: BatchItem, row: LedgerRow) -> None:
        if row.origin != item.origin or row.metadata != item.metadata:
            self.ledger.refresh(item.id, origin=item.origin, metadata=item.metadata)
        self.counts.skipped += 1
        self.counts.done += 1
        self.observer.item(
            ItemEvent(id=item.id, origin=item.origin, status="skipped", output=row.output_path)
        )

    def _recover(self, item: BatchItem) -> bool:
        """Adopt an output that a killed run wrote but did not get to record as done."""
        relative = output_path(item.id)
        result = _read_result(self.out_dir / relative)
        if result is None or result.source.sha256 != item.input_sha256:
            return False
        self.ledger.schedule(
            item.id, origin=item.origin, input_sha256=item.input_sha256, metadata=item.metadata
        )
        self.ledger.mark_done(item.id, output_path=relative, usage=result.usage)
        self.counts.recovered += 1
        self.counts.done += 1
        self.observer.item(
            ItemEvent(id=item.id, origin=item.origin, status="recovered", output=relative)
        )
        return True

    def _finished_with_same_input(self, item: BatchItem) -> str | None:
        for row in self.ledger.done_with_hash(item.input_sha256):
            if (
                row.id != item.id
                and row.output_path is not None
                and (self.out_dir / row.output_path).is_file()
            ):
                return row.id
        return None

    # --- running ----------------------------------------------------------------------------

    async def _worker(self, groups: Iterator[_Group]) -> None:
        # Workers share one iterator; the event loop is single-threaded, so `next` is safe.
        # Each worker writes its last result while its next item is already with the model
        # (one write pending per worker), so a slow disk does not stretch every item's turn.
        writing: asyncio.Task[None] | None = None
        for group in groups:
            if group.leader is None:
                assert group.donor is not None  # a group has a leader or a finished donor
                for follower in group.followers:
                    await self._copy(follower, group.donor)
                continue
            started = time.monotonic()
            outcome = await self._summarize(group.leader, started)
            if writing is not None:
                await writing
            writing = asyncio.create_task(self._conclude(group, group.leader, outcome, started))
        if writing is not None:
            await writing

    async def _conclude(
        self, group: _Group, leader: BatchItem, outcome: SummaryResult | str, started: float
    ) -> None:
        """Record the leader's outcome, then give its followers a copy or the same failure."""
        failure = (
            await self._record_done(leader, outcome, started)
            if isinstance(outcome, SummaryResult)
            else outcome
        )
        for follower in group.followers:
            if failure is None:
                await self._copy(follower, leader.id)
            else:
                reason = f"identical input to item {leader.id}, which failed: {failure}"
                self._failed(follower.id, follower.origin, reason, Usage())

    async def _record_done(
        self, item: BatchItem, result: SummaryResult, started: float
    ) -> str | None:
        """Write and record a summarised item; return the failure reason if it cannot be."""
        try:
            relative = await self._write(item.id, result)
        except OSError as error:  # a full disk, a permission: the item fails, with the reason
            reason = f"cannot write the output: {error}"
            self._failed(item.id, item.origin, reason, result.usage, started=started)
            return reason
        self.usage = self.usage + result.usage
        self.counts.summarized += 1
        self.counts.done += 1
        self.observer.item(
            ItemEvent(
                id=item.id, origin=item.origin, status="done", output=relative,
                seconds=round(time.monotonic() - started, 3), usage=result.usage,
            )
        )  # fmt: skip
        return None

    async def _summarize(self, item: BatchItem, started: float) -> SummaryResult | str:
        """Summarise `item`; a failure is recorded here and its reason returned."""
        assert item.source is not None  # items with a source error never reach a worker
        source = item.source
        self.ledger.mark_running(item.id)
        token = CancelToken()
        self._live_tokens.add(token)

        def work() -> SummaryResult:
            # The pool thread's context carries this item's token for this job only.
            reset = current_token.set(token)
            try:
                return self.service.summarize(source)
            finally:
                current_token.reset(reset)

        future = self._threads.submit(work)
        try:
            finished, _ = await asyncio.wait({future}, timeout=self.options.item_timeout)
            if not finished:
                reason = f"timed out after {self.options.item_timeout:g}s"
                token.cancel(reason)
                self._failed(item.id, item.origin, reason, Usage(), started=started)
                await _settle(future)  # the slot stays taken until the thread has stopped
                return reason
            return future.result()
        except asyncio.CancelledError:
            token.cancel("the run was interrupted")
            raise
        except SummarizerError as error:
            usage = (error.usage if isinstance(error, BackendError) else None) or Usage()
            reason = _one_line(str(error)) or type(error).__name__
            self._failed(item.id, item.origin, reason, usage, started=started)
            return reason
        except Exception as error:
            # A bug, not a bad item: say so loudly, but let the rest of the batch finish.
            log.exception("unexpected error summarising %s", item.id)
            reason = f"unexpected {type(error).__name__}: {_one_line(str(error))}"
            self._failed(item.id, item.origin, reason, Usage(), started=started)
            return reason
        finally:
            self._live_tokens.discard(token)

    async def _copy(self, item: BatchItem, donor: str) -> None:
        """Give `item` the result of `donor`, a finished item with identical input."""
        assert item.source is not None
        self.ledger.mark_running(item.id)
        original = _read_result(self.out_dir / output_path(donor))
        if original is None:
            reason = f"identical input to item {donor}, whose output cannot be read"
            self._failed(item.id, item.origin, reason, Usage())
            return
        reused = original.usage.calls - original.usage.failed_calls + original.usage.cached_calls
        result = original.model_copy(
            update={
                "source": original.source.model_copy(update={"path": item.source.path}),
                # Nothing was spent on this item: the answers it reuses count as cached.
                "usage": Usage(cached_calls=reused),
                "warnings": [
                    *original.warnings,
                    f"identical input to item {donor}: result copied without a model call",
                ],
            }
        )
        relative = await self._write(item.id, result)
        self.usage = self.usage + result.usage
        self.counts.duplicates += 1
        self.counts.done += 1
        self.observer.item(
            ItemEvent(
                id=item.id, origin=item.origin, status="duplicate", output=relative,
                usage=result.usage, reason=f"identical input to item {donor}",
            )
        )  # fmt: skip

    async def _write(self, item_id: str, result: SummaryResult) -> str:
        """Write the output durably, then (and only then) record the item as done."""
        relative = output_path(item_id)
        text = result.model_dump_json(indent=2) + "\n"
        await self._threads.submit(lambda: write_atomic(self.out_dir / relative, text))
        self.ledger.mark_done(item_id, output_path=relative, usage=result.usage)
        return relative

    def _failed(
        self,
        item_id: str | None,
        origin: str,
        reason: str,
        usage: Usage,
        *,
        started: float | None = None,
    ) -> None:
        """Count a failure; an item with an id has a ledger row, which records the reason."""
        if item_id is not None:
            self.ledger.mark_failed(item_id, error=reason, usage=usage)
        log.info("item %s failed: %s", item_id or origin, reason)
        self.usage = self.usage + usage
        self.counts.failed += 1
        self.failures.append(Failure(id=item_id, origin=origin, reason=reason))
        seconds = round(time.monotonic() - started, 3) if started is not None else 0.0
        self.observer.item(
            ItemEvent(
                id=item_id, origin=origin, status="failed", reason=reason, seconds=seconds,
                usage=usage,
            )
        )  # fmt: skip

    # --- the end -------------------------------------------------------------------------------

    def finish(self) -> BatchReport:
        self._threads.close()
        rebuild_results(self.ledger, self.out_dir)
        duration = max(time.monotonic() - self._clock_start, 1e-9)
        stats = self.backend.stats
        profile = self.service.profile
        report = BatchReport(
            out_dir=str(self.out_dir),
            backend=profile.backend,
            model=profile.model,
            started_at=self.started_at,
            finished_at=utc_now(),
            duration_s=round(duration, 3),
            interrupted=self.interrupted,
            counts=self.counts,
            failures=self.failures,
            usage=self.usage,
            rate_limited_calls=stats.rate_limited,
            rate_limit_wait_s=round(self.backend.limiter.waited_s, 3),
            estimated_cost_usd=estimate_cost(
                profile.backend,
                profile.model,
                self.usage.prompt_tokens,
                self.usage.completion_tokens,
            ),
            throughput=Throughput(
                items_per_s=round(self.counts.summarized / duration, 3),
                calls_per_s=round(stats.calls / duration, 3),
            ),
        )
        write_report(report, self.out_dir)
        return report


def _read_result(path: Path) -> SummaryResult | None:
    try:
        return SummaryResult.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None


def _one_line(text: str) -> str:
    return " ".join(text.split())


class _DaemonThreads:
    """A fixed set of daemon threads running jobs from a queue, outcomes delivered to futures.

    Not a thread per job: `Thread.start` blocks until the new thread gets the GIL, which busy
    threads hold for up to the switch interval, so the event loop stalled milliseconds per start.
    Not a ThreadPoolExecutor: its threads are joined at interpreter exit, so Ctrl-C would wait for
    every model call in flight.
    """

    def __init__(self, size: int, *, name: str) -> None:
        self._jobs: queue.SimpleQueue[Callable[[], None] | None] = queue.SimpleQueue()
        self._threads = [
            threading.Thread(target=self._serve, name=f"{name}-{n}", daemon=True)
            for n in range(size)
        ]
        for thread in self._threads:
            thread.start()

    def _serve(self) -> None:
        while (job := self._jobs.get()) is not None:
            job()

    def submit(self, function: Callable[[], T]) -> asyncio.Future[T]:
        loop = asyncio.get_running_loop()
        future: asyncio.Future[T] = loop.create_future()

        def deliver(outcome: Callable[[], object]) -> None:
            if not future.done():  # cancelled meanwhile: nobody wants the outcome
                outcome()

        def job() -> None:
            outcome: Callable[[], object]
            try:
                value = function()
            except BaseException as error:  # every outcome must reach the waiting coroutine
                outcome = functools.partial(future.set_exception, error)
            else:
                outcome = functools.partial(future.set_result, value)
            # After an interrupted run the loop is closed, and the outcome has no reader.
            with contextlib.suppress(RuntimeError):
                loop.call_soon_threadsafe(deliver, outcome)

        self._jobs.put(job)
        return future

    def close(self) -> None:
        """Idle threads exit now, busy ones after their current job."""
        for _ in self._threads:
            self._jobs.put(None)


async def _settle(future: asyncio.Future[T]) -> None:
    """Wait for a future whose outcome no longer matters, and retrieve it so none is lost."""
    await asyncio.wait({future})
    if not future.cancelled():
        future.exception()
