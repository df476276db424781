"""`batch` against a hostile file system and a damaged ledger (issue 11, class 5): real
directories, real SQLite files, one `error:` line each, nothing spent when nothing can be kept.
"""

from __future__ import annotations

import os
import shutil
from pathlib import Path

import pytest

from tests.batch.support import assert_consistent, openai_env, run_cli, write_articles
from tests.filesystems import read_only_dir, tmpfs
from tests.openai_server import OpenAIServer


@pytest.fixture
def server(openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch) -> OpenAIServer:
    openai_env(monkeypatch, timeout=5, retries=1)
    return openai_server


def batch_args(server: OpenAIServer, source: Path, out: Path) -> list[str]:
    return ["batch", str(source), "--out", str(out), "--base-url", server.base_url,
            "--backend", "openai", "--model", "gpt-4o-mini", "--no-cache", "--quiet"]  # fmt: skip


def one_error_line(err: str) -> str:
    lines = err.strip().splitlines()
    assert len(lines) == 1 and lines[0].startswith("error: "), err
    return lines[0]


def test_out_that_is_a_file_is_one_line_before_any_call(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.write_text("mine")
    assert run_cli(batch_args(server, tmp_path / "in", out)) == 1
    assert "--out takes a directory" in one_error_line(capsys.readouterr().err)
    assert out.read_text() == "mine" and server.request_count == 0


def test_out_in_a_read_only_directory_is_one_line_before_any_call(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 2)
    with read_only_dir(tmp_path) as read_only:
        for out in (read_only, read_only / "new"):
            assert run_cli(batch_args(server, tmp_path / "in", out)) == 1
            assert f"cannot write {out}" in one_error_line(capsys.readouterr().err)
        assert list(read_only.iterdir()) == []
    assert server.request_count == 0


def test_a_file_that_is_no_database_as_ledger_is_one_line(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 2)
    out = tmp_path / "out"
    out.mkdir()
    (out / "ledger.sqlite").write_text("not a database " * 500)
    assert run_cli(batch_args(server, tmp_path / "in", out)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "cannot use batch ledger" in line and "move it away and rerun" in line
    assert server.request_count == 0


@pytest.mark.slow
def test_a_damaged_ledger_is_one_line_and_moving_it_away_recovers_every_output(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str]
) -> None:
    write_articles(tmp_path / "in", 6)
    out = tmp_path / "out"
    assert run_cli(batch_args(server, tmp_path / "in", out)) == 0
    paid = server.request_count
    ledger = out / "ledger.sqlite"
    data = bytearray(ledger.read_bytes())
    data[4096:8192] = os.urandom(4096)  # the items table's pages, behind a valid header
    ledger.write_bytes(bytes(data))
    capsys.readouterr()

    assert run_cli(batch_args(server, tmp_path / "in", out)) == 2
    line = one_error_line(capsys.readouterr().err)
    assert "malformed" in line and "move it away and rerun" in line
    assert server.request_count == paid

    # As the message says: move it away, rerun; every output is adopted without a call.
    shutil.move(ledger, tmp_path / "damaged.sqlite")
    assert run_cli(batch_args(server, tmp_path / "in", out)) == 0
    assert server.request_count == paid
    assert len(assert_consistent(out)) == 6


@pytest.mark.slow
@pytest.mark.parametrize("size", ["64k", "160k"])
def test_a_full_disk_is_one_line_and_a_rerun_with_space_finishes(
    tmp_path: Path, server: OpenAIServer, capsys: pytest.CaptureFixture[str], size: str
) -> None:
    # 64k: the ledger itself cannot grow; 160k: the ledger fits, the outputs do not.
    write_articles(tmp_path / "in", 12)
    with tmpfs(tmp_path / "small", size=size) as small:
        out = small / "out"
        code = run_cli(batch_args(server, tmp_path / "in", out))
        err = capsys.readouterr().err
        assert code in (1, 2) and "Traceback" not in err
        assert "No space left on device" in err or "database or disk is full" in err
        assert not [p for p in out.rglob(".*.tmp")]  # no half-written file is left
        moved = tmp_path / "moved"
        shutil.copytree(out, moved)
    assert run_cli(batch_args(server, tmp_path / "in", moved)) == 0
    assert len(assert_consistent(moved)) == 12
