"""The curl examples of docs/service.md, run as written: every ```sh block, in order, in one
bash script, against a loopback model endpoint. Only the address changes (a free port instead
of 8000, via `SUMMARIZER_SERVER_PORT` for `serve` and in the URLs), since port 8000 may be
taken on the machine running the tests."""

from __future__ import annotations

import json
import os
import re
import shutil
import signal
import subprocess
import sys
from pathlib import Path

import pytest

from tests.conftest import REPO
from tests.fakes import answer_http_request
from tests.openai_server import OpenAIServer
from tests.server.support import free_port

pytestmark = pytest.mark.slow

DOC = REPO / "docs" / "service.md"


def doc_commands() -> str:
    blocks = re.findall(r"^```sh\n(.*?)^```$", DOC.read_text(encoding="utf-8"), re.S | re.M)
    return "\n".join(blocks)


def test_the_docs_curl_examples_work_as_written(tmp_path: Path, seed_path: Path) -> None:
    assert shutil.which("curl") and shutil.which("jq"), "scripts/setup installs curl and jq"
    commands = doc_commands()
    assert "curl" in commands and "summarizer serve" in commands
    port = free_port()
    script = "set -euo pipefail\n" + commands.replace("127.0.0.1:8000", f"127.0.0.1:{port}")
    shutil.copy(seed_path, tmp_path / "article.txt")
    bin_dir = Path(sys.executable).parent
    with OpenAIServer(responder=answer_http_request) as backend:
        env = {
            **os.environ, "PATH": f"{bin_dir}:{os.environ['PATH']}",
            "OPENAI_BASE_URL": backend.base_url, "OPENAI_API_KEY": "sk-test",
            "SUMMARIZER_SERVER_PORT": str(port),
        }  # fmt: skip
        # Output to files, not pipes: the backgrounded server keeps its copies open.
        with (tmp_path / "out").open("w") as out_file, (tmp_path / "err").open("w") as err_file:
            process = subprocess.Popen(
                ["bash", "-c", script], cwd=tmp_path, env=env, text=True,
                stdout=out_file, stderr=err_file, start_new_session=True,
            )  # fmt: skip
            try:
                process.wait(timeout=120)
            finally:
                os.killpg(process.pid, signal.SIGTERM)  # the backgrounded server
    out = (tmp_path / "out").read_text()
    err = (tmp_path / "err").read_text()
    assert process.returncode == 0, f"stdout:\n{out}\nstderr:\n{err}"
    token = (tmp_path / "token.txt").read_text().strip()
    assert token.startswith("sk-sum-") and token not in err  # never logged
    # JSON answers end without a newline, so curl's outputs run on: decode from where each starts.
    decoder = json.JSONDecoder()
    summary = decoder.raw_decode(out)[0]
    assert summary["source"]["path"] == "article-1" and summary["claims"]
    assert "# Claims in" in out
    results = [decoder.raw_decode(out, m.start())[0] for m in re.finditer(r'\{"id": "a', out)]
    assert [r["id"] for r in results] == ["a1", "a2"] and all("result" in r for r in results)
    assert '{"status":"ok"}' in out
    assert re.search(r'summarizer_model_calls_total\{outcome="ok"\} [1-9]', out)
    assert out.rstrip().endswith('"detail":"send a valid API key: Authorization: Bearer <token>"}')
