"""Run a batch: triage items against the ledger, summarise the rest concurrently, report.

`triage.py` decides what each item needs; this module carries that out, and records every
item's outcome in one method (`_Run._record`: ledger row, counts, usage, failures, event).

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

With `stories`, once every item has its outcome, the run's done items are grouped into stories
and each story that changed is built from the items' stored results (`stories.py`).
"""

from __future__ import annotations

import asyncio
import contextlib
import functools
import logging
import os
import queue
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import TypeVar

from pydantic import BaseModel, ConfigDict, Field

from summarizer.batch.cancel import CancelToken, cancellable_sleep, current_token
from summarizer.batch.events import BatchObserver, ItemEvent, ItemStatus, SilentObserver, utc_now
from summarizer.batch.inputs import BatchItem, Discovery, InputProblem
from summarizer.batch.layout import ITEMS_DIR, LEDGER_NAME, STORIES_DIR, output_path, read_result
from summarizer.batch.ledger import ItemState, Ledger
from summarizer.batch.lock import exclusive_lock
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.report import (
    REPORT_NAME,
    RESULTS_NAME,
    BatchReport,
    Counts,
    Failure,
    Throughput,
    rebuild_results,
    write_report,
)
from summarizer.batch.stories import Member, StoriesReport, run_stories
from summarizer.batch.throttle import ThrottledBackend
from summarizer.batch.triage import Action, Fail, Recover, Skip, Summarize, observe, triage
from summarizer.config import Settings
from summarizer.errors import OutputError, SummarizerError
from summarizer.files import write_atomic
from summarizer.llm import Backend
from summarizer.llm.calls import RetryPolicy, UsageMeter
from summarizer.llm.embedder import Embedder
from summarizer.llm.factory import BackendProfile, LazyBackend, describe_backend
from summarizer.pricing import estimate_cost
from summarizer.schemas import SummaryResult, Usage
from summarizer.service import Summarizer
from summarizer.tokens import TokenCounter

log = logging.getLogger(__name__)

T = TypeVar("T")
# The longest a stopped run waits for its output writes in flight (each is one small file).
WRITES_SETTLE_S = 30.0

# Which count each outcome adds to (every outcome but a failure is also `done`).
_COUNTED_AS: dict[ItemStatus, str] = {
    "done": "summarized",
    "duplicate": "duplicates",
    "recovered": "recovered",
    "skipped": "skipped",
    "failed": "failed",
}


class BatchOptions(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)

    out_dir: Path
    concurrency: int = Field(default=4, ge=1, le=1024)
    rpm: float | None = Field(default=None, gt=0)
    tpm: float | None = Field(default=None, gt=0)
    item_timeout: float | None = Field(default=None, gt=0)
    # After the items: group the done ones into stories and build those that changed.
    stories: bool = False


def run_batch(
    discovery: Discovery,
    settings: Settings,
    options: BatchOptions,
    *,
    backend: Backend | None = None,
    profile: BackendProfile | None = None,
    observer: BatchObserver | None = None,
    limiter: RateLimiter | None = None,
    embedder: Embedder | None = None,
) -> BatchReport:
    """Summarise every item not already done into `options.out_dir`; see the module docstring.

    Raises BatchLocked if another run holds the directory, and KeyboardInterrupt (after
    recording the run's report) when interrupted. Item failures are in the report, not raised.
    """
    out_dir = options.out_dir
    _check_out_dir(out_dir)
    with exclusive_lock(out_dir):
        _sweep_temp_files(out_dir)
        (out_dir / ITEMS_DIR).mkdir(exist_ok=True)
        profile = profile or describe_backend(settings)
        throttled = ThrottledBackend(
            backend or LazyBackend(settings, profile),
            limiter or RateLimiter(rpm=options.rpm, tpm=options.tpm),
        )
        service = Summarizer(
            settings,
            backend=throttled,
            profile=profile,
            # Waits between retries must wake when the item is cancelled (timeout or Ctrl-C).
            retry=RetryPolicy(max_attempts=settings.max_retries, sleep=cancellable_sleep),
            # A backend we build is ours to close (the throttle passes `close` on); one passed
            # in belongs to the caller.
            owns_backend=backend is None,
            # Story grouping and alignment; built on first use unless one is passed in.
            embedder=embedder,
        )
        with Ledger(out_dir / LEDGER_NAME) as ledger:
            run = _Run(discovery, service, throttled, ledger, options, observer or SilentObserver())
            try:
                asyncio.run(run.execute())
                if options.stories:
                    run.build_stories()
            except KeyboardInterrupt:
                run.interrupted = True
                raise
            finally:
                service.close()
                report = run.finish()
    return report


def _check_out_dir(out_dir: Path) -> None:
    """Refuse an output directory that cannot hold a run's files, before anything is spent."""
    if out_dir.exists() and not out_dir.is_dir():
        raise OutputError("is not a directory; --out takes a directory", path=out_dir)
    try:
        out_dir.mkdir(parents=True, exist_ok=True)
    except OSError as error:
        raise OutputError(error.strerror or str(error), path=out_dir) from None
    if not os.access(out_dir, os.W_OK | os.X_OK):
        raise OutputError("the directory is not writable", path=out_dir)


def _sweep_temp_files(out_dir: Path) -> None:
    """Remove temp files of writes cut short by a kill; we hold the lock, so none is live."""
    for folder in (out_dir, out_dir / ITEMS_DIR, out_dir / STORIES_DIR):
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


@dataclass(frozen=True)
class _Failed:
    """Why an item's summary failed, and what its attempts cost."""

    reason: str
    usage: Usage


class _Run:
    def __init__(
        self,
        discovery: Discovery,
        service: Summarizer,
        backend: ThrottledBackend,
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
        self.stories: StoriesReport | None = None
        self.started_at = utc_now()
        self._clock_start = time.monotonic()
        self._live_tokens: set[CancelToken] = set()
        # Per worker: one item being summarised and one result being written.
        self._threads = _DaemonThreads(2 * options.concurrency, name="batch")
        self._writing = _InFlight()

    async def execute(self) -> None:
        self.observer.started(self.counts.total)
        for problem in self.discovery.problems:
            self._record(problem, "failed", reason=problem.reason)
        settled = self._settle_triage()
        if any(group.leader is not None for group in settled):
            # Building the token encoder takes most of a second of CPU: done here, before any
            # item's clock starts, it does not count against the first items' --item-timeout,
            # and a rerun with nothing to summarise never pays for it.
            TokenCounter.for_model(self.backend.identity.model)
        groups = iter(settled)
        workers = [self._worker(groups) for _ in range(self.options.concurrency)]
        try:
            await asyncio.gather(*workers)
        except asyncio.CancelledError:
            self.interrupted = True
            for token in list(self._live_tokens):
                token.cancel("the run was interrupted")
            raise

    # --- triage (before any model call) -------------------------------------------------------

    def _settle_triage(self) -> list[_Group]:
        """Carry out what triage settles without a model; group the rest by input."""
        seen = observe(self.discovery.items, self.ledger, self.out_dir)
        groups: dict[str, _Group] = {}  # by the id of the leader or the donor
        with self.ledger.together():  # one commit for the whole triage, not three per item
            for item, action in triage(seen.items, seen.finished):
                self._settle(item, action, groups)
        return list(groups.values())

    def _settle(self, item: BatchItem, action: Action, groups: dict[str, _Group]) -> None:
        """Carry out one item's triage action, or add the item to its group."""
        relative = output_path(item.id)
        if isinstance(action, Skip):
            self._record(item, "skipped", output=relative, refresh=action.refresh)
            return
        self.ledger.schedule(
            item.id, origin=item.origin, input_sha256=item.input_sha256,
            metadata=item.metadata,
        )  # fmt: skip
        if isinstance(action, Recover):
            # Its cost was spent by the killed run: recorded in the ledger, not in this run.
            self._record(item, "recovered", output=relative, recorded=action.usage)
            return
        # An output left from an older input is wrong for this one; the ledger no longer
        # claims it (scheduled above), so remove it before anyone reads it as current.
        (self.out_dir / relative).unlink(missing_ok=True)
        if isinstance(action, Fail):
            self._record(item, "failed", reason=action.reason)
        elif isinstance(action, Summarize):
            groups[item.id] = _Group(leader=item)
        elif action.awaits_donor:  # its donor leads a group of this run (triaged earlier)
            groups[action.donor].followers.append(item)
        else:
            donor = action.donor
            groups.setdefault(donor, _Group(leader=None, donor=donor)).followers.append(item)

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
            outcome = await self._summarize(group.leader)
            if writing is not None:
                await writing
            writing = asyncio.create_task(self._conclude(group, group.leader, outcome, started))
        if writing is not None:
            await writing

    async def _conclude(
        self, group: _Group, leader: BatchItem, outcome: SummaryResult | _Failed, started: float
    ) -> None:
        """Record the leader's outcome, then give its followers a copy or the same failure."""
        if isinstance(outcome, SummaryResult):
            failure = await self._store(leader, outcome, "done", started=started)
        else:
            failure = outcome.reason
            self._record(leader, "failed", reason=failure, spent=outcome.usage, started=started)
        for follower in group.followers:
            if failure is None:
                await self._copy(follower, leader.id)
            else:
                reason = f"identical input to item {leader.id}, which failed: {failure}"
                self._record(follower, "failed", reason=reason)

    async def _summarize(self, item: BatchItem) -> SummaryResult | _Failed:
        """Summarise `item`; a failure comes back with its reason and its attempts' usage."""
        assert item.source is not None  # items with a source error never reach a worker
        source = item.source
        self.ledger.mark_running(item.id)
        token = CancelToken()
        # Receives every attempt as it ends, so a timed-out item still counts what it spent.
        meter = UsageMeter()
        self._live_tokens.add(token)

        def work() -> SummaryResult:
            # The pool thread's context carries this item's token for this job only.
            reset = current_token.set(token)
            try:
                return self.service.summarize(source, meter=meter)
            finally:
                current_token.reset(reset)

        future = self._threads.submit(work)
        try:
            finished, _ = await asyncio.wait({future}, timeout=self.options.item_timeout)
            if not finished:
                reason = f"timed out after {self.options.item_timeout:g}s"
                token.cancel(reason)
                # The slot stays taken until the thread has stopped, and the call it had in
                # flight is counted once it has.
                await _settle(future)
                return _Failed(reason, meter.total)
            return future.result()
        except asyncio.CancelledError:
            token.cancel("the run was interrupted")
            raise
        except SummarizerError as error:
            return _Failed(_one_line(str(error)) or type(error).__name__, meter.total)
        except Exception as error:
            # A bug, not a bad item: say so loudly, but let the rest of the batch finish.
            log.exception("unexpected error summarising %s", item.id)
            reason = f"unexpected {type(error).__name__}: {_one_line(str(error))}"
            return _Failed(reason, meter.total)
        finally:
            self._live_tokens.discard(token)

    async def _copy(self, item: BatchItem, donor: str) -> None:
        """Give `item` the result of `donor`, a finished item with identical input."""
        assert item.source is not None
        self.ledger.mark_running(item.id)
        original = read_result(self.out_dir / output_path(donor))
        if original is None:
            reason = f"identical input to item {donor}, whose output cannot be read"
            self._record(item, "failed", reason=reason)
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
        await self._store(item, result, "duplicate", note=f"identical input to item {donor}")

    async def _store(
        self,
        item: BatchItem,
        result: SummaryResult,
        status: ItemStatus,
        *,
        started: float | None = None,
        note: str | None = None,
    ) -> str | None:
        """Write the output durably, then record the item; return the failure reason if the
        output cannot be written (a full disk, a permission: the item fails, with the reason)."""
        relative = output_path(item.id)
        text = result.model_dump_json(indent=2) + "\n"
        try:
            # No sweep per write: `run_batch` swept the directory under the lock, and listing
            # items/ per write made a run quadratic in its size.
            await self._threads.submit(
                self._writing.counted(
                    lambda: write_atomic(self.out_dir / relative, text, sweep=False)
                )
            )
        except OSError as error:
            reason = f"cannot write the output: {error}"
            self._record(item, "failed", reason=reason, spent=result.usage, started=started)
            return reason
        self._record(
            item, status, output=relative, spent=result.usage, reason=note, started=started
        )
        return None

    # --- recording -----------------------------------------------------------------------------

    def _record(
        self,
        subject: BatchItem | InputProblem,
        status: ItemStatus,
        *,
        output: str | None = None,
        reason: str | None = None,
        spent: Usage | None = None,
        recorded: Usage | None = None,
        started: float | None = None,
        refresh: bool = False,
    ) -> None:
        """Record an item's outcome: its ledger row, the counts, this run's usage, the failures,
        and the observer's event. The one place an outcome is recorded.

        `spent` is what this run spent on the item; `recorded` (default: `spent`) is the usage
        its ledger row keeps. A done, duplicate or recovered item's output must already be in
        place (see `ledger.py`). `refresh`: a skipped item's origin or metadata changed.
        """
        spent = spent or Usage()
        item = subject if isinstance(subject, BatchItem) else None
        if item is not None:
            if status == "failed":
                self.ledger.mark_failed(item.id, error=reason or "", usage=recorded or spent)
            elif status == "skipped":
                if refresh:
                    self.ledger.refresh(item.id, origin=item.origin, metadata=item.metadata)
            else:
                assert output is not None  # a finished item has its output
                self.ledger.mark_done(item.id, output_path=output, usage=recorded or spent)
        counter = _COUNTED_AS[status]
        setattr(self.counts, counter, getattr(self.counts, counter) + 1)
        self.usage = self.usage + spent
        if status == "failed":
            log.info("item %s failed: %s", item.id if item else subject.origin, reason)
            self.failures.append(
                Failure(id=item.id if item else None, origin=subject.origin, reason=reason or "")
            )
        else:
            self.counts.done += 1
        self.observer.item(
            ItemEvent(
                id=item.id if item else None, origin=subject.origin, status=status, reason=reason,
                seconds=round(time.monotonic() - started, 3) if started is not None else 0.0,
                output=output, usage=spent,
            )
        )  # fmt: skip

    # --- stories -------------------------------------------------------------------------------

    def build_stories(self) -> None:
        """Group this run's done items into stories and build the ones that changed."""
        members = []
        for item in self.discovery.items:
            row = self.ledger.get(item.id)
            if (
                item.source is not None
                and row is not None
                and row.state is ItemState.DONE
                and row.input_sha256 == item.input_sha256
            ):
                members.append(Member(item.id, item.input_sha256, item.source, item.metadata))
        self.stories = run_stories(members, self.service, self.ledger, self.out_dir)
        self.usage = self.usage + self.stories.usage

    # --- the end -------------------------------------------------------------------------------

    def finish(self) -> BatchReport:
        # A run stopped by an error (a full disk, a damaged ledger) or Ctrl-C leaves its worker
        # threads running; an output write in flight then still has its temp file. Writes are
        # short: wait for them, so nothing half-written is left when the run returns.
        self._writing.wait_idle(WRITES_SETTLE_S)
        self._threads.close()
        try:
            # A rerun that changed no row and skipped every done item (each output validated
            # by triage) leaves results.jsonl as the last run wrote it, if it is intact.
            unchanged = (
                self.ledger.changes == 0
                and self.counts.skipped == self.ledger.counts().get(ItemState.DONE.value, 0)
            )
            rebuild_results(self.ledger, self.out_dir, unchanged=unchanged)
        except OSError as error:
            reason = error.strerror or str(error)
            raise OutputError(reason, path=self.out_dir / RESULTS_NAME) from None
        duration = max(time.monotonic() - self._clock_start, 1e-9)
        stats = self.backend.stats
        identity = self.service.profile.identity
        report = BatchReport(
            out_dir=str(self.out_dir),
            backend=identity.name,
            model=identity.model,
            started_at=self.started_at,
            finished_at=utc_now(),
            duration_s=round(duration, 3),
            interrupted=self.interrupted,
            counts=self.counts,
            stories=self.stories,
            failures=self.failures,
            usage=self.usage,
            rate_limited_calls=stats.rate_limited,
            rate_limit_wait_s=round(self.backend.limiter.waited_s, 3),
            estimated_cost_usd=estimate_cost(
                identity.name,
                identity.model,
                self.usage.prompt_tokens,
                self.usage.completion_tokens,
            ),
            throughput=Throughput(
                items_per_s=round(self.counts.summarized / duration, 3),
                calls_per_s=round(stats.calls / duration, 3),
            ),
        )
        try:
            write_report(report, self.out_dir)
        except OSError as error:
            reason = error.strerror or str(error)
            raise OutputError(reason, path=self.out_dir / REPORT_NAME) from None
        return report


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


class _InFlight:
    """How many counted jobs are queued or running, and a wait until none is."""

    def __init__(self) -> None:
        self._count = 0
        self._idle = threading.Condition()

    def counted(self, function: Callable[[], T]) -> Callable[[], T]:
        with self._idle:
            self._count += 1

        def job() -> T:
            try:
                return function()
            finally:
                with self._idle:
                    self._count -= 1
                    self._idle.notify_all()

        return job

    def wait_idle(self, timeout: float) -> bool:
        with self._idle:
            return self._idle.wait_for(lambda: self._count == 0, timeout)


async def _settle(future: asyncio.Future[T]) -> None:
    """Wait for a future whose outcome no longer matters, and retrieve it so none is lost."""
    await asyncio.wait({future})
    if not future.cancelled():
        future.exception()
