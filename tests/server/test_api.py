"""Every endpoint over real sockets: a real uvicorn, the loopback OpenAI server as backend."""

from __future__ import annotations

import json
import logging
import time
from pathlib import Path
from typing import Any

import httpx2 as httpx
import pytest

from summarizer.server import ServerSettings
from tests.batch.support import article, article_number
from tests.fakes import answer_http_request, answer_quoting_http_request
from tests.openai_server import OpenAIServer, hang, http_error
from tests.server.support import AUTH, OTHER_TOKEN, TOKEN, RunningService, openai_settings


def client(service: RunningService, headers: dict[str, str] | None = None) -> httpx.Client:
    return httpx.Client(base_url=service.url, headers=AUTH if headers is None else headers,
                        timeout=30)  # fmt: skip


def assert_problem(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status, response.text
    assert response.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = response.json()
    assert set(body) == {"type", "title", "status", "detail"}
    assert body["status"] == status
    return body


def wait_for_state(http: httpx.Client, job_id: str, *states: str) -> dict[str, Any]:
    deadline = time.monotonic() + 30
    while time.monotonic() < deadline:
        status: dict[str, Any] = http.get(f"/v1/jobs/{job_id}").json()
        if status["state"] in states:
            return status
        time.sleep(0.05)
    pytest.fail(f"job {job_id} never reached {states}: {status}")


def test_a_summary_cites_its_source_and_a_repeat_is_a_cache_hit_without_a_model_call(
    service: RunningService, openai_server: OpenAIServer
) -> None:
    text = article(1)
    with client(service) as http:
        first = http.post("/v1/summaries", json={"text": text, "id": "council-1"})
        assert first.status_code == 200, first.text
        result = first.json()
        assert result["source"]["path"] == "council-1"
        claim = result["claims"][0]
        start, end = claim["span"]
        assert text[start:end] == claim["evidence"]
        calls = openai_server.request_count
        assert calls >= 1 and result["usage"]["calls"] == calls

        again = http.post("/v1/summaries", json={"text": text, "id": "council-1"})
        assert again.json()["summary"] == result["summary"]
        assert again.json()["usage"]["cached_calls"] >= 1 and again.json()["usage"]["calls"] == 0
        assert openai_server.request_count == calls  # the cache answered; the model was not asked
        metrics = http.get("/metrics").text
        assert "summarizer_cache_hits_total 1.0" in metrics
        assert f'summarizer_model_calls_total{{outcome="ok"}} {calls}.0' in metrics


def test_claims_and_renderings(service: RunningService) -> None:
    with client(service) as http:
        claims = http.post("/v1/claims", json={"text": article(2)})
        assert claims.status_code == 200
        assert set(claims.json()) >= {"claims", "source", "usage"}
        assert "summary" not in claims.json()
        md = http.post("/v1/summaries", json={"text": article(2), "format": "md"})
        assert md.headers["content-type"].startswith("text/markdown")
        assert md.text.startswith("# ")


@pytest.mark.slow
def test_a_story_of_two_articles(service: RunningService, openai_server: OpenAIServer) -> None:
    openai_server.responder = answer_quoting_http_request  # claims that quote, so they align
    articles = [
        {"text": article(3), "outlet": "Daily", "id": "daily"},
        {"text": article(3, "Residents cheered outside. "), "outlet": "Herald", "id": "herald"},
    ]
    with client(service) as http:
        response = http.post("/v1/stories", json={"articles": articles})
    assert response.status_code == 200, response.text
    story = response.json()
    assert len(story["sources"]) == 2
    assert {source["outlet"] for source in story["sources"]} == {"Daily", "Herald"}


def test_a_job_runs_every_article_once_and_streams_its_results(
    service: RunningService, openai_server: OpenAIServer
) -> None:
    articles = [{"id": f"a{n}", "text": article(n), "extra": {"n": n}} for n in range(10, 15)]
    with client(service) as http:
        accepted = http.post("/v1/jobs", json={"articles": articles})
        assert accepted.status_code == 202, accepted.text
        job = accepted.json()
        assert accepted.headers["location"] == f"/v1/jobs/{job['id']}"
        assert job["counts"]["total"] == 5
        done = wait_for_state(http, job["id"], "done")
        assert done["counts"] == {"total": 5, "done": 5, "failed": 0, "pending": 0}
        assert done["usage"]["calls"] == 5 and done["usage"]["prompt_tokens"] > 0
        lines = http.get(done["results"]).text.splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["id"] for r in records] == ["a10", "a11", "a12", "a13", "a14"]
    assert [r["metadata"]["n"] for r in records] == [10, 11, 12, 13, 14]
    numbers = sorted(article_number(body) or -1 for body in openai_server.requests)
    assert numbers == [10, 11, 12, 13, 14]


@pytest.mark.slow
def test_a_cancelled_job_stops_calling_the_model(tmp_path: Path) -> None:
    with OpenAIServer(responder=answer_http_request, latency=0.3) as slow:
        server = ServerSettings(data_dir=tmp_path / "data", rate_limit=None, concurrency=1)
        with RunningService(openai_settings(slow.base_url, tmp_path), server) as service:
            articles = [{"text": article(n)} for n in range(20)]
            with client(service) as http:
                job = http.post("/v1/jobs", json={"articles": articles}).json()
                wait_for_state(http, job["id"], "running")
                cancelled = http.delete(f"/v1/jobs/{job['id']}")
                assert cancelled.status_code == 200 and cancelled.json()["state"] == "cancelled"
                time.sleep(1.0)
                asked = slow.request_count
                time.sleep(1.0)
                assert slow.request_count == asked < 20  # nothing more after the one in flight
                assert http.get(f"/v1/jobs/{job['id']}").json()["state"] == "cancelled"


def test_health_readiness_and_metrics(service: RunningService) -> None:
    with client(service, headers={}) as http:
        assert http.get("/healthz").json() == {"status": "ok"}
        ready = http.get("/readyz")
        assert ready.status_code == 200
        assert ready.json()["checks"] == {"backend": True, "cache": True, "job_store": True}
        metrics = http.get("/metrics")
        assert metrics.headers["content-type"].startswith("text/plain")
        assert "summarizer_http_requests_total" in metrics.text
        assert "summarizer_jobs_unfinished 0.0" in metrics.text


def test_not_ready_without_a_backend_endpoint(
    tmp_path: Path, server_settings: ServerSettings
) -> None:
    settings = openai_settings("http://127.0.0.1:9/v1", tmp_path).model_copy(
        update={"base_url": None}
    )
    with RunningService(settings, server_settings) as service, client(service) as http:
        ready = http.get("/readyz")
    assert ready.status_code == 503 and ready.json()["checks"]["backend"] is False


# --- auth -----------------------------------------------------------------------------------


REFUSED = [
    {}, {"Authorization": "Bearer wrong"}, {"Authorization": f"Basic {TOKEN}"},
    {"Authorization": f"Bearer {TOKEN}x"}, {"Authorization": TOKEN},
]  # fmt: skip


@pytest.mark.parametrize("headers", REFUSED)
def test_requests_without_a_valid_token_are_refused(
    service: RunningService, openai_server: OpenAIServer, headers: dict[str, str]
) -> None:
    with client(service, headers=headers) as http:
        for method, path in (("POST", "/v1/summaries"), ("POST", "/v1/jobs"),
                             ("GET", "/v1/jobs/x"), ("DELETE", "/v1/jobs/x")):  # fmt: skip
            body: dict[str, object] = {"text": "A sentence."}
            if path == "/v1/jobs":
                body = {"articles": [{"text": "A sentence."}]}
            response = http.request(method, path, json=body if method == "POST" else None)
            assert_problem(response, 401)
            assert response.headers["www-authenticate"] == "Bearer"
    assert openai_server.request_count == 0


def test_a_key_sees_only_its_own_jobs(service: RunningService) -> None:
    other = {"Authorization": f"Bearer {OTHER_TOKEN}"}
    with client(service) as alice, client(service, other) as bob:
        job = alice.post("/v1/jobs", json={"articles": [{"text": article(1)}]}).json()
        assert_problem(bob.get(f"/v1/jobs/{job['id']}"), 404)
        assert_problem(bob.get(f"/v1/jobs/{job['id']}/results"), 404)
        assert_problem(bob.delete(f"/v1/jobs/{job['id']}"), 404)
        assert alice.get(f"/v1/jobs/{job['id']}").status_code == 200
        # Let the job finish, so no model call is in flight when the server stops.
        wait_for_state(alice, job["id"], "done")


def test_the_access_log_names_the_key_never_its_token_or_the_text(
    service: RunningService, caplog: pytest.LogCaptureFixture
) -> None:
    secret_text = "Zanzibar-unique-phrase council met today. It voted yes."
    with caplog.at_level(logging.INFO, logger="summarizer.server.access"), client(service) as http:
        http.post("/v1/summaries?token=query-secret", json={"text": secret_text})
        http.get("/v1/jobs/nope", headers={"Authorization": "Bearer not-a-key"})
    lines = [r.getMessage() for r in caplog.records if r.name == "summarizer.server.access"]
    assert len(lines) == 2
    assert lines[0].startswith("POST /v1/summaries 200 ") and lines[0].endswith(" alice")
    assert lines[1].startswith("GET /v1/jobs/nope 401 ")
    logged = "\n".join(lines)
    for secret in (TOKEN, "not-a-key", "Zanzibar", "query-secret"):
        assert secret not in logged


# --- limits and problems ------------------------------------------------------------------


def test_bodies_are_bounded_and_must_be_json(tmp_path: Path, openai_server: OpenAIServer) -> None:
    server = ServerSettings(data_dir=tmp_path / "data", max_body=2048, rate_limit=None)
    settings = openai_settings(openai_server.base_url, tmp_path)
    with RunningService(settings, server) as service, client(service) as http:
        big = json.dumps({"text": "word " * 1000})
        declared = http.post("/v1/summaries", content=big,
                             headers={"Content-Type": "application/json"})  # fmt: skip
        assert_problem(declared, 413)

        def chunks() -> Any:
            for _ in range(10):
                yield b" " * 1000  # no Content-Length: counted as it arrives

        streamed = http.post("/v1/summaries", content=chunks(),
                             headers={"Content-Type": "application/json"})  # fmt: skip
        assert_problem(streamed, 413)
        plain = http.post("/v1/summaries", content=b"hello",
                          headers={"Content-Type": "text/plain"})  # fmt: skip
        assert_problem(plain, 415)
        assert_problem(http.post("/v1/summaries", content=b"{"), 415)  # no content type
        bad = http.post("/v1/summaries", json={"txet": "typo"})
        assert "body.text: Field required" in assert_problem(bad, 422)["detail"]
        assert "typo" not in bad.text  # the value sent is never echoed
        empty = http.post("/v1/summaries", json={"text": " \n "})
        assert "no text to summarise" in assert_problem(empty, 422)["detail"]
    assert openai_server.request_count == 0


@pytest.mark.slow
def test_a_full_queue_answers_429_with_retry_after(tmp_path: Path) -> None:
    with OpenAIServer(responder=answer_http_request, latency=1.0) as slow:
        server = ServerSettings(data_dir=tmp_path / "data", queue_size=2, rate_limit=None)
        with RunningService(openai_settings(slow.base_url, tmp_path), server) as service:
            import concurrent.futures

            with concurrent.futures.ThreadPoolExecutor(3) as pool:

                def post(n: int) -> httpx.Response:
                    with client(service) as http:
                        return http.post("/v1/summaries", json={"text": article(n)})

                first = [pool.submit(post, n) for n in (1, 2)]
                time.sleep(0.4)  # both admitted and waiting on the model
                refused = post(3)
                assert [f.result().status_code for f in first] == [200, 200]
    assert_problem(refused, 429)
    assert refused.headers["retry-after"] == "1"


def test_the_per_key_rate_limit(tmp_path: Path, openai_server: OpenAIServer) -> None:
    server = ServerSettings(data_dir=tmp_path / "data", rate_limit=6.0)  # a burst of 1
    with RunningService(openai_settings(openai_server.base_url, tmp_path), server) as service:
        with client(service) as alice:
            assert alice.get("/v1/jobs/none").status_code == 404
            limited = alice.get("/v1/jobs/none")
            assert_problem(limited, 429)
            assert 1 <= int(limited.headers["retry-after"]) <= 10
        with client(service, {"Authorization": f"Bearer {OTHER_TOKEN}"}) as bob:
            assert bob.get("/v1/jobs/none").status_code == 404  # another key, its own budget


@pytest.mark.slow
def test_model_failures_and_timeouts_are_problem_documents(tmp_path: Path) -> None:
    with OpenAIServer(responder=None) as failing:
        server = ServerSettings(data_dir=tmp_path / "data", request_timeout=1.0, rate_limit=None)
        settings = openai_settings(failing.base_url, tmp_path, use_cache=False)
        with RunningService(settings, server) as service, client(service) as http:
            failing.enqueue(http_error(400, "bad request from sk-live-secret"))
            failed = assert_problem(http.post("/v1/summaries", json={"text": article(1)}), 502)
            assert failed["type"] == "/problems/model-failed"
            assert "Traceback" not in failed["detail"]
            failing.enqueue(hang(3.0))
            started = time.monotonic()
            slow = assert_problem(http.post("/v1/summaries", json={"text": article(2)}), 504)
            assert time.monotonic() - started < 2.5 and "1s timeout" in slow["detail"]
            assert_problem(http.get("/v1/nothing-here"), 404)
            assert_problem(http.put("/v1/summaries", json={}), 405)
