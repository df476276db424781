"""The JSON schema of every model call, built in one place.

A call's schema is its output model's schema narrowed to the call: the sentence ids a claim or a
selection may cite become an `enum` of the ids the model was shown (so a model cannot cite a
sentence it never saw), and a selection gets its item counts. Base schemas are serialised once
per model and copied per call.

What a digest or a merged summary writes is shaped here too, so every backend honours it by
construction (a llama.cpp grammar built from the schema, an OpenAI strict schema):

* counts: the summary is `SUMMARY_SENTENCES` sentences (a list the program joins), key points
  `KEY_POINTS`, claims `claim_range(...)` of the chunk (`wellformed.py` holds the numbers);
* strings: a `pattern` that admits no bare `"` or backslash, a bounded length (`*_CHARS`),
  and, for summary sentences, key points and claims, an ending like a sentence. Under a grammar
  a string ends only at a `"`, so a model that meant to open a quotation with `"` used to end
  the string there and lose the rest ("Kim Jong Un praised Putin as the"); now a `"` cannot
  occur inside, and the string can close only after a full stop, so the model writes “ or '
  and goes on. The length bound (in the pattern: grammars ignore `maxLength` beside a
  `pattern`, and strict schemas drop it) stops the opposite failure, a string that never
  closes and eats the output budget.

`sentence_id_field` reads the narrowed field back, for tests and tools that answer a request
(the scripted fake backend) without knowing the schema's layout.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from summarizer.replies import ChunkDigest, MergedSummary, RelationBatch, SentenceSelection
from summarizer.wellformed import (
    CLAIM_CHARS,
    HEADLINE_CHARS,
    KEY_POINT_CHARS,
    KEY_POINTS,
    MIN_CLAIMS,
    SPEAKER_CHARS,
    SUMMARY_SENTENCE_CHARS,
    SUMMARY_SENTENCES,
)

# No quotation mark, backslash or control character: nothing that could end or escape a JSON
# string. Typographic quotes, apostrophes and any script are fine.
_CHAR = r'[^"\\\x00-\x1f]'


def text_pattern(max_chars: int) -> str:
    """A string of 1 to `max_chars` characters that does not end on a space."""
    return rf'^{_CHAR}{{0,{max_chars - 1}}}[^ "\\\x00-\x1f]$'


def sentence_pattern(max_chars: int) -> str:
    """One sentence of about `max_chars` characters at most (and a closing quote).

    It starts like a sentence (not with a lowercase ASCII letter, a space or a stop: a model that
    loses its place writes the next field's name, "key_points1: ...", as an item). Inside, a stop
    (and a closing quote) may be followed only by a letter or digit ("U.S", "3.5") or by a space
    and a lowercase word ("U.S. officials", "“No!” he said"), so an item cannot hold a second
    sentence, nor `],“...` when a model that wants more items than allowed writes on inside the
    string (both seen from Qwen2.5-Coder on seed 000). The bound counts units of up to four
    characters, so it is approximate on purpose.
    """
    first = r'[^a-z_ "\\\x00-\x1f.!?]'
    plain = r'[^"\\\x00-\x1f.!?]'
    inner_stop = r"[.!?]+[”’')]?([A-Za-z0-9-]| [a-z0-9])"
    unit = f"({plain}|{inner_stop})"
    return rf"^{first}{unit}{{0,{max_chars - 2}}}[.!?][”’')]?$"


def plain_schema(model: type[BaseModel]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_base_schema(model))
    return result


def digest_schema(
    ids: Sequence[int], claims: tuple[int, int] = (MIN_CLAIMS, 8), *, claims_first: bool = False
) -> dict[str, Any]:
    """`ChunkDigest` whose claims may cite only `ids`, `claims` = (least, most) of them.

    `claims_first` lists `claims` right after the headline, so a grammar has the model write them
    before the summary and key points; a per-model choice, measured (`CatalogueEntry.claims_first`).
    """
    schema = plain_schema(ChunkDigest)
    sentence_id_field(schema)["items"] = {"type": "integer", "enum": list(ids)}
    _shape_summary(schema)
    field_schema = schema["properties"]["claims"]
    field_schema["minItems"], field_schema["maxItems"] = claims
    if claims_first:
        properties = schema["properties"]
        first = ("headline", "claims")
        schema["properties"] = {
            **{name: properties[name] for name in first},
            **{name: value for name, value in properties.items() if name not in first},
        }
    claim = schema["$defs"]["CitedClaim"]["properties"]
    claim["text"]["pattern"] = sentence_pattern(CLAIM_CHARS)
    for option in claim["speaker"]["anyOf"]:
        if option.get("type") == "string":
            option["pattern"] = text_pattern(SPEAKER_CHARS)
    return schema


def merge_schema() -> dict[str, Any]:
    """`MergedSummary` of the same shape as a digest's summary."""
    schema = plain_schema(MergedSummary)
    _shape_summary(schema)
    return schema


def _shape_summary(schema: dict[str, Any]) -> None:
    properties = schema["properties"]
    properties["headline"]["pattern"] = text_pattern(HEADLINE_CHARS)
    shapes = (
        ("summary", SUMMARY_SENTENCES, SUMMARY_SENTENCE_CHARS),
        ("key_points", KEY_POINTS, KEY_POINT_CHARS),
    )
    for name, (least, most), chars in shapes:
        properties[name]["items"] = {"type": "string", "pattern": sentence_pattern(chars)}
        properties[name]["minItems"], properties[name]["maxItems"] = least, most


def selection_schema(ids: Sequence[int], count: int) -> dict[str, Any]:
    """`SentenceSelection` of at most `count` of `ids` (and at least min(3, count))."""
    schema = plain_schema(SentenceSelection)
    field_schema = sentence_id_field(schema)
    field_schema["items"] = {"type": "integer", "enum": list(ids)}
    # Tiny models return empty lists unless the schema demands some items.
    field_schema["minItems"] = min(3, count)
    field_schema["maxItems"] = count
    return schema


def relation_schema(groups: Sequence[int], articles: Sequence[str]) -> dict[str, Any]:
    """`RelationBatch` that may only name the groups and articles it was shown."""
    schema = plain_schema(RelationBatch)
    defs = schema["$defs"]
    defs["GroupVerdict"]["properties"]["group"] = {"type": "integer", "enum": list(groups)}
    defs["StatementVerdict"]["properties"]["article"] = {"type": "string", "enum": list(articles)}
    schema["properties"]["groups"]["maxItems"] = len(groups)
    return schema


def sentence_id_field(schema: dict[str, Any]) -> dict[str, Any]:
    """The `sentence_ids` property of a digest's claims or of a selection (mutable)."""
    if "CitedClaim" in schema.get("$defs", {}):
        field_schema: dict[str, Any] = schema["$defs"]["CitedClaim"]["properties"]["sentence_ids"]
    else:
        field_schema = schema["properties"]["sentence_ids"]
    return field_schema


@functools.lru_cache(maxsize=256)
def _base_schema(model: type[BaseModel]) -> str:
    return json.dumps(model.model_json_schema())
