from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.errors import PromptError
from summarizer.prompts import PromptLibrary, load_template

TEMPLATE = """
name = "t"
version = "3"
description = "test"
variables = ["a", "b"]
system = "sys {{ a }}"
user = "user {{a}} and {{ b }}"
"""


def write(tmp_path: Path, text: str) -> Path:
    path = tmp_path / "t.toml"
    path.write_text(text)
    return path


def test_render_fills_every_placeholder_once(tmp_path: Path) -> None:
    template = load_template(write(tmp_path, TEMPLATE))
    system, user = template.render({"a": "{{ b }}", "b": "B"})
    assert system.content == "sys {{ b }}"  # values are data: never expanded again
    assert user.content == "user {{ b }} and B"
    assert template.ref.version == "3"


def test_missing_and_undeclared_variables_fail_loudly(tmp_path: Path) -> None:
    template = load_template(write(tmp_path, TEMPLATE))
    with pytest.raises(PromptError, match="missing variable"):
        template.render({"a": "x"})
    with pytest.raises(PromptError, match="undeclared"):
        template.render({"a": "x", "b": "y", "c": "z"})


def test_declared_variables_must_match_placeholders(tmp_path: Path) -> None:
    with pytest.raises(PromptError, match="do not match"):
        load_template(write(tmp_path, TEMPLATE.replace('["a", "b"]', '["a"]')))
    with pytest.raises(PromptError, match="not valid TOML"):
        load_template(write(tmp_path, "name = "))
    with pytest.raises(PromptError, match="version"):
        load_template(write(tmp_path, TEMPLATE.replace('version = "3"', "")))


def test_hash_changes_with_any_edit(tmp_path: Path) -> None:
    first = load_template(write(tmp_path, TEMPLATE)).sha256
    second = load_template(write(tmp_path, TEMPLATE.replace("user {{a}}", "User {{a}}"))).sha256
    assert first != second and len(first) == 64


def test_shipped_templates_load() -> None:
    library = PromptLibrary()
    for name in ("summarize", "extract", "merge"):
        assert library.get(name).variables
    with pytest.raises(PromptError, match="no prompt template"):
        library.get("nope")
