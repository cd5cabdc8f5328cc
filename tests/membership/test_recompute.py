"""Definition changes: the trigger index follows, membership is recomputed in the
background with visible progress, and a failure or a shutdown ends the job visibly."""

from __future__ import annotations

import httpx
import pytest

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.main import create_app
from audiences.membership import jobs, recompute, service
from audiences.membership.model import AudienceKind
from audiences.membership.repository import CHANGES, TRIGGERS
from audiences.tenancy import TenantScope
from tests.conftest import IngestFn
from tests.membership.conftest import Define, Kinds
from tests.membership.fake_kind import Gate, delete_definition, save_definition

T = 15_000


async def members(db: Database, scope: TenantScope, kind: AudienceKind, audience_id: str) -> set[str]:
    return {
        s
        async for s in service.current_members(
            db=db, scope=scope, audience_kind=kind, audience_id=audience_id, timeout_ms=T
        )
    }


async def status(client: httpx.AsyncClient, path: str) -> dict[str, object]:
    r = await client.get(path)
    assert r.status_code == 200, r.text
    body: dict[str, object] = r.json()
    return body


class TestDefinitionChanged:
    async def test_creating_a_definition_computes_its_membership(
        self, client: httpx.AsyncClient, db: Database, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}, {"id": "c2", "tier": "free"}], [])
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        assert await members(db, acme, "segment", "seg-pro") == {"c1"}
        body = await status(client, "/api/crm/audiences/segments/seg-pro/membership-status")
        assert (body["state"], body["processed"], body["total"], body["definitionVersion"]) == (
            "done",
            1,
            1,
            1,
        )

    async def test_editing_a_definition_reports_progress_and_ends_done_with_the_new_membership(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        kinds: Kinds,
        ingest: IngestFn,
        clock: FixedClock,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(service, "CHUNK", 10)  # progress is reported per chunk
        pro = [{"id": f"p{i:04d}", "tier": "pro"} for i in range(15)]
        await ingest(client, [*pro, {"id": "f1", "tier": "free"}, {"id": "f2", "tier": "free"}], [])
        await define(acme, "journey", "aud-tier", field="tier", value="free")
        assert await members(db, acme, "journey", "aud-tier") == {"f1", "f2"}

        gate = kinds.journey.gates["aud-tier"] = Gate(after=10)
        await save_definition(db, acme, "journey", "aud-tier", field="tier", value="pro")
        handle = await recompute.definition_changed(
            db=db, scope=acme, kind="journey", audience_id="aud-tier", clock=clock, settings=settings
        )
        assert handle is not None
        await gate.reached.wait()
        running = await status(client, "/api/audiences/aud-tier/membership-status")
        assert (running["state"], running["definitionVersion"], running["processed"], running["total"]) == (
            "running",
            2,
            10,
            None,
        )

        gate.release.set()
        await recompute.wait_for_recomputes()
        done = await status(client, "/api/audiences/aud-tier/membership-status")
        assert (done["state"], done["processed"], done["total"], done["error"]) == ("done", 15, 15, None)
        assert await members(db, acme, "journey", "aud-tier") == {c["id"] for c in pro}
        feed = await db.collection(CHANGES).find_list({"audienceId": "aud-tier", "definitionVersion": 2})
        assert sorted((d["subjectId"], d["change"]) for d in feed if d["change"] == "left") == [
            ("f1", "left"),
            ("f2", "left"),
        ]
        assert sum(d["change"] == "entered" for d in feed) == 15

    async def test_a_recompute_that_fails_ends_failed_with_a_readable_error(
        self, client: httpx.AsyncClient, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "segment", "seg-slow", field="tier", value="pro", fails=True)
        body = await status(client, "/api/crm/audiences/segments/seg-slow/membership-status")
        assert body["state"] == "failed"
        assert isinstance(body["error"], str)
        assert body["error"].startswith("The query hit the server-side time limit.")
        assert body["finishedAt"] is not None

    async def test_a_newer_edit_supersedes_a_running_recompute(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        kinds: Kinds,
        ingest: IngestFn,
        clock: FixedClock,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        monkeypatch.setattr(service, "CHUNK", 10)
        await ingest(
            client, [{"id": f"c{i:04d}", "tier": "pro"} for i in range(15)] + [{"id": "z", "tier": "x"}], []
        )
        gate = kinds.segment.gates["seg"] = Gate(after=10)
        await save_definition(db, acme, "segment", "seg", field="tier", value="pro")
        await recompute.definition_changed(
            db=db, scope=acme, kind="segment", audience_id="seg", clock=clock, settings=settings
        )
        await gate.reached.wait()
        del kinds.segment.gates["seg"]
        await save_definition(db, acme, "segment", "seg", field="tier", value="x")
        await recompute.definition_changed(
            db=db, scope=acme, kind="segment", audience_id="seg", clock=clock, settings=settings
        )
        gate.release.set()
        await recompute.wait_for_recomputes()
        body = await status(client, "/api/crm/audiences/segments/seg/membership-status")
        assert (body["state"], body["definitionVersion"], body["processed"]) == ("done", 2, 1)
        assert await members(db, acme, "segment", "seg") == {"z"}

    async def test_a_recompute_running_at_shutdown_ends_failed(
        self, settings: Settings, db: Database, clock: FixedClock, acme: TenantScope, kinds: Kinds
    ) -> None:
        app = create_app(settings, database=db, clock=clock)
        app.state.background_loops = False
        async with app.router.lifespan_context(app):
            await db.collection("contacts").insert_many(
                [{"_id": f"acme:c{i}", "orgId": "acme", "id": f"c{i}", "tier": "pro"} for i in range(3)]
            )
            gate = kinds.segment.gates["seg"] = Gate(after=1)
            await save_definition(db, acme, "segment", "seg", field="tier", value="pro")
            await recompute.definition_changed(
                db=db, scope=acme, kind="segment", audience_id="seg", clock=clock, settings=settings
            )
            await gate.reached.wait()
        job = await jobs.get_status(
            db=db, scope=acme, audience_kind="segment", audience_id="seg", timeout_ms=T
        )
        assert job is not None
        assert (job.state, job.error) == (
            "failed",
            "cancelled: the service stopped while this recompute was running",
        )


class TestDefinitionDeleted:
    async def test_deleting_a_definition_drops_its_tracking(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        kinds: Kinds,
        ingest: IngestFn,
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        await delete_definition(db, acme, "segment", "seg-pro")
        await recompute.definition_deleted(db=db, scope=acme, kind="segment", audience_id="seg-pro")
        assert await db.collection(TRIGGERS).count({}) == 0
        assert await members(db, acme, "segment", "seg-pro") == set()
        assert await db.collection(CHANGES).count({"audienceId": "seg-pro"}) == 0
        kinds.segment.evaluated.clear()
        await ingest(client, [{"id": "c1", "tier": "free"}], [])
        assert kinds.segment.evaluated == []

    async def test_announcing_a_change_of_a_definition_that_is_gone_drops_its_tracking(
        self,
        db: Database,
        acme: TenantScope,
        define: Define,
        client: httpx.AsyncClient,
        ingest: IngestFn,
        clock: FixedClock,
        settings: Settings,
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "journey", "aud", field="tier", value="pro")
        await delete_definition(db, acme, "journey", "aud")
        handle = await recompute.definition_changed(
            db=db, scope=acme, kind="journey", audience_id="aud", clock=clock, settings=settings
        )
        assert handle is None
        assert await db.collection(TRIGGERS).count({}) == 0
        assert await members(db, acme, "journey", "aud") == set()
