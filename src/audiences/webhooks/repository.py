"""Every database call about webhooks and their deliveries.

`webhooks`: `{_id: "wh_…", orgId, url, events, audienceIds, secret, createdAt}` (the
secret is kept to sign deliveries and never shown again after creation).
`webhook_deliveries`: one document per (change, webhook), `_id` derived from both so
enqueuing twice stores one; `state` pending → delivered | failed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from audiences.db import Database, IndexSpec
from audiences.db.indexes import register_indexes
from audiences.tenancy import TenantScope

WEBHOOKS = "webhooks"
DELIVERIES = "webhook_deliveries"

register_indexes(WEBHOOKS, IndexSpec([("orgId", 1), ("createdAt", 1), ("_id", 1)], name="org_created"))
register_indexes(
    DELIVERIES,
    IndexSpec([("orgId", 1), ("webhookId", 1), ("createdAt", 1), ("_id", 1)], name="org_webhook_created"),
    # The worker's queue: pending deliveries of every org by due time (single field; used
    # by MongoDB), and by state (the embedded backend answers only equality from indexes).
    IndexSpec([("nextAttemptAt", 1)], name="due", partial_filter={"state": "pending"}),
    IndexSpec([("state", 1)], name="state"),
    # Retention: finished deliveries are purged after RETENTION (by the app's clock, not a
    # TTL index, whose wall clock tests could not pin).
    IndexSpec([("finishedAt", 1)], name="finished"),
)


def _after(key: tuple[dt.datetime, str] | None, *, newest_first: bool) -> dict[str, Any]:
    """Keyset condition for pages sorted on (createdAt, _id)."""
    if key is None:
        return {}
    op = "$lt" if newest_first else "$gt"
    created, last_id = key
    return {"$or": [{"createdAt": {op: created}}, {"createdAt": created, "_id": {op: last_id}}]}


class WebhookRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(WEBHOOKS)

    async def insert(self, scope: TenantScope, doc: dict[str, Any]) -> None:
        await self._col.insert_one(scope.stamp(doc))

    async def count(self, scope: TenantScope, *, timeout_ms: int) -> int:
        return await self._col.count(scope.filter(), timeout_ms=timeout_ms)

    async def get(self, scope: TenantScope, webhook_id: str, *, timeout_ms: int) -> dict[str, Any] | None:
        return await self._col.find_one(scope.filter({"_id": webhook_id}), timeout_ms=timeout_ms)

    async def get_many(
        self, scope: TenantScope, webhook_ids: Sequence[str], *, timeout_ms: int
    ) -> list[dict[str, Any]]:
        return await self._col.find_list(
            scope.filter({"_id": {"$in": list(webhook_ids)}}), timeout_ms=timeout_ms
        )

    async def all(self, scope: TenantScope, *, timeout_ms: int) -> list[dict[str, Any]]:
        return await self._col.find_list(
            scope.filter(), sort=[("createdAt", 1), ("_id", 1)], timeout_ms=timeout_ms
        )

    async def page(
        self, scope: TenantScope, *, after: tuple[dt.datetime, str] | None, limit: int, timeout_ms: int
    ) -> list[dict[str, Any]]:
        return await self._col.find_list(
            scope.filter(_after(after, newest_first=False)),
            sort=[("createdAt", 1), ("_id", 1)],
            limit=limit,
            timeout_ms=timeout_ms,
        )

    async def delete(self, scope: TenantScope, webhook_id: str) -> bool:
        return await self._col.delete_one(scope.filter({"_id": webhook_id})) > 0


class DeliveryRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(DELIVERIES)

    async def insert(self, scope: TenantScope, docs: Sequence[dict[str, Any]]) -> int:
        """Store deliveries; one whose `_id` is already stored is skipped. Returns how many are new."""
        summary = await self._col.insert_many([scope.stamp(d) for d in docs], ordered=False)
        return summary.inserted

    async def page(
        self,
        scope: TenantScope,
        webhook_id: str,
        *,
        state: str | None,
        after: tuple[dt.datetime, str] | None,
        limit: int,
        timeout_ms: int,
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"webhookId": webhook_id} | _after(after, newest_first=True)
        if state is not None:
            query["state"] = state
        return await self._col.find_list(
            scope.filter(query), sort=[("createdAt", -1), ("_id", -1)], limit=limit, timeout_ms=timeout_ms
        )

    async def delete_for_webhook(self, scope: TenantScope, webhook_id: str) -> int:
        return await self._col.delete_many(scope.filter({"webhookId": webhook_id}))

    async def due(self, *, now: dt.datetime, limit: int, timeout_ms: int) -> list[dict[str, Any]]:
        """Pending deliveries of every org whose next try is due (the worker; system-wide)."""
        return await self._col.find_list(
            {"state": "pending", "nextAttemptAt": {"$lte": now}},
            sort=[("nextAttemptAt", 1)],
            limit=limit,
            timeout_ms=timeout_ms,
        )

    async def due_orgs(self, *, now: dt.datetime, timeout_ms: int) -> list[str]:
        """Orgs with a pending delivery due at `now` (the worker shares its slots between them)."""
        found = await self._col.distinct(
            "orgId", {"state": "pending", "nextAttemptAt": {"$lte": now}}, timeout_ms=timeout_ms
        )
        return sorted(str(o) for o in found)

    async def due_for_org(
        self, scope: TenantScope, *, now: dt.datetime, limit: int, timeout_ms: int
    ) -> list[dict[str, Any]]:
        """One org's pending deliveries whose next try is due, earliest first."""
        return await self._col.find_list(
            scope.filter({"state": "pending", "nextAttemptAt": {"$lte": now}}),
            sort=[("nextAttemptAt", 1)],
            limit=limit,
            timeout_ms=timeout_ms,
        )

    async def next_due_at(self, *, timeout_ms: int) -> dt.datetime | None:
        """When the earliest pending delivery of any org is due (the worker's idle wait)."""
        docs = await self._col.find_list(
            {"state": "pending"},
            projection={"nextAttemptAt": 1},
            sort=[("nextAttemptAt", 1)],
            limit=1,
            timeout_ms=timeout_ms,
        )
        return docs[0]["nextAttemptAt"] if docs else None

    async def purge_finished(self, *, before: dt.datetime) -> int:
        """Delete delivered or failed deliveries of every org finished before `before`."""
        return await self._col.delete_many(
            {"finishedAt": {"$lt": before}, "state": {"$in": ["delivered", "failed"]}}
        )

    async def claim(self, doc: dict[str, Any], *, claim: str, until: dt.datetime) -> bool:
        """Take a due delivery for one try. Pushing `nextAttemptAt` to `until` hides it from
        other workers meanwhile; if this process dies mid-try it becomes due again then."""
        summary = await self._col.update_one(
            {
                "_id": doc["_id"],
                "orgId": doc["orgId"],
                "state": "pending",
                "nextAttemptAt": doc["nextAttemptAt"],
            },
            {"$set": {"nextAttemptAt": until, "claim": claim}},
        )
        return summary.modified > 0

    async def record_attempt(self, doc: dict[str, Any], *, claim: str, changes: dict[str, Any]) -> None:
        await self._col.update_one(
            {"_id": doc["_id"], "orgId": doc["orgId"], "claim": claim},
            {"$set": changes, "$unset": {"claim": ""}},
        )
