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


@pytest.mark.parametrize("numpy_from", [0, 10**9], ids=["numpy", "python"])
@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_token_ends_are_the_byte_ends_of_the_encoded_tokens(
    encoding: tokens.EncodingName, numpy_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Both ways of summing (numpy for long texts, Python below) give the same ends.
    monkeypatch.setattr(tokens, "NUMPY_TOKEN_ENDS_FROM", numpy_from)
    counter = tokens.TokenCounter(encoding)
    text = "Naïve “quotes”, 中文字符。 😀 <|endoftext|> 12345\r\n  tabs\t."
    ends = counter.token_ends(text)
    assert len(ends) == counter.count(text)
    decoded = counter._encoding.decode_tokens_bytes(counter._encoding.encode_ordinary(text))
    expected, total = [], 0
    for piece in decoded:
        total += len(piece)
        expected.append(total)
    assert ends == expected and all(type(end) is int for end in ends)
    assert ends[-1] == len(text.encode("utf-8"))
    assert counter.token_ends("") == []


def test_digit_groups_are_single_tokens_in_both_encodings() -> None:
    for encoding in ("cl100k_base", "o200k_base"):
        counter = tokens.TokenCounter(encoding)
        assert counter.digit_groups_are_single_tokens
        assert all(counter.count(f"{n:03d}") == 1 for n in range(0, 1000, 37))


@pytest.mark.parametrize("numpy_from", [0, 10**9], ids=["numpy", "python"])
@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_token_char_ends_are_the_byte_ends_in_doubled_characters(
    encoding: tokens.EncodingName, numpy_from: int, monkeypatch: pytest.MonkeyPatch
) -> None:
    # 2c where a token ends at character c, 2c + 1 where it ends inside character c: byte-level
    # BPE cuts rare characters ("𝔘", "😀", some CJK) between their UTF-8 bytes.
    monkeypatch.setattr(tokens, "NUMPY_TOKEN_ENDS_FROM", numpy_from)
    counter = tokens.TokenCounter(encoding)
    for text in ("Naïve “quotes”, 中文字符。 😀𝔘𝔫𝔦 \ud800 12345\r\n tabs\t.", "plain ascii. ", ""):
        byte_ends = counter.token_ends(text)
        char_of_byte: dict[int, int] = {}  # byte offset -> character offset, at boundaries
        offset = 0
        for index, char in enumerate(text):
            char_of_byte[offset] = index
            offset += len(char.encode("utf-8", "surrogatepass"))
        char_of_byte[offset] = len(text)
        expected = []
        for end in byte_ends:
            if end in char_of_byte:
                expected.append(2 * char_of_byte[end])
            else:  # inside the character that starts at the nearest boundary before it
                expected.append(2 * char_of_byte[max(b for b in char_of_byte if b < end)] + 1)
        assert list(counter.token_char_ends(text)) == expected
    assert any(end % 2 for end in counter.token_char_ends("😀𝔘𝔫𝔦 中文字符"))  # the hard case is hit


@pytest.mark.parametrize("encoding", ["cl100k_base", "o200k_base"])
def test_a_long_text_encoded_in_parts_gives_the_whole_texts_tokens(
    encoding: tokens.EncodingName, monkeypatch: pytest.MonkeyPatch
) -> None:
    # Cuts fall on a space after a letter or digit, where tiktoken starts a piece anyway; any
    # other place ("word  word", "word. word", "1,234") could change the tokens next to it.
    monkeypatch.setattr(tokens, "PART_CHARS", 10)
    monkeypatch.setattr(tokens, "NUMPY_TOKEN_ENDS_FROM", 0)
    monkeypatch.setattr("summarizer.config.available_cores", lambda: 4)
    counter = tokens.TokenCounter(encoding)
    text = "  ab  cd.\n\n ef, 12 345  “gh” ij…  kl\u3000mn op " * 7
    cuts = tokens.part_cuts(text, 4)
    assert len(cuts) == 3 and all(text[c] == " " and text[c - 1].isalnum() for c in cuts)
    assert cuts == sorted(set(cuts))
    whole = counter._encoding.encode_ordinary(text)
    assert tokens._encode_parts(counter._encoding, text).tolist() == whole
    assert counter.token_ends(text)[-1] == len(text.encode("utf-8"))
    assert tokens.part_cuts("no_space_anywhere" * 5, 4) == []
    assert tokens.part_cuts("x " * 40, 1) == []
