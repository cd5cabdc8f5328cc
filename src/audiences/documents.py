"""Turning stored documents into JSON for responses."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import AsyncIterator
from typing import Any

from bson import ObjectId

from audiences.clock import format_instant

INTERNAL_FIELDS = frozenset({"_id", "orgId"})


def jsonable(value: Any) -> Any:
    """Dates become ISO-8601 (`...000Z`), ObjectIds strings; containers recursively."""
    if isinstance(value, dt.datetime):
        return format_instant(value)
    if isinstance(value, dict):
        return {k: jsonable(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [jsonable(v) for v in value]
    if isinstance(value, ObjectId):
        return str(value)
    return value


def public_contact(doc: dict[str, Any]) -> dict[str, Any]:
    """A stored contact as callers see it: `id` first, internal keys removed."""
    out: dict[str, Any] = {"id": doc.get("id")}
    out.update({k: jsonable(v) for k, v in doc.items() if k not in INTERNAL_FIELDS and k != "id"})
    return out


NDJSON = "application/x-ndjson"


def wants_ndjson(accept: str | None) -> bool:
    """Whether the caller asked for a stream (`Accept: application/x-ndjson`)."""
    return NDJSON in (accept or "")


async def ndjson_contacts(docs: AsyncIterator[dict[str, Any]]) -> AsyncIterator[bytes]:
    """Stored contacts as NDJSON lines, one public contact per line, as they are read."""
    async for doc in docs:
        yield (json.dumps(public_contact(doc), ensure_ascii=False, separators=(",", ":")) + "\n").encode()
