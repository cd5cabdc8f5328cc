"""Creating and listing indexes on the shared `contacts` and `events` collections.

Indexes are per collection, not per org: one org's index serves every org. Each one
starts with `orgId`, so it serves one org's queries without reading another's entries.
An org sees the indexes the service itself needs (`builtin`) and those it requested; the
request is recorded per org, so another org's requests stay invisible to it: asking for
an index another org already asked for answers exactly like asking for a new one, and the
cap (`MAX_REQUESTED_PER_ORG`) counts this org's requests only.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audiences.collection_indexes.errors import (
    IndexBuildFailed,
    IndexCapacityReached,
    IndexConflict,
    TooManyIndexes,
)
from audiences.collection_indexes.repository import IndexRequestRepository
from audiences.contacts.repository import CONTACTS
from audiences.db import Database, IndexSpec, OperationFailure
from audiences.db.indexes import required_indexes
from audiences.errors import ErrorItem, ValidationFailed
from audiences.events.repository import EVENTS
from audiences.tenancy import TenantScope

COLLECTIONS = (CONTACTS, EVENTS)
# MongoDB allows 32 fields in a compound index and 64 indexes per collection.
MAX_FIELDS = 31
MAX_INDEXES_PER_COLLECTION = 64
MAX_REQUESTED_PER_ORG = 20
MAX_FIELD_LENGTH = 256

type KeyPattern = list[tuple[str, int]]


@dataclass(frozen=True, slots=True)
class IndexInfo:
    collection: str
    name: str
    keys: KeyPattern
    unique: bool
    source: str
    status: str
    created: bool | None = None

    def to_json(self) -> dict[str, Any]:
        out: dict[str, Any] = {
            "collection": self.collection,
            "name": self.name,
            "keys": [{"field": f, "order": o} for f, o in self.keys],
            "unique": self.unique,
            "source": self.source,
            "status": self.status,
        }
        if self.created is not None:
            out["created"] = self.created
        return out


def _field_problem(name: str) -> str | None:
    segments = name.split(".")
    if not name or len(name) > MAX_FIELD_LENGTH:
        return f"field paths are 1..{MAX_FIELD_LENGTH} characters"
    if "\x00" in name:
        return "field paths may not contain NUL"
    if any(not s for s in segments):
        return "a field path may not have an empty segment"
    if any(s.startswith("$") for s in segments):
        return (
            "field path segments may not start with `$` (text, wildcard and hashed indexes are not offered)"
        )
    if segments[0] == "orgId":
        return "`orgId` is always the first key; list the fields after it"
    return None


def _collection_problem(collection: Any) -> ErrorItem | None:
    if collection in COLLECTIONS:
        return None
    return ErrorItem(
        "unknown_collection", "collection", f"collection must be one of {', '.join(COLLECTIONS)}"
    )


def check_collection(collection: Any) -> None:
    problem = _collection_problem(collection)
    if problem is not None:
        raise ValidationFailed([problem])


def parse_key_pattern(collection: Any, fields: Sequence[tuple[str, int]]) -> KeyPattern:
    """The full key pattern (`orgId` first), or `ValidationFailed` listing every problem."""
    problems: list[ErrorItem] = []
    unknown = _collection_problem(collection)
    if unknown is not None:
        problems.append(unknown)
    if not fields:
        problems.append(ErrorItem("index_fields_required", "fields", "list at least one field"))
    if len(fields) > MAX_FIELDS:
        problems.append(
            ErrorItem(
                "too_many_index_fields", "fields", f"an index has at most {MAX_FIELDS} fields after orgId"
            )
        )
    keys: KeyPattern = [("orgId", 1)]
    seen: set[str] = set()
    for i, (name, order) in enumerate(fields):
        problem = _field_problem(name)
        if problem is None and name in seen:
            problem = f"`{name}` appears twice; MongoDB refuses repeated fields in one index"
        if problem is not None:
            problems.append(ErrorItem("invalid_index_field", f"fields[{i}]", problem))
            continue
        seen.add(name)
        keys.append((name, order))
    if problems:
        raise ValidationFailed(problems)
    return keys


def _keys_of(index: Mapping[str, Any]) -> KeyPattern:
    return [(str(k), int(v)) for k, v in dict(index.get("key", {})).items()]


def _default_name(keys: KeyPattern) -> str:
    """MongoDB's own naming (`orgId_1_country_-1`)."""
    return "_".join(f"{field}_{order}" for field, order in keys)


def _builtin_names(collection: str) -> set[str]:
    names = {"_id_"}
    for spec in required_indexes().get(collection, []):
        names.add(spec.name or _default_name(list(spec.keys)))
    return names


async def create_index(
    *,
    db: Database,
    scope: TenantScope,
    collection: str,
    keys: KeyPattern,
    unique: bool,
    now: dt.datetime,
) -> IndexInfo:
    """Create the index (or find the identical one) and record that this org asked for it."""
    if unique and db.embedded:
        raise ValidationFailed(
            [
                ErrorItem(
                    "unique_index_not_supported",
                    "unique",
                    "the embedded backend checks unique secondary indexes by scanning the collection on "
                    "every write; unique indexes need MongoDB",
                )
            ]
        )
    requests = IndexRequestRepository(db)
    target = db.collection(collection)
    existing = await target.list_indexes()
    same = next((i for i in existing if _keys_of(i) == keys), None)
    if same is not None:
        if bool(same.get("unique")) != unique:
            raise IndexConflict(
                f"An index on these keys already exists with unique={bool(same.get('unique'))}.",
            )
        name = str(same["name"])
        if name in _builtin_names(collection):
            return IndexInfo(collection, name, keys, unique, "builtin", "ready", created=False)
    else:
        name = _default_name(keys)
    if await requests.has(scope, collection=collection, name=name):
        return IndexInfo(collection, name, keys, unique, "requested", "ready", created=False)
    if await requests.count(scope) >= MAX_REQUESTED_PER_ORG:
        raise TooManyIndexes(f"This org has requested {MAX_REQUESTED_PER_ORG} indexes, the most allowed.")
    if same is not None:
        # Another org asked for it first: from this org's side it is created now.
        await requests.record(scope, collection=collection, name=name, keys=keys, unique=unique, now=now)
        return IndexInfo(collection, name, keys, unique, "requested", "ready", created=True)
    if len(existing) >= MAX_INDEXES_PER_COLLECTION:
        raise IndexCapacityReached(
            f"`{collection}` holds {MAX_INDEXES_PER_COLLECTION} indexes, the most MongoDB allows; an "
            "operator must drop unused ones."
        )
    try:
        await target.create_index(IndexSpec(keys, name=name, unique=unique))
    except OperationFailure as exc:
        # e.g. existing duplicates under a unique index; the server's text stays in the log.
        raise IndexBuildFailed(
            f"The index could not be built (code {exc.code}); for a unique index, remove duplicates first."
        ) from exc
    await requests.record(scope, collection=collection, name=name, keys=keys, unique=unique, now=now)
    return IndexInfo(collection, name, keys, unique, "requested", "ready", created=True)


async def list_indexes(*, db: Database, scope: TenantScope, collection: str | None) -> list[IndexInfo]:
    """The builtin indexes and this org's requested ones, per collection."""
    wanted = [collection] if collection is not None else list(COLLECTIONS)
    requested = await IndexRequestRepository(db).list(scope)
    out: list[IndexInfo] = []
    for name in wanted:
        existing = {str(i["name"]): i for i in await db.collection(name).list_indexes()}
        builtin = _builtin_names(name)
        for index_name, index in existing.items():
            if index_name in builtin:
                out.append(
                    IndexInfo(
                        name, index_name, _keys_of(index), bool(index.get("unique")), "builtin", "ready"
                    )
                )
        for record in requested:
            if record["collection"] != name or record["name"] in builtin:
                continue
            keys = [(str(k[0]), int(k[1])) for k in record["keys"]]
            status = "ready" if record["name"] in existing else "missing"
            out.append(
                IndexInfo(name, str(record["name"]), keys, bool(record["unique"]), "requested", status)
            )
    return out
