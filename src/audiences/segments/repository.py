"""Every database call of the segments feature. Each method takes the `TenantScope` and
adds `orgId` itself.

Collections:
- `segments`: `{_id: "<orgId>:<id>", orgId, id, name, description, type, filterJson,
  listId, contactCount, createdAt, updatedAt}`. The filter is kept as its JSON text, so
  it comes back exactly as sent and no `$` key is ever stored as a field name.
- `segment_id_lists`: the contact ids of static segments, sorted, in chunks of
  `CHUNK_SIZE` (`{listId, seq, first, last, ids}`); a segment points at its current list.
- `snapshots` (`{id, segmentId, count, createdAt, expiresAt, purgeAt, ...}`) and
  `snapshot_chunks` (the frozen member ids, like a static list). A snapshot is gone for
  callers at `expiresAt` (the service's clock); the TTL index deletes both at `purgeAt`,
  which is never earlier (the TTL monitor runs on the database server's clock).
- `contacts` is read here through `ContactReader` (filters come from `resolve_audience`).
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from audiences.contacts.repository import CONTACTS, contact_key
from audiences.db import Database, IndexSpec
from audiences.db.indexes import register_indexes
from audiences.tenancy import TenantScope

SEGMENTS = "segments"
SEGMENT_ID_LISTS = "segment_id_lists"
SNAPSHOTS = "snapshots"
SNAPSHOT_CHUNKS = "snapshot_chunks"
CHUNK_SIZE = 5_000

register_indexes(
    SEGMENTS,
    IndexSpec([("orgId", 1), ("createdAt", -1), ("id", -1)], name="org_created"),
)
register_indexes(
    SEGMENT_ID_LISTS,
    IndexSpec([("orgId", 1), ("listId", 1), ("seq", 1)], name="org_list_seq"),
)
register_indexes(
    SNAPSHOTS,
    IndexSpec([("purgeAt", 1)], name="ttl_purge", expire_after_seconds=0),
)
register_indexes(
    SNAPSHOT_CHUNKS,
    IndexSpec([("orgId", 1), ("listId", 1), ("seq", 1)], name="org_list_seq"),
    IndexSpec([("purgeAt", 1)], name="ttl_purge", expire_after_seconds=0),
)


def _key(scope: TenantScope, *parts: str) -> str:
    return ":".join((scope.org_id, *parts))


class SegmentRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(SEGMENTS)

    async def get(self, scope: TenantScope, segment_id: str, *, timeout_ms: int) -> dict[str, Any] | None:
        return await self._col.find_one(scope.filter({"_id": _key(scope, segment_id)}), timeout_ms=timeout_ms)

    async def insert(self, scope: TenantScope, document: Mapping[str, Any]) -> None:
        await self._col.insert_one(scope.stamp({**document, "_id": _key(scope, str(document["id"]))}))

    async def replace(self, scope: TenantScope, document: Mapping[str, Any]) -> bool:
        key = _key(scope, str(document["id"]))
        summary = await self._col.replace_one(
            scope.filter({"_id": key}), scope.stamp({**document, "_id": key})
        )
        return summary.matched > 0

    async def delete(self, scope: TenantScope, segment_id: str) -> bool:
        return await self._col.delete_one(scope.filter({"_id": _key(scope, segment_id)})) > 0

    async def page(
        self,
        scope: TenantScope,
        *,
        after: tuple[dt.datetime, str] | None,
        kind: str | None,
        name_pattern: str | None,
        limit: int,
        timeout_ms: int,
    ) -> list[dict[str, Any]]:
        """Newest first (then by id, descending); `after` is the last (createdAt, id) seen."""
        clauses: list[dict[str, Any]] = []
        if kind is not None:
            clauses.append({"type": kind})
        if name_pattern is not None:
            clauses.append({"name": {"$regex": name_pattern, "$options": "i"}})
        if after is not None:
            created, last_id = after
            clauses.append(
                {"$or": [{"createdAt": {"$lt": created}}, {"createdAt": created, "id": {"$lt": last_id}}]}
            )
        query: dict[str, Any] = {"$and": clauses} if clauses else {}
        return await self._col.find_list(
            scope.filter(query), sort=[("createdAt", -1), ("id", -1)], limit=limit, timeout_ms=timeout_ms
        )

    def iterate(self, scope: TenantScope, *, timeout_ms: int) -> AsyncIterator[dict[str, Any]]:
        """Every segment of the org (membership tracking lists definitions with it)."""
        return self._col.find(scope.filter(), sort=[("_id", 1)], timeout_ms=timeout_ms, batch_size=500)


class IdLists:
    """Sorted lists of contact ids stored in chunks (static segments, snapshots)."""

    def __init__(self, db: Database, collection: str) -> None:
        self._col = db.collection(collection)

    async def write(
        self,
        scope: TenantScope,
        list_id: str,
        ids: AsyncIterator[Sequence[str]],
        *,
        purge_at: dt.datetime | None = None,
    ) -> int:
        """Store `ids` (batches, already sorted and distinct) as `list_id`; the count stored."""
        total = 0
        seq = 0
        pending: list[str] = []

        async def flush(chunk: list[str]) -> None:
            nonlocal seq
            document: dict[str, Any] = {
                "_id": _key(scope, list_id, f"{seq:06d}"),
                "listId": list_id,
                "seq": seq,
                "first": chunk[0],
                "last": chunk[-1],
                "ids": chunk,
            }
            if purge_at is not None:
                document["purgeAt"] = purge_at
            await self._col.insert_one(scope.stamp(document))
            seq += 1

        async for batch in ids:
            pending.extend(batch)
            total += len(batch)
            while len(pending) >= CHUNK_SIZE:
                await flush(pending[:CHUNK_SIZE])
                pending = pending[CHUNK_SIZE:]
        if pending:
            await flush(pending)
        return total

    async def delete(self, scope: TenantScope, list_id: str) -> None:
        await self._col.delete_many(scope.filter({"listId": list_id}))

    async def chunks(
        self, scope: TenantScope, list_id: str, *, after: str | None, timeout_ms: int
    ) -> AsyncIterator[list[str]]:
        """The ids after `after` (all when None), one chunk at a time, in order."""
        query: dict[str, Any] = {"listId": list_id}
        if after is not None:
            query["last"] = {"$gt": after}
        async for chunk in self._col.find(
            scope.filter(query),
            projection={"ids": 1},
            sort=[("seq", 1)],
            timeout_ms=timeout_ms,
            batch_size=1,
        ):
            ids: list[str] = chunk["ids"]
            yield [i for i in ids if after is None or i > after]

    async def page(
        self, scope: TenantScope, list_id: str, *, after: str | None, limit: int, timeout_ms: int
    ) -> list[str]:
        """Up to `limit` ids after `after`, in order."""
        out: list[str] = []
        query: dict[str, Any] = {"listId": list_id}
        if after is not None:
            query["last"] = {"$gt": after}
        chunks = await self._col.find_list(
            scope.filter(query),
            projection={"ids": 1},
            sort=[("seq", 1)],
            limit=limit // CHUNK_SIZE + 2,
            timeout_ms=timeout_ms,
        )
        for chunk in chunks:
            out.extend(i for i in chunk["ids"] if after is None or i > after)
            if len(out) >= limit:
                break
        return out[:limit]

    async def all_ids(self, scope: TenantScope, list_id: str, *, timeout_ms: int) -> list[str]:
        return [
            i async for chunk in self.chunks(scope, list_id, after=None, timeout_ms=timeout_ms) for i in chunk
        ]


class SnapshotRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(SNAPSHOTS)
        self.ids = IdLists(db, SNAPSHOT_CHUNKS)

    async def insert(self, scope: TenantScope, document: Mapping[str, Any]) -> None:
        await self._col.insert_one(scope.stamp({**document, "_id": _key(scope, str(document["id"]))}))

    async def get(self, scope: TenantScope, snapshot_id: str, *, timeout_ms: int) -> dict[str, Any] | None:
        return await self._col.find_one(
            scope.filter({"_id": _key(scope, snapshot_id)}), timeout_ms=timeout_ms
        )


class ContactReader:
    """Reads of the `contacts` collection under a filter from `resolve_audience`. Pages are
    keyset pages on `_id` (`<orgId>:<id>`), so they follow contact id order."""

    def __init__(self, db: Database) -> None:
        self._col = db.collection(CONTACTS)

    @staticmethod
    def _scoped(scope: TenantScope, contact_filter: Mapping[str, Any], after: str | None) -> dict[str, Any]:
        if after is None:
            return scope.filter(dict(contact_filter))
        keyset = {"_id": {"$gt": contact_key(scope, after)}}
        if "_id" in contact_filter:
            return scope.filter({"$and": [dict(contact_filter), keyset]})
        return scope.filter({**contact_filter, **keyset})

    async def count(self, scope: TenantScope, contact_filter: Mapping[str, Any], *, timeout_ms: int) -> int:
        return await self._col.count(self._scoped(scope, contact_filter, None), timeout_ms=timeout_ms)

    async def sample(
        self, scope: TenantScope, contact_filter: Mapping[str, Any], *, timeout_ms: int
    ) -> dict[str, Any] | None:
        return await self._col.find_one(self._scoped(scope, contact_filter, None), timeout_ms=timeout_ms)

    async def page(
        self,
        scope: TenantScope,
        contact_filter: Mapping[str, Any],
        *,
        after: str | None,
        limit: int,
        projection: Mapping[str, Any] | None,
        timeout_ms: int,
    ) -> list[dict[str, Any]]:
        return await self._col.find_list(
            self._scoped(scope, contact_filter, after),
            projection=projection,
            sort=[("_id", 1)],
            limit=limit,
            timeout_ms=timeout_ms,
        )

    async def by_ids(
        self,
        scope: TenantScope,
        contact_ids: Sequence[str],
        *,
        projection: Mapping[str, Any] | None,
        timeout_ms: int,
    ) -> list[dict[str, Any]]:
        """The contacts among `contact_ids` that exist, in id order."""
        if not contact_ids:
            return []
        keys = [contact_key(scope, c) for c in contact_ids]
        return await self._col.find_list(
            scope.filter({"_id": {"$in": keys}}),
            projection=projection,
            sort=[("_id", 1)],
            timeout_ms=timeout_ms,
        )

    async def existing_ids(
        self, scope: TenantScope, contact_ids: Iterable[str], *, timeout_ms: int
    ) -> set[str]:
        wanted = list(dict.fromkeys(contact_ids))
        found: set[str] = set()
        for start in range(0, len(wanted), CHUNK_SIZE):
            docs = await self.by_ids(
                scope, wanted[start : start + CHUNK_SIZE], projection={"id": 1}, timeout_ms=timeout_ms
            )
            found.update(str(d["id"]) for d in docs)
        return found
