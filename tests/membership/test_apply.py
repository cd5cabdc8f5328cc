"""apply_membership / replace_membership: transitions only, idempotent, crash-safe."""

from __future__ import annotations

import asyncio
import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import pytest

from audiences.db import Database
from audiences.membership import service
from audiences.membership.model import Change
from audiences.membership.repository import CHANGES, STATE, ChangeRepository
from audiences.tenancy import TenantScope
from tests.conftest import AS_OF

T = 15_000
LATER = AS_OF + dt.timedelta(hours=1)


async def apply(
    db: Database,
    scope: TenantScope,
    results: dict[str, bool],
    *,
    at: dt.datetime = AS_OF,
    audience_id: str = "aud-1",
    kind: Any = "journey",
    version: int = 1,
) -> list[Change]:
    return await service.apply_membership(
        db=db,
        scope=scope,
        audience_kind=kind,
        audience_id=audience_id,
        definition_version=version,
        results=results,
        at=at,
        timeout_ms=T,
    )


async def logged(db: Database, scope: TenantScope, audience_id: str = "aud-1") -> list[tuple[str, str]]:
    docs = await db.collection(CHANGES).find_list(
        {"orgId": scope.org_id, "audienceId": audience_id}, sort=[("seq", 1)]
    )
    return [(d["subjectId"], d["change"]) for d in docs]


class TestApplyMembership:
    async def test_a_subject_that_matches_for_the_first_time_enters(
        self, store: Database, acme: TenantScope
    ) -> None:
        changes = await apply(store, acme, {"c1": True}, version=3)
        assert [(c.subject_id, c.change, c.at, c.definition_version) for c in changes] == [
            ("c1", "entered", AS_OF, 3)
        ]
        assert changes[0].id.startswith("chg_")
        assert changes[0].event_type == "audience.entered"

    async def test_a_subject_never_in_that_does_not_match_logs_nothing(
        self, store: Database, acme: TenantScope
    ) -> None:
        assert await apply(store, acme, {"c1": False}) == []
        assert await store.collection(STATE).count({}) == 0

    async def test_applying_the_same_results_twice_logs_nothing_new(
        self, store: Database, acme: TenantScope
    ) -> None:
        first = await apply(store, acme, {"c1": True, "c2": True, "c3": False})
        again = await apply(store, acme, {"c1": True, "c2": True, "c3": False}, at=LATER)
        assert [c.subject_id for c in first] == ["c1", "c2"]
        assert again == []
        assert await logged(store, acme) == [("c1", "entered"), ("c2", "entered")]

    async def test_a_member_that_stops_matching_leaves_and_may_enter_again(
        self, store: Database, acme: TenantScope
    ) -> None:
        await apply(store, acme, {"c1": True})
        left = await apply(store, acme, {"c1": False}, at=LATER)
        back = await apply(store, acme, {"c1": True}, at=LATER + dt.timedelta(hours=1))
        assert [(c.change, c.at) for c in left] == [("left", LATER)]
        assert [c.change for c in back] == ["entered"]
        assert await logged(store, acme) == [("c1", "entered"), ("c1", "left"), ("c1", "entered")]
        assert len({c.id for c in [*left, *back]}) == 2

    async def test_subjects_absent_from_the_results_are_untouched(
        self, store: Database, acme: TenantScope
    ) -> None:
        await apply(store, acme, {"c1": True, "c2": True})
        await apply(store, acme, {"c2": False}, at=LATER)
        members = [
            s
            async for s in service.current_members(
                db=store, scope=acme, audience_kind="journey", audience_id="aud-1", timeout_ms=T
            )
        ]
        assert members == ["c1"]

    async def test_change_sequence_numbers_increase_in_log_order(
        self, store: Database, acme: TenantScope
    ) -> None:
        a = await apply(store, acme, {"c1": True, "c2": True})
        b = await apply(store, acme, {"c3": True}, audience_id="aud-2")
        c = await apply(store, acme, {"c1": False}, at=LATER)
        seqs = [x.seq for x in [*a, *b, *c]]
        assert seqs == sorted(seqs)
        assert len(set(seqs)) == 4

    async def test_kinds_and_audiences_are_tracked_apart(self, store: Database, acme: TenantScope) -> None:
        await apply(store, acme, {"c1": True}, kind="segment", audience_id="same-id")
        changes = await apply(store, acme, {"c1": True}, kind="journey", audience_id="same-id")
        assert [(c.audience_kind, c.change) for c in changes] == [("journey", "entered")]

    async def test_since_is_when_the_subject_last_entered(self, store: Database, acme: TenantScope) -> None:
        await apply(store, acme, {"c1": True}, audience_id="a")
        await apply(store, acme, {"c1": True}, audience_id="b", kind="segment", version=7)
        await apply(store, acme, {"c1": False}, audience_id="a", at=LATER)
        await apply(store, acme, {"c1": True}, audience_id="a", at=LATER + dt.timedelta(minutes=5))
        found = await service.subject_memberships(db=store, scope=acme, subject_id="c1", timeout_ms=T)
        assert [(m.audience_kind, m.audience_id, m.since, m.definition_version) for m in found] == [
            ("journey", "a", LATER + dt.timedelta(minutes=5), 1),
            ("segment", "b", AS_OF, 7),
        ]

    async def test_concurrent_writers_log_each_transition_once(
        self, store: Database, acme: TenantScope
    ) -> None:
        results = {f"c{i}": True for i in range(50)}
        outcomes = await asyncio.gather(*(apply(store, acme, results) for _ in range(4)))
        assert sum(len(o) for o in outcomes) == 50
        assert len(await logged(store, acme)) == 50

    async def test_large_result_sets_are_written_in_chunks(
        self, store: Database, acme: TenantScope, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "CHUNK", 10)
        results = {f"c{i:05d}": True for i in range(27)}
        changes = await apply(store, acme, results)
        assert len(changes) == len(results)
        assert len({c.seq for c in changes}) == len(results)

    async def test_one_org_never_sees_another_orgs_state(
        self, store: Database, acme: TenantScope, globex: TenantScope
    ) -> None:
        await apply(store, acme, {"c1": True})
        assert [c.change for c in await apply(store, globex, {"c1": True})] == ["entered"]
        await apply(store, acme, {"c1": False}, at=LATER)
        assert await service.subject_memberships(db=store, scope=acme, subject_id="c1", timeout_ms=T) == []
        assert (
            len(await service.subject_memberships(db=store, scope=globex, subject_id="c1", timeout_ms=T)) == 1
        )
        assert await logged(store, globex) == [("c1", "entered")]


class TestCrashSafety:
    """A crash between flipping the state and logging the change loses nothing."""

    @pytest.fixture
    def crash_once(self, monkeypatch: pytest.MonkeyPatch) -> None:
        original = ChangeRepository.insert
        calls = {"n": 0}

        async def insert(self: ChangeRepository, scope: TenantScope, docs: Any) -> set[str]:
            calls["n"] += 1
            if calls["n"] == 1:
                raise ConnectionError("the process died here")
            return await original(self, scope, docs)

        monkeypatch.setattr(ChangeRepository, "insert", insert)

    @pytest.mark.usefixtures("crash_once")
    async def test_the_next_apply_finishes_an_unlogged_transition(
        self, store: Database, acme: TenantScope
    ) -> None:
        with pytest.raises(ConnectionError):
            await apply(store, acme, {"c1": True})
        assert await logged(store, acme) == []
        finished = await apply(store, acme, {"c1": True}, at=LATER)
        assert [(c.subject_id, c.change, c.at) for c in finished] == [("c1", "entered", AS_OF)]
        assert await apply(store, acme, {"c1": True}, at=LATER) == []

    @pytest.mark.usefixtures("crash_once")
    async def test_an_unlogged_transition_is_logged_before_the_next_one(
        self, store: Database, acme: TenantScope
    ) -> None:
        with pytest.raises(ConnectionError):
            await apply(store, acme, {"c1": True})
        await apply(store, acme, {"c1": False}, at=LATER)
        assert await logged(store, acme) == [("c1", "entered"), ("c1", "left")]

    @pytest.mark.usefixtures("crash_once")
    async def test_the_repair_pass_finishes_unlogged_transitions(
        self, store: Database, acme: TenantScope
    ) -> None:
        with pytest.raises(ConnectionError):
            await apply(store, acme, {"c1": True, "c2": True})
        young = await service.repair_unlogged_transitions(db=store, now=AS_OF, timeout_ms=T)
        repaired = await service.repair_unlogged_transitions(
            db=store, now=AS_OF + dt.timedelta(minutes=1), timeout_ms=T
        )
        assert (young, repaired) == (0, 2)
        assert await logged(store, acme) == [("c1", "entered"), ("c2", "entered")]
        assert await service.repair_unlogged_transitions(db=store, now=LATER, timeout_ms=T) == 0


async def _stream(ids: list[str]) -> AsyncIterator[str]:
    for subject_id in ids:
        yield subject_id


class TestReplaceMembership:
    async def replace(self, db: Database, scope: TenantScope, members: Any, **kw: Any) -> Any:
        return await service.replace_membership(
            db=db,
            scope=scope,
            audience_kind="segment",
            audience_id="seg-1",
            definition_version=kw.pop("version", 2),
            members=members,
            at=kw.pop("at", AS_OF),
            timeout_ms=T,
            **kw,
        )

    async def test_new_members_enter_and_missing_ones_leave(self, store: Database, acme: TenantScope) -> None:
        await self.replace(store, acme, ["a", "b", "c"])
        result = await self.replace(store, acme, ["b", "c", "d"], at=LATER, version=3)
        assert (result.members, result.entered, result.left) == (3, 1, 1)
        assert await logged(store, acme, "seg-1") == [
            ("a", "entered"),
            ("b", "entered"),
            ("c", "entered"),
            ("d", "entered"),
            ("a", "left"),
        ]
        members = service.current_members(
            db=store, scope=acme, audience_kind="segment", audience_id="seg-1", timeout_ms=T
        )
        assert sorted([m async for m in members]) == ["b", "c", "d"]

    async def test_the_same_member_set_again_changes_nothing(
        self, store: Database, acme: TenantScope
    ) -> None:
        await self.replace(store, acme, ["a", "b"])
        result = await self.replace(store, acme, _stream(["b", "a", "a"]), at=LATER)
        assert (result.members, result.entered, result.left) == (2, 0, 0)

    async def test_an_empty_member_set_empties_the_audience(self, store: Database, acme: TenantScope) -> None:
        await self.replace(store, acme, ["a", "b"])
        result = await self.replace(store, acme, [], at=LATER)
        assert (result.members, result.entered, result.left) == (0, 0, 2)

    async def test_progress_is_reported_after_each_chunk(
        self, store: Database, acme: TenantScope, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "CHUNK", 10)
        seen: list[int] = []

        async def progress(processed: int) -> None:
            seen.append(processed)

        ids = [f"c{i:05d}" for i in range(25)]
        result = await self.replace(store, acme, _stream(ids), on_progress=progress)
        assert seen == [10, 20, 25]
        assert result.entered == len(ids)

    async def test_forgetting_an_audience_drops_its_state_and_log(
        self, store: Database, acme: TenantScope
    ) -> None:
        await self.replace(store, acme, ["a"])
        await service.forget_audience(db=store, scope=acme, audience_kind="segment", audience_id="seg-1")
        assert await logged(store, acme, "seg-1") == []
        result = await self.replace(store, acme, ["a"], at=LATER)
        assert result.entered == 1
