"""Hostile input files (issue 11, classes 2, 3, 9, 10): every one ends with a reason, at once.

Real files, FIFOs, symlinks and sparse files; the batch's JSONL reader and the single-file reader
both. Nothing here may hang, grow without bound, or raise anything but our own errors.
"""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

import pytest

from summarizer.batch.inputs import ReadLimits, discover
from summarizer.errors import ConfigError, InputError
from summarizer.sources import read_source, source_from_text
from tests.support import run_summarizer

ARTICLE = "The council approved the budget on Monday. Schools get four percent more."


# --- files that are not regular, or not there --------------------------------------------------


def test_a_fifo_without_a_writer_is_refused_at_once(tmp_path: Path) -> None:
    fifo = tmp_path / "pipe.txt"
    os.mkfifo(fifo)
    started = time.monotonic()
    with pytest.raises(InputError, match=r"FIFO.*not a regular file"):
        read_source(str(fifo))
    found = discover([str(fifo), str(tmp_path)], pattern="*.txt")
    assert time.monotonic() - started < 2
    expected = f"{fifo}: is a FIFO (named pipe), not a regular file: give it as - (stdin) to"
    assert [(i.error or "")[: len(expected)] for i in found.items] == [expected]


def test_devices_are_refused_not_read(tmp_path: Path) -> None:
    link = tmp_path / "z.txt"
    link.symlink_to("/dev/zero")
    with pytest.raises(InputError, match="character device"):
        read_source(str(link))


def test_a_symlink_loop_is_called_a_loop(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to("b.txt")
    (tmp_path / "b.txt").symlink_to("a.txt")
    with pytest.raises(InputError, match="symlink loop"):
        read_source(str(tmp_path / "a.txt"))
    with pytest.raises(ConfigError, match="symlink loop"):
        discover([str(tmp_path / "a.txt")])
    # Inside a directory, the loop is an item that fails with its reason, not a silent skip.
    found = discover([str(tmp_path)])
    assert [(i.id, "symlink loop" in (i.error or "")) for i in found.items] == [
        ("a.txt", True),
        ("b.txt", True),
    ]


def test_a_broken_symlink_names_its_target(tmp_path: Path) -> None:
    (tmp_path / "a.txt").symlink_to("gone.txt")
    with pytest.raises(InputError, match=r"broken symlink \(its target gone.txt"):
        read_source(str(tmp_path / "a.txt"))


# --- encodings -----------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ("Hello.".encode("utf-16"), "UTF-16 byte-order mark; convert it to UTF-8"),
        ("Hello.".encode("utf-32"), "UTF-32 byte-order mark"),
        ("Hello, this is an article.".encode("utf-16-le"), "UTF-16 without a byte-order mark"),
        ("Hello, this is an article.".encode("utf-16-be"), "UTF-16 without a byte-order mark"),
        (b"\x00\x01\x02\x03binary", "looks binary"),
    ],
)
def test_utf16_is_named_not_called_binary(tmp_path: Path, data: bytes, message: str) -> None:
    path = tmp_path / "a.txt"
    path.write_bytes(data)
    with pytest.raises(InputError, match=message):
        read_source(str(path))


# --- markup is judged by a parser --------------------------------------------------------------


@pytest.mark.parametrize(
    ("markup", "text"),
    [
        # HTML5 lets the head end (and begin) implicitly: its body must not vanish.
        ("<!doctype html><html><head><meta charset=utf-8><title>T</title><p>Body.<p>More.",
         "Body.\nMore."),
        ("<title>T</title><script>x()</script><p>Only the body.", "Only the body."),
        ("<!-- generated --><div><p>After a comment.</p></div>", "After a comment."),
        ("<?xml version='1.0'?><html xmlns='http://www.w3.org/1999/xhtml'><body><p>XHTML.</p>"
         "</body></html>", "XHTML."),
        ("<?xml version='1.0'?><rss><item><title>Feed title</title><description>Feed text."
         "</description></item></rss>", "Feed title\nFeed text."),
        ("<p>A bare</p><p>fragment.</p>", "A bare\nfragment."),
        ("  \n<div>Leading blank lines.</div>", "Leading blank lines."),
        ("<script>var evidence = 'never';</script><style>p{}</style><p>Visible.</p>", "Visible."),
        ("Intro line.\n<html><body><p>Declared HTML later.</p></body></html>",
         "Intro line.\nDeclared HTML later."),
    ],
)  # fmt: skip
def test_markup_is_converted_whatever_it_starts_with(markup: str, text: str) -> None:
    source = source_from_text(markup, path="page")
    assert source.text == text
    assert "never" not in source.text and source.warnings


@pytest.mark.parametrize(
    "plain",
    [
        "Use the <b> tag for bold. It is simple, and the rest of this article is about that.",
        "<3 this city. The council met today and approved the budget for next year.",
        "If a < b and b > c then a < c. x<y, y>z. Maths is not markup.",
        "# Title\n\nMarkdown with a <br> in it, and plenty of ordinary words around it.",
        "A reader wrote <script>window.pwned = 1</script> into the comments of the page.",
    ],
)
def test_text_that_quotes_a_few_tags_stays_text(plain: str) -> None:
    source = source_from_text(plain, path="a.txt")
    assert source.text == plain and not source.warnings


def test_markup_without_text_says_so() -> None:
    with pytest.raises(InputError, match="markup with no text"):
        source_from_text("<html><head><script>x()</script></head><body></body></html>", path="p")


@pytest.mark.parametrize("unit", ["<a", "<!--", "<p x='", "</", "<!", "a<b ", "<!-- x -->"])
def test_unclosed_markup_is_linear_not_quadratic(unit: str) -> None:
    # html.parser alone takes 3 s on "<a" * 20_000 and minutes on ten times that.
    started = time.monotonic()
    source_from_text("<p>Text.</p>" + unit * 100_000, path="p")
    assert time.monotonic() - started < 3


# --- JSONL: bounded, one bad record is one problem ------------------------------------------


def write_jsonl(path: Path, *lines: str) -> Path:
    path.write_text("".join(f"{line}\n" for line in lines), encoding="utf-8")
    return path


GOOD = json.dumps({"id": "good", "text": ARTICLE})


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ('{"id": "s1", "text": "\\ud800 lone"}', "text: a lone UTF-16 surrogate"),
        ('{"id": "s2", "text": "ok", "metadata": {"k": "\\udfff"}}', "metadata.k: a lone"),
        ('{"id": "n1", "text": "ok", "metadata": {"v": NaN}}', "NaN is not a JSON number"),
        ('{"id": "n2", "text": "ok", "metadata": {"v": -Infinity}}', "-Infinity is not a JSON"),
        ('{"id": "n3", "text": "ok", "metadata": {"v": 1e400}}', "number out of range"),
        (
            '{"id": "i1", "text": "ok", "metadata": {"v": ' + "9" * 5000 + "}}",
            "thousands of digits",
        ),
        ('{"id": "i2", "text": "ok", "metadata": {"v": ' + "9" * 30 + "}}", "64-bit range"),
        ('{"id": "d1", "text": "ok", "metadata": ' + "[" * 50_000 + "]" * 50_000 + "}", "nested"),
        ('{"id": "d2", "text": "ok", "metadata": {"a": ' + "[" * 40 + "]" * 40 + "}}", "nested"),
        ('{"id": true, "text": "ok"}', "id must be a string or an integer, not true"),
        ('{"id": 1.0, "text": "ok"}', "not 1.0"),
        ('{"id": "\\ud800", "text": "ok"}', "id: a lone UTF-16 surrogate"),
        ("[1, 2]", "valid dictionary"),
        ('"just a string"', "valid dictionary"),
    ],
)
def test_a_record_that_parses_but_cannot_be_used_is_one_problem(
    tmp_path: Path, line: str, reason: str
) -> None:
    found = discover(
        [str(write_jsonl(tmp_path / "a.jsonl", GOOD, line, GOOD.replace("good", "g2")))]
    )
    assert [i.id for i in found.items if i.error is None] == ["good", "g2"]
    reasons = [p.reason for p in found.problems] + [i.error or "" for i in found.items if i.error]
    assert len(reasons) == 1 and reason in reasons[0], reasons
    # A record that names its item fails as that item (so a fixed rerun redoes it).
    named = [i for i in found.items if i.error]
    assert all(i.origin == f"{tmp_path / 'a.jsonl'}:2" and i.source is None for i in named)


def test_a_jsonl_symlink_to_dev_zero_ends_at_once(tmp_path: Path) -> None:
    (tmp_path / "z.jsonl").symlink_to("/dev/zero")
    found = discover([str(tmp_path / "z.jsonl")])
    assert [p.reason for p in found.problems] == [
        "cannot read JSONL: is a character device, not a regular file: give it as - (stdin) "
        "to read it as a stream"
    ]


def test_a_sparse_jsonl_of_zeros_is_refused_from_its_first_line(tmp_path: Path) -> None:
    path = tmp_path / "zeros.jsonl"
    with path.open("wb") as handle:
        handle.truncate(8 << 30)  # 8 GiB, no newline, no disk used
    found = discover([str(path)])
    assert [p.reason for p in found.problems] == [
        "looks binary (contains NUL bytes), expected UTF-8 JSON lines"
    ]


def test_a_line_with_no_end_stops_at_the_file_bound(tmp_path: Path) -> None:
    path = tmp_path / "endless.jsonl"
    with path.open("wb") as handle:
        handle.write(f"{GOOD}\n".encode())
        handle.truncate(8 << 30)  # then zeros for 8 GiB
    limits = ReadLimits(line_bytes=4096, jsonl_bytes=1 << 20)
    found = discover([str(path)], limits=limits)
    assert [i.id for i in found.items] == ["good"]
    assert [p.reason for p in found.problems] == [
        "line longer than the 4096 byte limit",
        "larger than the 1 MiB limit for a JSONL file: stopped after line 2; split the file",
    ]


def test_an_overlong_line_is_skipped_and_reading_goes_on(tmp_path: Path) -> None:
    huge = json.dumps({"id": "huge", "text": "word " * 2000})
    path = write_jsonl(tmp_path / "a.jsonl", huge, GOOD)
    found = discover([str(path)], limits=ReadLimits(line_bytes=1000))
    assert [i.id for i in found.items] == ["good"]
    assert [(p.origin, p.reason) for p in found.problems] == [
        (f"{path}:1", "line longer than the 1000 byte limit")
    ]


def test_an_article_inside_jsonl_has_the_file_size_limit(tmp_path: Path) -> None:
    path = write_jsonl(tmp_path / "a.jsonl", json.dumps({"id": "big", "text": "é" * 600}), GOOD)
    found = discover([str(path)], limits=ReadLimits(article_bytes=1000))
    assert [(i.id, i.error) for i in found.items] == [
        ("big", f"{path}#big: larger than the 1000 byte limit"),  # 1200 bytes of UTF-8
        ("good", None),
    ]


def test_jsonl_lines_split_on_newline_only(tmp_path: Path) -> None:
    # U+2028 is valid inside a JSON string; str.splitlines() would cut the record in two.
    path = write_jsonl(
        tmp_path / "a.jsonl", json.dumps({"id": 1, "text": "a\u2028b c."}, ensure_ascii=False)
    )
    assert [(i.id, i.error) for i in discover([str(path)]).items] == [("1", None)]


@pytest.mark.parametrize(("encoding", "name"), [("utf-16", "UTF-16"), ("utf-32", "UTF-32")])
def test_utf16_jsonl_is_named(tmp_path: Path, encoding: str, name: str) -> None:
    path = tmp_path / "a.jsonl"
    path.write_bytes(f"{GOOD}\n".encode(encoding))
    assert [p.reason for p in discover([str(path)]).problems] == [
        f"is {name} text: JSONL must be UTF-8 (iconv -f {name} -t UTF-8)"
    ]


def test_a_jsonl_fifo_is_refused(tmp_path: Path) -> None:
    os.mkfifo(tmp_path / "a.jsonl")
    (problem,) = discover([str(tmp_path / "a.jsonl")]).problems
    assert "FIFO" in problem.reason


# --- the CLI: one line, no traceback, no hang ----------------------------------------------


@pytest.mark.slow
def test_cli_dry_run_survives_every_hostile_input(tmp_path: Path) -> None:
    (tmp_path / "z.jsonl").symlink_to("/dev/zero")
    os.mkfifo(tmp_path / "pipe.txt")
    bad = write_jsonl(
        tmp_path / "bad.jsonl",
        GOOD,
        '{"id": "s", "text": "\\ud800"}',
        '{"id": "n", "text": "x", "metadata": {"v": NaN}}',
        '{"id": true, "text": "x"}',
        '{"id": "d", "text": "x", "metadata": ' + "[" * 100_000 + "]" * 100_000 + "}",
    )
    inputs = [str(tmp_path / "z.jsonl"), str(tmp_path / "pipe.txt"), str(bad)]
    done = run_summarizer("batch", *inputs, "--out", str(tmp_path / "out"), "--dry-run",
                          "--backend", "openai", "--base-url", "http://127.0.0.1:9/v1",
                          timeout=60)  # fmt: skip
    assert "Traceback" not in done.stderr, done.stderr
    assert done.returncode in (0, 1), done.stderr
    for reason in ("character device", "FIFO", "lone UTF-16 surrogate", "NaN", "id must be"):
        assert reason in done.stdout + done.stderr, reason
    assert not (tmp_path / "out").exists()  # a dry run writes nothing


@pytest.mark.slow
@pytest.mark.parametrize(
    ("setup", "message"),
    [
        (lambda p: os.mkfifo(p), "FIFO"),
        (lambda p: p.symlink_to(p), "symlink loop"),
        (lambda p: p.write_bytes("Hi.".encode("utf-16")), "UTF-16 byte-order mark"),
    ],
)
def test_cli_summarize_refuses_with_one_line(tmp_path: Path, setup: object, message: str) -> None:
    path = tmp_path / "a.txt"
    setup(path)  # type: ignore[operator]
    done = run_summarizer("summarize", str(path), "--backend", "openai",
                          "--base-url", "http://127.0.0.1:9/v1", timeout=30)  # fmt: skip
    assert done.returncode == 1
    assert done.stderr.count("error:") == 1 and message in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
