"""CRM segments: CRUD, exact live reach, members (pages and streams) and snapshots.

A dynamic segment is a stored DynamicQuery, answered live every time. A static segment is
a frozen, sorted list of contact ids (given, or the matches of its filter at save time).
Everything that answers "who is in it" starts from `resolve_audience`, so custom
audiences work wherever a segment id does.
"""

from __future__ import annotations

import datetime as dt
import json
import re
import secrets
import time
from collections.abc import AsyncIterator, Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

from audiences.clock import Clock, SystemClock, format_instant, parse_evaluation_instant, truncate_ms
from audiences.config import Settings
from audiences.contacts.repository import CONTACTS
from audiences.db import Database
from audiences.errors import ErrorItem, ValidationFailed
from audiences.membership import recompute
from audiences.querylang import (
    FieldQuery,
    Membership,
    Query,
    QueryInvalid,
    compile_query,
    fields_used,
    matches,
    parse_filter,
)
from audiences.segments.errors import InvalidInstant, SegmentNotFound, SnapshotNotFound, StaticSegmentTooLarge
from audiences.segments.repository import (
    SEGMENT_ID_LISTS,
    ContactReader,
    IdLists,
    SegmentRepository,
    SnapshotRepository,
)
from audiences.segments.resolve import ResolvedAudience, resolve_audience
from audiences.tenancy import TenantScope

SegmentType = Literal["dynamic", "static"]

SEGMENT_ID_PREFIX = "seg_"
SNAPSHOT_ID_PREFIX = "snap_"
_ID_ALPHABET = "0123456789abcdefghjkmnpqrstvwxyz"  # Crockford base32: no i, l, o, u
MAX_STATIC_CONTACTS = 100_000
MAX_CONTACT_ID_LENGTH = 256
MAX_PAGE = 10_000
# Contacts per query when a whole audience is read (streams, snapshots, static freezes):
# each page is its own query with its own time limit, and memory stays bounded.
SCAN_PAGE = 5_000
MAX_PROJECTED_FIELDS = 50


def parse_as_of(value: str | None, *, default: dt.datetime, path: str = "asOf") -> dt.datetime:
    """An ISO-8601 instant from the request (millisecond precision), or `default`."""
    if value is None:
        return truncate_ms(default)
    try:
        return truncate_ms(parse_evaluation_instant(value))
    except ValueError as exc:
        raise InvalidInstant(
            f"`{path}` is not a usable ISO-8601 instant.",
            errors=[ErrorItem("invalid_instant", path, f"{value!r} is not a usable ISO-8601 instant: {exc}")],
        ) from exc


def _random_id(prefix: str, length: int) -> str:
    return prefix + "".join(secrets.choice(_ID_ALPHABET) for _ in range(length))


def new_segment_id() -> str:
    return _random_id(SEGMENT_ID_PREFIX, 12)


def new_snapshot_id() -> str:
    return _random_id(SNAPSHOT_ID_PREFIX, 16)


# Definitions ---------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class SegmentDraft:
    """A segment as the caller wrote it (after pydantic's shape checks)."""

    name: str
    description: str | None
    filter: Mapping[str, Any] | None
    type: SegmentType
    contact_ids: Sequence[str] | None


@dataclass(frozen=True, slots=True)
class SavedSegment:
    document: dict[str, Any]
    contact_ids: list[str] | None
    unknown_contact_ids: list[str] = field(default_factory=list)


def check_draft(draft: SegmentDraft, *, keeps_list: bool = False) -> Query | None:
    """The parsed filter (None when there is none); raise listing every problem at once.
    `keeps_list`: a static segment keeps its current id list (so needs neither)."""
    errors: list[ErrorItem] = []
    query: Query | None = None
    if draft.filter is not None:
        try:
            query = parse_filter(draft.filter.get("datatype"), draft.filter.get("where"))
        except QueryInvalid as exc:
            errors.extend(exc.errors)
    if draft.type == "dynamic":
        if draft.filter is None:
            errors.append(ErrorItem("filter_required", "filter", "a dynamic segment needs a filter"))
        if draft.contact_ids is not None:
            errors.append(
                ErrorItem(
                    "contact_ids_not_allowed",
                    "contactIds",
                    "contactIds belong to static segments; a dynamic segment is defined by its filter",
                )
            )
    elif draft.filter is None and draft.contact_ids is None and not keeps_list:
        errors.append(
            ErrorItem(
                "filter_or_contact_ids_required",
                "filter",
                "a static segment needs contactIds, or a filter whose matches are frozen at save time",
            )
        )
    if draft.contact_ids is not None:
        if len(draft.contact_ids) > MAX_STATIC_CONTACTS:
            errors.append(
                ErrorItem(
                    "static_segment_too_large",
                    "contactIds",
                    f"a static segment holds at most {MAX_STATIC_CONTACTS:,} contacts",
                )
            )
        for i, contact_id in enumerate(draft.contact_ids):
            if not 0 < len(contact_id) <= MAX_CONTACT_ID_LENGTH:
                errors.append(
                    ErrorItem(
                        "invalid_contact_id",
                        f"contactIds[{i}]",
                        f"contact ids are 1..{MAX_CONTACT_ID_LENGTH} characters",
                    )
                )
    if errors:
        raise QueryInvalid(errors)
    return query


def _filter_json(draft: SegmentDraft) -> str | None:
    return None if draft.filter is None else json.dumps(dict(draft.filter), separators=(",", ":"))


def stored_query(document: Mapping[str, Any]) -> Query | None:
    """The parsed filter of a stored segment (stored filters were valid when saved)."""
    text = document.get("filterJson")
    if not text:
        return None
    raw = json.loads(text)
    return parse_filter(raw.get("datatype"), raw.get("where"))


def public_segment(document: Mapping[str, Any], *, contact_ids: list[str] | None = None) -> dict[str, Any]:
    """A stored segment as callers see it (without the live count)."""
    text = document.get("filterJson")
    out: dict[str, Any] = {
        "id": document["id"],
        "name": document["name"],
        "description": document.get("description"),
        "filter": json.loads(text) if text else None,
        "type": document["type"],
        "createdAt": format_instant(document["createdAt"]),
        "updatedAt": format_instant(document["updatedAt"]),
    }
    if document["type"] == "static":
        out["contactCount"] = document.get("contactCount", 0)
        if contact_ids is not None:
            out["contactIds"] = contact_ids
    return out


async def _batches(ids: Sequence[str]) -> AsyncIterator[Sequence[str]]:
    for start in range(0, len(ids), SCAN_PAGE):
        yield ids[start : start + SCAN_PAGE]


async def matching_ids(
    *,
    db: Database,
    scope: TenantScope,
    contact_filter: Mapping[str, Any],
    timeout_ms: int,
    limit: int | None = None,
) -> AsyncIterator[list[str]]:
    """The ids of the contacts matching `contact_filter`, in id order, a page at a time."""
    reader = ContactReader(db)
    after: str | None = None
    seen = 0
    while True:
        docs = await reader.page(
            scope, contact_filter, after=after, limit=SCAN_PAGE, projection={"id": 1}, timeout_ms=timeout_ms
        )
        if not docs:
            return
        ids = [str(d["id"]) for d in docs]
        seen += len(ids)
        if limit is not None and seen > limit:
            raise StaticSegmentTooLarge(
                f"The filter matches more than {limit:,} contacts; a static segment holds at most "
                f"{limit:,}. Use a dynamic segment (and a snapshot to freeze it for a send)."
            )
        yield ids
        if len(docs) < SCAN_PAGE:
            return
        after = ids[-1]


async def _store_static_list(
    *,
    db: Database,
    scope: TenantScope,
    draft: SegmentDraft,
    query: Query | None,
    now: dt.datetime,
    timeout_ms: int,
) -> tuple[str, int, list[str]]:
    """Write the segment's id list; (list id, count, unknown ids given)."""
    lists = IdLists(db, SEGMENT_ID_LISTS)
    list_id = _random_id("lst_", 16)
    unknown: list[str] = []
    if draft.contact_ids is not None:
        given = list(dict.fromkeys(draft.contact_ids))
        existing = await ContactReader(db).existing_ids(scope, given, timeout_ms=timeout_ms)
        unknown = [c for c in given if c not in existing]
        count = await lists.write(scope, list_id, _batches(sorted(existing)))
    else:
        assert query is not None
        contact_filter = compile_query(query, as_of=now, backend=db.backend)
        count = await lists.write(
            scope,
            list_id,
            matching_ids(
                db=db,
                scope=scope,
                contact_filter=contact_filter,
                timeout_ms=timeout_ms,
                limit=MAX_STATIC_CONTACTS,
            ),
        )
    return list_id, count, unknown


async def create_segment(
    *, db: Database, scope: TenantScope, draft: SegmentDraft, clock: Clock, settings: Settings
) -> SavedSegment:
    """Store a new segment; membership tracking then indexes it and computes its members in
    the background (docs/membership.md)."""
    now, timeout_ms = truncate_ms(clock.now()), settings.query_timeout_ms
    query = check_draft(draft)
    document: dict[str, Any] = {
        "id": new_segment_id(),
        "name": draft.name,
        "description": draft.description,
        "type": draft.type,
        "filterJson": _filter_json(draft),
        "createdAt": now,
        "updatedAt": now,
    }
    unknown: list[str] = []
    contact_ids: list[str] | None = None
    if draft.type == "static":
        list_id, count, unknown = await _store_static_list(
            db=db, scope=scope, draft=draft, query=query, now=now, timeout_ms=timeout_ms
        )
        document.update(listId=list_id, contactCount=count)
        contact_ids = await IdLists(db, SEGMENT_ID_LISTS).all_ids(scope, list_id, timeout_ms=timeout_ms)
    await SegmentRepository(db).insert(scope, document)
    await _tell_membership(db=db, scope=scope, segment_id=str(document["id"]), clock=clock, settings=settings)
    return SavedSegment(document, contact_ids, unknown)


async def _tell_membership(
    *, db: Database, scope: TenantScope, segment_id: str, clock: Clock, settings: Settings
) -> None:
    """Membership tracking re-indexes the segment's triggers and recomputes its members in
    the background (docs/membership.md); the write's answer does not wait for it."""
    await recompute.definition_changed(
        db=db, scope=scope, kind="segment", audience_id=segment_id, clock=clock, settings=settings
    )


async def get_segment_document(
    *, db: Database, scope: TenantScope, segment_id: str, timeout_ms: int
) -> dict[str, Any]:
    document = await SegmentRepository(db).get(scope, segment_id, timeout_ms=timeout_ms)
    if document is None:
        raise SegmentNotFound(f"No segment {segment_id!r} in this org.")
    return document


async def static_ids(
    *, db: Database, scope: TenantScope, document: Mapping[str, Any], timeout_ms: int
) -> list[str]:
    return await IdLists(db, SEGMENT_ID_LISTS).all_ids(scope, str(document["listId"]), timeout_ms=timeout_ms)


async def get_segment(
    *, db: Database, scope: TenantScope, segment_id: str, as_of: dt.datetime, timeout_ms: int
) -> dict[str, Any]:
    """The segment with its live `count` (contacts matching now) and `countAsOf`."""
    document = await get_segment_document(db=db, scope=scope, segment_id=segment_id, timeout_ms=timeout_ms)
    resolved = await resolved_segment(
        db=db, scope=scope, document=document, as_of=as_of, timeout_ms=timeout_ms
    )
    out = dict(resolved.definition)
    out["count"] = await ContactReader(db).count(scope, resolved.contact_filter, timeout_ms=timeout_ms)
    out["countAsOf"] = format_instant(as_of)
    return out


async def update_segment(
    *,
    db: Database,
    scope: TenantScope,
    segment_id: str,
    changes: Mapping[str, Any],
    replace: bool,
    clock: Clock,
    settings: Settings,
) -> SavedSegment:
    """PUT (`replace`: the body is the whole segment) or PATCH (`changes` holds only the
    fields sent). A static segment's list is replaced by `contactIds` when sent, and frozen
    again from its filter on PUT, when it becomes static, or when its filter changes (to a
    filter); otherwise it is kept."""
    now, timeout_ms = truncate_ms(clock.now()), settings.query_timeout_ms
    repo = SegmentRepository(db)
    current = await get_segment_document(db=db, scope=scope, segment_id=segment_id, timeout_ms=timeout_ms)
    before = public_segment(current)
    merged: dict[str, Any] = (
        {} if replace else {k: before[k] for k in ("name", "description", "filter", "type")}
    )
    merged.update(changes)
    problems = [
        ErrorItem("field_required", key, f"`{key}` cannot be null")
        for key in ("name", "type")
        if merged.get(key) is None and (replace or key in changes)
    ]
    if problems:
        raise ValidationFailed(problems)
    draft = SegmentDraft(
        name=merged["name"],
        description=merged.get("description"),
        filter=merged.get("filter"),
        type=merged.get("type", "dynamic"),
        contact_ids=changes.get("contactIds"),
    )
    refreeze = (
        draft.contact_ids is not None
        or replace
        or current["type"] != "static"
        or ("filter" in changes and changes["filter"] is not None and changes["filter"] != before["filter"])
    )
    query = check_draft(draft, keeps_list=draft.type == "static" and not refreeze)
    document: dict[str, Any] = {
        "id": current["id"],
        "name": draft.name,
        "description": draft.description,
        "type": draft.type,
        "filterJson": _filter_json(draft),
        "createdAt": current["createdAt"],
        "updatedAt": now,
    }
    lists = IdLists(db, SEGMENT_ID_LISTS)
    unknown: list[str] = []
    old_list = current.get("listId")
    if draft.type == "static" and not refreeze:
        document.update(listId=old_list, contactCount=current.get("contactCount", 0))
    elif draft.type == "static":
        list_id, count, unknown = await _store_static_list(
            db=db, scope=scope, draft=draft, query=query, now=now, timeout_ms=timeout_ms
        )
        document.update(listId=list_id, contactCount=count)
    if not await repo.replace(scope, document):
        raise SegmentNotFound(f"No segment {segment_id!r} in this org.")
    if old_list and old_list != document.get("listId"):
        await lists.delete(scope, str(old_list))
    contact_ids = None
    if draft.type == "static":
        contact_ids = await lists.all_ids(scope, str(document["listId"]), timeout_ms=timeout_ms)
    await _tell_membership(db=db, scope=scope, segment_id=segment_id, clock=clock, settings=settings)
    return SavedSegment(document, contact_ids, unknown)


async def delete_segment(*, db: Database, scope: TenantScope, segment_id: str, timeout_ms: int) -> None:
    """Delete the segment and its id list. Its snapshots stay readable until they expire
    (a campaign may be sending from one)."""
    current = await get_segment_document(db=db, scope=scope, segment_id=segment_id, timeout_ms=timeout_ms)
    if not await SegmentRepository(db).delete(scope, segment_id):
        raise SegmentNotFound(f"No segment {segment_id!r} in this org.")
    if current.get("listId"):
        await IdLists(db, SEGMENT_ID_LISTS).delete(scope, str(current["listId"]))
    await recompute.definition_deleted(db=db, scope=scope, kind="segment", audience_id=segment_id)


@dataclass(frozen=True, slots=True)
class SegmentPage:
    items: list[dict[str, Any]]
    next_after: tuple[dt.datetime, str] | None


async def list_segments(
    *,
    db: Database,
    scope: TenantScope,
    after: tuple[dt.datetime, str] | None,
    kind: SegmentType | None,
    q: str | None,
    limit: int,
    timeout_ms: int,
) -> SegmentPage:
    docs = await SegmentRepository(db).page(
        scope,
        after=after,
        kind=kind,
        name_pattern=re.escape(q) if q else None,
        limit=limit + 1,
        timeout_ms=timeout_ms,
    )
    more = len(docs) > limit
    docs = docs[:limit]
    last = docs[-1] if more else None
    return SegmentPage(
        items=[public_segment(d) for d in docs],
        next_after=(last["createdAt"], str(last["id"])) if last is not None else None,
    )


# Resolution (the registered audience source) --------------------------------------------


async def resolved_segment(
    *, db: Database, scope: TenantScope, document: Mapping[str, Any], as_of: dt.datetime, timeout_ms: int
) -> ResolvedAudience:
    """A stored segment as a filter over contacts at `as_of`. Dynamic: the compiled
    DynamicQuery; static: `{"id": {"$in": [...]}}` (compiled too, so the embedded backend
    gets its fast form). `definition` is the public segment (with `contactIds` if static)."""
    if document["type"] == "static":
        ids = await static_ids(db=db, scope=scope, document=document, timeout_ms=timeout_ms)
        by_id = FieldQuery("id", (Membership("$in", tuple(ids)),))
        return ResolvedAudience(
            id=str(document["id"]),
            name=str(document["name"]),
            kind="static",
            contact_filter=compile_query(by_id, as_of=as_of, backend=db.backend),
            definition=public_segment(document, contact_ids=ids),
        )
    query = stored_query(document)
    assert query is not None
    return ResolvedAudience(
        id=str(document["id"]),
        name=str(document["name"]),
        kind="dynamic",
        contact_filter=compile_query(query, as_of=as_of, backend=db.backend),
        definition=public_segment(document),
    )


class SegmentSource:
    """Answers `resolve_audience` for segment ids (`seg_…`)."""

    async def resolve(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> ResolvedAudience | None:
        if not audience_id.startswith(SEGMENT_ID_PREFIX):
            return None
        document = await SegmentRepository(db).get(scope, audience_id, timeout_ms=timeout_ms)
        if document is None:
            return None
        return await resolved_segment(
            db=db, scope=scope, document=document, as_of=as_of, timeout_ms=timeout_ms
        )


# In-memory membership (for membership tracking) ---------------------------------------


def compile_segment_matcher(
    definition: Mapping[str, Any],
) -> Callable[[Mapping[str, Any], dt.datetime], bool]:
    """A predicate `(contact document, as_of) -> bool` for a public segment definition (as
    in `ResolvedAudience.definition`): the in-memory evaluator for dynamic segments, id
    membership for static ones. Parse once, call for many contacts."""
    if definition["type"] == "static":
        members = frozenset(definition.get("contactIds") or ())
        return lambda contact, as_of: contact.get("id") in members
    raw = definition["filter"]
    query = parse_filter(raw.get("datatype"), raw.get("where"))
    return lambda contact, as_of: matches(query, contact, as_of=as_of)


def segment_matches(definition: Mapping[str, Any], contact: Mapping[str, Any], as_of: dt.datetime) -> bool:
    """Whether one stored contact document is in the segment at `as_of` (in memory)."""
    return compile_segment_matcher(definition)(contact, as_of)


# Reach ---------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Reach:
    count: int
    sample: dict[str, Any] | None
    as_of: dt.datetime
    took_ms: float
    unindexed_fields: list[str]
    # The compiled filter, so callers can ask more of the same population (insights).
    contact_filter: dict[str, Any]


def filter_fields(contact_filter: Mapping[str, Any]) -> list[str]:
    """The field paths a MongoDB filter tests (array positions dropped), for index hints."""
    found: set[str] = set()

    def walk(node: Any) -> None:
        if isinstance(node, Mapping):
            for key, value in node.items():
                if key in ("$and", "$or", "$nor") and isinstance(value, list):
                    for item in value:
                        walk(item)
                elif not key.startswith("$"):
                    found.add(".".join(p for p in key.split(".") if not p.isdigit()))

    walk(contact_filter)
    return sorted(found - {"_id", "orgId"})


async def unindexed_fields(db: Database, fields: Sequence[str]) -> list[str]:
    """Fields without an index that has `orgId` first and the field second."""
    indexes = await db.collection(CONTACTS).list_indexes()
    indexed = set()
    for index in indexes:
        keys = list(dict(index.get("key", {})).keys())
        if len(keys) >= 2 and keys[0] == "orgId":
            indexed.add(keys[1])
    return sorted(f for f in set(fields) if f not in indexed)


async def estimate_reach(
    *,
    db: Database,
    scope: TenantScope,
    filter: Mapping[str, Any] | None,
    audience_id: str | None,
    as_of: dt.datetime,
    timeout_ms: int,
) -> Reach:
    """The exact number of contacts matching `filter` (a segment's `{datatype, where}`) or
    the audience `audience_id` now (`$now` resolved against `as_of`), one of them as a
    sample, and which filtered fields lack an index."""
    if (filter is None) == (audience_id is None):
        raise ValidationFailed(
            [ErrorItem("filter_or_segment_id_required", "filter", "send either `filter` or `segmentId`")]
        )
    started = time.perf_counter()
    if filter is not None:
        query = parse_filter(filter.get("datatype"), filter.get("where"))
        contact_filter = compile_query(query, as_of=as_of, backend=db.backend)
        fields = fields_used(query)
    else:
        assert audience_id is not None
        resolved = await resolve_audience(
            db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=timeout_ms
        )
        contact_filter = resolved.contact_filter
        fields = filter_fields(contact_filter)
    reader = ContactReader(db)
    count = await reader.count(scope, contact_filter, timeout_ms=timeout_ms)
    sample = await reader.sample(scope, contact_filter, timeout_ms=timeout_ms) if count else None
    took = round((time.perf_counter() - started) * 1000, 1)
    return Reach(
        count=count,
        sample=sample,
        as_of=as_of,
        took_ms=took,
        unindexed_fields=await unindexed_fields(db, fields),
        contact_filter=dict(contact_filter),
    )


# Members -------------------------------------------------------------------------------


def projection_for(fields: Sequence[str] | None) -> dict[str, Any] | None:
    """`fields=email,country` → a projection that keeps `id` (and `_id` for paging)."""
    if fields is None:
        return None
    problems = []
    for i, name in enumerate(fields):
        segments = name.split(".")
        if (
            not name
            or "$" in name
            or "\x00" in name
            or any(not s for s in segments)
            or name in ("_id", "orgId")
        ):
            problems.append(ErrorItem("invalid_field_name", f"fields[{i}]", f"{name!r} is not a field path"))
    if len(fields) > MAX_PROJECTED_FIELDS:
        problems.append(
            ErrorItem("too_many_fields", "fields", f"at most {MAX_PROJECTED_FIELDS} fields may be selected")
        )
    if problems:
        raise ValidationFailed(problems)
    projection: dict[str, Any] = {"id": 1}
    for name in fields:
        # A parent and its sub-field together collide in MongoDB; the parent covers both.
        if not any(name.startswith(f"{other}.") for other in fields if other != name):
            projection[name] = 1
    return projection


async def _static_list_id(
    *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
) -> str | None:
    """The id list of a static segment (its members are read from it, not by `$in`)."""
    if not audience_id.startswith(SEGMENT_ID_PREFIX):
        return None
    document = await SegmentRepository(db).get(scope, audience_id, timeout_ms=timeout_ms)
    if document is None or document["type"] != "static":
        return None
    return str(document["listId"])


@dataclass(frozen=True, slots=True)
class MemberPage:
    items: list[dict[str, Any]]
    next_after: str | None


async def members_page(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    after: str | None,
    limit: int,
    fields: Sequence[str] | None,
    as_of: dt.datetime,
    timeout_ms: int,
) -> MemberPage:
    """One page of the live members, in contact id order, after contact id `after`."""
    projection = projection_for(fields)
    static = await _static_list_id(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    if static is not None:
        return await _id_list_page(
            db=db,
            scope=scope,
            lists=IdLists(db, SEGMENT_ID_LISTS),
            list_id=static,
            after=after,
            limit=limit,
            projection=projection,
            timeout_ms=timeout_ms,
        )
    resolved = await resolve_audience(
        db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=timeout_ms
    )
    docs = await ContactReader(db).page(
        scope,
        resolved.contact_filter,
        after=after,
        limit=limit + 1,
        projection=projection,
        timeout_ms=timeout_ms,
    )
    more = len(docs) > limit
    docs = docs[:limit]
    return MemberPage(docs, str(docs[-1]["id"]) if more else None)


async def open_members_stream(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    after: str | None,
    fields: Sequence[str] | None,
    as_of: dt.datetime,
    timeout_ms: int,
) -> AsyncIterator[dict[str, Any]]:
    """All live members after `after`, in id order. The audience is resolved before this
    returns (so a bad id fails before any byte is streamed); then contacts are read a page
    of `SCAN_PAGE` at a time, each page its own time-limited query."""
    projection = projection_for(fields)
    static = await _static_list_id(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    if static is not None:
        return _id_list_stream(
            db=db,
            scope=scope,
            lists=IdLists(db, SEGMENT_ID_LISTS),
            list_id=static,
            after=after,
            projection=projection,
            timeout_ms=timeout_ms,
        )
    resolved = await resolve_audience(
        db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=timeout_ms
    )
    reader = ContactReader(db)

    async def stream() -> AsyncIterator[dict[str, Any]]:
        cursor = after
        while True:
            docs = await reader.page(
                scope,
                resolved.contact_filter,
                after=cursor,
                limit=SCAN_PAGE,
                projection=projection,
                timeout_ms=timeout_ms,
            )
            for doc in docs:
                yield doc
            if len(docs) < SCAN_PAGE:
                return
            cursor = str(docs[-1]["id"])

    return stream()


# Snapshots -----------------------------------------------------------------------------


def public_snapshot(document: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "snapshotId": document["id"],
        "segmentId": document["segmentId"],
        "count": document["count"],
        "createdAt": format_instant(document["createdAt"]),
        "expiresAt": format_instant(document["expiresAt"]),
    }


async def create_snapshot(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    now: dt.datetime,
    ttl_days: int,
    timeout_ms: int,
) -> dict[str, Any]:
    """Freeze the audience's member ids at `now`. The ids are written in chunks before the
    snapshot itself, so a snapshot that can be read is always complete."""
    resolved = await resolve_audience(
        db=db, scope=scope, audience_id=audience_id, as_of=now, timeout_ms=timeout_ms
    )
    snapshots = SnapshotRepository(db)
    snapshot_id = new_snapshot_id()
    ttl = dt.timedelta(days=ttl_days)
    expires_at = now + ttl
    # The TTL monitor deletes by the database server's clock: never before `expiresAt`.
    purge_at = max(expires_at, SystemClock().now() + ttl)
    count = await snapshots.ids.write(
        scope,
        snapshot_id,
        matching_ids(db=db, scope=scope, contact_filter=resolved.contact_filter, timeout_ms=timeout_ms),
        purge_at=purge_at,
    )
    document = {
        "id": snapshot_id,
        "segmentId": resolved.id,
        "segmentName": resolved.name,
        "count": count,
        "createdAt": now,
        "expiresAt": expires_at,
        "purgeAt": purge_at,
    }
    await snapshots.insert(scope, document)
    return document


async def get_snapshot(
    *, db: Database, scope: TenantScope, snapshot_id: str, now: dt.datetime, timeout_ms: int
) -> dict[str, Any]:
    """The snapshot; expired ones are gone even before the TTL monitor deletes them."""
    document = None
    if snapshot_id.startswith(SNAPSHOT_ID_PREFIX):
        document = await SnapshotRepository(db).get(scope, snapshot_id, timeout_ms=timeout_ms)
    if document is None or document["expiresAt"] <= now:
        raise SnapshotNotFound(f"No snapshot {snapshot_id!r} in this org (snapshots expire).")
    return document


async def _id_list_page(
    *,
    db: Database,
    scope: TenantScope,
    lists: IdLists,
    list_id: str,
    after: str | None,
    limit: int,
    projection: Mapping[str, Any] | None,
    timeout_ms: int,
) -> MemberPage:
    """A page of the contacts on a frozen id list as they are now, in id order; ids of
    contacts deleted since are skipped (the page is filled from the ids after them)."""
    reader = ContactReader(db)
    items: list[dict[str, Any]] = []
    cursor = after
    while len(items) < limit:
        wanted = await lists.page(
            scope, list_id, after=cursor, limit=limit - len(items), timeout_ms=timeout_ms
        )
        if not wanted:
            return MemberPage(items, None)
        items.extend(await reader.by_ids(scope, wanted, projection=projection, timeout_ms=timeout_ms))
        cursor = wanted[-1]
    more = await lists.page(scope, list_id, after=cursor, limit=1, timeout_ms=timeout_ms)
    return MemberPage(items, cursor if more else None)


def _id_list_stream(
    *,
    db: Database,
    scope: TenantScope,
    lists: IdLists,
    list_id: str,
    after: str | None,
    projection: Mapping[str, Any] | None,
    timeout_ms: int,
) -> AsyncIterator[dict[str, Any]]:
    reader = ContactReader(db)

    async def stream() -> AsyncIterator[dict[str, Any]]:
        async for chunk in lists.chunks(scope, list_id, after=after, timeout_ms=timeout_ms):
            for doc in await reader.by_ids(scope, chunk, projection=projection, timeout_ms=timeout_ms):
                yield doc

    return stream()


async def snapshot_members_page(
    *,
    db: Database,
    scope: TenantScope,
    snapshot_id: str,
    after: str | None,
    limit: int,
    fields: Sequence[str] | None,
    now: dt.datetime,
    timeout_ms: int,
) -> MemberPage:
    """A page of the frozen members as they are now, in id order. Contacts deleted since
    the snapshot are skipped; contacts added since never appear."""
    projection = projection_for(fields)
    await get_snapshot(db=db, scope=scope, snapshot_id=snapshot_id, now=now, timeout_ms=timeout_ms)
    return await _id_list_page(
        db=db,
        scope=scope,
        lists=SnapshotRepository(db).ids,
        list_id=snapshot_id,
        after=after,
        limit=limit,
        projection=projection,
        timeout_ms=timeout_ms,
    )


async def open_snapshot_stream(
    *,
    db: Database,
    scope: TenantScope,
    snapshot_id: str,
    after: str | None,
    fields: Sequence[str] | None,
    now: dt.datetime,
    timeout_ms: int,
) -> AsyncIterator[dict[str, Any]]:
    """Every frozen member after `after`, a chunk of ids at a time (flat memory)."""
    projection = projection_for(fields)
    await get_snapshot(db=db, scope=scope, snapshot_id=snapshot_id, now=now, timeout_ms=timeout_ms)
    return _id_list_stream(
        db=db,
        scope=scope,
        lists=SnapshotRepository(db).ids,
        list_id=snapshot_id,
        after=after,
        projection=projection,
        timeout_ms=timeout_ms,
    )
