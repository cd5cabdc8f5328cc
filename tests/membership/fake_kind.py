"""A tiny audience kind for tracking tests, evaluated both in memory and by a MongoDB query.

A definition is a member test over one contact field and one event name:
"`field` equals `value` (when set) AND `event` fired in the last `days` days (ever when
`days` is None; when `event` is set) AND the contact is in `contactIds` (when set)".
Events after `as_of` do not count. Definitions live in the `fake_definitions` collection.
"""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from audiences.db import Database
from audiences.errors import QueryTimeout
from audiences.membership.adapters import TrackedDefinition
from audiences.membership.model import AudienceKind
from audiences.tenancy import TenantScope

DEFINITIONS = "fake_definitions"


@dataclass
class Gate:
    """Holds `members` after `after` ids until `release` is set; `reached` says it is held."""

    after: int
    reached: asyncio.Event = field(default_factory=asyncio.Event)
    release: asyncio.Event = field(default_factory=asyncio.Event)


@dataclass
class FakeKind:
    kind: AudienceKind
    # (audience id, subject ids) of every `evaluate_subjects` call.
    evaluated: list[tuple[str, list[str]]] = field(default_factory=list)
    gates: dict[str, Gate] = field(default_factory=dict)

    async def _doc(self, db: Database, scope: TenantScope, audience_id: str) -> dict[str, Any] | None:
        return await db.collection(DEFINITIONS).find_one(
            scope.filter({"_id": f"{scope.org_id}:{self.kind}:{audience_id}"})
        )

    def _tracked(self, doc: dict[str, Any]) -> TrackedDefinition:
        ids = doc.get("contactIds")
        return TrackedDefinition(
            kind=self.kind,
            audience_id=doc["id"],
            name=doc["name"],
            version=int(doc["version"]),
            fields=frozenset({doc["field"]} if doc.get("field") else ()),
            events=frozenset({doc["event"]} if doc.get("event") else ()),
            time_dependent=doc.get("days") is not None,
            matches_empty=not doc.get("field") and not doc.get("event") and ids is None,
            subject_ids=frozenset(ids) if ids is not None else None,
        )

    async def list_definitions(
        self, *, db: Database, scope: TenantScope, timeout_ms: int
    ) -> list[TrackedDefinition]:
        docs = await db.collection(DEFINITIONS).find_list(
            scope.filter({"kind": self.kind}), timeout_ms=timeout_ms
        )
        return [self._tracked(d) for d in docs]

    async def get_definition(
        self, *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
    ) -> TrackedDefinition | None:
        doc = await self._doc(db, scope, audience_id)
        return self._tracked(doc) if doc else None

    async def _required(self, db: Database, scope: TenantScope, audience_id: str) -> dict[str, Any]:
        doc = await self._doc(db, scope, audience_id)
        if doc is None:
            from audiences.membership.errors import AudienceNotFound

            raise AudienceNotFound(f"No audience {audience_id!r} in this org.")
        return doc

    async def evaluate_subjects(
        self,
        *,
        db: Database,
        scope: TenantScope,
        audience_id: str,
        subject_ids: Sequence[str],
        as_of: dt.datetime,
        timeout_ms: int,
    ) -> dict[str, bool]:
        self.evaluated.append((audience_id, list(subject_ids)))
        doc = await self._required(db, scope, audience_id)
        keys = [f"{scope.org_id}:{s}" for s in subject_ids]
        contacts = {
            c["id"]: c
            for c in await db.collection("contacts").find_list(
                scope.filter({"_id": {"$in": keys}}), timeout_ms=timeout_ms
            )
        }
        fired: set[str] = set()
        if doc.get("event"):
            since = as_of - dt.timedelta(days=doc["days"]) if doc.get("days") is not None else None
            for e in await db.collection("events").find_list(
                scope.filter({"userId": {"$in": list(subject_ids)}, "name": doc["event"]}),
                timeout_ms=timeout_ms,
            ):
                if e["ts"] <= as_of and (since is None or e["ts"] >= since):
                    fired.add(e["userId"])
        answers: dict[str, bool] = {}
        for subject in subject_ids:
            contact = contacts.get(subject)
            answers[subject] = (
                contact is not None
                and (not doc.get("field") or contact.get(doc["field"]) == doc.get("value"))
                and (not doc.get("event") or subject in fired)
                and (doc.get("contactIds") is None or subject in doc["contactIds"])
            )
        return answers

    async def members(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> AsyncIterator[str]:
        doc = await self._required(db, scope, audience_id)
        if doc.get("fails"):
            raise QueryTimeout()
        query: dict[str, Any] = {}
        if doc.get("field"):
            query[doc["field"]] = doc.get("value")
        ids: set[str] | None = set(doc["contactIds"]) if doc.get("contactIds") is not None else None
        if doc.get("event"):
            window: dict[str, Any] = {"$lte": as_of}
            if doc.get("days") is not None:
                window["$gte"] = as_of - dt.timedelta(days=doc["days"])
            users = await db.collection("events").distinct(
                "userId", scope.filter({"name": doc["event"], "ts": window}), timeout_ms=timeout_ms
            )
            ids = set(users) if ids is None else ids & set(users)
        if ids is not None:
            query["id"] = {"$in": sorted(ids)}
        gate = self.gates.get(audience_id)
        count = 0
        async for contact in db.collection("contacts").find(
            scope.filter(query), projection={"id": 1}, sort=[("_id", 1)], timeout_ms=timeout_ms
        ):
            if gate is not None and count == gate.after:
                gate.reached.set()
                await gate.release.wait()
            count += 1
            yield contact["id"]


async def save_definition(
    db: Database,
    scope: TenantScope,
    kind: AudienceKind,
    audience_id: str,
    *,
    name: str | None = None,
    **definition: Any,
) -> int:
    """Create or replace a fake definition; returns its new version."""
    col = db.collection(DEFINITIONS)
    key = f"{scope.org_id}:{kind}:{audience_id}"
    previous = await col.find_one({"_id": key})
    version = int(previous["version"]) + 1 if previous else 1
    doc = {"_id": key, "kind": kind, "id": audience_id, "name": name or audience_id, "version": version}
    await col.replace_one({"_id": key}, scope.stamp(doc | definition), upsert=True)
    return version


async def delete_definition(db: Database, scope: TenantScope, kind: AudienceKind, audience_id: str) -> None:
    await db.collection(DEFINITIONS).delete_one({"_id": f"{scope.org_id}:{kind}:{audience_id}"})
