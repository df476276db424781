"""`batch --stories`: group a run's done items into stories and keep one story file per group.

After the per-item run, the run's done items are grouped:

* **by the `story` field** of their metadata (JSONL), when they have one: every item naming the
  same story is in it, whatever its text says;
* **by similarity** otherwise: an article's vector is the normalised mean of the embeddings of
  its lead (its first `LEAD_SENTENCES` sentences, where news puts the event), and articles are
  taken in id order, each joining the group whose centroid is closest if the cosine reaches
  `SIMILARITY_THRESHOLD`, else starting its own. An article that joins no group stays alone and
  gets no story. The lead depends on the text alone, so the dry run groups exactly as the run.

The threshold sits between the figures measured with the offline MiniLM embedder: the five seed
articles on one event score 0.85-0.95 with each other, an article on the same leaders' other
summit 0.58-0.67, unrelated news below 0.35 (docs/batch.md).

A story's id is `item_id(story field)` for a named story, and `auto-` plus a hash of its
members' item ids for a similarity group (so an article joining or leaving makes a new story,
and an article's edits do not). A story is **redone only when one of its articles changed**:
`triage` (pure, shared with the dry run) keeps a story whose ledger row has the same members,
(item id, input hash) each, and whose file holds a valid story of exactly those inputs. The
file is written atomically before its row (`ledger.py`), so a run killed between the two leaves
a file that the next run adopts. A story that shares an article with this run's grouping but is
no longer formed is removed (file first, then row); stories whose articles are all outside this
run are left as they are, as the items of earlier runs are.

The story step uses each item's stored result (`items/<id>.json`) and makes only the story's
own calls (`Summarizer.story(..., results=...)`). Stories run one at a time: the embedder is one
model behind a lock, and a story's relation calls are made in order.
"""

from __future__ import annotations

import hashlib
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from summarizer.batch.inputs import item_id
from summarizer.batch.layout import STORIES_DIR, output_path, read_result, read_story, story_path
from summarizer.batch.ledger import Ledger, Members, StoryRow, StoryState
from summarizer.chunking import split_sentences
from summarizer.errors import SummarizerError
from summarizer.files import write_atomic
from summarizer.llm.calls import UsageMeter
from summarizer.llm.embedder import Embedder, Vector
from summarizer.schemas import SummaryResult, Usage
from summarizer.service import Summarizer
from summarizer.sources import Source
from summarizer.story import StoryArticle, StoryError
from summarizer.story.result import StoryResult
from summarizer.tokens import TokenCounter

LEAD_SENTENCES = 8
SIMILARITY_THRESHOLD = 0.75
_SENTENCE_TOKENS = 100_000  # sentences are never cut: the lead is only embedded

GroupedBy = Literal["story", "similarity"]
StoryStatus = Literal["built", "unchanged", "recovered", "rejected", "failed", "removed"]


@dataclass(frozen=True)
class Member:
    """A done item as a story sees it."""

    id: str
    input_sha256: str
    source: Source
    metadata: Mapping[str, Any] | None = None

    def text_field(self, key: str) -> str | None:
        value = (self.metadata or {}).get(key)
        return value if isinstance(value, str) and value.strip() else None


@dataclass(frozen=True)
class StoryGroup:
    id: str
    grouped_by: GroupedBy
    members: tuple[Member, ...]  # sorted by id

    @property
    def key(self) -> Members:
        return tuple((m.id, m.input_sha256) for m in self.members)


@dataclass(frozen=True)
class Grouping:
    stories: list[StoryGroup]
    alone: list[str]  # ids of the items that are in no story


def group_articles(
    members: Sequence[Member],
    embedder: Embedder | None,
    *,
    threshold: float = SIMILARITY_THRESHOLD,
    counter: TokenCounter | None = None,
) -> Grouping:
    """Stories by the `story` field, then by similarity of the rest; see the module docstring.
    `embedder` is used only when two or more items have no `story` field."""
    ordered = sorted(members, key=lambda m: m.id)
    named: dict[str, list[Member]] = {}
    unnamed: list[Member] = []
    for member in ordered:
        name = member.text_field("story")
        if name is None:
            unnamed.append(member)
        else:
            named.setdefault(name, []).append(member)
    stories = [
        StoryGroup(id=item_id(name), grouped_by="story", members=tuple(found))
        for name, found in sorted(named.items())
        if len(found) >= 2
    ]
    alone = [found[0].id for found in named.values() if len(found) == 1]
    if len(unnamed) >= 2:
        if embedder is None:
            raise ValueError("grouping by similarity needs an embedder")
        for cluster in _clusters(unnamed, embedder, threshold, counter or TokenCounter()):
            if len(cluster) == 1:
                alone.append(cluster[0].id)
                continue
            digest = hashlib.sha256("\n".join(m.id for m in cluster).encode()).hexdigest()
            stories.append(StoryGroup(f"auto-{digest[:12]}", "similarity", tuple(cluster)))
    else:
        alone += [m.id for m in unnamed]
    return Grouping(stories=stories, alone=sorted(alone))


def _clusters(
    members: Sequence[Member], embedder: Embedder, threshold: float, counter: TokenCounter
) -> list[list[Member]]:
    """Greedy centroid clustering in id order (deterministic, linear in articles x groups)."""
    clusters: list[tuple[list[float], list[Member]]] = []  # (sum of member vectors, members)
    for member, vector in zip(members, _lead_vectors(members, embedder, counter), strict=True):
        best: tuple[float, int] | None = None
        for index, (total, _) in enumerate(clusters):
            norm = math.sqrt(sum(x * x for x in total)) or 1.0
            cosine = sum(a * b for a, b in zip(total, vector, strict=True)) / norm
            if cosine >= threshold and (best is None or cosine > best[0]):
                best = (cosine, index)
        if best is None:
            clusters.append((list(vector), [member]))
        else:
            total, found = clusters[best[1]]
            for i, x in enumerate(vector):
                total[i] += x
            found.append(member)
    return [found for _, found in clusters]


def _lead_vectors(
    members: Sequence[Member], embedder: Embedder, counter: TokenCounter
) -> list[Vector]:
    leads = [
        [s.text for s in split_sentences(m.source.text, counter, _SENTENCE_TOKENS)][:LEAD_SENTENCES]
        or [m.source.text]
        for m in members
    ]
    flat = embedder.embed([text for lead in leads for text in lead])
    vectors: list[Vector] = []
    start = 0
    for lead in leads:
        mean = [sum(column) for column in zip(*flat[start : start + len(lead)], strict=True)]
        start += len(lead)
        norm = math.sqrt(sum(x * x for x in mean)) or 1.0
        vectors.append(tuple(x / norm for x in mean))
    return vectors


# --- what to do with each story (pure) ----------------------------------------------------------


@dataclass(frozen=True)
class Keep:
    """Unchanged: the same members as recorded, and its file holds them."""


@dataclass(frozen=True)
class Adopt:
    """Its file holds these members but its row does not say so: a run was killed between."""

    usage: Usage


@dataclass(frozen=True)
class StillRejected:
    """Recorded as not a story, with the same members: not tried again until they change."""

    reason: str


@dataclass(frozen=True)
class Build:
    pass


StoryAction = Keep | Adopt | StillRejected | Build


def holds(story: StoryResult | None, group: StoryGroup) -> bool:
    """`story` is a valid story of exactly the group's inputs (identical texts count once)."""
    return story is not None and {s.sha256 for s in story.sources} == {
        m.input_sha256 for m in group.members
    }


def triage(group: StoryGroup, row: StoryRow | None, stored: StoryResult | None) -> StoryAction:
    same_members = row is not None and row.members == group.key
    if holds(stored, group):
        assert stored is not None
        if same_members and row is not None and row.state is StoryState.DONE:
            return Keep()
        return Adopt(usage=stored.usage)
    if same_members and row is not None and row.state is StoryState.REJECTED:
        return StillRejected(row.last_error or "the articles do not form a story")
    return Build()


def superseded(rows: Sequence[StoryRow], grouping: Grouping) -> list[StoryRow]:
    """Recorded stories that share an article with this grouping but are not in it."""
    formed = {story.id for story in grouping.stories}
    present = {m.id for story in grouping.stories for m in story.members} | set(grouping.alone)
    return [
        row
        for row in rows
        if row.id not in formed and any(item in present for item, _ in row.members)
    ]


# --- what a run reports -------------------------------------------------------------------------


class _Model(BaseModel):
    model_config = ConfigDict(extra="forbid")


class StoryLine(_Model):
    id: str
    status: StoryStatus
    grouped_by: GroupedBy | None  # None for a removed story
    articles: list[str]
    output: str | None = None
    reason: str | None = None
    usage: Usage = Usage()


class StoryCounts(_Model):
    stories: int = 0
    built: int = 0
    unchanged: int = 0
    recovered: int = 0
    rejected: int = 0
    failed: int = 0
    removed: int = 0


class StoriesReport(_Model):
    counts: StoryCounts
    stories: list[StoryLine]
    alone: list[str]
    usage: Usage


class PlannedStory(_Model):
    id: str
    grouped_by: GroupedBy
    articles: list[str]
    action: Literal["build", "unchanged", "recover", "rejected"]


class StoriesPlan(_Model):
    stories: list[PlannedStory]
    alone: list[str]
    remove: list[str]


_PLANNED: dict[type, Literal["build", "unchanged", "recover", "rejected"]] = {
    Keep: "unchanged",
    Adopt: "recover",
    StillRejected: "rejected",
    Build: "build",
}


def plan_stories(
    members: Sequence[Member], ledger: Ledger | None, out_dir: Path, embedder: Embedder | None
) -> StoriesPlan:
    """What `run_stories` would do with these members; reads, never writes."""
    grouping = group_articles(members, embedder)
    rows = {row.id: row for row in ledger.story_rows()} if ledger is not None else {}
    planned = [
        PlannedStory(
            id=group.id,
            grouped_by=group.grouped_by,
            articles=[m.id for m in group.members],
            action=_PLANNED[
                type(triage(group, rows.get(group.id), read_story(out_dir / story_path(group.id))))
            ],
        )
        for group in grouping.stories
    ]
    remove = [row.id for row in superseded(list(rows.values()), grouping)]
    return StoriesPlan(stories=planned, alone=grouping.alone, remove=remove)


def run_stories(
    members: Sequence[Member], service: Summarizer, ledger: Ledger, out_dir: Path
) -> StoriesReport:
    """Group `members`, build what changed, remove what is superseded; see the module docstring.

    A story that the articles do not form (StoryError) is recorded `rejected`; one whose step
    fails (the backend gave up) is recorded `failed` and tried again by the next run.
    """
    needs_embedder = sum(1 for m in members if m.text_field("story") is None) >= 2
    grouping = group_articles(members, service.embedder if needs_embedder else None)
    (out_dir / STORIES_DIR).mkdir(exist_ok=True)
    runner = _Stories(service, ledger, out_dir)
    rows = {row.id: row for row in ledger.story_rows()}
    for row in superseded(list(rows.values()), grouping):
        runner.remove(row)
    for group in grouping.stories:
        relative = story_path(group.id)
        action = triage(group, rows.get(group.id), read_story(out_dir / relative))
        if isinstance(action, Keep):
            runner.record(group, "unchanged", output=relative)
        elif isinstance(action, Adopt):
            runner.record(group, "recovered", output=relative, recorded=action.usage)
        elif isinstance(action, StillRejected):
            runner.record(group, "rejected", reason=action.reason)
        else:
            runner.build(group)
    return StoriesReport(
        counts=runner.counts, stories=runner.lines, alone=grouping.alone, usage=runner.usage
    )


class _Stories:
    def __init__(self, service: Summarizer, ledger: Ledger, out_dir: Path) -> None:
        self.service = service
        self.ledger = ledger
        self.out_dir = out_dir
        self.counts = StoryCounts()
        self.lines: list[StoryLine] = []
        self.usage = Usage()

    def build(self, group: StoryGroup) -> None:
        relative = story_path(group.id)
        # A file left from the members' earlier texts (or others) must not stand for them now.
        (self.out_dir / relative).unlink(missing_ok=True)
        results: list[SummaryResult] = []
        for member in group.members:
            result = read_result(self.out_dir / output_path(member.id))
            if result is None or result.source.sha256 != member.input_sha256:
                self.record(group, "failed", reason=f"the result of item {member.id} is gone")
                return
            results.append(result)
        articles = [
            StoryArticle(
                source=m.source,
                outlet=m.text_field("outlet"),
                title=m.text_field("title"),
                url=m.text_field("url"),
            )
            for m in group.members
        ]
        meter = UsageMeter()
        try:
            story = self.service.story(articles, results=results, meter=meter)
        except StoryError as error:
            self.record(group, "rejected", reason=str(error), spent=meter.total)
            return
        except SummarizerError as error:
            self.record(group, "failed", reason=_one_line(str(error)), spent=meter.total)
            return
        try:
            write_atomic(self.out_dir / relative, story.model_dump_json(indent=2) + "\n")
        except OSError as error:
            self.record(
                group, "failed", reason=f"cannot write the story: {error}", spent=meter.total
            )
            return
        self.record(group, "built", output=relative, spent=meter.total)

    def remove(self, row: StoryRow) -> None:
        if row.output_path is not None:
            (self.out_dir / row.output_path).unlink(missing_ok=True)
        self.ledger.forget_story(row.id)
        self.counts.removed += 1
        self.lines.append(
            StoryLine(
                id=row.id,
                status="removed",
                grouped_by=None,
                articles=[item for item, _ in row.members],
                reason="its articles now form other stories, or none",
            )
        )

    def record(
        self,
        group: StoryGroup,
        status: StoryStatus,
        *,
        output: str | None = None,
        reason: str | None = None,
        spent: Usage | None = None,
        recorded: Usage | None = None,
    ) -> None:
        """The one place a story's outcome is recorded: its row, the counts, the usage, the line.

        `spent` is what this run spent on it; `recorded` (default `spent`) what its row keeps."""
        spent = spent or Usage()
        if status in ("built", "recovered"):
            self.ledger.record_story(
                group.id, members=group.key, state=StoryState.DONE, output_path=output,
                error=None, usage=recorded or spent,
            )  # fmt: skip
        elif status in ("rejected", "failed"):
            state = StoryState.REJECTED if status == "rejected" else StoryState.FAILED
            self.ledger.record_story(
                group.id, members=group.key, state=state, output_path=None, error=reason,
                usage=recorded or spent,
            )  # fmt: skip
        self.counts.stories += 1
        setattr(self.counts, status, getattr(self.counts, status) + 1)
        self.usage = self.usage + spent
        self.lines.append(
            StoryLine(
                id=group.id, status=status, grouped_by=group.grouped_by,
                articles=[m.id for m in group.members], output=output, reason=reason, usage=spent,
            )
        )  # fmt: skip


def _one_line(text: str) -> str:
    return " ".join(text.split())
