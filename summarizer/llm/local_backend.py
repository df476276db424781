"""In-process GGUF models through llama-cpp-python, grammar-constrained to the request's schema.

Why it is built the way it is:

* `llama_cpp` is imported on the first `load()` or `complete()`, never at import time: the import
  alone costs about 0.2 s, which `--help`, dry runs and cache hits never pay.
* One `Llama` per backend, loaded once and guarded by a lock: it holds one KV cache and one
  sampler, and is not thread-safe.
* Every answer is a function of its request alone (byte-identical across objects, processes
  and call orders), which the call cache relies on. Left to itself, llama-cpp-python keeps the
  KV cache of the previous call and re-evaluates only from the first token that differs, so an
  answer's arithmetic would depend on what was asked before it (where evaluation batches
  split). Instead each prompt is evaluated in two fixed parts: its *shared prefix* (the chat
  template, the system prompt and the instructions: everything before the first line that opens
  the data, `<article>`, `<parts>`, ...; `shared_prefix_length`), then the rest. The prefix's KV
  state is kept, and the next call with the same prefix (the other map calls of a document, and
  of every document) starts from it instead of evaluating it again; a call with another prefix
  resets and evaluates its own. Cached or not, the same tokens are evaluated in the same two
  parts, so the answer is the same; `tests/llm/test_local_backend.py` checks it against a
  plain reset and across call orders. `reuse_prefix=False` is the plain reset before every call.
* The grammar is built here from `request.json_schema` and passed as `grammar=`, rather than as
  `response_format={"type": "json_object", "schema": ...}`: given a schema its converter rejects,
  llama-cpp-python silently falls back to "any JSON", and a tiny model would then invent its own
  shape. Built here, an unsupported schema fails loudly, and each schema is converted once
  (`json_schema_grammar`).
  At temperature 0 the grammar is checked on the greedy token only, and applied to the whole
  vocabulary only when it rejects that token (`grammar_sampling`): the same answer, byte for
  byte, at near unconstrained speed. `check_grammar_first=False` is the full mask on every step.
  The converter ignores some keywords (`minimum`, `uniqueItems`, ...), so the grammar narrows
  what the model can say but pydantic validation (`calls.py`) stays the authority.
* Prompt tokens are counted with the model's own tokenizer and chat template, the same ones
  `create_chat_completion` uses, so an over-long request fails with a clear message before any
  work instead of llama.cpp silently shrinking `max_tokens`.
"""

from __future__ import annotations

import functools
import json
import re
import threading
import time
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from summarizer.config import auto_threads, available_cores, current_load
from summarizer.errors import BackendError, BackendUnavailable
from summarizer.llm import BackendIdentity, Completion, CompletionRequest
from summarizer.llm.catalogue import LOCAL_TOKEN_RATIO
from summarizer.llm.grammar_sampling import grammar_llama_class
from summarizer.schemas import Usage

if TYPE_CHECKING:
    from summarizer.llm.catalogue import ResolvedModel


@dataclass(frozen=True)
class EvalTimings:
    """Where the last call's time went: llama.cpp's own counters for prompt evaluation and
    token decoding, and the whole of `create_chat_completion` (which adds grammar-constrained
    sampling and detokenizing). What `complete()` spends beyond `llama_seconds` is ours."""

    prompt_tokens: int
    prompt_seconds: float
    generated_tokens: int
    generation_seconds: float
    llama_seconds: float

    @property
    def prompt_tokens_per_second(self) -> float:
        return self.prompt_tokens / self.prompt_seconds if self.prompt_seconds else 0.0

    @property
    def generation_tokens_per_second(self) -> float:
        return self.generated_tokens / self.generation_seconds if self.generation_seconds else 0.0


class LocalBackend:
    """A GGUF chat model in this process; `model_name` is `identity.model`, used in cache keys."""

    def __init__(
        self,
        *,
        model_path: Path,
        model_name: str,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        reuse_prefix: bool = True,
        check_grammar_first: bool = True,
    ) -> None:
        self._model_path = model_path
        self._reuse_prefix = reuse_prefix
        self._check_grammar_first = check_grammar_first
        # The shared prefix whose KV state the context holds now (module docstring).
        self._primed: list[int] = []
        self._identity = BackendIdentity(
            name="local", model=model_name, context_window=n_ctx, token_ratio=LOCAL_TOKEN_RATIO
        )
        # Unset: the rule settings use (free cores from affinity and load), decided once here.
        self._threads = threads or auto_threads(available_cores(), current_load())
        self._seed = seed
        self._lock = threading.Lock()
        self._llama: Any = None
        self._formatter: Any = None
        self._load_seconds: float | None = None
        self._last_timings: EvalTimings | None = None

    @classmethod
    def from_resolved(
        cls,
        resolved: ResolvedModel,
        *,
        n_ctx: int = 4096,
        threads: int | None = None,
        seed: int = 0,
        reuse_prefix: bool = True,
        check_grammar_first: bool = True,
    ) -> LocalBackend:
        """The usual way in: the model is named `name@sha256-prefix`, so caches never mix models."""
        return cls(
            model_path=resolved.path,
            model_name=resolved.model_id,
            n_ctx=n_ctx,
            threads=threads,
            seed=seed,
            reuse_prefix=reuse_prefix,
            check_grammar_first=check_grammar_first,
        )

    @property
    def identity(self) -> BackendIdentity:
        return self._identity

    @property
    def threads(self) -> int:
        return self._threads

    @property
    def load_seconds(self) -> float | None:
        """How long loading took, or None before the model is loaded."""
        return self._load_seconds

    @property
    def last_timings(self) -> EvalTimings | None:
        return self._last_timings

    def load(self) -> None:
        """Load the model now rather than on the first call (idempotent)."""
        with self._lock:
            self._ensure_loaded()

    def close(self) -> None:
        """Free the model's memory; a later call loads it again."""
        with self._lock:
            if self._llama is not None:
                self._llama.close()
            self._llama = None
            self._formatter = None
            self._primed = []

    def count_prompt_tokens(self, request: CompletionRequest) -> int:
        """Tokens the request's messages take once rendered with the model's chat template."""
        with self._lock:
            self._ensure_loaded()
            return len(self._prompt_tokens(request))

    def complete(self, request: CompletionRequest) -> Completion:
        with self._lock:
            self._ensure_loaded()
            tokens = self._prompt_tokens(request)
            prompt_tokens = len(tokens)
            if prompt_tokens + request.max_tokens > self._identity.context_window:
                raise BackendError(
                    f"prompt of {prompt_tokens} tokens plus max_tokens {request.max_tokens} "
                    f"exceeds the {self._identity.context_window}-token context window of "
                    f"{self._identity.model}",
                    usage=Usage(),
                )
            grammar = json_schema_grammar(request.json_schema, name=request.schema_name)
            return self._generate(request, grammar, tokens)

    # --- internals (called with the lock held) ---------------------------------------------

    def _ensure_loaded(self) -> None:
        if self._llama is not None:
            return
        if not self._model_path.is_file():
            raise BackendUnavailable(f"model file {self._model_path} does not exist")
        try:
            from llama_cpp.llama_chat_format import Jinja2ChatFormatter

            llama_class = grammar_llama_class()
        except ImportError:
            raise BackendUnavailable(
                "the local backend needs llama-cpp-python: pip install 'summarizer[local]'"
            ) from None
        except (OSError, RuntimeError) as error:  # installed, but its native library won't load
            raise BackendUnavailable(f"llama-cpp-python is broken: {_one_line(error)}") from None
        started = time.perf_counter()
        try:
            llama = llama_class(
                model_path=str(self._model_path),
                n_ctx=self._identity.context_window,
                n_threads=self._threads,
                n_threads_batch=self._threads,
                seed=self._seed,
                # verbose=False routes llama.cpp's log through a filter that drops all but errors,
                # and silences model loading entirely.
                verbose=False,
            )
        except (ValueError, RuntimeError) as error:
            raise BackendUnavailable(
                f"cannot load {self._model_path} as a GGUF model ({_one_line(error)})"
            ) from None
        template = llama.metadata.get("tokenizer.chat_template")
        if not template:
            llama.close()
            raise BackendUnavailable(
                f"{self._model_path} has no chat template: only instruction-tuned chat models "
                "can be used"
            )
        eos, bos = llama.token_eos(), llama.token_bos()
        # The same formatter llama-cpp-python would build from this metadata, kept so that
        # counting and generation render the prompt identically.
        formatter = Jinja2ChatFormatter(
            template=template,
            eos_token=_token_text(llama, eos),
            bos_token=_token_text(llama, bos),
            stop_token_ids=[eos],
        )
        llama.chat_handler = formatter.to_chat_handler()
        llama.check_grammar_first = self._check_grammar_first
        self._llama, self._formatter = llama, formatter
        self._load_seconds = time.perf_counter() - started

    def _messages(self, request: CompletionRequest) -> list[dict[str, str]]:
        return [{"role": m.role, "content": m.content} for m in request.messages]

    def _prompt_tokens(self, request: CompletionRequest) -> list[int]:
        return self._tokenize_prompt(request)[0]

    def _tokenize_prompt(self, request: CompletionRequest) -> tuple[list[int], str, bool]:
        rendered = self._formatter(messages=self._messages(request))
        # Mirrors llama-cpp-python's chat handler: templates that emit BOS themselves say so.
        add_bos = not rendered.added_special
        tokens: list[int] = self._llama.tokenize(
            rendered.prompt.encode("utf-8"), add_bos=add_bos, special=True
        )
        return tokens, rendered.prompt, add_bos

    def shared_prefix_length(self, request: CompletionRequest) -> int:
        """How many of the request's prompt tokens form its shared prefix (module docstring):
        the tokens of the rendered prompt up to and including the first line that opens the
        data, as far as they are also the full prompt's first tokens; 0 when there is none."""
        with self._lock:
            self._ensure_loaded()
            tokens, prompt, add_bos = self._tokenize_prompt(request)
            return self._shared_prefix(tokens, prompt, add_bos)

    def _shared_prefix(self, tokens: list[int], prompt: str, add_bos: bool) -> int:
        opening = _DATA_OPENING.search(prompt)
        if opening is None:
            return 0
        head: list[int] = self._llama.tokenize(
            prompt[: opening.end()].encode("utf-8"), add_bos=add_bos, special=True
        )
        shared = 0
        for ours, full in zip(head, tokens, strict=False):
            if ours != full:  # a token merging across the boundary stays with the rest
                break
            shared += 1
        # At least one token must follow, so the rest's evaluation yields the logits.
        return min(shared, len(tokens) - 1)

    def _prime(self, tokens: list[int], shared: int) -> int:
        """Leave the context holding exactly `tokens[:shared]`, evaluating them only if it does
        not hold them already; return how many were evaluated."""
        llama = self._llama
        # Held already: drop what followed the prefix (false if the cache cannot cut there).
        if (
            shared > 0
            and self._primed == tokens[:shared]
            and llama._ctx.kv_cache_seq_rm(-1, shared, -1)
        ):
            llama.n_tokens = shared
            return 0
        llama.reset()
        self._primed = []
        if shared == 0:
            return 0
        llama.eval(tokens[:shared])
        self._primed = tokens[:shared]
        return shared

    def _generate(self, request: CompletionRequest, grammar: Any, tokens: list[int]) -> Completion:
        import llama_cpp

        llama = self._llama
        prompt_tokens = len(tokens)
        llama_cpp.llama_perf_context_reset(llama.ctx)
        started = time.perf_counter()
        if self._reuse_prefix:
            rendered = self._formatter(messages=self._messages(request))
            shared = self._shared_prefix(tokens, rendered.prompt, not rendered.added_special)
            self._prime(tokens, shared)
        else:
            llama.reset()
            self._primed = []
        try:
            response = llama.create_chat_completion(
                messages=self._messages(request),
                grammar=grammar,
                temperature=request.temperature,
                seed=request.seed,
                max_tokens=request.max_tokens,
            )
        except (ValueError, RuntimeError) as error:
            raise BackendError(
                f"llama.cpp failed on {self._identity.model}: {_one_line(error)}",
                usage=Usage(calls=1, failed_calls=1, prompt_tokens=prompt_tokens),
            ) from None
        wall = time.perf_counter() - started
        perf = llama_cpp.llama_perf_context(llama.ctx)
        self._last_timings = EvalTimings(
            prompt_tokens=perf.n_p_eval,
            prompt_seconds=perf.t_p_eval_ms / 1000,
            generated_tokens=perf.n_eval,
            generation_seconds=perf.t_eval_ms / 1000,
            llama_seconds=wall,
        )
        choice = response["choices"][0]
        usage = response["usage"]
        return Completion(
            text=choice["message"]["content"] or "",
            finish_reason=choice["finish_reason"],
            usage=Usage(
                calls=1,
                prompt_tokens=usage["prompt_tokens"],
                completion_tokens=usage["completion_tokens"],
            ),
        )


# The first line of a prompt that opens its data (`<article>`, `<parts>`, `<fact>`...): what
# comes before it is the same for every call of a template.
_DATA_OPENING = re.compile(r"^<[a-z_]+>\n", re.MULTILINE)


def json_schema_grammar(schema: Mapping[str, Any], *, name: str = "schema") -> Any:
    """The `LlamaGrammar` that constrains generation to `schema`; BackendError if unsupported."""
    # Key order is kept: it is the order the model writes the fields in (headline first).
    return _grammar_from_json(json.dumps(schema), name)


@functools.lru_cache(maxsize=64)
def _grammar_from_json(schema_json: str, name: str) -> Any:
    from llama_cpp.llama_grammar import LlamaGrammar

    try:
        return LlamaGrammar.from_json_schema(schema_json, verbose=False)
    # The converter reports unsupported keywords with `assert`, hence AssertionError.
    except (AssertionError, ValueError, KeyError, RecursionError) as error:
        raise BackendError(
            f"schema {name} cannot be turned into a llama.cpp grammar: {_one_line(error)}",
            usage=Usage(),
        ) from None


def _token_text(llama: Any, token: int) -> str:
    if token < 0:
        return ""
    text: bytes = llama.detokenize([token], special=True)
    return text.decode("utf-8", errors="replace")


def _one_line(error: BaseException) -> str:
    return " ".join(str(error).split()) or type(error).__name__


__all__ = ["EvalTimings", "LocalBackend", "json_schema_grammar"]
