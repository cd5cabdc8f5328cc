"""Every database call of journey audiences and cohorts.

Audiences and cohorts are keyed `_id = <orgId>:<id>`, so ids are unique per org by the
primary key on both backends (a unique compound index would do the same, but on the
embedded backend each insert into one costs a scan of the collection). `cohortIds` holds
the cohorts a definition names directly, indexed, to answer "is this cohort in use".
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Mapping, Sequence
from typing import Any

from audiences.contacts.repository import ContactRepository
from audiences.db import Database, IndexSpec
from audiences.db.indexes import register_indexes
from audiences.events.repository import EventRepository
from audiences.predicates import CompiledPredicate
from audiences.tenancy import TenantScope

AUDIENCES = "journey_audiences"
COHORTS = "cohorts"
register_indexes(
    AUDIENCES,
    IndexSpec([("orgId", 1), ("createdAt", -1)], name="org_created"),
    IndexSpec([("orgId", 1), ("cohortIds", 1)], name="org_cohorts"),
)
register_indexes(COHORTS, IndexSpec([("orgId", 1), ("cohortIds", 1)], name="org_cohorts"))


def _key(scope: TenantScope, item_id: str) -> str:
    return f"{scope.org_id}:{item_id}"


class DefinitionRepository:
    """Audiences or cohorts: the same storage shape, in two collections."""

    def __init__(self, db: Database, collection: str) -> None:
        self._col = db.collection(collection)

    async def insert(self, scope: TenantScope, document: dict[str, Any]) -> None:
        """Raises `DuplicateKeyError` when the id is taken in this org."""
        await self._col.insert_one(scope.stamp({"_id": _key(scope, document["id"]), **document}))

    async def get(self, scope: TenantScope, item_id: str, *, timeout_ms: int) -> dict[str, Any] | None:
        return await self._col.find_one(scope.filter({"_id": _key(scope, item_id)}), timeout_ms=timeout_ms)

    async def get_many(
        self, scope: TenantScope, item_ids: Sequence[str], *, timeout_ms: int
    ) -> list[dict[str, Any]]:
        keys = [_key(scope, i) for i in item_ids]
        return await self._col.find_list(scope.filter({"_id": {"$in": keys}}), timeout_ms=timeout_ms)

    async def list_all(
        self, scope: TenantScope, *, where: Mapping[str, Any] | None = None, timeout_ms: int
    ) -> list[dict[str, Any]]:
        return await self._col.find_list(
            scope.filter(dict(where or {})), sort=[("createdAt", -1), ("id", 1)], timeout_ms=timeout_ms
        )

    async def replace(self, scope: TenantScope, document: dict[str, Any]) -> bool:
        key = _key(scope, document["id"])
        summary = await self._col.replace_one(
            scope.filter({"_id": key}), scope.stamp({"_id": key, **document})
        )
        return summary.matched > 0

    async def delete(self, scope: TenantScope, item_id: str) -> bool:
        return await self._col.delete_one(scope.filter({"_id": _key(scope, item_id)})) > 0

    async def ids_using_cohorts(
        self, scope: TenantScope, cohort_ids: Sequence[str], *, timeout_ms: int
    ) -> list[str]:
        """Ids of the definitions that name any of these cohorts directly."""
        docs = await self._col.find_list(
            scope.filter({"cohortIds": {"$in": list(cohort_ids)}}),
            projection={"id": 1},
            sort=[("id", 1)],
            timeout_ms=timeout_ms,
        )
        return [str(d["id"]) for d in docs]

    async def bump_versions(self, scope: TenantScope, item_ids: Sequence[str]) -> None:
        """What these definitions mean changed (a cohort they use was edited)."""
        keys = [_key(scope, i) for i in item_ids]
        await self._col.update_many(scope.filter({"_id": {"$in": keys}}), {"$inc": {"version": 1}})


class SubjectRepository:
    """Contacts (subjects) and their events, as the evaluator and the pipelines read them."""

    def __init__(self, db: Database) -> None:
        self._db = db
        self._contacts = ContactRepository(db)
        self._events = EventRepository(db)

    async def contact(self, scope: TenantScope, subject_id: str) -> dict[str, Any] | None:
        return await self._contacts.get(scope, subject_id)

    async def contacts(self, scope: TenantScope, subject_ids: Sequence[str]) -> list[dict[str, Any]]:
        return await self._contacts.get_many(scope, subject_ids) if subject_ids else []

    async def events(
        self, scope: TenantScope, subject_ids: Sequence[str], names: Sequence[str], *, timeout_ms: int
    ) -> list[dict[str, Any]]:
        """The subjects' events with these names, in one query."""
        if not names or not subject_ids:
            return []
        if len(subject_ids) == 1:
            return await self._events.for_user(scope, subject_ids[0], names=names, timeout_ms=timeout_ms)
        return await self._events.for_users(scope, subject_ids, names=names, timeout_ms=timeout_ms)

    async def run(
        self,
        scope: TenantScope,
        compiled: CompiledPredicate,
        stages: list[dict[str, Any]],
        *,
        timeout_ms: int,
    ) -> list[dict[str, Any]]:
        """Run one of `compiled`'s pipelines (its `$match` stages carry the scope's orgId)."""
        return await self._db.collection(compiled.collection).aggregate_list(stages, timeout_ms=timeout_ms)

    def stream(
        self,
        scope: TenantScope,
        compiled: CompiledPredicate,
        stages: list[dict[str, Any]],
        *,
        timeout_ms: int,
    ) -> AsyncIterator[dict[str, Any]]:
        return self._db.collection(compiled.collection).aggregate(stages, timeout_ms=timeout_ms)
