"""Every database call about membership state, the change log and recompute jobs.

Collections:
- `membership_state`: one document per (org, audience kind, audience, subject) that has
  ever been a member: `{in, since, definitionVersion, transitions, gen}`, keyed by
  `state_key`, plus `{unlogged: true, claim, claimedAt}` while its latest transition is
  not yet logged. Subjects that were never in are not stored (absent means "not in").
- `membership_changes`: the append-only change log, ordered per org by `seq`.
- `membership_counters`: `{_id: orgId, seq}`, hands out `seq` blocks.
- `membership_jobs`: the latest recompute of each audience, keyed by `job_key`.

Measured on the embedded backend (mongoeco 4.11), which shapes these choices:
- a unique secondary index is checked by scanning the collection on every write
  (quadratic), so uniqueness comes from `_id`, which encodes the natural key;
- `$in` and a missing `_id` are answered by a scan, while an equality on a single-field
  index is a lookup; so state documents repeat their `_id` in `key` (single-field index)
  for point reads there, and flags are queried by equality (`unlogged: true`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from collections.abc import AsyncIterator, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from audiences.db import (
    Collection,
    Database,
    DeleteOne,
    DuplicateKeyError,
    IndexSpec,
    InsertOne,
    UpdateOne,
    WriteSummary,
)
from audiences.db.indexes import register_indexes
from audiences.membership.model import AudienceKind
from audiences.tenancy import TenantScope

STATE = "membership_state"
CHANGES = "membership_changes"
COUNTERS = "membership_counters"
JOBS = "membership_jobs"

register_indexes(
    STATE,
    # Members of one audience (recompute, sweep); `_id` already makes each subject unique.
    IndexSpec([("orgId", 1), ("audienceKind", 1), ("audienceId", 1), ("in", 1)], name="org_audience_in"),
    # "Which audiences is this contact in, since when" (contact lookup).
    IndexSpec([("orgId", 1), ("subjectId", 1)], name="org_subject"),
    # Point reads on the embedded backend (see the module docstring).
    IndexSpec([("key", 1)], name="key"),
    # Transitions whose change/deliveries were not yet written (crash repair); tiny.
    IndexSpec([("unlogged", 1)], name="unlogged", partial_filter={"unlogged": True}),
)
register_indexes(
    CHANGES,
    IndexSpec([("orgId", 1), ("audienceKind", 1), ("audienceId", 1), ("seq", 1)], name="org_audience_seq"),
)
register_indexes(
    JOBS,
    # Startup recovery looks for unfinished jobs of every org.
    IndexSpec([("state", 1)], name="state"),
)


def state_key(scope: TenantScope, kind: AudienceKind, audience_id: str, subject_id: str) -> str:
    """`_id` of a state document: the natural key, unambiguously encoded."""
    return json.dumps([scope.org_id, kind, audience_id, subject_id], separators=(",", ":"))


def job_key(scope: TenantScope, kind: AudienceKind, audience_id: str) -> str:
    return json.dumps([scope.org_id, kind, audience_id], separators=(",", ":"))


async def _find_by_keys(
    db: Database, col: Collection, scope: TenantScope, keys: Sequence[str], *, timeout_ms: int
) -> list[dict[str, Any]]:
    """State documents by key: one `_id: {$in}` query on MongoDB; point reads on `key` on
    the embedded backend (measured there, 1,000 keys among 20,000 documents: 14 s by
    `$in`, 0.2 s by point reads on `key`; a point read of a missing `_id` scans)."""
    if not keys:
        return []
    if db.embedded:
        found = await asyncio.gather(
            *(col.find_one(scope.filter({"key": k}), timeout_ms=timeout_ms) for k in dict.fromkeys(keys))
        )
        return [d for d in found if d is not None]
    return await col.find_list(scope.filter({"_id": {"$in": list(keys)}}), timeout_ms=timeout_ms)


def _audience(scope: TenantScope, kind: AudienceKind, audience_id: str) -> dict[str, Any]:
    return scope.filter({"audienceKind": kind, "audienceId": audience_id})


class StateRepository:
    def __init__(self, db: Database) -> None:
        self._db = db
        self._col = db.collection(STATE)

    async def load(
        self,
        scope: TenantScope,
        kind: AudienceKind,
        audience_id: str,
        subject_ids: Sequence[str],
        *,
        timeout_ms: int,
    ) -> dict[str, dict[str, Any]]:
        keys = [state_key(scope, kind, audience_id, s) for s in subject_ids]
        docs = await _find_by_keys(self._db, self._col, scope, keys, timeout_ms=timeout_ms)
        return {d["subjectId"]: d for d in docs}

    async def write(self, ops: Sequence[InsertOne | UpdateOne]) -> WriteSummary:
        """Apply transition writes built by the service (each already carries `orgId`)."""
        return await self._col.bulk_write(ops, ordered=False)

    async def claimed_ids(
        self, scope: TenantScope, state_ids: Sequence[str], claim: str, *, timeout_ms: int
    ) -> set[str]:
        docs = await _find_by_keys(self._db, self._col, scope, state_ids, timeout_ms=timeout_ms)
        return {d["_id"] for d in docs if d.get("claim") == claim}

    async def mark_logged(self, scope: TenantScope, claim: str, state_ids: Sequence[str]) -> None:
        """Mark logged the transitions written under `claim` (a document another writer has
        flipped since carries that writer's claim and is left to it)."""
        await self._col.bulk_write(
            [
                UpdateOne(
                    scope.filter({"_id": state_id, "claim": claim}),
                    {"$unset": {"unlogged": "", "claim": "", "claimedAt": ""}},
                )
                for state_id in state_ids
            ],
            ordered=False,
        )

    def member_ids(
        self, scope: TenantScope, kind: AudienceKind, audience_id: str, *, timeout_ms: int
    ) -> AsyncIterator[dict[str, Any]]:
        return self._col.find(
            _audience(scope, kind, audience_id) | {"in": True},
            projection={"_id": 0, "subjectId": 1},
            timeout_ms=timeout_ms,
            batch_size=1000,
        )

    async def for_subject(
        self, scope: TenantScope, subject_id: str, *, timeout_ms: int
    ) -> list[dict[str, Any]]:
        return await self._col.find_list(
            scope.filter({"subjectId": subject_id, "in": True}),
            sort=[("audienceKind", 1), ("audienceId", 1)],
            timeout_ms=timeout_ms,
        )

    async def unlogged(
        self, *, claimed_before: dt.datetime, limit: int, timeout_ms: int
    ) -> list[dict[str, Any]]:
        """Transitions of every org left half-written (crash repair; system-wide on purpose)."""
        return await self._col.find_list(
            {"unlogged": True, "claimedAt": {"$lte": claimed_before}},
            sort=[("claimedAt", 1)],
            limit=limit,
            timeout_ms=timeout_ms,
        )

    async def delete_audience(self, scope: TenantScope, kind: AudienceKind, audience_id: str) -> int:
        return await self._col.delete_many(_audience(scope, kind, audience_id))


class ChangeRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(CHANGES)
        self._counters = db.collection(COUNTERS)

    async def reserve_seqs(self, scope: TenantScope, count: int) -> int:
        """The first of `count` consecutive, never reused sequence numbers for this org."""
        doc = await self._counters.find_one_and_update(
            {"_id": scope.org_id},
            {"$inc": {"seq": count}, "$setOnInsert": {"orgId": scope.org_id}},
            upsert=True,
        )
        assert doc is not None  # upsert with return_after always returns the document
        return int(doc["seq"]) - count + 1

    async def insert(self, scope: TenantScope, docs: Sequence[dict[str, Any]]) -> set[str]:
        """Ids of the documents actually inserted; an `_id` already stored is skipped."""
        summary = await self._col.insert_many([scope.stamp(d) for d in docs], ordered=False)
        failed = {index for index, _, _ in summary.errors}
        return {d["_id"] for i, d in enumerate(docs) if i not in failed}

    async def page(
        self,
        scope: TenantScope,
        kind: AudienceKind,
        audience_id: str,
        *,
        after_seq: int | None,
        since: dt.datetime | None,
        limit: int,
        timeout_ms: int,
    ) -> list[dict[str, Any]]:
        query = _audience(scope, kind, audience_id)
        if after_seq is not None:
            query["seq"] = {"$gt": after_seq}
        if since is not None:
            query["at"] = {"$gte": since}
        return await self._col.find_list(query, sort=[("seq", 1)], limit=limit, timeout_ms=timeout_ms)

    async def delete_audience(self, scope: TenantScope, kind: AudienceKind, audience_id: str) -> int:
        return await self._col.delete_many(_audience(scope, kind, audience_id))


class JobRepository:
    def __init__(self, db: Database) -> None:
        self._col = db.collection(JOBS)

    async def replace(
        self, scope: TenantScope, kind: AudienceKind, audience_id: str, doc: dict[str, Any]
    ) -> None:
        await self._col.update_one(
            scope.filter({"_id": job_key(scope, kind, audience_id)}),
            {"$set": scope.stamp(doc | {"audienceKind": kind, "audienceId": audience_id})},
            upsert=True,
        )

    async def update_run(
        self,
        scope: TenantScope,
        kind: AudienceKind,
        audience_id: str,
        run_id: str,
        *,
        states: Sequence[str],
        changes: dict[str, Any],
    ) -> bool:
        """Update the job only while `run_id` is its current run and in one of `states`."""
        query = scope.filter(
            {"_id": job_key(scope, kind, audience_id), "runId": run_id, "state": {"$in": list(states)}}
        )
        summary = await self._col.update_one(query, {"$set": changes})
        return summary.matched > 0

    async def get(
        self, scope: TenantScope, kind: AudienceKind, audience_id: str, *, timeout_ms: int
    ) -> dict[str, Any] | None:
        return await self._col.find_one(
            scope.filter({"_id": job_key(scope, kind, audience_id)}), timeout_ms=timeout_ms
        )

    async def unfinished(self, *, timeout_ms: int) -> list[dict[str, Any]]:
        """Pending or running jobs of every org (startup recovery; system-wide on purpose)."""
        return await self._col.find_list({"state": {"$in": ["pending", "running"]}}, timeout_ms=timeout_ms)

    async def fail_unfinished(self, doc: dict[str, Any], *, error: str, at: dt.datetime) -> bool:
        summary = await self._col.update_one(
            {"_id": doc["_id"], "orgId": doc["orgId"], "runId": doc["runId"], "state": doc["state"]},
            {"$set": {"state": "failed", "error": error, "finishedAt": at}},
        )
        return summary.matched > 0

    async def delete_audience(self, scope: TenantScope, kind: AudienceKind, audience_id: str) -> int:
        return await self._col.delete_many(_audience(scope, kind, audience_id))


# --- the trigger index ----------------------------------------------------------------------

TRIGGERS = "membership_triggers"
TRIGGER_KEYS = "membership_trigger_keys"
EVENTS = "events"

register_indexes(
    TRIGGERS,
    # Not unique (`_id` is the natural key). On MongoDB each `$or` branch of the ingest
    # query is answered by one of these multikey indexes.
    IndexSpec([("orgId", 1), ("fields", 1)], name="org_fields"),
    IndexSpec([("orgId", 1), ("events", 1)], name="org_events"),
    IndexSpec([("orgId", 1), ("timeDependent", 1)], name="org_time_dependent"),
    IndexSpec([("orgId", 1), ("matchesEmpty", 1)], name="org_matches_empty"),
    IndexSpec([("orgId", 1), ("subjectIds", 1)], name="org_subject_ids"),
    # The sweep of every org.
    IndexSpec([("timeDependent", 1)], name="time_dependent", partial_filter={"timeDependent": True}),
)
register_indexes(
    TRIGGER_KEYS,
    # Point reads by key on the embedded backend (see `TriggerRepository`).
    IndexSpec([("k", 1)], name="k"),
)

TriggerPlan = Literal["indexed", "postings"]
DUPLICATE_KEY = 11000


def trigger_id(scope: TenantScope, kind: AudienceKind, audience_id: str) -> str:
    return f"{scope.org_id}:{kind}:{audience_id}"


def _trigger_keys(doc: Mapping[str, Any]) -> set[str]:
    """What a trigger document is found by, as posting keys (embedded backend)."""
    keys = {f"f:{f}" for f in doc["fields"]} | {f"e:{e}" for e in doc["events"]}
    if doc["matchesEmpty"]:
        keys.add("empty")
    if doc.get("subjectIds") is not None:
        keys.add("anysubjects")
        keys.update(f"s:{s}" for s in doc["subjectIds"])
    if doc["events"]:
        keys.add("anyevents")
    return keys


def _posting_key(org_id: str, key: str) -> str:
    return json.dumps([org_id, key], separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class TriggerQuery:
    """What changed in one ingest batch; a definition is affected when it reads one of the
    `fields` or `events`, or — for `subject_ids` (contacts that may be new) — when it
    matches an empty contact or names static subject ids."""

    fields: frozenset[str] = frozenset()
    events: frozenset[str] = frozenset()
    subject_ids: frozenset[str] = frozenset()

    def hits(self, doc: Mapping[str, Any]) -> bool:
        return bool(
            self.fields.intersection(doc["fields"])
            or self.events.intersection(doc["events"])
            or (self.subject_ids and (doc["matchesEmpty"] or doc.get("hasSubjectIds")))
        )


class TriggerRepository:
    """The trigger index: one document per definition, found by the fields and event names
    it reads.

    Two read plans give the same answers (tests run both):
    - `indexed` (MongoDB): one query per batch, `{orgId, $or: [{fields: {$in}}, ...]}`,
      each branch answered by a multikey index;
    - `postings` (embedded backend, where compound and multikey indexes are answered by
      scanning the collection — 25 ms per query at 1,000 definitions, growing with them —
      while equality on a single-field index is a lookup): a posting document per
      (definition, key) in `membership_trigger_keys`, read by point reads on `k`, then
      the definitions by `_id`. Stale postings (a crash between the writes of an update)
      only add candidates, which are checked against the definition itself.
    """

    def __init__(self, db: Database, plan: TriggerPlan | None = None) -> None:
        self._col = db.collection(TRIGGERS)
        self._keys = db.collection(TRIGGER_KEYS)
        self.plan: TriggerPlan = plan or ("postings" if db.embedded else "indexed")

    async def get(self, scope: TenantScope, kind: AudienceKind, audience_id: str) -> dict[str, Any] | None:
        return await self._col.find_one(scope.filter({"_id": trigger_id(scope, kind, audience_id)}))

    async def upsert(self, scope: TenantScope, doc: dict[str, Any], *, _retry: bool = True) -> bool:
        """Store the trigger document unless a newer version is stored. True if stored."""
        doc = scope.stamp(doc)
        previous = await self._col.find_one(scope.filter({"_id": doc["_id"]}))
        if previous is not None and int(previous["version"]) > int(doc["version"]):
            return False
        old_keys = _trigger_keys(previous) if previous is not None else set()
        new_keys = _trigger_keys(doc)
        if self.plan == "postings":
            # New postings first, so a crash leaves extra candidates, never missing ones.
            await self._insert_postings(scope, doc["_id"], new_keys - old_keys)
        if previous is None:
            # An insert, not an upsert: mongoeco answers an upsert of a new `_id` by a scan.
            try:
                await self._col.insert_one(doc)
            except DuplicateKeyError:
                # Stored meanwhile by another writer: decide again against it, once.
                return _retry and await self.upsert(scope, doc, _retry=False)
        else:
            query = scope.filter({"_id": doc["_id"], "version": {"$lte": doc["version"]}})
            if (await self._col.replace_one(query, doc)).matched == 0:
                return False  # a newer version was stored, or the definition removed, meanwhile
        if self.plan == "postings":
            await self._delete_postings(scope, doc["_id"], old_keys - new_keys)
        return True

    async def remove(self, scope: TenantScope, kind: AudienceKind, audience_id: str) -> None:
        key = trigger_id(scope, kind, audience_id)
        previous = await self._col.find_one(scope.filter({"_id": key}))
        await self._col.delete_one(scope.filter({"_id": key}))
        if previous is not None and self.plan == "postings":
            await self._delete_postings(scope, key, _trigger_keys(previous))

    async def _insert_postings(self, scope: TenantScope, trigger: str, keys: set[str]) -> None:
        if not keys:
            return
        docs = [
            {
                "_id": _posting_key(scope.org_id, k) + "|" + trigger,
                "k": _posting_key(scope.org_id, k),
                "trigger": trigger,
            }
            for k in sorted(keys)
        ]
        summary = await self._keys.insert_many([scope.stamp(d) for d in docs], ordered=False)
        # A posting already there (left by an interrupted update) is what we wanted anyway.
        unexpected = [e for e in summary.errors if e[1] != DUPLICATE_KEY]
        if unexpected:
            raise RuntimeError(f"trigger postings could not be stored: {unexpected[0][2]}")

    async def _delete_postings(self, scope: TenantScope, trigger: str, keys: set[str]) -> None:
        if keys:
            await self._keys.bulk_write(
                [
                    DeleteOne(scope.filter({"_id": _posting_key(scope.org_id, k) + "|" + trigger}))
                    for k in sorted(keys)
                ],
                ordered=False,
            )

    async def _posted(self, scope: TenantScope, keys: Sequence[str], *, timeout_ms: int) -> set[str]:
        found = await asyncio.gather(
            *(
                self._keys.find_list(
                    {"k": _posting_key(scope.org_id, k)}, projection={"trigger": 1}, timeout_ms=timeout_ms
                )
                for k in dict.fromkeys(keys)
            )
        )
        return {d["trigger"] for docs in found for d in docs}

    async def affected(
        self, scope: TenantScope, query: TriggerQuery, *, timeout_ms: int
    ) -> list[dict[str, Any]]:
        """Trigger documents (without `subjectIds`) of the definitions `query` may affect."""
        if self.plan == "indexed":
            branches: list[dict[str, Any]] = []
            if query.fields:
                branches.append({"fields": {"$in": sorted(query.fields)}})
            if query.events:
                branches.append({"events": {"$in": sorted(query.events)}})
            if query.subject_ids:
                branches.append({"matchesEmpty": True})
                branches.append({"subjectIds": {"$in": sorted(query.subject_ids)}})
            if not branches:
                return []
            return await self._col.find_list(
                scope.filter({"$or": branches}), projection={"subjectIds": 0}, timeout_ms=timeout_ms
            )
        keys = [f"f:{f}" for f in sorted(query.fields)] + [f"e:{e}" for e in sorted(query.events)]
        if query.subject_ids:
            keys.append("empty")
            if await self._posted(scope, ["anysubjects"], timeout_ms=timeout_ms):
                keys += [f"s:{s}" for s in sorted(query.subject_ids)]
        if not keys:
            return []
        triggers = await self._posted(scope, keys, timeout_ms=timeout_ms)
        docs = await asyncio.gather(
            *(
                self._col.find_one(
                    scope.filter({"_id": t}), projection={"subjectIds": 0}, timeout_ms=timeout_ms
                )
                for t in sorted(triggers)
            )
        )
        return [d for d in docs if d is not None and query.hits(d)]

    async def might_use_events(self, scope: TenantScope, *, timeout_ms: int) -> bool:
        """False when no definition of the org reads events (a point read on the embedded
        backend; MongoDB answers the event lookup it guards cheaply, so it is not asked)."""
        if self.plan == "indexed":
            return True
        return bool(await self._posted(scope, ["anyevents"], timeout_ms=timeout_ms))

    async def for_audiences(
        self, scope: TenantScope, keys: Sequence[tuple[AudienceKind, str]], *, timeout_ms: int
    ) -> dict[tuple[AudienceKind, str], dict[str, Any]]:
        docs = await asyncio.gather(
            *(
                self._col.find_one(
                    scope.filter({"_id": trigger_id(scope, kind, audience_id)}),
                    projection={"subjectIds": 0},
                    timeout_ms=timeout_ms,
                )
                for kind, audience_id in dict.fromkeys(keys)
            )
        )
        return {(d["kind"], d["audienceId"]): d for d in docs if d is not None}

    async def time_dependent(self, *, org_id: str | None, timeout_ms: int) -> list[dict[str, Any]]:
        """Trigger documents of time-dependent definitions, of one org or of every org."""
        query: dict[str, Any] = {"timeDependent": True}
        if org_id is not None:
            query["orgId"] = org_id
        return await self._col.find_list(
            query, projection={"subjectIds": 0}, sort=[("orgId", 1), ("_id", 1)], timeout_ms=timeout_ms
        )


async def event_names_by_user(
    db: Database, scope: TenantScope, user_ids: Sequence[str], *, timeout_ms: int
) -> dict[str, set[str]]:
    """The names of the events already stored for each of `user_ids` (one query)."""
    if not user_ids:
        return {}
    docs = await db.collection(EVENTS).aggregate_list(
        [
            {"$match": scope.filter({"userId": {"$in": list(user_ids)}})},
            {"$group": {"_id": {"u": "$userId", "n": "$name"}}},
        ],
        timeout_ms=timeout_ms,
    )
    names: dict[str, set[str]] = {}
    for d in docs:
        names.setdefault(d["_id"]["u"], set()).add(d["_id"]["n"])
    return names
