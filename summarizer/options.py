"""What one pipeline run is asked to do: its mode, budgets, sampling and retry policy.

Apart from `pipeline.py` so that building a `Summarizer`, and answering a repeat request from
the document cache, needs none of the chunking and generation code (`pipeline` re-exports both
names).
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Literal

from summarizer.config import DEFAULT_SUMMARY_WORDS
from summarizer.llm.calls import RetryPolicy

Mode = Literal["abstractive", "extractive"]


@dataclass(frozen=True)
class PipelineOptions:
    mode: Mode = "abstractive"
    max_chunk_tokens: int = 1500
    chunk_overlap: int = 0
    max_output_tokens: int = 800
    max_claims: int = 8
    # Key points of an extractive summary: sentences that add what the summary does not say.
    extract_count: int = 5
    # The summary's length bound in words (`selection.count_words`), honoured on every tier.
    summary_words: int = DEFAULT_SUMMARY_WORDS
    temperature: float = 0.0
    seed: int = 0
    max_reasks: int = 2
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # Chunks mapped at once; >1 only pays off for remote endpoints (a local model is one CPU).
    map_concurrency: int = 1
    # The digest's claims written before its summary and key points (`call_schemas.digest_schema`):
    # from the backend's profile, set only for models where it was measured to help.
    claims_first: bool = False
    # Abstractive, but the summary text is the program's selection of the article's sentences
    # and the model writes the rest: auto mode on a model whose own summaries measured below the
    # selection (`CatalogueEntry.summary_from_selection`).
    summary_from_selection: bool = False
