"""Every database call custom audiences make. Each method takes the `TenantScope` and adds
`orgId` itself.

Collections:
- `custom_audiences`: one document per audience, `_id = <orgId>:<id>`.
- `custom_audience_members`: stored members (uploads, customer match, lookalikes), one per
  (audience, contact), `_id = <orgId>:<audienceId>:<contactId>` so adding twice is a no-op.
- `custom_audience_rows`: uploaded rows, hashed, one document per upload chunk of up to
  1,000 rows. The rows are write-once, so they are packed into one JSON string (`rows`, see
  `upload.ROW_LAYOUT`): one value to encode instead of ~10,000, which on mongoeco (it checks
  every BSON value in Python) is the difference between 0.9 s and a few ms per chunk.
  `matches` maps a row's position to the contact it matched; `pendingKeys` lists the hashed
  identifiers of rows that matched nobody yet, so a later contact ingest finds them through
  a multikey index.

Lookups by many values use `$in` in slices of `LOOKUP_SLICE`: MongoDB answers each from an
index, and mongoeco's SQLite engine fails on larger `$in` lists ("Expression tree is too
large") and slows down super-linearly well before that.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator, Iterable, Mapping, Sequence
from typing import Any

from audiences.contacts.repository import CONTACTS
from audiences.db import Database, DeleteOne, IndexSpec, UpdateOne
from audiences.db.indexes import register_indexes
from audiences.events.repository import EVENTS
from audiences.tenancy import TenantScope

AUDIENCES = "custom_audiences"
MEMBERS = "custom_audience_members"
ROWS = "custom_audience_rows"
LOOKUP_SLICE = 100
WRITE_SLICE = 1000

register_indexes(
    AUDIENCES,
    IndexSpec([("orgId", 1), ("id", 1)], name="org_id", unique=True),
    IndexSpec([("orgId", 1), ("type", 1), ("id", 1)], name="org_type_id"),
)
register_indexes(
    MEMBERS,
    IndexSpec([("orgId", 1), ("audienceId", 1), ("contactId", 1)], name="org_audience_contact"),
    IndexSpec([("orgId", 1), ("contactId", 1)], name="org_contact"),
)
register_indexes(
    ROWS,
    IndexSpec([("orgId", 1), ("audienceId", 1), ("seq", 1)], name="org_audience_seq"),
    IndexSpec([("orgId", 1), ("pendingKeys", 1)], name="org_pending_keys"),
)
# Upload matching looks contacts up by phone as well as by e-mail and id.
register_indexes(CONTACTS, IndexSpec([("orgId", 1), ("phone", 1)], name="org_phone"))


def _slices[T](values: Sequence[T], size: int = LOOKUP_SLICE) -> Iterable[Sequence[T]]:
    for start in range(0, len(values), size):
        yield values[start : start + size]


class CustomAudienceRepository:
    def __init__(self, db: Database) -> None:
        self._audiences = db.collection(AUDIENCES)
        self._members = db.collection(MEMBERS)
        self._rows = db.collection(ROWS)
        self._contacts = db.collection(CONTACTS)
        self._events = db.collection(EVENTS)

    # --- audiences -------------------------------------------------------------------

    @staticmethod
    def _key(scope: TenantScope, audience_id: str) -> str:
        return f"{scope.org_id}:{audience_id}"

    async def insert(self, scope: TenantScope, audience_id: str, document: dict[str, Any]) -> None:
        await self._audiences.insert_one(
            scope.stamp({"_id": self._key(scope, audience_id), "id": audience_id, **document})
        )

    async def get(self, scope: TenantScope, audience_id: str, *, timeout_ms: int) -> dict[str, Any] | None:
        return await self._audiences.find_one(
            scope.filter({"_id": self._key(scope, audience_id)}), timeout_ms=timeout_ms
        )

    async def page(
        self, scope: TenantScope, *, kind: str | None, after: str | None, limit: int, timeout_ms: int
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {}
        if kind is not None:
            query["type"] = kind
        if after is not None:
            query["id"] = {"$gt": after}
        return await self._audiences.find_list(
            scope.filter(query), sort=[("id", 1)], limit=limit, timeout_ms=timeout_ms
        )

    async def update(
        self,
        scope: TenantScope,
        audience_id: str,
        *,
        set_fields: Mapping[str, Any],
        unset: Iterable[str] = (),
        inc: Mapping[str, int] | None = None,
    ) -> dict[str, Any] | None:
        update: dict[str, Any] = {}
        if set_fields:
            update["$set"] = dict(set_fields)
        if unset:
            update["$unset"] = dict.fromkeys(unset, "")
        if inc:
            update["$inc"] = dict(inc)
        return await self._audiences.find_one_and_update(
            scope.filter({"_id": self._key(scope, audience_id)}), update
        )

    async def delete(self, scope: TenantScope, audience_id: str) -> bool:
        deleted = await self._audiences.delete_one(scope.filter({"_id": self._key(scope, audience_id)}))
        await self._members.delete_many(scope.filter({"audienceId": audience_id}))
        await self._rows.delete_many(scope.filter({"audienceId": audience_id}))
        return deleted > 0

    async def any_pending_rows(self, scope: TenantScope, *, timeout_ms: int) -> bool:
        found = await self._audiences.find_one(
            scope.filter({"pendingCount": {"$gt": 0}}), projection={"_id": 1}, timeout_ms=timeout_ms
        )
        return found is not None

    async def any_stored_members(self, scope: TenantScope, *, timeout_ms: int) -> bool:
        found = await self._audiences.find_one(
            scope.filter({"memberCount": {"$gt": 0}}), projection={"_id": 1}, timeout_ms=timeout_ms
        )
        return found is not None

    # --- members ---------------------------------------------------------------------

    @staticmethod
    def _member_key(scope: TenantScope, audience_id: str, contact_id: str) -> str:
        return f"{scope.org_id}:{audience_id}:{contact_id}"

    async def add_members(
        self,
        scope: TenantScope,
        audience_id: str,
        contact_ids: Iterable[str],
        *,
        source: str,
        at: dt.datetime | None,
    ) -> int:
        """Add contacts as members; returns how many were not members before."""
        added = 0
        ordered = sorted(set(contact_ids))
        for part in _slices(ordered, WRITE_SLICE):
            ops = [
                UpdateOne(
                    {"_id": self._member_key(scope, audience_id, cid), "orgId": scope.org_id},
                    {"$setOnInsert": scope.stamp(self._member(audience_id, cid, source, at))},
                    upsert=True,
                )
                for cid in part
            ]
            added += (await self._members.bulk_write(ops, ordered=False)).upserted
        return added

    @staticmethod
    def _member(audience_id: str, contact_id: str, source: str, at: dt.datetime | None) -> dict[str, Any]:
        member: dict[str, Any] = {"audienceId": audience_id, "contactId": contact_id, "source": source}
        if at is not None:
            member["addedAt"] = at
        return member

    async def remove_members(self, scope: TenantScope, audience_id: str, contact_ids: Sequence[str]) -> None:
        await self.delete_members(scope, [self._member_key(scope, audience_id, cid) for cid in contact_ids])

    def member_ids(self, scope: TenantScope, audience_id: str, *, timeout_ms: int) -> AsyncIterator[str]:
        return self._ids(
            self._members.find(
                scope.filter({"audienceId": audience_id}),
                projection={"contactId": 1, "_id": 0},
                sort=[("contactId", 1)],
                timeout_ms=timeout_ms,
                batch_size=WRITE_SLICE,
            ),
            "contactId",
        )

    @staticmethod
    async def _ids(docs: AsyncIterator[dict[str, Any]], key: str) -> AsyncIterator[str]:
        async for doc in docs:
            yield str(doc[key])

    async def memberships(
        self, scope: TenantScope, contact_ids: Sequence[str], *, timeout_ms: int
    ) -> list[dict[str, Any]]:
        """The member documents (`_id`, `audienceId`, `contactId`) of these contacts."""
        found: list[dict[str, Any]] = []
        for part in _slices(sorted(set(contact_ids))):
            found += await self._members.find_list(
                scope.filter({"contactId": {"$in": list(part)}}),
                projection={"audienceId": 1, "contactId": 1},
                timeout_ms=timeout_ms,
            )
        return found

    async def delete_members(self, scope: TenantScope, member_keys: Sequence[str]) -> None:
        for part in _slices(member_keys, WRITE_SLICE):
            await self._members.bulk_write([DeleteOne(scope.filter({"_id": key})) for key in part])

    # --- uploaded rows ---------------------------------------------------------------

    async def insert_rows(self, scope: TenantScope, document: dict[str, Any]) -> None:
        await self._rows.insert_one(scope.stamp(document))

    def row_batches(
        self, scope: TenantScope, audience_id: str, *, projection: Mapping[str, Any], timeout_ms: int
    ) -> AsyncIterator[dict[str, Any]]:
        return self._rows.find(
            scope.filter({"audienceId": audience_id}),
            projection=dict(projection),
            sort=[("seq", 1)],
            timeout_ms=timeout_ms,
            batch_size=1,
        )

    async def last_row_seq(self, scope: TenantScope, audience_id: str, *, timeout_ms: int) -> int:
        doc = await self._rows.find_one(
            scope.filter({"audienceId": audience_id}),
            projection={"seq": 1},
            sort=[("seq", -1)],
            timeout_ms=timeout_ms,
        )
        return int(doc["seq"]) if doc else 0

    async def batches_pending(
        self, scope: TenantScope, keys: Sequence[str], *, timeout_ms: int
    ) -> list[dict[str, Any]]:
        """Row batches with an unmatched row carrying one of `keys` (hashed identifiers)."""
        found: dict[str, dict[str, Any]] = {}
        for part in _slices(keys):
            for doc in await self._rows.find_list(
                scope.filter({"pendingKeys": {"$in": list(part)}}),
                projection={"audienceId": 1, "rows": 1, "matches": 1, "pendingKeys": 1},
                timeout_ms=timeout_ms,
            ):
                found.setdefault(doc["_id"], doc)
        return [found[k] for k in sorted(found)]

    async def mark_rows_matched(
        self, scope: TenantScope, batch_key: str, *, matches: Mapping[int, str], settled_keys: Sequence[str]
    ) -> None:
        update: dict[str, Any] = {}
        if matches:
            update["$set"] = {f"matches.{i}": cid for i, cid in matches.items()}
        if settled_keys:
            update["$pull"] = {"pendingKeys": {"$in": list(settled_keys)}}
        await self._rows.update_one(scope.filter({"_id": batch_key}), update)

    # --- contacts and events (read-only here) ------------------------------------------

    async def contact_ids_by(
        self, scope: TenantScope, field: str, values: Iterable[str], *, timeout_ms: int
    ) -> dict[str, str]:
        """`field` value → contact id; with several contacts per value the smallest id wins."""
        wanted = sorted(set(values))
        found: dict[str, str] = {}
        for part in _slices(wanted):
            docs = await self._contacts.find_list(
                scope.filter({field: {"$in": list(part)}}),
                projection={"id": 1, field: 1},
                sort=[("id", 1)],
                timeout_ms=timeout_ms,
            )
            for doc in docs:
                value = doc.get(field)
                if isinstance(value, str):
                    found.setdefault(value, str(doc["id"]))
        return found

    async def contacts_by_ids(
        self, scope: TenantScope, contact_ids: Sequence[str], *, fields: Sequence[str], timeout_ms: int
    ) -> list[dict[str, Any]]:
        out: list[dict[str, Any]] = []
        projection = dict.fromkeys(("id", *fields), 1)
        for part in _slices(sorted(set(contact_ids))):
            out += await self._contacts.find_list(
                scope.filter({"id": {"$in": list(part)}}), projection=projection, timeout_ms=timeout_ms
            )
        return sorted(out, key=lambda d: str(d["id"]))

    def contacts(
        self, scope: TenantScope, query: Mapping[str, Any], *, fields: Sequence[str], timeout_ms: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Contacts matching `query`, in id order, streamed."""
        return self._contacts.find(
            scope.filter(dict(query)),
            projection=dict.fromkeys(("id", *fields), 1),
            sort=[("id", 1)],
            timeout_ms=timeout_ms,
            batch_size=WRITE_SLICE,
        )

    async def count_contacts(self, scope: TenantScope, query: Mapping[str, Any], *, timeout_ms: int) -> int:
        return await self._contacts.count(scope.filter(dict(query)), timeout_ms=timeout_ms)

    def event_mix(
        self, scope: TenantScope, *, since: dt.datetime, until: dt.datetime, timeout_ms: int
    ) -> AsyncIterator[dict[str, Any]]:
        """Per user with events in [since, until]: the event names and how many events,
        in user id order (so it can be merged with a contact stream in id order)."""
        return self._events.aggregate(
            [
                {"$match": scope.filter({"ts": {"$gte": since, "$lte": until}})},
                {"$group": {"_id": "$userId", "names": {"$addToSet": "$name"}, "n": {"$sum": 1}}},
                {"$sort": {"_id": 1}},
            ],
            timeout_ms=timeout_ms,
        )

    async def pixel_user_ids(
        self,
        scope: TenantScope,
        *,
        pixel_ids: Sequence[str | int],
        event_names: Sequence[str],
        since: dt.datetime,
        until: dt.datetime,
        timeout_ms: int,
    ) -> list[str]:
        query = {
            "name": {"$in": list(event_names)},
            "ts": {"$gte": since, "$lte": until},
            "properties.pixelId": {"$in": list(pixel_ids)},
        }
        return sorted(
            str(u) for u in await self._events.distinct("userId", scope.filter(query), timeout_ms=timeout_ms)
        )
