from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.fakes import answer_http_request
from tests.openai_server import OpenAIServer

REPO = Path(__file__).resolve().parent.parent
SEEDS = REPO / "evals" / "seeds" / "articles"


@pytest.fixture(autouse=True)
def isolated_environment(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """Every test gets its own user dir (cache, models, run logs) and no credentials or endpoint
    from the host."""
    for var in ("OPENAI_API_KEY", "OPENAI_BASE_URL", "SUMMARIZER_BACKEND", "SUMMARIZER_MODEL",
                "SUMMARIZER_LOCAL_MODEL", "SUMMARIZER_MODE", "SUMMARIZER_CACHE_DIR"):  # fmt: skip
        monkeypatch.delenv(var, raising=False)
    monkeypatch.setenv("SUMMARIZER_HOME", str(tmp_path / "home"))
    monkeypatch.chdir(tmp_path)  # no stray .env from the working directory


@pytest.fixture
def seed_path() -> Path:
    """The first seed article, as the repository ships it."""
    (path,) = SEEDS.glob("000_*.txt")
    return path


@pytest.fixture
def openai_server() -> Iterator[OpenAIServer]:
    """A real OpenAI-compatible server on loopback that answers every request plausibly
    (citing real sentence ids) unless behaviours are queued; set `responder = None` to make an
    unexpected request fail with a 400."""
    with OpenAIServer(responder=answer_http_request) as running:
        yield running
