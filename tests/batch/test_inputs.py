"""Discovering batch items: stable, filesystem-safe ids; bad input is a reason, not a crash."""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarizer.batch.inputs import MAX_ID_CHARS, discover, item_id
from summarizer.errors import ConfigError

SAFE_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")


@pytest.mark.parametrize(
    ("key", "expected"),
    [
        ("a.txt", "a.txt"),
        ("politics/2024-01-02.txt", "politics__2024-01-02.txt"),
        ("doc-17", "doc-17"),
    ],
)
def test_safe_keys_keep_readable_ids(key: str, expected: str) -> None:
    assert item_id(key) == expected


@pytest.mark.parametrize("key", ["../../etc/passwd", "a b?.txt", ".hidden", "a__b", "é", "a_/b"])
def test_unsafe_or_ambiguous_keys_get_a_hash(key: str) -> None:
    made = item_id(key)
    assert SAFE_ID.fullmatch(made) and re.search(r"-[0-9a-f]{10}$", made)
    assert item_id(key) == made  # stable


def test_slash_and_double_underscore_cannot_collide() -> None:
    assert item_id("a/b") != item_id("a__b")
    assert item_id("a_/b") != item_id("a/_b")


@given(st.lists(st.text(min_size=1, max_size=200), min_size=2, max_size=20, unique=True))
def test_ids_are_unique_and_safe(keys: list[str]) -> None:
    ids = [item_id(key) for key in keys]
    assert len(set(ids)) == len(ids)
    for made in ids:
        assert SAFE_ID.fullmatch(made), made
        assert len(made) <= MAX_ID_CHARS + 11


def test_directories_are_searched_recursively_with_the_glob(tmp_path: Path) -> None:
    root = tmp_path / "in"
    (root / "politics").mkdir(parents=True)
    (root / "a.txt").write_text("First article text.")
    (root / "politics" / "b.txt").write_text("Second article text.")
    (root / "notes.md").write_text("Not matched by *.txt.")
    (root / ".git").mkdir()
    (root / ".git" / "c.txt").write_text("Hidden: skipped.")
    (root / "out" / "items").mkdir(parents=True)
    (root / "out" / "old.txt").write_text("Inside the output directory: skipped.")
    found = discover([str(root)], exclude=root / "out")
    assert [item.id for item in found.items] == ["a.txt", "politics__b.txt"]
    assert found.items[1].origin == str(root / "politics" / "b.txt")
    assert found.items[1].source is not None and found.items[1].source.text.startswith("Second")
    assert [i.id for i in discover([str(root)], pattern="*.md").items] == ["notes.md"]


def test_unreadable_files_become_failing_items(tmp_path: Path) -> None:
    (tmp_path / "empty.txt").write_text("   \n")
    (tmp_path / "binary.txt").write_bytes(b"\x00\x01\x02")
    found = discover([str(tmp_path / "empty.txt"), str(tmp_path / "binary.txt")])
    assert [(i.id, i.source) for i in found.items] == [("empty.txt", None), ("binary.txt", None)]
    assert "empty" in (found.items[0].error or "")
    assert "binary" in (found.items[1].error or "")
    assert found.items[0].input_sha256 != found.items[1].input_sha256


def test_a_missing_input_is_a_usage_error(tmp_path: Path) -> None:
    with pytest.raises(ConfigError, match="input not found"):
        discover([str(tmp_path / "nope")])


def test_jsonl_lines_become_items_and_bad_lines_become_problems(tmp_path: Path) -> None:
    path = tmp_path / "articles.jsonl"
    lines = [
        json.dumps({"id": "x-1", "text": "The first article.", "metadata": {"source": "wire"}}),
        "",
        '{"id": "x-2", "text": "cut off',
        json.dumps({"text": "No id at all."}),
        json.dumps({"id": "x-3", "txt": "Misspelt field."}),
        json.dumps({"id": 4, "text": "Numeric ids are fine."}),
        json.dumps({"id": "x-5", "text": "  "}),
        json.dumps({"id": "x-1", "text": "Same id again."}),
    ]
    path.write_text("\n".join(lines) + "\n")
    found = discover([str(path)])
    assert [(i.id, i.error is None) for i in found.items] == [
        ("x-1", True),
        ("4", True),
        ("x-5", False),
    ]
    assert found.items[0].metadata == {"source": "wire"}
    assert found.items[0].source is not None
    assert found.items[0].source.path == f"{path}#x-1"
    problems = {p.origin.rsplit(":", 1)[1]: p.reason for p in found.problems}
    assert set(problems) == {"3", "4", "5", "8"}
    assert problems["3"].startswith("not JSON")
    assert "id" in problems["4"]
    assert "metadata" in problems["5"]  # the hint for an unknown field
    assert "duplicate item id 'x-1'" in problems["8"]


def test_the_same_file_twice_is_one_item(tmp_path: Path) -> None:
    (tmp_path / "a.txt").write_text("Some text.")
    found = discover([str(tmp_path / "a.txt"), str(tmp_path / "a.txt")])
    assert len(found.items) == 1 and not found.problems
