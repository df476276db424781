"""Property fuzzing of every operation from the service's own OpenAPI schema (schemathesis).

Requests are generated from the schema (valid and invalid bodies, odd path parameters) and sent
over real sockets to the running service; every response must be no 5xx and must match the
schema: a documented status code, a documented content type, headers and a body of the
documented shape. Bounded (a fixed number of examples per operation, derandomised) so it runs
in seconds, and deterministic from run to run.
"""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import hypothesis
import pytest
import schemathesis
from schemathesis.checks import (
    content_type_conformance,
    not_a_server_error,
    response_headers_conformance,
    response_schema_conformance,
    status_code_conformance,
)

from summarizer.server import ServerSettings
from tests.openai_server import OpenAIServer
from tests.server.support import AUTH, RunningService, openai_settings

pytestmark = pytest.mark.slow

EXAMPLES_PER_OPERATION = 12
CHECKS = [
    not_a_server_error,
    status_code_conformance,
    content_type_conformance,
    response_headers_conformance,
    response_schema_conformance,
]


@pytest.fixture(scope="module")
def fuzzed(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RunningService]:
    home = tmp_path_factory.mktemp("fuzz")
    from tests.fakes import answer_http_request

    with OpenAIServer(responder=answer_http_request) as backend:
        server = ServerSettings(data_dir=home / "data", rate_limit=None, max_body=64 * 1024)
        with RunningService(openai_settings(backend.base_url, Path(home)), server) as service:
            yield service


def test_every_operation_answers_within_its_schema(fuzzed: RunningService) -> None:
    schema = schemathesis.openapi.from_url(f"{fuzzed.url}/openapi.json")
    operations = [result.ok() for result in schema.get_all_operations()]  # type: ignore[union-attr]
    assert len(operations) >= 10  # every route is in the schema
    tried: list[str] = []
    for operation in operations:
        strategy = operation.as_strategy()

        @hypothesis.settings(
            max_examples=EXAMPLES_PER_OPERATION,
            derandomize=True,
            deadline=None,
            database=None,
            suppress_health_check=list(hypothesis.HealthCheck),
            phases=[hypothesis.Phase.generate],
        )
        @hypothesis.given(case=strategy)
        def check(case: schemathesis.Case) -> None:  # type: ignore[type-arg]
            case.call_and_validate(base_url=fuzzed.url, headers=AUTH, checks=CHECKS, timeout=30)

        check()
        tried.append(operation.label)
    assert any("POST /v1/jobs" in label for label in tried)
