"""The JSON schema of every model call, built in one place.

A call's schema is its output model's schema narrowed to the call: the sentence ids a claim or a
selection may cite become an `enum` of the ids the model was shown (so a model cannot cite a
sentence it never saw), and a selection gets its item counts. Base schemas are serialised once
per model and copied per call. `sentence_id_field` reads the narrowed field back, for tests and
tools that answer a request (the scripted fake backend) without knowing the schema's layout.
"""

from __future__ import annotations

import functools
import json
from collections.abc import Sequence
from typing import Any

from pydantic import BaseModel

from summarizer.schemas import ChunkDigest, RelationBatch, SentenceSelection


def plain_schema(model: type[BaseModel]) -> dict[str, Any]:
    result: dict[str, Any] = json.loads(_base_schema(model))
    return result


def digest_schema(ids: Sequence[int]) -> dict[str, Any]:
    """`ChunkDigest` whose claims may cite only `ids`."""
    schema = plain_schema(ChunkDigest)
    sentence_id_field(schema)["items"] = {"type": "integer", "enum": list(ids)}
    return schema


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
