"""Output targets, a paid result that cannot be written, the cache's faults and terminal escapes,
as a user meets them: the CLI in a subprocess against the loopback server (issue 11, classes 1,
5 and 10), and the renderers on a real pipeline run.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
import unicodedata
from pathlib import Path

import pytest

from summarizer.render import render_claims, render_summary, visible_controls
from summarizer.schemas import ClaimsResult
from summarizer.service import Summarizer
from summarizer.sources import source_from_text
from summarizer.story.render import render_story
from tests.fakes import ScriptedBackend
from tests.filesystems import full_device, null_device
from tests.openai_server import OpenAIServer
from tests.story.test_story import TREATY, article, settings, tell
from tests.support import run_summarizer

HOSTILE = (
    "The council met on Monday.\x1b[2J\x1b[H The clipboard is yours\x1b]52;c;cm0gLXJmIH4=\x07 now. "
    "A CSI in C1\x9b31m is red, a carriage return\r hides, a backspace\x08 erases, DEL\x7f too."
)


def terminal_safe(text: str) -> bool:
    """No control character but newline and tab: nothing a terminal would obey."""
    return all(c in "\n\t" or unicodedata.category(c) != "Cc" for c in text)


# --- terminal escapes (fast: the renderers on a real pipeline run) ----------------------------


def test_escape_sequences_from_an_article_are_shown_not_obeyed(tmp_path: Path) -> None:
    service = Summarizer(settings(tmp_path), backend=ScriptedBackend())
    try:
        result = service.summarize(source_from_text(HOSTILE, path="x\x1b[31m.txt"))
    finally:
        service.close()
    assert any("\x1b" in claim.evidence for claim in result.claims)  # the attack is in play
    claims = ClaimsResult.from_summary(result)
    for shown in (
        render_summary(result, "text"),
        render_summary(result, "md"),
        render_claims(claims, "text"),
        render_claims(claims, "md"),
    ):
        assert terminal_safe(shown), repr(shown)
        assert "␛[2J" in shown and "␛]52;c;" in shown and "\\x9b31m" in shown
    # JSON escapes every control character, and keeps the evidence exactly the article's.
    for document in (render_summary(result, "json"), render_claims(claims, "json")):
        assert "\x1b" not in document
        parsed = json.loads(document)
        for claim in parsed["claims"]:
            start, end = claim["span"]
            assert claim["evidence"] == HOSTILE[start:end]


def test_text_and_markdown_show_each_claims_support(tmp_path: Path) -> None:
    from summarizer.schemas import Support, SupportVerdict

    service = Summarizer(settings(tmp_path, "abstractive"), backend=ScriptedBackend())
    try:
        result = service.summarize(source_from_text(TREATY + " " + HOSTILE, path="a.txt"))
    finally:
        service.close()
    first, *rest = result.claims
    weak = Support(verdict=SupportVerdict.UNSUPPORTED, score=0.3125, method="lexical")
    claims = [first.model_copy(update={"support": weak}), *rest]
    shown = result.model_copy(update={"claims": claims})
    text, markdown = render_summary(shown, "text"), render_summary(shown, "md")
    who = f" — {first.speaker}" if first.speaker else ""
    assert f"({first.kind}{who}; unsupported 0.31, lexical) {first.text}" in text
    assert "· *unsupported 0.31, lexical*:" in markdown
    # Every claim says how it was checked, in both.
    for document in (text, markdown):
        notes = [line for line in document.splitlines() if line.startswith("- (") or "· *" in line]
        assert len(notes) == len(claims)
        assert all(c.support.verdict in line for c, line in zip(claims, notes, strict=True))


def test_visible_controls_keeps_text_newlines_and_tabs() -> None:
    assert visible_controls("a\tb\nc é ‘ ✓") == "a\tb\nc é ‘ ✓"
    assert visible_controls("\x00\x1b\x7f\x85\x9f") == "␀␛␡\\x85\\x9f"


def test_story_markdown_shows_escapes_and_json_keeps_them(tmp_path: Path) -> None:
    hostile = "The treaty text\x1b]52;c;cm0gLXJmIH4=\x07 was signed\x1b[2J in the hall."
    story = tell(
        tmp_path, article(f"{TREATY} {hostile}", path="a.txt"), article(TREATY, path="b.txt")
    )
    markdown = render_story(story, "md")
    assert terminal_safe(markdown)
    assert "␛]52;c;" in markdown
    document = render_story(story, "json")
    assert "\x1b" not in document
    assert any(hostile in claim["text"] for claim in json.loads(document)["claims"])


# --- the CLI: -o targets -------------------------------------------------------------------------


def summarize(
    server: OpenAIServer, home: Path, *args: str, cache: bool = True
) -> subprocess.CompletedProcess[str]:
    env = {"OPENAI_API_KEY": "sk-test", "SUMMARIZER_HOME": str(home), "SUMMARIZER_TIMEOUT": "5"}
    flags = [] if cache else ["--no-cache"]
    return run_summarizer(
        "summarize", *args, "--base-url", server.base_url, "--backend", "openai", *flags, env=env
    )


def one_error_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), stderr
    assert "Traceback" not in stderr
    return lines[0]


@pytest.mark.slow
def test_targets_that_cannot_be_written_fail_before_any_call(
    openai_server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    (tmp_path / "dir").mkdir()
    (tmp_path / "file").write_text("keep")
    (tmp_path / "dangling").symlink_to(tmp_path / "missing" / "out.json")
    expected = {
        "dir": "is a directory",
        "file/out.json": "not a directory",
        "dangling": "whose directory does not exist",
    }
    for target, reason in expected.items():
        failed = summarize(openai_server, tmp_path / "home", str(seed_path), "-o", target)
        assert failed.returncode == 1
        assert reason in one_error_line(failed.stderr).lower()
    assert openai_server.request_count == 0  # refused before anything was spent
    assert (tmp_path / "file").read_text() == "keep" and not (tmp_path / "missing").exists()


@pytest.mark.slow
def test_devices_pipes_and_links_are_written_through_or_followed(
    openai_server: OpenAIServer,
    seed_path: Path,
    tmp_path: Path,
) -> None:
    null = null_device(tmp_path)
    assert (
        summarize(openai_server, tmp_path / "home", str(seed_path), "-o", str(null)).returncode == 0
    )
    assert stat.S_ISCHR(null.stat().st_mode)

    real = tmp_path / "real.json"
    real.write_text("old")
    (tmp_path / "link.json").symlink_to("real.json")
    linked = summarize(openai_server, tmp_path / "home", str(seed_path), "-o", "link.json")
    assert linked.returncode == 0, linked.stderr
    assert (tmp_path / "link.json").is_symlink() and json.loads(real.read_text())["claims"]

    # A shell's process substitution: -o names /dev/fd/N, a pipe to `cat`.
    script = (
        f'"{sys.executable}" -m summarizer summarize "$1" --base-url "$2" --backend openai '
        '-o >(cat > "$3"); code=$?; wait $!; exit $code'
    )
    copy = tmp_path / "copy.json"
    substituted = run_summarizer(
        "_", str(seed_path), openai_server.base_url, str(copy),
        command=("bash", "-c", script),
        env={"OPENAI_API_KEY": "sk-test", "SUMMARIZER_HOME": str(tmp_path / "home")},
    )  # fmt: skip
    assert substituted.returncode == 0, substituted.stderr
    assert json.loads(copy.read_text())["claims"]
    assert openai_server.request_count == 1  # the first run paid, the others were cached


@pytest.mark.slow
def test_a_paid_result_that_cannot_be_written_is_recovered_by_a_free_rerun(
    openai_server: OpenAIServer,
    seed_path: Path,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    failed = summarize(openai_server, home, str(seed_path), "-o", str(full_device(tmp_path)))
    assert failed.returncode == 1
    line = one_error_line(failed.stderr)
    assert "No space left on device" in line and "rerun the same command" in line
    assert "without a model call" in line
    paid = openai_server.request_count
    assert paid > 0

    rerun = summarize(openai_server, home, str(seed_path), "-o", "out.json")
    assert rerun.returncode == 0, rerun.stderr
    assert openai_server.request_count == paid  # free: every answer came from the cache
    assert json.loads((tmp_path / "out.json").read_text())["usage"]["calls"] == 0


@pytest.mark.slow
def test_without_the_cache_an_unwritable_result_is_written_elsewhere(
    openai_server: OpenAIServer,
    seed_path: Path,
    tmp_path: Path,
) -> None:
    home = tmp_path / "home"
    full = full_device(tmp_path)
    failed = summarize(openai_server, home, str(seed_path), "-o", str(full), cache=False)
    assert failed.returncode == 1
    line = one_error_line(failed.stderr)
    (kept,) = (home / "recovered").iterdir()
    assert f"the result was written to {kept} instead" in line
    assert json.loads(kept.read_text())["claims"] and failed.stdout == ""


# --- the CLI: the cache's faults ------------------------------------------------------------------


@pytest.mark.slow
def test_an_unusable_cache_is_one_line_and_costs_nothing(
    openai_server: OpenAIServer, seed_path: Path, tmp_path: Path
) -> None:
    not_a_dir = tmp_path / "cache-file"
    not_a_dir.write_text("x")
    damaged = tmp_path / "damaged"
    damaged.mkdir()
    (damaged / "cache.db").write_bytes(b"SQLite format 3\x00" + os.urandom(8192))
    for cache in (not_a_dir, damaged):
        env = {"SUMMARIZER_CACHE_DIR": str(cache), "OPENAI_API_KEY": "sk-test"}
        for command in (["cache", "stats"], ["cache", "clear"]):
            shown = run_summarizer(*command, env=env)
            assert shown.returncode == 1
            assert f"cannot use cache directory {cache}" in one_error_line(shown.stderr)
        ran = run_summarizer(
            "summarize", str(seed_path), "--base-url", openai_server.base_url, env=env
        )
        assert ran.returncode == 1 and "--no-cache" in one_error_line(ran.stderr)
    assert openai_server.request_count == 0  # it stopped before the first call
    assert not_a_dir.read_text() == "x"
