"""Greedy grammar-constrained sampling that checks the grammar on the chosen token only.

llama-cpp-python samples through one llama.cpp chain, `penalties -> grammar -> greedy`, and the
grammar step tests every token of the vocabulary against the grammar on every step (49k tokens
for SmolLM2, 152k for Qwen2.5): most of the cost of constrained decoding. At temperature 0 the
answer is the highest-scoring token the grammar allows, so `GreedyGrammarSampler` first picks
the highest-scoring token without the grammar, asks the grammar about that one token, and only
when it is rejected applies the grammar to the whole vocabulary and picks again (what llama.cpp's
own `common/sampling` does). Both ways pick the same token: greedy takes the first token of
highest score, and masking other tokens cannot change which one that is when it is allowed. So
the output is byte-identical to the full chain's; `tests/llm/test_grammar_sampling.py` checks it
on the real model.

`grammar_llama_class` returns a `llama_cpp.Llama` subclass that uses this sampler whenever a
call is greedy and grammar-constrained (and the full chain otherwise); `llama_cpp` is imported
only when it is asked for, as everywhere in `summarizer/llm/`.
"""

from __future__ import annotations

import ctypes
import functools
import math
from typing import Any


class GreedyGrammarSampler:
    """Stands in for llama-cpp-python's `LlamaSampler` in `Llama.sample`: `sample(ctx, idx)`
    picks and accepts the next token; `rejections` counts the steps that needed the full mask."""

    def __init__(
        self,
        llama: Any,
        grammar: Any,
        *,
        penalty_last_n: int,
        repeat_penalty: float,
        frequency_penalty: float,
        presence_penalty: float,
    ) -> None:
        import llama_cpp
        import numpy as np

        self._lib = llama_cpp
        self._np = np
        lib = llama_cpp
        # The chain without its grammar step; the grammar is a sampler of its own, applied by
        # hand. Penalties keep the history of accepted tokens, so each token is accepted once.
        self._chain = lib.llama_sampler_chain_init(lib.llama_sampler_chain_default_params())
        self._n_vocab: int = llama.n_vocab()
        lib.llama_sampler_chain_add(
            self._chain,
            lib.llama_sampler_init_penalties(
                self._n_vocab, penalty_last_n, repeat_penalty, frequency_penalty, presence_penalty
            ),
        )
        self._greedy = lib.llama_sampler_init_greedy()
        self._grammar = lib.llama_sampler_init_grammar(
            llama._model.vocab, grammar._grammar.encode("utf-8"), grammar._root.encode("utf-8")
        )
        if not self._grammar:
            self.close()
            raise ValueError("llama.cpp could not parse the grammar")
        dtype = np.dtype([("id", np.intc), ("logit", np.single), ("p", np.single)], align=True)
        self._ids = np.arange(self._n_vocab, dtype=np.intc)
        self._all = np.zeros(self._n_vocab, dtype=dtype)
        self._all_array = lib.llama_token_data_array(
            data=self._all.ctypes.data_as(lib.llama_token_data_p), size=self._n_vocab
        )
        self._one = np.zeros(1, dtype=dtype)
        self._one_array = lib.llama_token_data_array(
            data=self._one.ctypes.data_as(lib.llama_token_data_p), size=1
        )
        self.steps = 0
        self.rejections = 0

    def sample(self, ctx: Any, idx: int = -1) -> int:
        lib, np = self._lib, self._np
        logits = np.ctypeslib.as_array(
            lib.llama_get_logits_ith(ctx.ctx, idx), shape=(self._n_vocab,)
        )
        candidates = self._all
        candidates["id"] = self._ids
        candidates["logit"] = logits
        candidates["p"] = 0.0
        every = self._reset(self._all_array, self._n_vocab)
        lib.llama_sampler_apply(self._chain, every)  # penalties, in place
        lib.llama_sampler_apply(self._greedy, every)
        chosen = candidates[self._all_array.selected]
        self._one[0] = chosen
        lib.llama_sampler_apply(self._grammar, self._reset(self._one_array, 1))
        token = int(chosen["id"])
        if math.isinf(self._one[0]["logit"]):  # rejected: mask the whole vocabulary, pick again
            self.rejections += 1
            lib.llama_sampler_apply(self._grammar, every)
            lib.llama_sampler_apply(self._greedy, every)
            token = int(candidates[self._all_array.selected]["id"])
        lib.llama_sampler_accept(self._chain, token)
        lib.llama_sampler_accept(self._grammar, token)
        self.steps += 1
        return token

    def _reset(self, array: Any, size: int) -> Any:
        array.size, array.selected, array.sorted = size, -1, False
        return ctypes.byref(array)

    def accept(self, token: int) -> None:
        self._lib.llama_sampler_accept(self._chain, token)
        self._lib.llama_sampler_accept(self._grammar, token)

    def close(self) -> None:
        for name in ("_chain", "_greedy", "_grammar"):
            sampler = getattr(self, name, None)
            if sampler:
                self._lib.llama_sampler_free(sampler)
            setattr(self, name, None)

    def __del__(self) -> None:
        self.close()


@functools.cache
def grammar_llama_class() -> type[Any]:
    """`llama_cpp.Llama`, sampling greedy grammar-constrained calls with `GreedyGrammarSampler`
    unless its `check_grammar_first` attribute is set to False (the full chain, as before)."""
    import llama_cpp

    class GrammarFirstLlama(llama_cpp.Llama):
        check_grammar_first = True
        last_sampler: GreedyGrammarSampler | None = None

        def _init_sampler(self, *args: Any, **options: Any) -> Any:
            grammar = options.get("grammar")
            if (
                not args  # llama-cpp-python passes every option by name
                and self.check_grammar_first
                and grammar is not None
                and options.get("temp") == 0.0
                and options.get("logits_processor") is None
            ):
                self.last_sampler = GreedyGrammarSampler(
                    self,
                    grammar,
                    penalty_last_n=self.last_n_tokens_size,
                    repeat_penalty=options.get("repeat_penalty", 1.0),
                    frequency_penalty=options.get("frequency_penalty", 0.0),
                    presence_penalty=options.get("presence_penalty", 0.0),
                )
                return self.last_sampler
            self.last_sampler = None
            return super()._init_sampler(*args, **options)

    return GrammarFirstLlama


__all__ = ["GreedyGrammarSampler", "grammar_llama_class"]
