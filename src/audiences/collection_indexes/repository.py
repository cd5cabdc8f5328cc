"""Which indexes each org asked for (`collection_index_requests`)."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from audiences.db import Database, IndexSpec
from audiences.db.indexes import register_indexes
from audiences.tenancy import TenantScope

INDEX_REQUESTS = "collection_index_requests"
register_indexes(
    INDEX_REQUESTS, IndexSpec([("orgId", 1), ("collection", 1), ("name", 1)], name="org_collection")
)


class IndexRequestRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(INDEX_REQUESTS)

    async def record(
        self,
        scope: TenantScope,
        *,
        collection: str,
        name: str,
        keys: Sequence[tuple[str, int]],
        unique: bool,
        now: dt.datetime,
    ) -> None:
        key = f"{scope.org_id}:{collection}:{name}"
        await self._col.update_one(
            scope.filter({"_id": key}),
            {
                "$setOnInsert": scope.stamp(
                    {
                        "collection": collection,
                        "name": name,
                        "keys": [list(k) for k in keys],
                        "unique": unique,
                    }
                )
                | {"createdAt": now}
            },
            upsert=True,
        )

    async def list(self, scope: TenantScope) -> list[dict[str, Any]]:
        return await self._col.find_list(scope.filter(), sort=[("collection", 1), ("name", 1)])

    async def has(self, scope: TenantScope, *, collection: str, name: str) -> bool:
        found = await self._col.find_one(scope.filter({"collection": collection, "name": name}))
        return found is not None

    async def count(self, scope: TenantScope) -> int:
        return await self._col.count(scope.filter())
