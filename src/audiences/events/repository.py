"""Every database call about events. An event with the caller's `eventId` is stored under
`_id = <orgId>:<eventId>`, so sending it twice stores it once."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from audiences.db import Database, IndexSpec, WriteSummary
from audiences.db.indexes import register_indexes
from audiences.tenancy import TenantScope

EVENTS = "events"
register_indexes(
    EVENTS,
    # Per-subject reads (evaluate, trigger tracking) and contacts-first joins.
    IndexSpec([("orgId", 1), ("userId", 1), ("name", 1), ("ts", 1)], name="org_user_name_ts"),
    # Events-first plans: the named events in a window.
    IndexSpec([("orgId", 1), ("name", 1), ("ts", 1)], name="org_name_ts"),
)


class EventRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(EVENTS)

    async def insert_many(self, scope: TenantScope, events: Sequence[dict[str, Any]]) -> WriteSummary:
        return await self._col.insert_many([scope.stamp(e) for e in events], ordered=False)

    async def for_user(
        self,
        scope: TenantScope,
        user_id: str,
        *,
        names: Sequence[str] | None = None,
        timeout_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"userId": user_id}
        if names is not None:
            query["name"] = {"$in": list(names)}
        return await self._col.find_list(scope.filter(query), sort=[("ts", 1)], timeout_ms=timeout_ms)

    async def for_users(
        self,
        scope: TenantScope,
        user_ids: Sequence[str],
        *,
        names: Sequence[str] | None = None,
        timeout_ms: int | None = None,
    ) -> list[dict[str, Any]]:
        query: dict[str, Any] = {"userId": {"$in": list(user_ids)}}
        if names is not None:
            query["name"] = {"$in": list(names)}
        return await self._col.find_list(scope.filter(query), timeout_ms=timeout_ms)

    async def delete_for_user(self, scope: TenantScope, user_id: str) -> int:
        return await self._col.delete_many(scope.filter({"userId": user_id}))
