"""The sweep: time windows that pass without new data end memberships; by function, by
`POST /api/membership/sweep`, by the periodic task and by `audiences sweep`."""

from __future__ import annotations

import asyncio
import datetime as dt
import json
from pathlib import Path
from typing import Any

import httpx
import pytest
from typer.testing import CliRunner

from audiences.cli import app as cli
from audiences.clock import FixedClock
from audiences.config import Settings, get_settings
from audiences.db import Database, open_database
from audiences.db.indexes import ensure_indexes
from audiences.membership import recompute
from audiences.membership import sweep as sweep_module
from audiences.membership.jobs import queue_job
from audiences.membership.repository import CHANGES
from audiences.membership.sweep import sweep, sweep_forever
from audiences.tenancy import TenantScope, system_scope
from tests.conftest import AS_OF, IngestFn
from tests.membership.conftest import Define, Kinds
from tests.membership.fake_kind import save_definition

T = 15_000
DAY = dt.timedelta(days=1)
WEEK = dt.timedelta(days=7)


async def changes(db: Database, scope: TenantScope, audience_id: str) -> list[tuple[str, str, dt.datetime]]:
    docs = await db.collection(CHANGES).find_list(
        {"orgId": scope.org_id, "audienceId": audience_id}, sort=[("seq", 1)]
    )
    return [(d["subjectId"], d["change"], d["at"]) for d in docs]


async def recent_checkout(
    client: httpx.AsyncClient, acme: TenantScope, define: Define, ingest: IngestFn
) -> None:
    """c1 checked out a day ago, c2 three days ago: both in "checkout in the last 7 days"."""
    await define(acme, "journey", "aud-recent", event="checkout_started", days=7)
    await ingest(
        client,
        [{"id": "c1"}, {"id": "c2"}],
        [
            {"userId": "c1", "name": "checkout_started", "ts": (AS_OF - DAY).isoformat()},
            {"userId": "c2", "name": "checkout_started", "ts": (AS_OF - 3 * DAY).isoformat()},
        ],
    )


class TestSweep:
    async def test_a_window_that_passes_ends_the_membership(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
        clock: FixedClock,
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        clock.advance(5 * DAY)  # c2's checkout is now 8 days old, c1's 6
        result = await sweep(db=db, as_of=clock.now(), timeout_ms=T)
        assert (result.audiences, result.entered, result.left, result.failed) == (1, 0, 1, 0)
        assert await changes(db, acme, "aud-recent") == [
            ("c1", "entered", AS_OF),
            ("c2", "entered", AS_OF),
            ("c2", "left", AS_OF + 5 * DAY),
        ]
        clock.advance(2 * DAY)
        again = await sweep(db=db, as_of=clock.now(), timeout_ms=T)
        assert (again.entered, again.left) == (0, 1)
        assert (await changes(db, acme, "aud-recent"))[-1] == ("c1", "left", AS_OF + WEEK)

    async def test_sweeping_twice_at_the_same_instant_changes_nothing_more(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
        clock: FixedClock,
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        clock.advance(WEEK)
        assert (await sweep(db=db, as_of=clock.now(), timeout_ms=T)).left == 2
        assert (await sweep(db=db, as_of=clock.now(), timeout_ms=T)).left == 0

    async def test_definitions_that_do_not_depend_on_time_are_not_re_checked(
        self, db: Database, acme: TenantScope, define: Define, client: httpx.AsyncClient, ingest: IngestFn
    ) -> None:
        await ingest(client, [{"id": "c1", "tier": "pro"}], [])
        await define(acme, "segment", "seg-pro", field="tier", value="pro")
        await define(acme, "journey", "aud-ever", event="checkout_started")
        result = await sweep(db=db, as_of=AS_OF + 30 * DAY, timeout_ms=T)
        assert (result.audiences, result.entered, result.left) == (0, 0, 0)

    async def test_one_org_is_swept_alone_when_named(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        globex: TenantScope,
        define: Define,
        ingest: IngestFn,
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        await recent_checkout(other_client, globex, define, ingest)
        result = await sweep(db=db, as_of=AS_OF + WEEK, timeout_ms=T, org_id="globex")
        assert (result.audiences, result.left) == (1, 2)
        assert [c for _, c, _ in await changes(db, acme, "aud-recent")] == ["entered", "entered"]

    async def test_an_audience_with_a_recompute_under_way_is_left_to_it(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        await queue_job(
            db=db,
            scope=acme,
            audience_kind="journey",
            audience_id="aud-recent",
            definition_version=2,
            now=AS_OF,
        )
        result = await sweep(db=db, as_of=AS_OF + WEEK, timeout_ms=T)
        assert (result.audiences, result.left) == (0, 0)

    async def test_an_audience_that_fails_is_counted_and_the_others_go_on(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        await define(acme, "segment", "seg-broken", event="checkout_started", days=3)
        await save_definition(db, acme, "segment", "seg-broken", event="checkout_started", days=3, fails=True)
        result = await sweep(db=db, as_of=AS_OF + WEEK, timeout_ms=T)
        assert (result.audiences, result.failed, result.left) == (1, 1, 2)


class TestSweepRoute:
    async def test_sweeps_the_callers_org_and_reports_the_changes(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
        clock: FixedClock,
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        clock.advance(5 * DAY)
        r = await client.post("/api/membership/sweep")
        assert r.status_code == 200, r.text
        body = r.json()
        assert {k: body[k] for k in ("audiences", "entered", "left", "failed")} == {
            "audiences": 1,
            "entered": 0,
            "left": 1,
            "failed": 0,
        }
        assert isinstance(body["tookMs"], int)
        assert (await changes(db, acme, "aud-recent"))[-1] == ("c2", "left", AS_OF + 5 * DAY)

    async def test_as_of_may_be_given_in_the_body_or_the_query(
        self, client: httpx.AsyncClient, acme: TenantScope, define: Define, ingest: IngestFn
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        r = await client.post("/api/membership/sweep", params={"asOf": (AS_OF + 5 * DAY).isoformat()})
        assert r.json()["left"] == 1
        r = await client.post("/api/membership/sweep", json={"asOf": (AS_OF + WEEK).isoformat()})
        assert r.json()["left"] == 1

    async def test_a_bad_as_of_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/membership/sweep", json={"asOf": "next tuesday"})
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_instant"
        assert r.json()["errors"][0]["path"] == "asOf"

    async def test_needs_the_admin_scope(self, raw_client: httpx.AsyncClient, token: Any) -> None:
        headers = {
            "Authorization": f"Bearer {token('acme', scopes=['audiences:read', 'audiences:write'])}",
            "orgid": "acme",
        }
        r = await raw_client.post("/api/membership/sweep", headers=headers)
        assert r.status_code == 403
        assert r.json()["code"] == "insufficient_scope"


class TestPeriodicSweep:
    async def test_sweeps_every_interval_with_the_clocks_time(
        self,
        client: httpx.AsyncClient,
        db: Database,
        acme: TenantScope,
        define: Define,
        ingest: IngestFn,
        clock: FixedClock,
        settings: Settings,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        await recent_checkout(client, acme, define, ingest)
        waits: list[float] = []

        async def one_interval(seconds: float) -> None:
            waits.append(seconds)
            if len(waits) == 1:
                clock.advance(WEEK)  # the interval passes
                return
            raise asyncio.CancelledError  # stop the loop after one pass

        monkeypatch.setattr(sweep_module, "_sleep", one_interval)
        with pytest.raises(asyncio.CancelledError):
            await sweep_forever(
                db=db, clock=clock, settings=settings.model_copy(update={"sweep_interval_s": 300})
            )
        assert waits == [300, 300]
        assert [c for _, c, _ in await changes(db, acme, "aud-recent")] == [
            "entered",
            "entered",
            "left",
            "left",
        ]


class TestSweepCommand:
    def test_sweeps_an_org_at_the_given_instant(
        self, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, kinds: Kinds, clock: FixedClock
    ) -> None:
        monkeypatch.delenv("AUDIENCES_MONGODB_URI", raising=False)
        monkeypatch.setenv("AUDIENCES_DATA_DIR", str(tmp_path))
        monkeypatch.setenv("AUDIENCES_JWT_SECRET", "cli-secret-" + "z" * 40)
        get_settings.cache_clear()
        try:
            settings = get_settings()
            asyncio.run(self._prepare(settings, clock))
            result = CliRunner().invoke(cli, ["sweep", "--org", "acme", "--as-of", "2026-05-01T12:00:00Z"])
            assert result.exit_code == 0, result.output
            body = json.loads(result.stdout)
            assert {k: body[k] for k in ("asOf", "audiences", "entered", "left", "failed")} == {
                "asOf": "2026-05-01T12:00:00.000Z",
                "audiences": 1,
                "entered": 0,
                "left": 1,
                "failed": 0,
            }
            bad = CliRunner().invoke(cli, ["sweep", "--as-of", "soon"])
            assert bad.exit_code != 0
        finally:
            get_settings.cache_clear()

    @staticmethod
    async def _prepare(settings: Settings, clock: FixedClock) -> None:
        db = open_database(settings)
        await db.connect()
        try:
            await ensure_indexes(db)
            acme = system_scope("acme")
            await db.collection("contacts").insert_one({"_id": "acme:c1", "orgId": "acme", "id": "c1"})
            await db.collection("events").insert_one(
                {"_id": "e1", "orgId": "acme", "userId": "c1", "name": "checkout_started", "ts": AS_OF - DAY}
            )
            await save_definition(db, acme, "journey", "aud-recent", event="checkout_started", days=7)
            await recompute.definition_changed(
                db=db, scope=acme, kind="journey", audience_id="aud-recent", clock=clock, settings=settings
            )
            await recompute.wait_for_recomputes()
        finally:
            await db.close()
