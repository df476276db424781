"""The CLI as a user runs it: a subprocess, one-line errors, exit codes, no tracebacks."""

from __future__ import annotations

import json
import subprocess
from pathlib import Path

import pytest

from tests.support import run_python, run_summarizer


def assert_one_line_error(
    result: subprocess.CompletedProcess[str], fragment: str, code: int = 1
) -> None:
    assert result.returncode == code, result.stderr
    lines = [line for line in result.stderr.splitlines() if line.startswith("error:")]
    assert len(lines) == 1 and fragment in lines[0], result.stderr
    assert "Traceback" not in result.stderr
    assert result.stdout == ""


@pytest.mark.parametrize(
    ("content", "fragment"),
    [(None, "file not found"), (b"", "empty"), (b"\x00\x01\x02binary", "binary"),
     (b"\xff\xfe bad", "not valid UTF-8")],
)  # fmt: skip
def test_bad_files_give_one_line_errors(
    tmp_path: Path, content: bytes | None, fragment: str
) -> None:
    path = tmp_path / "article.txt"
    if content is not None:
        path.write_bytes(content)
    result = run_summarizer(
        "summarize", str(path), "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1"
    )
    assert_one_line_error(result, fragment)


def test_missing_key_for_openai_is_a_usage_error(seed_path: Path) -> None:
    result = run_summarizer(
        "summarize", str(seed_path), "--backend", "openai", "--model", "gpt-4o-mini"
    )
    assert_one_line_error(result, "OPENAI_API_KEY", code=2)


@pytest.mark.parametrize(
    ("mode", "says_no_call"), [("auto", True), ("extractive", True), ("abstractive", False)]
)
def test_the_offline_default_says_when_no_model_writes_the_summary(
    seed_path: Path, mode: str, says_no_call: bool
) -> None:
    """With no key and no base URL the CLI notes the embedded model; on its extractive tier the
    program picks the sentences, and the note must not claim the model made the summary."""
    result = run_summarizer("summarize", str(seed_path), "--dry-run", "--mode", mode)
    assert result.returncode == 0, result.stderr
    note = next(line for line in result.stderr.splitlines() if line.startswith("note:"))
    assert "smollm2-135m" in note
    assert ("no model call" in note) is says_no_call


@pytest.mark.slow  # waits out a refused connection and its retry
def test_unreachable_endpoint(seed_path: Path) -> None:
    result = run_summarizer(
        "summarize", str(seed_path), "--base-url", "http://127.0.0.1:9/v1",
        env={"SUMMARIZER_MAX_RETRIES": "1"},
    )  # fmt: skip
    assert_one_line_error(result, "127.0.0.1:9")


def test_dry_run_plans_without_calling_or_importing_openai(seed_path: Path) -> None:
    script = (
        "import sys\nfrom summarizer.cli import main\n"
        "try:\n    main(['summarize', sys.argv[1], '--dry-run', '--backend', 'openai',"
        " '--model', 'gpt-4o-mini', '--max-chunk-tokens', '150'])\nexcept SystemExit:\n    pass\n"
        "print('OPENAI_IMPORTED' if 'openai' in sys.modules else 'OPENAI_NOT_IMPORTED')\n"
    )
    result = run_python(script, str(seed_path), env={"OPENAI_API_KEY": "sk-test-dry"})
    assert result.returncode == 0, result.stderr
    body, marker = result.stdout.rsplit("\n", 2)[0], result.stdout.strip().splitlines()[-1]
    plan = json.loads(body)
    assert plan["chunks"] > 1 and plan["calls"] == plan["map_calls"] + plan["reduce_calls"]
    assert plan["estimated_cost_usd"] > 0
    assert marker == "OPENAI_NOT_IMPORTED"


def test_help_is_fast_and_does_not_import_heavy_modules() -> None:
    script = (
        "import sys\nfrom summarizer.cli import main\n"
        "try:\n    main(['--help'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('openai', 'llama_cpp', 'tiktoken', 'diskcache')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = run_python(script)
    assert result.stdout.strip().splitlines()[-1] == "[]"


def test_invalid_setting_exits_2() -> None:
    result = run_summarizer("summarize", "x.txt", env={"SUMMARIZER_MAX_CHUNK_TOKENS": "lots"})
    assert_one_line_error(result, "max_chunk_tokens", code=2)
