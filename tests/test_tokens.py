from __future__ import annotations

import gzip
import shutil
from pathlib import Path

import pytest

from summarizer import tokens
from summarizer.errors import ConfigError


def test_encoding_follows_the_model() -> None:
    assert tokens.encoding_name_for_model("gpt-4o-mini") == "o200k_base"
    assert tokens.encoding_name_for_model("openai/gpt-4.1") == "o200k_base"
    assert tokens.encoding_name_for_model("o3-mini") == "o200k_base"
    assert tokens.encoding_name_for_model("gpt-3.5-turbo") == "cl100k_base"
    assert tokens.encoding_name_for_model("llama3.1:8b") == "cl100k_base"


def test_offline_encodings_match_known_token_ids() -> None:
    # Known ids from tiktoken's own test-suite values for these encodings.
    assert tokens.get_encoding("cl100k_base").encode("hello world") == [15339, 1917]
    assert tokens.get_encoding("o200k_base").encode("hello world") == [24912, 2375]


def test_a_tampered_rank_file_is_refused(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    original = tokens.rank_file("cl100k_base")
    tampered = tmp_path / "data" / "cl100k_base.tiktoken.gz"
    tampered.parent.mkdir()
    lines = gzip.decompress(original.read_bytes()).splitlines()
    lines[100] = lines[101]
    tampered.write_bytes(gzip.compress(b"\n".join(lines) + b"\n"))
    monkeypatch.setattr(tokens, "rank_file", lambda name: tampered)
    tokens._build_encoding.cache_clear()
    try:
        with pytest.raises(ConfigError, match="sha256"):
            tokens.get_encoding("cl100k_base")
    finally:
        tokens._build_encoding.cache_clear()


def test_an_unreadable_rank_file_is_a_config_error(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    broken = tmp_path / "x.gz"
    shutil.copy(tokens.rank_file("cl100k_base"), broken)
    broken.write_bytes(broken.read_bytes()[:1000])
    monkeypatch.setattr(tokens, "rank_file", lambda name: broken)
    tokens._build_encoding.cache_clear()
    try:
        with pytest.raises(ConfigError, match="cannot read"):
            tokens.get_encoding("cl100k_base")
    finally:
        tokens._build_encoding.cache_clear()
