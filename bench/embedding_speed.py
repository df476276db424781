"""How fast the offline sentence embedder converts, loads and embeds the seed sentences.

Converts the installed all-MiniLM-L6-v2 package into a fresh models directory (timing the
archive check and the conversion apart), loads the GGUF, then embeds every seed sentence
`--repeats` times through `LocalEmbedder` (one text per decode, as story mode will) and, in
alternation, through raw llama-cpp-python with the sentences packed into shared batches
(`Llama.embed(list)`, the alternative `LocalEmbedder` does not use because a vector then depends
on its batch-mates). The fastest run is reported (the least disturbed on a shared machine), the
median beside it.

    .venv/bin/python bench/embedding_speed.py --seeds evals/seeds/articles
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from collections.abc import Callable, Sequence
from pathlib import Path

from summarizer.chunking import split_sentences
from summarizer.llm.bert_gguf import convert
from summarizer.llm.catalogue import (
    DEFAULT_EMBEDDING_MODEL,
    embedding_entry,
    locate_part,
    resolve_embedding_model,
)
from summarizer.llm.embedder import MAX_TOKENS, LocalEmbedder, cosine
from summarizer.tokens import TokenCounter


def seed_sentences(folder: Path) -> list[str]:
    counter = TokenCounter()
    return [
        sentence.text
        for path in sorted(folder.glob("*.txt"))
        for sentence in split_sentences(path.read_text(), counter, 10_000)
    ]


def timed(run: Callable[[], object], repeats: int) -> list[float]:
    seconds = []
    for _ in range(repeats):
        start = time.perf_counter()
        run()
        seconds.append(time.perf_counter() - start)
    return seconds


def rate(count: int, seconds: Sequence[float]) -> str:
    return f"{count / min(seconds):.0f} (median {count / statistics.median(seconds):.0f})"


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=Path, default=Path("evals/seeds/articles"))
    parser.add_argument("--model", default=DEFAULT_EMBEDDING_MODEL)
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--threads", type=int, default=None, help="default: up to 4 cores")
    args = parser.parse_args()

    entry = embedding_entry(args.model)
    archive = locate_part(entry.archive)
    if archive is None:
        raise SystemExit(f"{entry.name} is not installed: {entry.install_command}")
    sentences = seed_sentences(args.seeds)

    with tempfile.TemporaryDirectory(prefix="embedding-bench-") as scratch:
        models_dir = Path(scratch)
        start = time.perf_counter()
        resolved = resolve_embedding_model(entry, models_dir)
        first_use = time.perf_counter() - start
        start = time.perf_counter()
        digest = convert(archive, models_dir / "again.gguf", entry.checkpoint)
        conversion = time.perf_counter() - start
        start = time.perf_counter()
        resolve_embedding_model(entry, models_dir)
        later_use = time.perf_counter() - start
        assert digest == entry.sha256, "the conversion did not reproduce the pinned file"

        embedder = LocalEmbedder.from_resolved(resolved, threads=args.threads)
        start = time.perf_counter()
        embedder.load()
        load = time.perf_counter() - start
        tokens = sum(embedder.count_tokens(text) for text in sentences)

        import llama_cpp

        raw = llama_cpp.Llama(
            model_path=str(resolved.path),
            embedding=True,
            n_ctx=MAX_TOKENS,
            n_batch=MAX_TOKENS,
            n_ubatch=MAX_TOKENS,
            n_threads=embedder.threads,
            n_threads_batch=embedder.threads,
            verbose=False,
        )
        # One untimed pass each (first calls allocate), then alternate, so a burst of load from
        # other jobs falls on both sides rather than on one.
        vectors = embedder.embed(sentences)
        packed_vectors = raw.embed(sentences, normalize=True)
        ours: list[float] = []
        packed: list[float] = []
        for _ in range(args.repeats):
            ours += timed(lambda: embedder.embed(sentences), 1)
            packed += timed(lambda: raw.embed(sentences, normalize=True), 1)
        drift = max(
            1 - cosine(alone, together)
            for alone, together in zip(vectors, packed_vectors, strict=True)
        )
        embedder.close()
        raw.close()

    print(f"model        {resolved.model_id}  {resolved.path.name}")
    print(f"archive      {archive} ({archive.stat().st_size / 1e6:.1f} MB)")
    print(f"gguf         {entry.size_bytes / 1e6:.1f} MB, sha256 {entry.sha256}")
    print(f"first use    {first_use:.2f} s (archive sha256 + conversion + write)")
    print(f"conversion   {conversion:.2f} s (archive already verified)")
    print(f"later use    {later_use * 1000:.1f} ms (remembered digest)")
    print(f"load         {load:.2f} s, {embedder.threads} threads")
    print(f"sentences    {len(sentences)} seed sentences, {tokens} word pieces")
    print(f"LocalEmbedder, one text per decode: {rate(len(sentences), ours)} sentences/s")
    print(f"raw Llama.embed, packed batches:    {rate(len(sentences), packed)} sentences/s")
    print(f"packed vs alone: vectors differ by up to {drift:.1e} in cosine")


if __name__ == "__main__":
    main()
