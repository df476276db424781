"""The offline path: the embedded model (SmolLM2-135M) behind the service, one small article."""

from __future__ import annotations

from pathlib import Path

import httpx2 as httpx
import pytest

from summarizer.config import load_settings
from summarizer.server import ServerSettings
from tests.server.support import AUTH, RunningService

pytestmark = pytest.mark.local_model


def test_the_embedded_model_answers_through_the_service(seed_path: Path, tmp_path: Path) -> None:
    settings = load_settings({"cache_dir": tmp_path / "cache"}, env={}, dotenv_path=None)
    assert settings.resolved_backend() == "local"  # no key, no endpoint: the offline default
    text = seed_path.read_text(encoding="utf-8")
    server = ServerSettings(data_dir=tmp_path / "data", rate_limit=None)
    with (
        RunningService(settings, server) as service,
        httpx.Client(base_url=service.url, headers=AUTH, timeout=300) as http,
    ):
        assert http.get("/readyz").json()["checks"]["backend"] is True
        response = http.post("/v1/summaries", json={"text": text, "id": "seed"})
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["model"]["backend"] == "local"
    assert result["model"]["name"].startswith("smollm2-135m@")
    assert result["mode"] == "extractive" and result["claims"]
    for claim in result["claims"]:
        start, end = claim["span"]
        assert text[start:end] == claim["evidence"]
