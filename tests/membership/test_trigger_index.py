"""The trigger index: both read plans (MongoDB's indexed `$or`, the embedded backend's
postings) find exactly the definitions a change can affect, through updates and deletes."""

from __future__ import annotations

import asyncio
import random
from typing import Any

import pytest

from audiences.db import Database
from audiences.membership.adapters import TrackedDefinition
from audiences.membership.model import AudienceKind
from audiences.membership.repository import TRIGGER_KEYS, TriggerQuery, TriggerRepository
from audiences.membership.tracking import trigger_document
from audiences.tenancy import TenantScope
from tests.conftest import AS_OF

T = 15_000
FIELDS = ["tier", "country", "city", "email", "tags", "plan", "id"]
EVENTS = ["checkout_started", "order_placed", "page_viewed", "email_opened", "feature.used"]
SUBJECTS = [f"c{i}" for i in range(12)]


def random_definition(
    rng: random.Random, kind: AudienceKind, audience_id: str, version: int
) -> TrackedDefinition:
    return TrackedDefinition(
        kind=kind,
        audience_id=audience_id,
        name=audience_id,
        version=version,
        fields=frozenset(rng.sample(FIELDS, rng.randint(0, 2))),
        events=frozenset(rng.sample(EVENTS, rng.randint(0, 2))),
        time_dependent=rng.random() < 0.3,
        matches_empty=rng.random() < 0.15,
        subject_ids=frozenset(rng.sample(SUBJECTS, rng.randint(0, 4))) if rng.random() < 0.2 else None,
    )


def random_query(rng: random.Random) -> TriggerQuery:
    return TriggerQuery(
        fields=frozenset(rng.sample(FIELDS, rng.randint(0, 3))),
        events=frozenset(rng.sample(EVENTS, rng.randint(0, 2))),
        subject_ids=frozenset(rng.sample(SUBJECTS, rng.randint(0, 3))) if rng.random() < 0.5 else frozenset(),
    )


def expected(definitions: dict[str, TrackedDefinition], query: TriggerQuery) -> set[str]:
    return {
        key
        for key, d in definitions.items()
        if d.fields & query.fields
        or d.events & query.events
        or (query.subject_ids and (d.matches_empty or (d.subject_ids or frozenset()) & query.subject_ids))
    }


def found(docs: list[dict[str, Any]]) -> set[str]:
    return {f"{d['kind']}:{d['audienceId']}" for d in docs}


class TestTriggerPlans:
    @pytest.mark.parametrize("seed", range(3))
    async def test_both_plans_find_exactly_the_affected_definitions(
        self, store: Database, acme: TenantScope, globex: TenantScope, seed: int
    ) -> None:
        rng = random.Random(seed)
        writer = TriggerRepository(store, plan="postings")
        definitions: dict[str, TrackedDefinition] = {}
        versions: dict[str, int] = {}
        for step in range(80):
            kind: AudienceKind = rng.choice(["segment", "journey"])
            audience_id = f"a{rng.randint(0, 24)}"
            key = f"{kind}:{audience_id}"
            if key in definitions and rng.random() < 0.15:
                await writer.remove(acme, kind, audience_id)
                del definitions[key]
                continue
            versions[key] = versions.get(key, 0) + 1
            definition = random_definition(rng, kind, audience_id, versions[key])
            assert await writer.upsert(acme, trigger_document(acme, definition, AS_OF))
            definitions[key] = definition
            if step % 10 == 0:  # another org's definitions never show up
                other = random_definition(rng, kind, audience_id, 1)
                await writer.upsert(globex, trigger_document(globex, other, AS_OF))
        for _ in range(60):
            query = random_query(rng)
            want = expected(definitions, query)
            for plan in ("indexed", "postings"):
                docs = await TriggerRepository(store, plan=plan).affected(acme, query, timeout_ms=T)
                assert found(docs) == want, (plan, query)
                assert all("subjectIds" not in d for d in docs)

    async def test_an_older_version_never_replaces_a_newer_one(
        self, store: Database, acme: TenantScope
    ) -> None:
        repo = TriggerRepository(store, plan="postings")
        newer = TrackedDefinition("segment", "s1", "s1", 5, frozenset({"tier"}), frozenset(), False, False)
        older = TrackedDefinition("segment", "s1", "s1", 4, frozenset({"city"}), frozenset(), False, False)
        assert await repo.upsert(acme, trigger_document(acme, newer, AS_OF))
        assert not await repo.upsert(acme, trigger_document(acme, older, AS_OF))
        for plan in ("indexed", "postings"):
            reader = TriggerRepository(store, plan=plan)
            assert found(
                await reader.affected(acme, TriggerQuery(fields=frozenset({"tier"})), timeout_ms=T)
            ) == {"segment:s1"}
            assert await reader.affected(acme, TriggerQuery(fields=frozenset({"city"})), timeout_ms=T) == []

    async def test_concurrent_writers_of_a_new_definition_keep_the_newest_version(
        self, store: Database, acme: TenantScope
    ) -> None:
        repo = TriggerRepository(store, plan="postings")
        versions = [
            TrackedDefinition("segment", "s1", "s1", v, frozenset({f"f{v}"}), frozenset(), False, False)
            for v in (1, 2, 3)
        ]
        await asyncio.gather(*(repo.upsert(acme, trigger_document(acme, d, AS_OF)) for d in versions))
        stored = await repo.get(acme, "segment", "s1")
        assert stored is not None
        assert stored["version"] == 3
        for plan in ("indexed", "postings"):
            reader = TriggerRepository(store, plan=plan)
            hits = await reader.affected(
                acme, TriggerQuery(fields=frozenset({"f1", "f2", "f3"})), timeout_ms=T
            )
            assert [d["fields"] for d in hits] == [["f3"]]

    async def test_a_stale_posting_left_by_a_crash_is_checked_against_the_definition(
        self, store: Database, acme: TenantScope
    ) -> None:
        repo = TriggerRepository(store, plan="postings")
        definition = TrackedDefinition(
            "segment", "s1", "s1", 1, frozenset({"tier"}), frozenset(), False, False
        )
        await repo.upsert(acme, trigger_document(acme, definition, AS_OF))
        # As if a crash had stopped an update between writing postings and the definition.
        await store.collection(TRIGGER_KEYS).insert_one(
            {"_id": "stale", "orgId": "acme", "k": '["acme","f:city"]', "trigger": "acme:segment:s1"}
        )
        assert await repo.affected(acme, TriggerQuery(fields=frozenset({"city"})), timeout_ms=T) == []

    async def test_removing_a_definition_removes_its_postings(
        self, store: Database, acme: TenantScope
    ) -> None:
        repo = TriggerRepository(store, plan="postings")
        definition = TrackedDefinition(
            "journey",
            "j1",
            "j1",
            1,
            frozenset({"tier"}),
            frozenset({"order_placed"}),
            True,
            True,
            frozenset({"c1"}),
        )
        await repo.upsert(acme, trigger_document(acme, definition, AS_OF))
        assert await store.collection(TRIGGER_KEYS).count({}) > 0
        await repo.remove(acme, "journey", "j1")
        assert await store.collection(TRIGGER_KEYS).count({}) == 0
        assert await repo.time_dependent(org_id="acme", timeout_ms=T) == []

    async def test_time_dependent_definitions_are_listed_per_org_or_for_all(
        self, store: Database, acme: TenantScope, globex: TenantScope
    ) -> None:
        repo = TriggerRepository(store)
        for scope, audience_id, timed in ((acme, "a1", True), (acme, "a2", False), (globex, "g1", True)):
            definition = TrackedDefinition(
                "segment", audience_id, audience_id, 1, frozenset(), frozenset({"x"}), timed, False
            )
            await repo.upsert(scope, trigger_document(scope, definition, AS_OF))
        assert [d["audienceId"] for d in await repo.time_dependent(org_id="acme", timeout_ms=T)] == ["a1"]
        assert [d["audienceId"] for d in await repo.time_dependent(org_id=None, timeout_ms=T)] == ["a1", "g1"]
