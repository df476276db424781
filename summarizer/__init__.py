"""summarizer: structured summaries and claim lists whose every claim cites a verified span.

    from summarizer import Summarizer, load_settings, read_source
    service = Summarizer(load_settings())
    result = service.summarize(read_source("article.txt"))

Importing the package is cheap: backends, tiktoken and diskcache load on first use.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

# Public names, resolved lazily so `import summarizer` (and `summarizer --help`) stay fast.
_EXPORTS = {
    "Summarizer": "summarizer.service",
    "load_settings": "summarizer.config",
    "Settings": "summarizer.config",
    "read_source": "summarizer.sources",
    "source_from_text": "summarizer.sources",
    "summarize": "summarizer.pipeline",
    "plan": "summarizer.pipeline",
    "PipelineOptions": "summarizer.pipeline",
    "SummaryResult": "summarizer.schemas",
    "ClaimsResult": "summarizer.schemas",
    "Claim": "summarizer.schemas",
    "Usage": "summarizer.schemas",
    "SummarizerError": "summarizer.errors",
}

__all__ = sorted(_EXPORTS)

if TYPE_CHECKING:
    from summarizer.config import Settings as Settings
    from summarizer.config import load_settings as load_settings
    from summarizer.errors import SummarizerError as SummarizerError
    from summarizer.pipeline import PipelineOptions as PipelineOptions
    from summarizer.pipeline import plan as plan
    from summarizer.pipeline import summarize as summarize
    from summarizer.schemas import Claim as Claim
    from summarizer.schemas import ClaimsResult as ClaimsResult
    from summarizer.schemas import SummaryResult as SummaryResult
    from summarizer.schemas import Usage as Usage
    from summarizer.service import Summarizer as Summarizer
    from summarizer.sources import read_source as read_source
    from summarizer.sources import source_from_text as source_from_text


def __getattr__(name: str) -> Any:
    if name in _EXPORTS:
        import importlib

        return getattr(importlib.import_module(_EXPORTS[name]), name)
    raise AttributeError(f"module 'summarizer' has no attribute {name!r}")
