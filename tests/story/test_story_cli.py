"""`summarizer story` as a user runs it: a subprocess, the real embedder, a loopback endpoint."""

from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.story.result import StoryResult
from tests.fakes import answer_quoting_http_request
from tests.openai_server import OpenAIServer
from tests.support import run_summarizer

SEEDS = Path(__file__).resolve().parents[2] / "evals" / "seeds" / "articles"
pytestmark = pytest.mark.slow


def test_a_story_through_the_openai_backend_on_loopback(
    openai_server: OpenAIServer, tmp_path: Path
) -> None:
    openai_server.responder = answer_quoting_http_request
    seeds = sorted(SEEDS.glob("*.txt"))
    env = {"OPENAI_API_KEY": "sk-test-story", "SUMMARIZER_TIMEOUT": "5"}
    out = tmp_path / "story.json"
    first = run_summarizer(
        "story", *map(str, seeds), "--base-url", openai_server.base_url, "-o", str(out), env=env
    )
    assert first.returncode == 0, first.stderr
    story = StoryResult.model_validate_json(out.read_text(encoding="utf-8"))
    bodies = openai_server.requests
    relation_calls = [
        b for b in bodies if b["response_format"]["json_schema"]["name"] == "RelationBatch"
    ]
    assert len(bodies) == len(seeds) + len(relation_calls) and relation_calls
    assert story.relations_checked == "model" and story.usage.calls == len(bodies)
    texts = {s.id: Path(s.path).read_text(encoding="utf-8") for s in story.sources}
    for claim in story.claims:
        for support in claim.support:
            assert texts[support.source][support.span[0] : support.span[1]] == support.evidence
    # Again: every article and every relation batch comes from the cache.
    again = run_summarizer(
        "story", *map(str, seeds), "--base-url", openai_server.base_url, "-f", "md", env=env
    )
    assert again.returncode == 0, again.stderr
    assert len(openai_server.requests) == len(bodies)
    assert again.stdout.startswith("# ") and "## Claims" in again.stdout


def test_one_article_is_a_one_line_error(tmp_path: Path) -> None:
    result = run_summarizer("story", str(sorted(SEEDS.glob("*.txt"))[0]), "--backend", "local")
    assert result.returncode == 1
    errors = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert errors == ["error: a story needs two or more different articles; got 1"]
    assert "Traceback" not in result.stderr
