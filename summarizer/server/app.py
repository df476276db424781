"""The FastAPI app: the same `Summarizer` behind an authenticated, bounded, durable HTTP API.

    create_app(settings, server)   build everything once: backend, service, job store, runner
      /v1/summaries, /v1/claims    one article, answered synchronously (--request-timeout)
      /v1/stories                  several articles on one event -> the story result
      /v1/jobs[/{id}[/results]]    many articles: 202, status, JSON lines, DELETE cancels
      /healthz, /readyz, /metrics  process up; backend, cache and store usable; Prometheus

Every model call goes through one `ThrottledBackend` for synchronous requests (and the batch
runner's own throttle for jobs), both on one shared `RateLimiter` (--rpm/--tpm) and one
`CountingBackend` for the metrics. Errors leave as problem documents from `problems.py`; the
access log (`summarizer.server.access`) has method, path, status, time and the key's *name*,
never a token, a query string or a body.
"""

import logging
import os
import time
import uuid
from collections.abc import AsyncIterator, Callable
from contextlib import asynccontextmanager
from dataclasses import dataclass
from typing import Annotated, Any, TypeVar

import anyio
from fastapi import Depends, FastAPI, Request, Response
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse, StreamingResponse
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from summarizer.batch.cancel import CallCancelled, CancelToken, cancellable_sleep, current_token
from summarizer.batch.ratelimit import RateLimiter
from summarizer.batch.throttle import ThrottledBackend
from summarizer.config import Settings
from summarizer.errors import SummarizerError
from summarizer.llm import Backend
from summarizer.llm.calls import RetryPolicy
from summarizer.llm.factory import LazyBackend, describe_backend
from summarizer.pricing import estimate_cost
from summarizer.render import render_summary
from summarizer.schemas import ClaimsResult, SummaryResult
from summarizer.server.jobs import JobFiles, JobRunner, job_items
from summarizer.server.keys import ApiKeys
from summarizer.server.limits import BodyLimits, KeyRateLimiter, WorkQueue, retry_after
from summarizer.server.metrics import CountingBackend, Metrics
from summarizer.server.models import (
    ArticleRequest,
    Health,
    JobCounts,
    JobRequest,
    JobStatus,
    Readiness,
    StoryRequest,
)
from summarizer.server.problems import PROBLEM_TYPE, Problem, one_line, problem, problem_for
from summarizer.server.settings import ServerSettings
from summarizer.server.store import JobRecord, JobState, SqliteJobStore, utc_now
from summarizer.service import Summarizer
from summarizer.sources import Source, source_from_text
from summarizer.tokens import TokenCounter

log = logging.getLogger(__name__)
access_log = logging.getLogger("summarizer.server.access")

T = TypeVar("T")

ANONYMOUS = "anonymous"
_MEDIA = {"json": "application/json", "md": "text/markdown", "text": "text/plain"}


class ProblemError(Exception):
    """Raised inside the app to answer with a problem document."""

    def __init__(
        self, status: int, slug: str, title: str, detail: str, *, headers: dict[str, str] | None
    ) -> None:
        super().__init__(detail)
        self.problem = problem(status, slug, title, detail)
        self.headers = headers or {}


def _problem_response(body: Problem, headers: dict[str, str] | None = None) -> JSONResponse:
    return JSONResponse(
        body.model_dump(), status_code=body.status, headers=headers, media_type=PROBLEM_TYPE
    )


def _problems(*statuses: int) -> dict[int | str, dict[str, Any]]:
    ref = {"schema": {"$ref": "#/components/schemas/Problem"}}
    return {status: {"description": "A problem document", "content": {PROBLEM_TYPE: ref}}
            for status in statuses}  # fmt: skip


_CALLER_PROBLEMS = (401, 413, 415, 422, 429)
_MODEL_PROBLEMS = (500, 502, 503, 504)


@dataclass
class Services:
    """What the routes share; built once per app."""

    settings: Settings
    server: ServerSettings
    service: Summarizer
    backend: Backend
    store: SqliteJobStore
    files: JobFiles
    runner: JobRunner
    keys: ApiKeys | None
    rate: KeyRateLimiter | None
    queue: WorkQueue
    slots: anyio.CapacityLimiter | None
    metrics: Metrics
    owns_backend: bool


def create_app(
    settings: Settings,
    server: ServerSettings,
    *,
    backend: Backend | None = None,
    keys: ApiKeys | None = None,
) -> FastAPI:
    """The app, complete. `backend` defaults to the configured one (built on first call);
    `keys` to the server's keys file (None there too: no authentication)."""
    if keys is None and server.keys_file is not None:
        keys = ApiKeys.load(server.keys_file)
    metrics = Metrics()
    profile = describe_backend(settings)
    inner = CountingBackend(backend or LazyBackend(settings, profile), metrics)
    limiter = RateLimiter(rpm=server.rpm, tpm=server.tpm)
    service = Summarizer(
        settings,
        backend=ThrottledBackend(inner, limiter),
        profile=profile,
        # Waits between retries wake when a request times out (its cancel token).
        retry=RetryPolicy(max_attempts=settings.max_retries, sleep=cancellable_sleep),
        owns_backend=False,
    )
    store = SqliteJobStore(server.data_dir / "jobs.sqlite")
    files = JobFiles(server.data_dir)
    runner = JobRunner(
        store, files, settings, backend=inner, profile=profile, limiter=limiter,
        concurrency=server.concurrency,
    )  # fmt: skip
    metrics.watch_job_queue(lambda: len(store.unfinished()))
    services = Services(
        settings=settings, server=server, service=service, backend=inner, store=store,
        files=files, runner=runner, keys=keys,
        rate=KeyRateLimiter(server.rate_limit) if server.rate_limit else None,
        queue=WorkQueue(server.queue_size), slots=None, metrics=metrics,
        owns_backend=backend is None,
    )  # fmt: skip

    @asynccontextmanager
    async def lifespan(app: FastAPI) -> AsyncIterator[None]:
        services.slots = anyio.CapacityLimiter(server.concurrency)
        # The token encoder takes most of a second to build: built now, not by the first call.
        await anyio.to_thread.run_sync(TokenCounter.for_model, profile.identity.model)
        runner.start()
        try:
            yield
        finally:
            runner.stop()
            service.close()
            if services.owns_backend:
                inner.close()
            store.close()

    app = FastAPI(
        title="summarizer",
        version=_version(),
        description="Structured summaries and claim lists whose every claim cites a verified "
        "span of its source.",
        lifespan=lifespan,
    )
    app.state.services = services
    _add_error_handlers(app)
    _add_routes(app, services)
    _add_openapi_problem(app)
    app.add_middleware(BodyLimits, max_body=server.max_body)
    if server.cors_origins:
        from fastapi.middleware.cors import CORSMiddleware

        app.add_middleware(
            CORSMiddleware,
            allow_origins=list(server.cors_origins),
            allow_methods=["GET", "POST", "DELETE"],
            allow_headers=["Authorization", "Content-Type"],
        )
    app.add_middleware(AccessLog, metrics=metrics)
    return app


def _version() -> str:
    from summarizer import __version__

    return __version__


# --- errors ---------------------------------------------------------------------------------


def _add_error_handlers(app: FastAPI) -> None:
    async def on_problem(request: Request, error: Exception) -> Response:
        assert isinstance(error, ProblemError)
        return _problem_response(error.problem, error.headers)

    async def on_library_error(request: Request, error: Exception) -> Response:
        assert isinstance(error, SummarizerError)
        mapped = problem_for(error)
        headers = {"Retry-After": str(mapped.retry_after)} if mapped.retry_after else None
        detail = one_line(str(error)) or type(error).__name__
        return _problem_response(problem(mapped.status, mapped.slug, mapped.title, detail), headers)

    async def on_invalid(request: Request, error: Exception) -> Response:
        assert isinstance(error, RequestValidationError)
        details = [
            f"{'.'.join(str(part) for part in issue['loc'])}: {issue['msg']}"
            for issue in error.errors()[:3]
        ]  # the message and where, never the value sent (it may be an article)
        body = problem(422, "invalid-request", "Invalid request", "; ".join(details))
        return _problem_response(body)

    async def on_http(request: Request, error: Exception) -> Response:
        assert isinstance(error, StarletteHTTPException)
        title = {404: "Not found", 405: "Method not allowed"}.get(error.status_code, "Error")
        body = problem(error.status_code, "http", title, str(error.detail))
        return _problem_response(body, dict(error.headers or {}))

    async def on_bug(request: Request, error: Exception) -> Response:
        log.error("unexpected error answering %s %s", request.method, request.url.path,
                  exc_info=error)  # fmt: skip
        body = problem(500, "server-error", "Internal server error", "an unexpected error")
        return _problem_response(body)

    app.add_exception_handler(ProblemError, on_problem)
    app.add_exception_handler(SummarizerError, on_library_error)
    app.add_exception_handler(RequestValidationError, on_invalid)
    app.add_exception_handler(StarletteHTTPException, on_http)
    app.add_exception_handler(Exception, on_bug)


def _add_openapi_problem(app: FastAPI) -> None:
    def openapi() -> dict[str, Any]:
        if app.openapi_schema is None:
            from fastapi.openapi.utils import get_openapi

            schema = get_openapi(
                title=app.title, version=app.version, description=app.description,
                routes=app.routes,
            )  # fmt: skip
            schema.setdefault("components", {}).setdefault("schemas", {})["Problem"] = (
                Problem.model_json_schema()
            )
            app.openapi_schema = schema
        return app.openapi_schema

    app.openapi = openapi  # type: ignore[method-assign]


# --- access log and request metrics ---------------------------------------------------------


class AccessLog:
    """ASGI middleware: one log line and the request metrics per HTTP request.

    Plain ASGI rather than `@app.middleware("http")`, which costs a task and a stream per
    request: here it is one wrapped `send`."""

    def __init__(self, app: ASGIApp, *, metrics: Metrics) -> None:
        self.app = app
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = time.perf_counter()
        status = 500
        recorded = False

        def record() -> None:
            nonlocal recorded
            if recorded:
                return
            recorded = True
            seconds = time.perf_counter() - started
            template = getattr(scope.get("route"), "path", "unmatched")
            method = scope["method"]
            self.metrics.requests.labels(method, template, str(status)).inc()
            self.metrics.latency.labels(template).observe(seconds)
            caller = scope.get("state", {}).get("caller", "-")
            access_log.info(
                "%s %s %d %.1fms %s", method, scope["path"], status, seconds * 1000, caller
            )

        async def tracked(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            elif message["type"] == "http.response.body" and not message.get("more_body"):
                # Recorded before the last byte goes out, so a caller that has its response
                # can count on the line and the metrics being there.
                record()
            await send(message)

        try:
            await self.app(scope, receive, tracked)
        finally:
            record()  # a request that ended without a finished response


# --- routes ---------------------------------------------------------------------------------


def _add_routes(app: FastAPI, s: Services) -> None:
    bearer = HTTPBearer(auto_error=False, description="A token from `summarizer keys new`.")

    async def caller(
        request: Request,
        credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(bearer)],
    ) -> str:
        name = ANONYMOUS
        if s.keys is not None:
            found = s.keys.authenticate(credentials.credentials) if credentials else None
            if found is None:
                raise ProblemError(
                    401, "unauthorized", "Unauthorized",
                    "send a valid API key: Authorization: Bearer <token>",
                    headers={"WWW-Authenticate": "Bearer"},
                )  # fmt: skip
            name = found
        request.state.caller = name
        if s.rate is not None and (wait := s.rate.admit(name)) is not None:
            s.metrics.rejected.labels("rate_limit").inc()
            raise ProblemError(
                429, "rate-limited", "Too many requests",
                f"this key's limit is {s.server.rate_limit:g} requests per minute",
                headers={"Retry-After": retry_after(wait)},
            )  # fmt: skip
        return name

    # Annotations are evaluated here, at definition (this module has no `from __future__ import
    # annotations`): FastAPI could not resolve these local names from strings.
    Caller = Annotated[str, Depends(caller)]

    article_responses: dict[int | str, dict[str, Any]] = {
        200: {
            "description": "The result (JSON), or its rendering (format md or text)",
            "content": {"text/markdown": {"schema": {"type": "string"}},
                        "text/plain": {"schema": {"type": "string"}}},
        },
        **_problems(*_CALLER_PROBLEMS, *_MODEL_PROBLEMS),
    }  # fmt: skip

    @app.post(
        "/v1/summaries",
        response_model=SummaryResult,
        responses=article_responses,
        summary="Summarise one article",
    )
    async def summaries(body: ArticleRequest, who: Caller) -> Response:
        result = await _summarize(s, body)
        if body.format != "json":
            return Response(render_summary(result, body.format), media_type=_MEDIA[body.format])
        return Response(result.model_dump_json(), media_type="application/json")

    @app.post(
        "/v1/claims",
        response_model=ClaimsResult,
        responses=article_responses,
        summary="The claims of one article, each citing its source sentences",
    )
    async def claims(body: ArticleRequest, who: Caller) -> Response:
        result = ClaimsResult.from_summary(await _summarize(s, body))
        if body.format != "json":
            from summarizer.render import render_claims

            return Response(render_claims(result, body.format), media_type=_MEDIA[body.format])
        return Response(result.model_dump_json(), media_type="application/json")

    story_model: Any = _story_result_model()

    @app.post(
        "/v1/stories",
        response_model=story_model,
        responses=_problems(*_CALLER_PROBLEMS, *_MODEL_PROBLEMS),
        summary="One account of several articles on the same event",
    )
    async def stories(body: StoryRequest, who: Caller) -> Response:
        from summarizer.story import StoryArticle

        articles = [
            StoryArticle(
                source=_source(a.text, a.id or f"article {n}"),
                outlet=a.outlet, title=a.title, url=a.url,
            )
            for n, a in enumerate(body.articles, start=1)
        ]  # fmt: skip
        told = await _in_worker(s, lambda: s.service.story(articles))
        return Response(told.model_dump_json(), media_type="application/json")

    job_responses = _problems(*_CALLER_PROBLEMS, 503)

    @app.post(
        "/v1/jobs",
        status_code=202,
        response_model=JobStatus,
        responses=job_responses,
        summary="Accept many articles as one job",
    )
    async def submit_job(body: JobRequest, response: Response, who: Caller) -> Any:
        items = job_items(body.articles)  # InputError (422) for an article with no text
        ids = [item.id for item in items]
        if len(set(ids)) != len(ids):
            raise ProblemError(422, "duplicate-ids", "Duplicate article ids",
                               "every article of a job needs its own id", headers=None)  # fmt: skip
        if len(s.store.unfinished()) >= s.server.queue_size:
            s.metrics.rejected.labels("job_queue").inc()
            raise ProblemError(
                429, "queue-full", "The job queue is full",
                f"{s.server.queue_size} jobs are waiting or running; try again later",
                headers={"Retry-After": "30"},
            )  # fmt: skip
        job_id = uuid.uuid4().hex
        await anyio.to_thread.run_sync(s.files.save_articles, job_id, body.articles)
        now = utc_now()
        record = JobRecord(
            id=job_id, owner=who, state=JobState.QUEUED, total=len(items),
            created_at=now, updated_at=now,
        )  # fmt: skip
        s.store.create(record)
        s.runner.submitted()
        response.headers["Location"] = f"/v1/jobs/{job_id}"
        return _status(s, record)

    @app.get(
        "/v1/jobs/{job_id}",
        response_model=JobStatus,
        responses=_problems(401, 404, 429, 503),
        summary="Where a job stands",
    )
    async def job_status(job_id: str, who: Caller) -> Any:
        return await anyio.to_thread.run_sync(_status, s, _own_job(s, job_id, who))

    @app.get(
        "/v1/jobs/{job_id}/results",
        response_class=StreamingResponse,
        responses={
            200: {
                "description": "One JSON object per finished item",
                "content": {"application/x-ndjson": {"schema": {"type": "string"}}},
            },
            **_problems(401, 404, 429, 503),
        },
        summary="The results so far, as JSON lines",
    )
    async def job_results(job_id: str, who: Caller) -> StreamingResponse:
        job = _own_job(s, job_id, who)
        return StreamingResponse(s.files.results(job.id), media_type="application/x-ndjson")

    @app.delete(
        "/v1/jobs/{job_id}",
        response_model=JobStatus,
        responses=_problems(401, 404, 429, 503),
        summary="Cancel a job (its finished items are kept)",
    )
    async def cancel_job(job_id: str, who: Caller) -> Any:
        job = _own_job(s, job_id, who)
        s.runner.cancel(job.id)
        cancelled = s.store.cancel(job.id) or job
        return await anyio.to_thread.run_sync(_status, s, cancelled)

    @app.get("/healthz", response_model=Health, summary="The process is up")
    async def healthz() -> Health:
        return Health()

    @app.get(
        "/readyz",
        response_model=Readiness,
        responses={503: {"model": Readiness, "description": "Not ready"}},
        summary="Backend configured, cache and job store writable",
    )
    async def readyz() -> Response:
        checks = await anyio.to_thread.run_sync(_readiness, s)
        ready = all(checks.values())
        body = Readiness(status="ready" if ready else "not ready", checks=checks)
        return Response(body.model_dump_json(), status_code=200 if ready else 503,
                        media_type="application/json")  # fmt: skip

    @app.get(
        "/metrics",
        responses={200: {"description": "Prometheus text format",
                         "content": {"text/plain": {"schema": {"type": "string"}}}}},
        response_class=Response,
        summary="Prometheus metrics",
    )  # fmt: skip
    async def metrics() -> Response:
        from prometheus_client import CONTENT_TYPE_LATEST, generate_latest

        return Response(generate_latest(s.metrics.registry), media_type=CONTENT_TYPE_LATEST)


def _story_result_model() -> type:
    from summarizer.story.result import StoryResult

    return StoryResult


def _source(text: str, name: str) -> Source:
    return source_from_text(text, path=name)


async def _summarize(s: Services, body: ArticleRequest) -> SummaryResult:
    source = _source(body.text, body.id or body.title or "article")
    result = await _in_worker(s, lambda: s.service.summarize(source))
    if result.usage.cached_calls:
        s.metrics.cache_hits.inc(result.usage.cached_calls)
    return result


async def _in_worker(s: Services, work: Callable[[], T]) -> T:
    """Run `work` on a model slot, if the queue has room; cancel it after --request-timeout."""
    if not s.queue.try_enter():
        s.metrics.rejected.labels("queue_full").inc()
        raise ProblemError(
            429, "queue-full", "The server is busy",
            f"{s.queue.capacity} requests are already waiting or running; try again shortly",
            headers={"Retry-After": "1"},
        )  # fmt: skip
    s.metrics.in_flight.inc()
    token = CancelToken()

    def run() -> T:
        reset = current_token.set(token)
        try:
            return work()
        finally:
            current_token.reset(reset)

    timeout = s.server.request_timeout
    try:
        with anyio.fail_after(timeout):
            return await anyio.to_thread.run_sync(run, limiter=s.slots, abandon_on_cancel=True)
    except TimeoutError:
        # The thread stops at its next model call or retry wait.
        token.cancel("timed out")
        raise CallCancelled(f"no result within the server's {timeout:g}s timeout") from None
    finally:
        s.queue.leave()
        s.metrics.in_flight.dec()


def _own_job(s: Services, job_id: str, who: str) -> JobRecord:
    job = s.store.get(job_id)
    # Another caller's job is as absent as one that never was.
    if job is None or (s.keys is not None and job.owner != who):
        raise ProblemError(404, "no-such-job", "No such job", f"no job {job_id!r}", headers=None)
    return job


def _status(s: Services, job: JobRecord) -> JobStatus:
    done, failed, usage = s.files.progress(job.id)
    identity = s.service.profile.identity
    return JobStatus(
        id=job.id,
        state=job.state,
        created_at=job.created_at,
        updated_at=job.updated_at,
        counts=JobCounts(
            total=job.total, done=done, failed=failed, pending=max(job.total - done - failed, 0)
        ),
        usage=usage,
        estimated_cost_usd=estimate_cost(
            identity.name, identity.model, usage.prompt_tokens, usage.completion_tokens
        ),
        error=job.error,
        results=f"/v1/jobs/{job.id}/results",
    )


def _readiness(s: Services) -> dict[str, bool]:
    cache_dir = s.settings.cache_dir
    try:
        cache_dir.mkdir(parents=True, exist_ok=True)
        cache_ok = os.access(cache_dir, os.W_OK | os.X_OK)
    except OSError:
        cache_ok = False
    return {
        "backend": _backend_configured(s),
        "cache": cache_ok or not s.settings.use_cache,
        "job_store": s.store.writable(),
    }


def _backend_configured(s: Services) -> bool:
    """An OpenAI-compatible backend needs an endpoint or a key; a local one its model file."""
    if s.settings.resolved_backend() == "openai":
        return s.settings.base_url is not None or s.settings.api_key is not None
    from pathlib import Path

    from summarizer.llm.catalogue import catalogue_entry, missing_parts

    name = s.settings.resolved_model()
    entry = catalogue_entry(name)
    return not missing_parts(entry) if entry is not None else Path(name).expanduser().is_file()
