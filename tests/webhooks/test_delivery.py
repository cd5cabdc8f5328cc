"""Delivering: signed POSTs to a real receiver on 127.0.0.1, retries with backoff for
24 h, at-least-once across restarts, and a worker that never holds up requests."""

from __future__ import annotations

import asyncio
import datetime as dt
import itertools
import json
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.main import create_app
from audiences.membership import service as membership
from audiences.membership.background import maintain
from audiences.tenancy import TenantScope
from audiences.webhooks import service
from audiences.webhooks.delivery import (
    DEFAULT_POLICY,
    DeliveryRun,
    RetryPolicy,
    build_delivery_client,
    deliver_due,
)
from audiences.webhooks.repository import DELIVERIES, DeliveryRepository, WebhookRepository
from tests.conftest import AS_OF, make_token
from tests.webhooks.receiver import Receiver, running

T = 15_000
SECOND = dt.timedelta(seconds=1)


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    async with running(Receiver()) as r:
        yield r


@pytest.fixture
async def sender() -> AsyncIterator[httpx.AsyncClient]:
    """The HTTP client deliveries go out with."""
    async with build_delivery_client(allow_private=True) as c:
        yield c


async def register(db: Database, scope: TenantScope, receiver: Receiver, **kw: Any) -> dict[str, Any]:
    hook = await service.create_webhook(
        db=db,
        scope=scope,
        url=kw.pop("url", receiver.url),
        events=kw.pop("events", ["audience.entered", "audience.left"]),
        audience_ids=kw.pop("audience_ids", None),
        now=AS_OF,
        allow_private=True,
        timeout_ms=T,
    )
    receiver.secret = hook["secret"]
    return hook


async def enter(db: Database, scope: TenantScope, subject: str = "c1", at: dt.datetime = AS_OF) -> None:
    await membership.apply_membership(
        db=db,
        scope=scope,
        audience_kind="journey",
        audience_id="aud-pro",
        definition_version=3,
        results={subject: True},
        at=at,
        timeout_ms=T,
    )


async def deliver(db: Database, sender: httpx.AsyncClient, now: dt.datetime, **kw: Any) -> DeliveryRun:
    return await deliver_due(db=db, now=now, client=sender, timeout_ms=T, rand=lambda: 0.5, **kw)


async def only_delivery(db: Database) -> dict[str, Any]:
    docs = await db.collection(DELIVERIES).find_list({})
    assert len(docs) == 1
    return docs[0]


class TestDeliverDue:
    async def test_a_due_delivery_is_posted_signed_and_marked_delivered(
        self, store: Database, acme: TenantScope, receiver: Receiver, sender: httpx.AsyncClient
    ) -> None:
        await register(store, acme, receiver)
        await enter(store, acme)
        run = await deliver(store, sender, AS_OF)
        assert (run.attempted, run.delivered) == (1, 1)
        [got] = receiver.requests
        stored = await only_delivery(store)
        assert (got.method, got.path) == ("POST", "/hooks/audiences")
        assert got.signature_ok
        assert got.headers["content-type"] == "application/json"
        assert got.headers["x-audiences-delivery"] == stored["_id"]
        assert got.headers["x-audiences-timestamp"] == str(int(AS_OF.timestamp()))
        assert json.loads(got.body) == {
            "id": stored["changeId"],
            "type": "audience.entered",
            "audienceId": "aud-pro",
            "audienceKind": "journey",
            "subjectId": "c1",
            "at": "2026-04-24T12:00:00.000Z",
            "definitionVersion": 3,
        }
        assert (stored["state"], stored["attempts"], stored["lastStatus"]) == ("delivered", 1, 200)

    async def test_a_delivered_delivery_is_not_sent_again(
        self, store: Database, acme: TenantScope, receiver: Receiver, sender: httpx.AsyncClient
    ) -> None:
        await register(store, acme, receiver)
        await enter(store, acme)
        await deliver(store, sender, AS_OF)
        again = await deliver(store, sender, AS_OF + dt.timedelta(days=1))
        assert again.attempted == 0
        assert len(receiver.requests) == 1

    async def test_one_orgs_backlog_does_not_hold_back_another_org(
        self,
        store: Database,
        acme: TenantScope,
        globex: TenantScope,
        receiver: Receiver,
        sender: httpx.AsyncClient,
    ) -> None:
        await register(store, acme, receiver)
        await register(store, globex, receiver)
        for n in range(6):
            await enter(store, acme, subject=f"a{n}", at=AS_OF - dt.timedelta(hours=1, minutes=n))
        await enter(store, globex, subject="g1")
        run = await deliver(store, sender, AS_OF, limit=2)
        assert run.attempted == 2
        assert sorted(json.loads(r.body)["subjectId"][0] for r in receiver.requests) == ["a", "g"]
        # Slots nobody else wants go to the org with the backlog.
        rest = await deliver(store, sender, AS_OF, limit=10)
        assert (rest.attempted, rest.delivered) == (5, 5)

    async def test_each_change_goes_to_every_matching_webhook(
        self, store: Database, acme: TenantScope, sender: httpx.AsyncClient
    ) -> None:
        async with running(Receiver()) as a, running(Receiver()) as b:
            await register(store, acme, a)
            await register(store, acme, b)
            await enter(store, acme, "c1")
            await enter(store, acme, "c2")
            run = await deliver(store, sender, AS_OF)
        assert run.delivered == 4
        assert sorted(json.loads(r.body)["subjectId"] for r in a.requests) == ["c1", "c2"]
        assert all(r.signature_ok for r in a.requests)
        assert all(r.signature_ok for r in b.requests)

    async def test_two_workers_never_send_the_same_try(
        self, store: Database, acme: TenantScope, receiver: Receiver, sender: httpx.AsyncClient
    ) -> None:
        await register(store, acme, receiver)
        await enter(store, acme)
        runs = await asyncio.gather(deliver(store, sender, AS_OF), deliver(store, sender, AS_OF))
        assert sum(r.attempted for r in runs) == 1
        assert len(receiver.requests) == 1


class TestRetries:
    async def test_a_receiver_failing_twice_gets_the_delivery_on_the_third_try_across_restarts(
        self,
        settings: Settings,
        store: Database,
        acme: TenantScope,
        clock: FixedClock,
        receiver: Receiver,
        sender: httpx.AsyncClient,
    ) -> None:
        receiver.statuses = [500, 503]
        await register(store, acme, receiver)

        async def service_run(now: dt.datetime) -> DeliveryRun:
            """Start the service over the same database, run one delivery pass, stop it."""
            clock.at = now
            app = create_app(settings, database=store, clock=clock)
            app.state.background_loops = False
            async with app.router.lifespan_context(app):
                return await deliver(store, sender, now)

        clock.at = AS_OF
        await enter(store, acme)
        first = await service_run(AS_OF)
        too_early = await service_run(AS_OF + 29 * SECOND)
        second = await service_run(AS_OF + 30 * SECOND)
        third = await service_run(AS_OF + 90 * SECOND)

        assert [(r.attempted, r.retrying, r.delivered) for r in (first, too_early, second, third)] == [
            (1, 1, 0),
            (0, 0, 0),
            (1, 1, 0),
            (1, 0, 1),
        ]
        assert all(r.signature_ok for r in receiver.requests)
        assert len({r.headers["x-audiences-delivery"] for r in receiver.requests}) == 1
        assert len({r.body for r in receiver.requests}) == 1
        stored = await only_delivery(store)
        assert [h["status"] for h in stored["history"]] == [500, 503, 200]
        assert [h["error"] for h in stored["history"]] == ["HTTP 500", "HTTP 503", None]
        assert (stored["state"], stored["attempts"]) == ("delivered", 3)

    async def test_a_pending_delivery_is_picked_up_by_the_worker_of_a_restarted_service(
        self, settings: Settings, store: Database, acme: TenantScope, clock: FixedClock, receiver: Receiver
    ) -> None:
        await register(store, acme, receiver)
        stopped = create_app(settings, database=store, clock=clock)
        stopped.state.background_loops = False
        async with stopped.router.lifespan_context(stopped):
            await enter(store, acme)
        assert receiver.requests == []

        restarted = create_app(settings, database=store, clock=clock)
        async with restarted.router.lifespan_context(restarted), asyncio.timeout(10):
            await receiver.arrived.wait()
        assert receiver.requests[0].signature_ok

    def test_the_backoff_doubles_from_30_s_up_to_an_hour_with_25_percent_jitter(self) -> None:
        policy = RetryPolicy()
        assert [policy.delay(n, 0.5) for n in (1, 2, 3, 4, 8, 20)] == [
            30 * SECOND,
            60 * SECOND,
            120 * SECOND,
            240 * SECOND,
            dt.timedelta(hours=1),
            dt.timedelta(hours=1),
        ]
        assert (policy.delay(1, 0.0), policy.delay(1, 1.0)) == (22.5 * SECOND, 37.5 * SECOND)

    async def test_retries_stop_after_24_hours_and_the_delivery_fails(
        self, store: Database, acme: TenantScope, receiver: Receiver, sender: httpx.AsyncClient
    ) -> None:
        receiver.default = 500
        await register(store, acme, receiver)
        await enter(store, acme)
        now, tries = AS_OF, []
        while True:
            await deliver(store, sender, now)
            stored = await only_delivery(store)
            tries.append(now)
            if stored["state"] != "pending":
                break
            now = stored["nextAttemptAt"]
        gaps = [b - a for a, b in itertools.pairwise(tries)]
        assert stored["state"] == "failed"
        assert tries[-1] == AS_OF + DEFAULT_POLICY.window
        assert gaps[:3] == [30 * SECOND, 60 * SECOND, 120 * SECOND]
        assert max(gaps) == dt.timedelta(hours=1)
        assert len(receiver.requests) == len(tries) == 31

    async def test_a_timeout_counts_as_a_failed_try(
        self, store: Database, acme: TenantScope, receiver: Receiver
    ) -> None:
        await register(store, acme, receiver)
        await enter(store, acme)

        def hang(request: httpx.Request) -> httpx.Response:
            raise httpx.ReadTimeout("no answer", request=request)

        async with httpx.AsyncClient(transport=httpx.MockTransport(hang)) as slow:
            run = await deliver(store, slow, AS_OF)
        stored = await only_delivery(store)
        assert run.retrying == 1
        assert (stored["state"], stored["lastStatus"], stored["lastError"]) == (
            "pending",
            None,
            "timed out after 5 s",
        )

    async def test_a_refused_connection_is_retried(
        self, store: Database, acme: TenantScope, sender: httpx.AsyncClient
    ) -> None:
        async with running(Receiver()) as gone:
            url = gone.url
        await register(store, acme, gone, url=url)
        await enter(store, acme)
        await deliver(store, sender, AS_OF)
        stored = await only_delivery(store)
        assert stored["state"] == "pending"
        assert stored["lastError"].startswith("ConnectError")

    async def test_a_try_cut_short_by_a_crash_is_retried_after_the_claim_lease(
        self, store: Database, acme: TenantScope, receiver: Receiver, sender: httpx.AsyncClient
    ) -> None:
        await register(store, acme, receiver)
        await enter(store, acme)
        doc = await only_delivery(store)
        # A worker claimed it and died before recording anything.
        assert await DeliveryRepository(store).claim(
            doc, claim="dead-worker", until=AS_OF + DEFAULT_POLICY.lease
        )
        assert (await deliver(store, sender, AS_OF)).attempted == 0
        assert (await deliver(store, sender, AS_OF + DEFAULT_POLICY.lease)).delivered == 1

    async def test_a_delivery_whose_webhook_vanished_fails(
        self, store: Database, acme: TenantScope, receiver: Receiver, sender: httpx.AsyncClient
    ) -> None:
        hook = await register(store, acme, receiver)
        await enter(store, acme)
        await WebhookRepository(store).delete(acme, hook["_id"])  # deleted while queued
        run = await deliver(store, sender, AS_OF)
        stored = await only_delivery(store)
        assert (run.failed, stored["state"], stored["lastError"]) == (1, "failed", "the webhook was deleted")
        assert receiver.requests == []


class TestRetention:
    async def test_finished_deliveries_are_purged_after_30_days(
        self, store: Database, acme: TenantScope, receiver: Receiver, sender: httpx.AsyncClient
    ) -> None:
        await register(store, acme, receiver)
        await enter(store, acme, "c1")
        await deliver(store, sender, AS_OF)
        await enter(store, acme, "c2")  # still pending: never purged
        await maintain(db=store, clock=FixedClock(AS_OF + dt.timedelta(days=29)), timeout_ms=T)
        assert await store.collection(DELIVERIES).count({}) == 2
        await maintain(db=store, clock=FixedClock(AS_OF + dt.timedelta(days=31)), timeout_ms=T)
        remaining = await store.collection(DELIVERIES).find_list({})
        assert [d["state"] for d in remaining] == ["pending"]


class TestWorkerInTheApp:
    async def test_a_slow_receiver_does_not_hold_up_requests(
        self, settings: Settings, store: Database, acme: TenantScope, clock: FixedClock
    ) -> None:
        hold = asyncio.Event()
        async with running(Receiver(hold=hold)) as slow:
            await register(store, acme, slow)
            app = create_app(settings, database=store, clock=clock)
            headers = {"Authorization": f"Bearer {make_token(settings, ['acme'])}", "orgid": "acme"}
            async with (
                app.router.lifespan_context(app),
                httpx.AsyncClient(
                    transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
                ) as api,
            ):
                await enter(store, acme)
                async with asyncio.timeout(10):
                    await slow.arrived.wait()
                # The receiver holds the delivery open; the API still answers.
                r = await api.get("/api/webhooks")
                assert r.status_code == 200
                assert not hold.is_set()
                assert (await only_delivery(store))["attempts"] == 0
