"""Jobs: many articles accepted at once, run on the batch machinery, safe across crashes.

Each job is a batch output directory, `DATA_DIR/jobs/<id>/`, holding the accepted articles
(`articles.jsonl`) next to what `run_batch` keeps there: the ledger, `items/<id>.json`, the
report. So a job gets everything a batch has: the same ledger (an item is done once, and a
killed run's finished items are never redone), the same throttle and rate limits (one
`RateLimiter` shared with the synchronous endpoints), the same retries and cancellation.

`JobRunner` runs unfinished jobs on threads of its own. It looks for them at start-up and
whenever a job is submitted (and every few seconds, for jobs another worker accepted), so
after `kill -9` and a restart every accepted job resumes where its ledger says. Several
workers sharing one data directory never run one job twice at once: `run_batch` holds the
job directory's flock, and a worker that meets `BatchLocked` leaves the job to its holder.
"""

from __future__ import annotations

import json
import logging
import threading
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from summarizer.batch.cancel import CallCancelled
from summarizer.batch.inputs import BatchItem, Discovery, item_id
from summarizer.batch.layout import LEDGER_NAME, read_result
from summarizer.batch.ledger import ItemState, Ledger
from summarizer.batch.lock import BatchLocked
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.runner import BatchOptions, run_batch
from summarizer.config import Settings
from summarizer.errors import SummarizerError
from summarizer.files import write_atomic
from summarizer.llm import Backend, BackendIdentity, Completion, CompletionRequest
from summarizer.llm.factory import BackendProfile
from summarizer.schemas import Usage
from summarizer.server.models import JobArticle
from summarizer.server.problems import one_line
from summarizer.server.store import JobState, JobStore
from summarizer.sources import source_from_text

log = logging.getLogger(__name__)

ARTICLES_NAME = "articles.jsonl"
JOBS_DIR = "jobs"


def job_items(articles: Sequence[JobArticle]) -> list[BatchItem]:
    """The batch items of a job's articles (InputError for one that cannot be summarised)."""
    items = []
    for number, article in enumerate(articles, start=1):
        key = article.id or str(number)
        source = source_from_text(article.text, path=key)
        items.append(
            BatchItem(
                id=item_id(key),
                origin=f"article {number}",
                input_sha256=source.sha256,
                source=source,
                metadata=article.metadata(),
            )
        )
    return items


class JobFiles:
    """Where a job's files live."""

    def __init__(self, data_dir: Path) -> None:
        self.root = data_dir / JOBS_DIR

    def directory(self, job_id: str) -> Path:
        return self.root / job_id

    def save_articles(self, job_id: str, articles: Sequence[JobArticle]) -> None:
        text = "".join(article.model_dump_json(exclude_none=True) + "\n" for article in articles)
        folder = self.directory(job_id)
        folder.mkdir(parents=True, exist_ok=True)
        write_atomic(folder / ARTICLES_NAME, text)

    def load_articles(self, job_id: str) -> list[JobArticle]:
        path = self.directory(job_id) / ARTICLES_NAME
        with path.open(encoding="utf-8") as handle:
            return [JobArticle.model_validate_json(line) for line in handle if line.strip()]

    def progress(self, job_id: str) -> tuple[int, int, Usage]:
        """Items done, items failed, and what they spent, from the job's ledger."""
        path = self.directory(job_id) / LEDGER_NAME
        if not path.exists():
            return 0, 0, Usage()
        with Ledger(path) as ledger:
            rows = ledger.rows()
        done = sum(row.state is ItemState.DONE for row in rows)
        failed = sum(row.state is ItemState.FAILED for row in rows)
        return done, failed, sum((row.usage for row in rows), Usage())

    def results(self, job_id: str) -> Iterator[str]:
        """One JSON line per finished item, in id order: its result, or why it failed."""
        folder = self.directory(job_id)
        if not (folder / LEDGER_NAME).exists():
            return
        with Ledger(folder / LEDGER_NAME) as ledger:
            rows = ledger.rows()
        for row in rows:
            record: dict[str, Any] = {"id": row.id, "metadata": row.metadata}
            if row.state is ItemState.DONE and row.output_path is not None:
                result = read_result(folder / row.output_path)
                if result is None:
                    continue
                record["result"] = result.model_dump(mode="json")
            elif row.state is ItemState.FAILED:
                record["error"] = row.last_error or "failed"
            else:
                continue
            yield json.dumps(record, ensure_ascii=False, allow_nan=False) + "\n"


class _CancellableBackend:
    """The shared backend, refusing further calls once its job is cancelled."""

    def __init__(self, inner: Backend, cancelled: threading.Event) -> None:
        self._inner = inner
        self._cancelled = cancelled

    @property
    def identity(self) -> BackendIdentity:
        return self._inner.identity

    def complete(self, request: CompletionRequest) -> Completion:
        if self._cancelled.is_set():
            raise CallCancelled("the job was cancelled")
        return self._inner.complete(request)


class JobRunner:
    """Runs unfinished jobs, at most `max_jobs` at once, each with `concurrency` items."""

    def __init__(
        self,
        store: JobStore,
        files: JobFiles,
        settings: Settings,
        *,
        backend: Backend,
        profile: BackendProfile,
        limiter: RateLimiter,
        concurrency: int,
        max_jobs: int = 2,
        poll_s: float = 2.0,
    ) -> None:
        self.store = store
        self.files = files
        self.settings = settings
        self.backend = backend
        self.profile = profile
        self.limiter = limiter
        self.concurrency = concurrency
        self.max_jobs = max_jobs
        self.poll_s = poll_s
        self._active: dict[str, threading.Event] = {}
        self._held_elsewhere: dict[str, float] = {}
        self._lock = threading.Lock()
        self._wake = threading.Event()
        self._stopping = threading.Event()
        self._thread: threading.Thread | None = None

    def start(self) -> None:
        self._thread = threading.Thread(target=self._loop, name="jobs", daemon=True)
        self._thread.start()

    def stop(self) -> None:
        """Stop taking jobs; running ones stop at their next call and resume on restart."""
        self._stopping.set()
        self._wake.set()
        with self._lock:
            for event in self._active.values():
                event.set()

    def submitted(self) -> None:
        self._wake.set()

    def cancel(self, job_id: str) -> None:
        with self._lock:
            event = self._active.get(job_id)
        if event is not None:
            event.set()

    @property
    def running(self) -> int:
        with self._lock:
            return len(self._active)

    def _loop(self) -> None:
        while not self._stopping.is_set():
            try:
                self._take_jobs()
            except SummarizerError as error:
                log.warning("cannot read the job store: %s", error)
            self._wake.wait(self.poll_s)
            self._wake.clear()

    def _take_jobs(self) -> None:
        now = time.monotonic()
        for job in self.store.unfinished():
            with self._lock:
                if len(self._active) >= self.max_jobs:
                    return
                if job.id in self._active or self._held_elsewhere.get(job.id, 0.0) > now:
                    continue
                cancelled = threading.Event()
                self._active[job.id] = cancelled
            threading.Thread(
                target=self._run, args=(job.id, cancelled), name=f"job-{job.id}", daemon=True
            ).start()

    def _run(self, job_id: str, cancelled: threading.Event) -> None:
        try:
            items = job_items(self.files.load_articles(job_id))
            self.store.start(job_id)
            run_batch(
                Discovery(items=items),
                self.settings,
                BatchOptions(out_dir=self.files.directory(job_id), concurrency=self.concurrency),
                backend=_CancellableBackend(self.backend, cancelled),
                profile=self.profile,
                limiter=self.limiter,
            )
        except BatchLocked:
            # Another worker runs it; look again later, in case that worker dies.
            with self._lock:
                self._held_elsewhere[job_id] = time.monotonic() + 5 * self.poll_s
        except (SummarizerError, OSError, ValueError) as error:
            log.warning("job %s failed: %s", job_id, one_line(str(error)))
            self.store.finish(job_id, JobState.FAILED, error=one_line(str(error)))
        except Exception:
            log.exception("unexpected error running job %s", job_id)
            self.store.finish(job_id, JobState.FAILED, error="internal error")
        else:
            if not self._stopping.is_set():
                self.store.finish(job_id, JobState.DONE)
        finally:
            with self._lock:
                self._active.pop(job_id, None)
            self._wake.set()
