"""Every database call about contacts. `_id` is `<orgId>:<id>` so contact ids are unique
per org, lookups by id are primary-key reads, and keyset pages on `_id` stay in id order."""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from audiences.db import Database, IndexSpec, UpdateOne, WriteSummary
from audiences.db.indexes import register_indexes
from audiences.tenancy import TenantScope

CONTACTS = "contacts"
register_indexes(
    CONTACTS,
    # Not unique: `_id` already is, and mongoeco checks unique secondary indexes by a scan
    # of the collection per inserted document (quadratic; 2,000 inserts took 70 s).
    IndexSpec([("orgId", 1), ("id", 1)], name="org_id"),
    IndexSpec([("orgId", 1), ("email", 1)], name="org_email"),
)


def contact_key(scope: TenantScope, contact_id: str) -> str:
    return f"{scope.org_id}:{contact_id}"


class ContactRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(CONTACTS)

    async def get(self, scope: TenantScope, contact_id: str) -> dict[str, Any] | None:
        return await self._col.find_one(scope.filter({"_id": contact_key(scope, contact_id)}))

    async def get_many(self, scope: TenantScope, contact_ids: Sequence[str]) -> list[dict[str, Any]]:
        keys = [contact_key(scope, c) for c in contact_ids]
        return await self._col.find_list(scope.filter({"_id": {"$in": keys}}))

    async def ids_by_email(self, scope: TenantScope, emails: Sequence[str]) -> dict[str, str]:
        if not emails:
            return {}
        docs = await self._col.find_list(
            scope.filter({"email": {"$in": list(emails)}}), projection={"id": 1, "email": 1}
        )
        return {d["email"]: d["id"] for d in docs}

    async def upsert_many(
        self, scope: TenantScope, rows: Sequence[tuple[str, Mapping[str, Any]]]
    ) -> WriteSummary:
        ops = [
            UpdateOne(
                {"_id": contact_key(scope, contact_id), "orgId": scope.org_id},
                {"$set": dict(fields), "$setOnInsert": {"orgId": scope.org_id, "id": contact_id}},
                upsert=True,
            )
            for contact_id, fields in rows
        ]
        return await self._col.bulk_write(ops, ordered=False)

    async def delete(self, scope: TenantScope, contact_id: str) -> bool:
        return await self._col.delete_one(scope.filter({"_id": contact_key(scope, contact_id)})) > 0

    def iterate(self, scope: TenantScope, *, batch_size: int = 1000) -> AsyncIterator[dict[str, Any]]:
        return self._col.find(scope.filter(), sort=[("_id", 1)], batch_size=batch_size)
