"""The package as a user installs it: a built wheel in a fresh virtual environment, not the tree.

An editable install reads the templates straight from the source tree, so only a real wheel shows
what ships. The wheel is built offline (`--no-build-isolation`, the setuptools in our venv) from a
copy of the project, so the build leaves nothing behind in the working tree. The fresh venv gets
the wheel alone; its dependencies come from our venv's site-packages through a `.pth` path line
(a path added that way has its own `.pth` files, the editable hook among them, ignored), and
the test checks that the installed copy, not the source tree, is what imports.
"""

from __future__ import annotations

import hashlib
import json
import shutil
import subprocess
import sys
import sysconfig
import zipfile
from pathlib import Path

import pytest

import summarizer
from summarizer.schemas import SummaryResult
from tests.openai_server import OpenAIServer
from tests.support import run_python, run_summarizer

REPO = Path(__file__).resolve().parent.parent
SHIPPED_TEMPLATES = ("extract", "judge_fact", "merge", "summarize")


def run(
    *command: str | Path, env: dict[str, str] | None = None, cwd: Path | None = None
) -> subprocess.CompletedProcess[str]:
    result = subprocess.run(
        [str(part) for part in command],
        capture_output=True, text=True, env=env, cwd=cwd, timeout=300, check=False,
    )  # fmt: skip
    assert result.returncode == 0, f"{command}\n{result.stdout}\n{result.stderr}"
    return result


def build_wheel(tmp_path: Path) -> Path:
    source = tmp_path / "source"
    shutil.copytree(
        REPO / "summarizer", source / "summarizer", ignore=shutil.ignore_patterns("__pycache__")
    )
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(REPO / name, source / name)
    dist = tmp_path / "dist"
    run(
        sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
        "--disable-pip-version-check", "--quiet", "--wheel-dir", dist, source,
    )  # fmt: skip
    (wheel,) = dist.glob("summarizer-*.whl")
    return wheel


def fresh_venv(tmp_path: Path, wheel: Path) -> Path:
    venv = tmp_path / "venv"
    run(sys.executable, "-m", "venv", "--without-pip", venv)
    python = venv / "bin" / "python"
    purelib = Path(run(python, "-c", "import sysconfig; print(sysconfig.get_path('purelib'))")
                   .stdout.strip())  # fmt: skip
    dependencies = {sysconfig.get_path("purelib"), sysconfig.get_path("platlib")}
    (purelib / "_dependencies.pth").write_text("".join(f"{path}\n" for path in dependencies))
    run(
        sys.executable, "-m", "pip", "--python", python, "install", "--no-deps", "--no-index",
        "--disable-pip-version-check", "--quiet", wheel,
    )  # fmt: skip
    return venv


def succeeded(result: subprocess.CompletedProcess[str]) -> subprocess.CompletedProcess[str]:
    assert result.returncode == 0, f"{result.args}\n{result.stdout}\n{result.stderr}"
    return result


@pytest.mark.slow
def test_installed_wheel_summarizes_against_a_loopback_server(
    tmp_path: Path, seed_path: Path, openai_server: OpenAIServer, monkeypatch: pytest.MonkeyPatch
) -> None:
    wheel = build_wheel(tmp_path)
    with zipfile.ZipFile(wheel) as archive:
        names = archive.namelist()
        metadata = archive.read(f"summarizer-{summarizer.__version__}.dist-info/METADATA").decode()
    assert f"\nVersion: {summarizer.__version__}\n" in metadata
    assert "summarizer/py.typed" in names
    for name in SHIPPED_TEMPLATES:
        assert f"summarizer/templates/{name}.toml" in names
    assert {name.split("/")[0] for name in names} == {
        "summarizer",
        f"summarizer-{summarizer.__version__}.dist-info",
    }

    venv = fresh_venv(tmp_path, wheel)
    installed = (venv / "bin" / "summarizer",)
    monkeypatch.chdir(tmp_path)  # away from the source tree, so nothing imports it by accident
    where = succeeded(
        run_summarizer(
            command=(venv / "bin" / "python", "-c", "import summarizer as s; print(s.__file__)")
        )
    )
    assert Path(where.stdout.strip()).is_relative_to(venv)
    version = succeeded(run_summarizer("--version", command=installed))
    assert version.stdout.strip() == f"summarizer {summarizer.__version__}"

    summarized = succeeded(
        run_summarizer(
            "summarize", str(seed_path), "--base-url", openai_server.base_url, command=installed,
            env={"OPENAI_API_KEY": "sk-test", "SUMMARIZER_TIMEOUT": "5"},
        )
    )  # fmt: skip
    requests = openai_server.request_count

    result = SummaryResult.model_validate(json.loads(summarized.stdout))
    text = seed_path.read_text(encoding="utf-8")
    assert result.claims
    for claim in result.claims:
        start, end = claim.span
        assert text[start:end] == claim.evidence
    assert result.usage.calls == requests >= 1
    # The shipped bytes are the source's bytes, so cache keys survive the install.
    source_hash = hashlib.sha256((REPO / "summarizer/templates/summarize.toml").read_bytes())
    assert [p.sha256 for p in result.prompts if p.name == "summarize"] == [source_hash.hexdigest()]


def test_version_option_prints_the_one_version_without_heavy_imports() -> None:
    script = (
        "import sys\nfrom summarizer.cli import main\n"
        "try:\n    main(['--version'])\nexcept SystemExit:\n    pass\n"
        "heavy = ('openai', 'llama_cpp', 'tiktoken', 'diskcache')\n"
        "print(sorted(m for m in heavy if m in sys.modules))"
    )
    result = succeeded(run_python(script))
    assert result.stdout == f"summarizer {summarizer.__version__}\n[]\n"
