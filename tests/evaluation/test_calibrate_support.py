"""evals/calibrate_support.py: the shipped weights are the fit it prints, and it scores held-out
articles better than chance (the data ships in evals/summedits/, so this runs in a clean clone)."""

from __future__ import annotations

import importlib.util
import re
import sys
from types import ModuleType

import pytest

from summarizer.support.checker import LEXICAL_WEIGHTS
from tests.evaluation.builders import REPO

pytestmark = pytest.mark.slow


def script(name: str) -> ModuleType:
    """The script as a module, registered first (its dataclasses look their module up)."""
    spec = importlib.util.spec_from_file_location(name, REPO / "evals" / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[name] = module
    spec.loader.exec_module(module)
    return module


def test_the_shipped_lexical_weights_are_the_all_article_fit() -> None:
    calibrate = script("calibrate_support")
    items = calibrate.load(calibrate.DEFAULT_DATA / "summedits_news_dev.jsonl", None)
    per_item = [
        calibrate.worst([calibrate.lexical_signals(c, e) for c, e in i.claims]) for i in items
    ]
    fitted = calibrate.balanced_fit(per_item, [i.label for i in items], LEXICAL_WEIGHTS.features)
    assert round(fitted.bias, 4) == LEXICAL_WEIGHTS.bias
    assert tuple(round(c, 4) for c in fitted.coefficients) == LEXICAL_WEIGHTS.coefficients


def test_held_out_articles_are_scored_better_than_chance(
    capsys: pytest.CaptureFixture[str],
) -> None:
    assert script("calibrate_support").main(["--method", "lexical"]) == 0
    row = re.search(
        r"^\| lexical \| ([\d.]+) \| [\d.]+ \| [\d.]+ \| ([\d.]+) \|", capsys.readouterr().out, re.M
    )
    assert row is not None
    balanced_accuracy, auc = map(float, row.groups())
    assert balanced_accuracy > 0.55 and auc > 0.5
