from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from summarizer.server import ServerSettings
from tests.openai_server import OpenAIServer
from tests.server.support import RunningService, openai_settings


@pytest.fixture
def server_settings(tmp_path: Path) -> ServerSettings:
    return ServerSettings(data_dir=tmp_path / "data", rate_limit=None)


@pytest.fixture
def service(
    openai_server: OpenAIServer, tmp_path: Path, server_settings: ServerSettings
) -> Iterator[RunningService]:
    """The service with two keys (alice, bob), backed by the loopback OpenAI server."""
    with RunningService(openai_settings(openai_server.base_url, tmp_path), server_settings) as up:
        yield up
