from __future__ import annotations

from pathlib import Path

import pytest

from summarizer.errors import InputError
from summarizer.sources import read_source


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b"", "empty"),
        (b"  \n\t\n", "empty"),
        (b"\x89PNG\r\n\x1a\n\x00\x00\x00", "binary"),
        (b"caf\xe9 au lait", "not valid UTF-8"),
    ],
)
def test_bad_input_is_refused_with_a_reason(tmp_path: Path, content: bytes, message: str) -> None:
    path = tmp_path / "bad.txt"
    path.write_bytes(content)
    with pytest.raises(InputError, match=message):
        read_source(str(path))


def test_missing_file_and_directory(tmp_path: Path) -> None:
    with pytest.raises(InputError, match="not found"):
        read_source(str(tmp_path / "nope.txt"))
    with pytest.raises(InputError, match="directory"):
        read_source(str(tmp_path))


def test_enormous_file_is_refused(tmp_path: Path) -> None:
    path = tmp_path / "big.txt"
    path.write_bytes(b"a" * 2048)
    with pytest.raises(InputError, match="limit"):
        read_source(str(path), max_bytes=1024)


def test_html_is_converted_and_flagged(tmp_path: Path) -> None:
    path = tmp_path / "page.html"
    path.write_text(
        "<!DOCTYPE html><html><head><title>T</title><script>alert(1)</script></head>"
        "<body><p>First &amp; best.</p><p>Second para.</p></body></html>"
    )
    source = read_source(str(path))
    assert source.text == "First & best.\nSecond para."
    assert "HTML" in source.warnings[0]


def test_bom_is_dropped_and_text_kept_exactly(tmp_path: Path) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes("\ufeffLine one.\r\nLine two.".encode())
    assert read_source(str(path)).text == "Line one.\r\nLine two."
