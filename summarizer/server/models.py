"""What the API takes and gives, beyond the library's own result models (which it returns as
they are: `SummaryResult`, `ClaimsResult`, `StoryResult`). Every request model forbids unknown
fields, so a misspelt `txet` is a 422, not an empty summary."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from summarizer.schemas import Usage
from summarizer.server.store import JobState

MAX_JOB_ARTICLES = 10_000
MAX_STORY_ARTICLES = 50

Id = Field(default=None, min_length=1, max_length=200)
Label = Field(default=None, max_length=1000)


class _Request(BaseModel):
    model_config = ConfigDict(extra="forbid")


class ArticleRequest(_Request):
    """One article. `id` (or else `title`) names the source in the result; `format` chooses
    JSON (the result model) or a rendering of it (Markdown, plain text)."""

    text: str = Field(min_length=1)
    id: str | None = Id
    title: str | None = Label
    format: Literal["json", "md", "text"] = "json"


class JobArticle(_Request):
    """One article of a job; everything but `text` is kept as the item's metadata."""

    text: str = Field(min_length=1)
    id: str | None = Id
    title: str | None = Label
    outlet: str | None = Label
    url: str | None = Field(default=None, max_length=2000)
    story: str | None = Label
    extra: dict[str, Any] | None = Field(default=None, description="Kept with the result.")

    def metadata(self) -> dict[str, Any] | None:
        named = {
            key: value
            for key in ("title", "outlet", "url", "story")
            if (value := getattr(self, key)) is not None
        }
        return {**(self.extra or {}), **named} or None


class JobRequest(_Request):
    articles: list[JobArticle] = Field(min_length=1, max_length=MAX_JOB_ARTICLES)


class StoryArticleRequest(_Request):
    """One article of a story. The URL is only recorded: the server never fetches it."""

    text: str = Field(min_length=1)
    id: str | None = Id
    outlet: str | None = Label
    title: str | None = Label
    url: str | None = Field(default=None, max_length=2000)


class StoryRequest(_Request):
    articles: list[StoryArticleRequest] = Field(min_length=2, max_length=MAX_STORY_ARTICLES)


class JobCounts(BaseModel):
    total: int
    done: int
    failed: int
    pending: int


class JobStatus(BaseModel):
    """Where a job stands; `usage` and `estimated_cost_usd` cover its items so far."""

    id: str
    state: JobState
    created_at: str
    updated_at: str
    counts: JobCounts
    usage: Usage
    estimated_cost_usd: float | None
    error: str | None = None
    results: str = Field(description="Where the results are, as JSON lines.")


class Health(BaseModel):
    status: Literal["ok"] = "ok"


class Readiness(BaseModel):
    status: Literal["ready", "not ready"]
    checks: dict[str, bool]
