"""Prometheus metrics, in a registry of the app's own (two apps in one process, as in tests,
never share counters). Model calls and tokens are counted where every call passes
(`CountingBackend`, under the throttle of the synchronous endpoints and of every job), so they
cover both. Labels hold routes and status codes only: no key, caller name or article text."""

from __future__ import annotations

from collections.abc import Callable

from prometheus_client import CollectorRegistry, Counter, Gauge, Histogram

from summarizer.llm import Backend, BackendIdentity, Completion, CompletionRequest

LATENCY_BUCKETS = (0.002, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60, 300)


class Metrics:
    def __init__(self) -> None:
        self.registry = CollectorRegistry(auto_describe=True)
        r = self.registry
        self.requests = Counter(
            "summarizer_http_requests", "HTTP requests answered", ["method", "route", "status"],
            registry=r,
        )  # fmt: skip
        self.latency = Histogram(
            "summarizer_http_request_seconds", "Time to answer", ["route"],
            buckets=LATENCY_BUCKETS, registry=r,
        )  # fmt: skip
        self.model_calls = Counter(
            "summarizer_model_calls", "Calls sent to the model backend", ["outcome"], registry=r
        )
        self.tokens = Counter(
            "summarizer_model_tokens", "Tokens the model backend reported", ["kind"], registry=r
        )
        self.cache_hits = Counter(
            "summarizer_cache_hits", "Model calls answered by the cache (synchronous requests)",
            registry=r,
        )  # fmt: skip
        self.in_flight = Gauge(
            "summarizer_work_in_flight", "Synchronous requests admitted (running or waiting)",
            registry=r,
        )  # fmt: skip
        self.job_queue = Gauge(
            "summarizer_jobs_unfinished", "Jobs accepted and not finished (queued or running)",
            registry=r,
        )  # fmt: skip
        self.rejected = Counter(
            "summarizer_rejected_requests", "Requests refused by a limit", ["reason"], registry=r
        )

    def watch_job_queue(self, depth: Callable[[], float]) -> None:
        self.job_queue.set_function(depth)


class CountingBackend:
    """Passes calls on, counting them and their tokens."""

    def __init__(self, inner: Backend, metrics: Metrics) -> None:
        self.inner = inner
        self._metrics = metrics

    @property
    def identity(self) -> BackendIdentity:
        return self.inner.identity

    def complete(self, request: CompletionRequest) -> Completion:
        try:
            completion = self.inner.complete(request)
        except Exception:
            self._metrics.model_calls.labels("failed").inc()
            raise
        self._metrics.model_calls.labels("ok").inc()
        self._metrics.tokens.labels("prompt").inc(completion.usage.prompt_tokens)
        self._metrics.tokens.labels("completion").inc(completion.usage.completion_tokens)
        return completion

    def close(self) -> None:
        close = getattr(self.inner, "close", None)
        if callable(close):
            close()
