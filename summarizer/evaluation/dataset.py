"""Labelled eval data: a suite of articles, hand-labelled facts per article, cross-article labels.

On disk (see docs/evaluation.md)::

    evals/<suite>/suite.json             Suite: id, description, article ids, story file
    evals/<suite>/articles/<id>.txt      the article, byte-identical to what was labelled
    evals/<suite>/facts/<id>.json        ArticleFacts: the facts a summary should state
    evals/<suite>/story.json             Story: shared facts, quote variants, disagreements

Every file is validated with `extra="forbid"` models, and then against the others: fact ids
carry their article's prefix, story entries cite facts that exist, quoted wordings occur
verbatim in their article, and each `must_include` term occurs in the article. Any problem
raises `EvalError` naming the file and the entry ("facts/000_x.json: facts[3].importance: ...").
"""

from __future__ import annotations

import json
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Literal, TypeVar

from pydantic import BaseModel, ConfigDict, Field, ValidationError, model_validator

from summarizer.errors import EvalError
from summarizer.text import clean, content_tokens

Importance = Literal["core", "detail"]

_ARTICLE_ID = r"^[0-9]{3}_[A-Za-z0-9]+$"
_FACT_ID = r"^[A-Za-z0-9][A-Za-z0-9_.:-]*$"


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class Fact(_Strict):
    """One atomic, checkable statement a good summary of the article would make.

    `must_include` lists the names, numbers and key phrases any statement of the fact has to
    contain; `aliases` gives other surface forms of a phrase from `must_include` or `text`
    ("DPRK" for "North Korea"), each of which counts as that phrase.
    """

    id: str = Field(pattern=_FACT_ID)
    text: str = Field(min_length=3)
    importance: Importance = "core"
    must_include: tuple[str, ...] = ()
    aliases: dict[str, tuple[str, ...]] = Field(default_factory=dict)

    @model_validator(mode="after")
    def _aliases_name_known_phrases(self) -> Fact:
        text = _comparable(self.text)
        for term in self.must_include:
            if not term.strip():
                raise ValueError("must_include has an empty entry")
        musts = {_comparable(term) for term in self.must_include}
        for key, forms in self.aliases.items():
            # A key that is in neither place is a typo that would silently never apply.
            if _comparable(key) not in musts and _comparable(key) not in text:
                raise ValueError(f"aliases key {key!r} occurs in neither text nor must_include")
            if not forms or any(not form.strip() for form in forms):
                raise ValueError(f"aliases[{key!r}] must list non-empty alternatives")
        return self

    def forms_of(self, phrase: str) -> tuple[str, ...]:
        """The phrase itself and its aliases."""
        return (phrase, *self.aliases.get(phrase, ()))


class ArticleFacts(_Strict):
    article_id: str = Field(pattern=_ARTICLE_ID)
    file: str
    outlet: str | None
    facts: list[Fact] = Field(min_length=1)

    @model_validator(mode="after")
    def _ids_are_unique_and_prefixed(self) -> ArticleFacts:
        prefix = short_id(self.article_id) + "-"
        seen: set[str] = set()
        for index, fact in enumerate(self.facts):
            if not fact.id.startswith(prefix):
                raise ValueError(f"facts[{index}].id {fact.id!r} must start with {prefix!r}")
            if fact.id in seen:
                raise ValueError(f"facts[{index}].id {fact.id!r} is duplicated")
            seen.add(fact.id)
        return self


class SharedFact(_Strict):
    id: str
    text: str
    fact_ids: list[str] = Field(min_length=2)


class QuoteWording(_Strict):
    fact_id: str
    wording: str = Field(min_length=3, description="Verbatim from the article.")


class QuoteVariant(_Strict):
    """One remark that outlets quote in different words (often different translations)."""

    id: str
    speaker: str
    gist: str
    variants: list[QuoteWording] = Field(min_length=2)


DisagreementKind = Literal[
    "contested_claim", "omission", "conflicting_detail", "framing", "attribution"
]


class Position(_Strict):
    articles: list[str] = Field(min_length=1)
    fact_ids: list[str]
    statement: str


class Disagreement(_Strict):
    id: str
    topic: str
    kind: DisagreementKind
    positions: list[Position] = Field(min_length=2)
    note: str | None = None


class Story(_Strict):
    story_id: str
    title: str
    articles: list[str] = Field(min_length=1)
    shared_facts: list[SharedFact]
    quote_variants: list[QuoteVariant]
    disagreements: list[Disagreement]


class Suite(_Strict):
    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    description: str
    articles: list[str] = Field(min_length=1)
    story: str | None = None


@dataclass(frozen=True)
class LabelledArticle:
    id: str
    path: Path
    text: str
    facts: ArticleFacts


@dataclass(frozen=True)
class LabelledSuite:
    """A suite with every file loaded and cross-checked."""

    suite: Suite
    directory: Path
    articles: tuple[LabelledArticle, ...]
    story: Story | None

    def article(self, article_id: str) -> LabelledArticle:
        for article in self.articles:
            if article.id == article_id:
                return article
        raise EvalError(f"suite {self.suite.id!r} has no article {article_id!r}")


def short_id(article_id: str) -> str:
    """ "000_792d…" -> "000", the prefix every fact id of that article carries."""
    return article_id.split("_", 1)[0]


T = TypeVar("T", bound=BaseModel)


def load_model(path: Path, model: type[T]) -> T:
    """Read and validate one JSON file; EvalError names the file and the first bad entry."""
    try:
        raw = json.loads(path.read_text(encoding="utf-8"))
    except OSError as error:
        raise EvalError(f"{path}: cannot read: {error.strerror}") from None
    except (json.JSONDecodeError, UnicodeDecodeError) as error:
        raise EvalError(f"{path}: not valid JSON: {error}") from None
    try:
        return model.model_validate(raw)
    except ValidationError as error:
        raise EvalError(f"{path}: {describe_validation_error(error)}") from None


def describe_validation_error(error: ValidationError) -> str:
    first = error.errors()[0]
    where = format_location(first["loc"])
    extra = f" (and {error.error_count() - 1} more)" if error.error_count() > 1 else ""
    return f"{where or '<root>'}: {first['msg']}{extra}"


def format_location(loc: tuple[int | str, ...]) -> str:
    """("facts", 3, "importance") -> "facts[3].importance"."""
    out = ""
    for part in loc:
        out += f"[{part}]" if isinstance(part, int) else (f".{part}" if out else str(part))
    return out


def load_facts(path: Path) -> ArticleFacts:
    return load_model(path, ArticleFacts)


def load_suite(directory: Path) -> LabelledSuite:
    """Load `suite.json` and everything it names, and check the files against each other."""
    suite_file = directory / "suite.json"
    suite = load_model(suite_file, Suite)
    articles = tuple(_load_article(directory, article_id) for article_id in suite.articles)
    story = None
    if suite.story is not None:
        story_file = directory / suite.story
        story = load_model(story_file, Story)
        _check_story(story_file, story, articles)
    return LabelledSuite(suite=suite, directory=directory, articles=articles, story=story)


def _load_article(directory: Path, article_id: str) -> LabelledArticle:
    facts_file = directory / "facts" / f"{article_id}.json"
    facts = load_facts(facts_file)
    if facts.article_id != article_id:
        raise EvalError(f"{facts_file}: article_id: {facts.article_id!r} != {article_id!r}")
    article_file = directory / facts.file
    try:
        text = article_file.read_bytes().decode("utf-8-sig")
    except OSError as error:
        raise EvalError(
            f"{facts_file}: file: cannot read {article_file}: {error.strerror}"
        ) from None
    except UnicodeDecodeError:
        raise EvalError(f"{facts_file}: file: {article_file} is not UTF-8") from None
    _check_terms_occur(facts_file, facts, text)
    return LabelledArticle(id=article_id, path=article_file, text=text, facts=facts)


def _check_terms_occur(facts_file: Path, facts: ArticleFacts, text: str) -> None:
    """A must_include term that is not in the article is a labelling mistake, not a fact."""
    article = _comparable(text)
    for index, fact in enumerate(facts.facts):
        for term_index, term in enumerate(fact.must_include):
            if not any(_comparable(form) in article for form in fact.forms_of(term)):
                raise EvalError(
                    f"{facts_file}: facts[{index}].must_include[{term_index}]: "
                    f"{term!r} (or an alias) does not occur in the article"
                )


def _check_story(story_file: Path, story: Story, articles: tuple[LabelledArticle, ...]) -> None:
    by_article = {a.id: a for a in articles}
    fact_owner = {f.id: a for a in articles for f in a.facts.facts}

    def need_fact(fact_id: str, where: str) -> LabelledArticle:
        if fact_id not in fact_owner:
            raise EvalError(f"{story_file}: {where}: unknown fact id {fact_id!r}")
        return fact_owner[fact_id]

    for index, article_id in enumerate(story.articles):
        if article_id not in by_article:
            raise EvalError(f"{story_file}: articles[{index}]: {article_id!r} is not in the suite")
    for i, shared in enumerate(story.shared_facts):
        owners = [need_fact(f, f"shared_facts[{i}].fact_ids") for f in shared.fact_ids]
        if len({o.id for o in owners}) != len(owners):
            raise EvalError(f"{story_file}: shared_facts[{i}]: two fact ids from one article")
    for i, quote in enumerate(story.quote_variants):
        for j, variant in enumerate(quote.variants):
            owner = need_fact(variant.fact_id, f"quote_variants[{i}].variants[{j}]")
            if _squash(variant.wording) not in _squash(owner.text):
                raise EvalError(
                    f"{story_file}: quote_variants[{i}].variants[{j}].wording: "
                    f"not found verbatim in {owner.id}"
                )
    for i, disagreement in enumerate(story.disagreements):
        for j, position in enumerate(disagreement.positions):
            where = f"disagreements[{i}].positions[{j}]"
            for article_id in position.articles:
                if article_id not in by_article:
                    raise EvalError(f"{story_file}: {where}: {article_id!r} is not in the suite")
            for fact_id in position.fact_ids:
                if need_fact(fact_id, where).id not in position.articles:
                    raise EvalError(f"{story_file}: {where}: {fact_id!r} is from another article")


def _comparable(text: str) -> str:
    """Space-joined content stems, padded so `in` matches whole words only."""
    return " " + " ".join(t.norm for t in content_tokens(text)) + " "


def _squash(text: str) -> str:
    """Quote-insensitive, whitespace-insensitive form for verbatim checks."""
    return re.sub(r"\s+", " ", clean(text)).strip()
