"""`summarizer eval` and evals/calibrate.py are thin; these check they wire the library up."""

from __future__ import annotations

import importlib.util
import json
from pathlib import Path
from types import ModuleType

import pytest

from tests.evaluation.builders import REPO, SEEDS, extractive


def script(name: str) -> ModuleType:
    spec = importlib.util.spec_from_file_location(name, REPO / "evals" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def write_summaries(folder: Path, keep: int) -> Path:
    folder.mkdir(parents=True, exist_ok=True)
    summarize = extractive(keep)
    for article in sorted((SEEDS / "articles").glob("*.txt")):
        (folder / f"{article.stem}.json").write_text(summarize(article).model_dump_json())
    return folder


def run_eval(*args: str) -> int:
    from summarizer.cli import main

    try:
        main(["eval", *args])
    except SystemExit as exit_:
        return int(exit_.code or 0)
    return 0


def test_eval_command_creates_a_baseline_then_gates_on_it(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    common = ["--out", str(tmp_path / "out"), "--baselines", str(tmp_path / "baselines"),
              "--log", str(tmp_path / "runs.jsonl")]  # fmt: skip
    good = write_summaries(tmp_path / "good", keep=8)
    assert run_eval("--summaries", str(good), *common, "--update-baseline") == 0
    assert (tmp_path / "baselines" / "seeds" / "fake--scripted-1.json").is_file()
    assert run_eval("--summaries", str(good), *common) == 0
    out = capsys.readouterr().out
    assert "gate passed" in out and "story metrics: not computed with --summaries" in out
    worse = write_summaries(tmp_path / "worse", keep=2)
    assert run_eval("--summaries", str(worse), *common) == 1
    err = capsys.readouterr().err
    assert "eval regression" in err and "lost 000-f09 (core)" in err
    assert len((tmp_path / "runs.jsonl").read_text().splitlines()) == 3
    assert (tmp_path / "out" / "report.md").is_file()


def test_eval_command_reports_a_missing_result_as_an_error(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    empty = tmp_path / "none"
    empty.mkdir()
    code = run_eval(
        "--summaries", str(empty), "--out", str(tmp_path / "out"), "--log", str(tmp_path / "l")
    )
    assert code == 1
    assert "every article failed" in capsys.readouterr().err


def test_eval_command_keeps_its_log_and_reports_in_the_user_dir(tmp_path: Path) -> None:
    log_in_repo = REPO / "evals" / "runs.jsonl"
    before = log_in_repo.stat().st_mtime_ns if log_in_repo.exists() else None
    good = write_summaries(tmp_path / "good", keep=8)
    assert run_eval("--summaries", str(good), "--baselines", str(tmp_path / "baselines")) == 0
    runs = tmp_path / "home" / "runs"  # SUMMARIZER_HOME, set for every test
    assert len((runs / "eval.jsonl").read_text().splitlines()) == 1
    assert (runs / "eval" / "report.json").is_file()
    after = log_in_repo.stat().st_mtime_ns if log_in_repo.exists() else None
    assert after == before


def test_eval_defaults_need_a_source_checkout(tmp_path: Path) -> None:
    from summarizer.cli.evaluate import checkout_evals
    from summarizer.errors import EvalError

    assert checkout_evals("SUITE") == REPO / "evals"
    with pytest.raises(EvalError, match="not in the wheel; give SUITE"):
        checkout_evals("SUITE", root=tmp_path)


def test_calibrate_script_prints_a_row_per_matcher(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    rows = []
    for doc in range(8):
        for system in ("a", "b", "c"):
            scus = [
                {"scu_global_id": 1, "scu": "Putin signed a treaty with Kim.",
                 "present_votes": 3, "n_votes": 3, "present": 1},
                {"scu_global_id": 2, "scu": "The summit was held in Hanoi.",
                 "present_votes": 0, "n_votes": 3, "present": int(system == "a")},
            ]  # fmt: skip
            summary = "putin signed a treaty with kim ." + (" it was in hanoi ." * (system == "a"))
            rows.append({"doc_id": f"d{doc}", "system": system, "summary": summary,
                         "scus": scus, "scu_recall": 0.5})  # fmt: skip
    (tmp_path / "scu_presence.jsonl").write_text("\n".join(json.dumps(r) for r in rows))
    out_json = tmp_path / "result.json"
    code = script("calibrate").main(
        ["--matcher", "overlap,lexical", "--data", str(tmp_path), "--json", str(out_json)]
    )
    assert code == 0
    printed = capsys.readouterr().out
    assert "| overlap |" in printed and "| lexical |" in printed
    results = json.loads(out_json.read_text())
    assert [r["matcher"] for r in results] == ["overlap", "lexical"]
    assert results[1]["balanced_accuracy"] == 1.0
