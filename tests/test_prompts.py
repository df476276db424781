from __future__ import annotations

from pathlib import Path

import pytest

import summarizer
from summarizer.errors import PromptError
from summarizer.prompts import PromptLibrary, default_prompts_dir, load_template, shipped_templates

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


def test_shipped_templates_load_from_inside_the_package() -> None:
    library = PromptLibrary()
    for name in ("summarize", "extract", "merge", "judge_fact"):
        assert library.get(name).variables
    with pytest.raises(PromptError, match="no prompt template"):
        library.get("nope")
    # Package data, not a folder beside the package: a wheel carries it.
    package = Path(summarizer.__file__).parent
    assert Path(str(shipped_templates())) == package / "templates"


def test_prompts_dir_override_replaces_the_shipped_templates(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    write(tmp_path, TEMPLATE)
    monkeypatch.setenv("SUMMARIZER_PROMPTS_DIR", str(tmp_path))
    library = PromptLibrary()
    assert library.get("t").version == "3"
    with pytest.raises(PromptError, match="no prompt template 'summarize'"):
        library.get("summarize")  # no silent fallback to the shipped prompt
    assert default_prompts_dir(env={}) == shipped_templates()
