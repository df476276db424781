"""Prompt templates as versioned data files shipped inside the package (`summarizer/templates/`).

A template is a TOML file with `name`, `version`, `description`, the `variables` it declares,
and `system` and `user` texts with `{{ variable }}` placeholders. Rendering fails loudly on a
missing, undeclared or unused variable. The SHA-256 of the file's bytes goes into every cache key
and every result, so editing a prompt can never be mistaken for the old one.

The templates are package data read through `importlib.resources`, so an installed wheel finds
them wherever (and however) it is installed; the source tree is never consulted. One environment
override, SUMMARIZER_PROMPTS_DIR, points the library at another folder (to try an edited prompt
against the eval gate); it is read when a library is built, never at import.
"""

from __future__ import annotations

import hashlib
import os
import re
import tomllib
from collections.abc import Mapping
from dataclasses import dataclass
from importlib import resources
from importlib.resources.abc import Traversable
from pathlib import Path

from pydantic import BaseModel, ConfigDict, ValidationError

from summarizer.errors import PromptError
from summarizer.llm import Message
from summarizer.schemas import PromptRef

_PLACEHOLDER = re.compile(r"\{\{\s*([a-z_][a-z0-9_]*)\s*\}\}")


PROMPTS_DIR_ENV = "SUMMARIZER_PROMPTS_DIR"


def shipped_templates() -> Traversable:
    """The templates inside the installed package."""
    return resources.files("summarizer") / "templates"


def default_prompts_dir(env: Mapping[str, str] | None = None) -> Traversable:
    override = (os.environ if env is None else env).get(PROMPTS_DIR_ENV)
    return Path(override).expanduser() if override else shipped_templates()


class _TemplateFile(BaseModel):
    model_config = ConfigDict(extra="forbid")

    name: str
    version: str
    description: str
    variables: list[str]
    system: str
    user: str


@dataclass(frozen=True)
class PromptTemplate:
    name: str
    version: str
    sha256: str
    variables: frozenset[str]
    system: str
    user: str

    @property
    def ref(self) -> PromptRef:
        return PromptRef(name=self.name, version=self.version, sha256=self.sha256)

    def render(self, values: Mapping[str, str]) -> tuple[Message, Message]:
        missing = self.variables - values.keys()
        if missing:
            raise PromptError(f"prompt {self.name!r}: missing variable(s) {sorted(missing)}")
        unknown = values.keys() - self.variables
        if unknown:
            raise PromptError(f"prompt {self.name!r}: undeclared variable(s) {sorted(unknown)}")
        return (
            Message(role="system", content=self._fill(self.system, values)),
            Message(role="user", content=self._fill(self.user, values)),
        )

    @staticmethod
    def _fill(text: str, values: Mapping[str, str]) -> str:
        # One pass: a value that itself contains "{{ x }}" is inserted literally, never expanded.
        return _PLACEHOLDER.sub(lambda match: values[match.group(1)], text)


def load_template(path: Traversable) -> PromptTemplate:
    try:
        raw = path.read_bytes()
    except OSError as error:
        raise PromptError(f"cannot read prompt {path}: {error.strerror}") from None
    try:
        data = _TemplateFile.model_validate(tomllib.loads(raw.decode("utf-8")))
    except (tomllib.TOMLDecodeError, UnicodeDecodeError) as error:
        raise PromptError(f"prompt {path} is not valid TOML: {error}") from None
    except ValidationError as error:
        first = error.errors()[0]
        where = ".".join(str(p) for p in first["loc"])
        raise PromptError(f"prompt {path}: {where}: {first['msg']}") from None
    used = set(_PLACEHOLDER.findall(data.system)) | set(_PLACEHOLDER.findall(data.user))
    declared = set(data.variables)
    if used != declared:
        raise PromptError(
            f"prompt {path}: placeholders {sorted(used)} do not match "
            f"declared variables {sorted(declared)}"
        )
    return PromptTemplate(
        name=data.name,
        version=data.version,
        sha256=hashlib.sha256(raw).hexdigest(),
        variables=frozenset(declared),
        system=data.system,
        user=data.user,
    )


class PromptLibrary:
    """Loads templates by name from a directory (default: the shipped ones), once each."""

    def __init__(self, directory: Traversable | None = None) -> None:
        self.directory = directory or default_prompts_dir()
        self._loaded: dict[str, PromptTemplate] = {}

    def get(self, name: str) -> PromptTemplate:
        if name not in self._loaded:
            path = self.directory / f"{name}.toml"
            if not path.is_file():
                raise PromptError(f"no prompt template {name!r} in {self.directory}")
            self._loaded[name] = load_template(path)
        return self._loaded[name]
