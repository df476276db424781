"""Where things live in a batch output directory, and reading an item's result back.

    DIR/items/<id>.json     one SummaryResult per done item
    DIR/stories/<id>.json   one StoryResult per story (`batch --stories`, `stories.py`)
    DIR/ledger.sqlite       the record of every item and story (`ledger.py`)

`results.jsonl` and `report.json` are `report.py`'s; `.lock` is `lock.py`'s.
"""

from __future__ import annotations

import os
from pathlib import Path

from pydantic import ValidationError

from summarizer.schemas import SummaryResult
from summarizer.story.result import StoryResult

ITEMS_DIR = "items"
STORIES_DIR = "stories"
LEDGER_NAME = "ledger.sqlite"


def output_path(item_id: str) -> str:
    """Where an item's result lives, relative to the output directory."""
    return f"{ITEMS_DIR}/{item_id}.json"


def read_result(path: Path) -> SummaryResult | None:
    """The result in `path`, or None if there is none or it is not a valid result."""
    try:
        return SummaryResult.model_validate_json(path.read_bytes())
    except (OSError, ValidationError, ValueError):  # ValueError: a lone surrogate, say
        return None


def is_damaged(path: Path) -> bool:
    """Something is at `path` (a file, a link, a directory) that `read_result` cannot read."""
    return os.path.lexists(path) and read_result(path) is None


def story_path(story_id: str) -> str:
    """Where a story lives, relative to the output directory."""
    return f"{STORIES_DIR}/{story_id}.json"


def read_story(path: Path) -> StoryResult | None:
    """The story in `path`, or None if there is none or it is not a valid story."""
    try:
        return StoryResult.model_validate_json(path.read_bytes())
    except (OSError, ValidationError):
        return None
