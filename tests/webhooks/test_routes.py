"""Webhook registration, reading, deletion and the delivery log, per org."""

from __future__ import annotations

import datetime as dt
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.main import create_app
from audiences.membership import service as membership
from audiences.tenancy import TenantScope
from audiences.webhooks import service
from tests.conftest import AS_OF, make_token

HOOK = {"url": "http://127.0.0.1:9/hooks/audiences", "events": ["audience.entered", "audience.left"]}


async def register(client: httpx.AsyncClient, **overrides: Any) -> dict[str, Any]:
    r = await client.post("/api/webhooks", json=HOOK | overrides)
    assert r.status_code == 201, r.text
    body: dict[str, Any] = r.json()
    return body


async def enter(db: Database, scope: TenantScope, subjects: list[str], at: dt.datetime = AS_OF) -> None:
    await membership.apply_membership(
        db=db,
        scope=scope,
        audience_kind="journey",
        audience_id="aud-1",
        definition_version=1,
        results=dict.fromkeys(subjects, True),
        at=at,
        timeout_ms=15_000,
    )


class TestCreateWebhook:
    async def test_registering_returns_the_webhook_with_its_secret(self, client: httpx.AsyncClient) -> None:
        body = await register(client, audienceIds=["aud-1", "seg-2"])
        assert body["id"].startswith("wh_")
        assert body["secret"].startswith("whsec_")
        assert {k: body[k] for k in ("url", "events", "audienceIds", "createdAt")} == {
            "url": HOOK["url"],
            "events": ["audience.entered", "audience.left"],
            "audienceIds": ["aud-1", "seg-2"],
            "createdAt": "2026-04-24T12:00:00.000Z",
        }

    async def test_audience_ids_default_to_every_audience(self, client: httpx.AsyncClient) -> None:
        assert (await register(client))["audienceIds"] is None

    async def test_the_secret_is_never_shown_again(self, client: httpx.AsyncClient) -> None:
        created = await register(client)
        one = (await client.get(f"/api/webhooks/{created['id']}")).json()
        listed = (await client.get("/api/webhooks")).json()["items"]
        assert "secret" not in one
        assert all("secret" not in w for w in listed)
        assert created["secret"] not in str(one) + str(listed)

    @pytest.mark.parametrize(
        ("body", "path"),
        [
            ({"url": HOOK["url"], "events": []}, "events"),
            ({"url": HOOK["url"], "events": ["audience.updated"]}, "events[0]"),
            ({"events": ["audience.left"]}, "url"),
            (HOOK | {"audienceIds": "aud-1"}, "audienceIds"),
            (HOOK | {"colour": "blue"}, "colour"),
        ],
    )
    async def test_invalid_bodies_are_refused_with_paths(
        self, client: httpx.AsyncClient, body: dict[str, Any], path: str
    ) -> None:
        r = await client.post("/api/webhooks", json=body)
        assert r.status_code == 400
        assert path in [e["path"] for e in r.json()["errors"]]

    async def test_non_http_urls_are_refused(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/webhooks", json=HOOK | {"url": "ftp://127.0.0.1/x"})
        assert (r.status_code, r.json()["code"]) == (400, "webhook_url_not_allowed")

    async def test_registering_needs_the_write_scope(self, app: FastAPI, settings: Settings) -> None:
        headers = {
            "Authorization": f"Bearer {make_token(settings, ['acme'], ['audiences:read'])}",
            "orgid": "acme",
        }
        async with httpx.AsyncClient(
            transport=httpx.ASGITransport(app=app), base_url="http://test", headers=headers
        ) as reader:
            r = await reader.post("/api/webhooks", json=HOOK)
            listed = await reader.get("/api/webhooks")
        assert (r.status_code, r.json()["code"]) == (403, "insufficient_scope")
        assert listed.status_code == 200


class TestPrivateAddressesRefused:
    """With AUDIENCES_WEBHOOK_ALLOW_PRIVATE=false (the default) internal targets are refused."""

    @pytest.fixture
    async def strict_client(
        self, settings: Settings, db: Database, clock: FixedClock
    ) -> AsyncIterator[httpx.AsyncClient]:
        strict = settings.model_copy(update={"webhook_allow_private": False})
        app = create_app(strict, database=db, clock=clock)
        app.state.background_loops = False
        headers = {"Authorization": f"Bearer {make_token(strict, ['acme'])}", "orgid": "acme"}
        async with (
            app.router.lifespan_context(app),
            httpx.AsyncClient(
                transport=httpx.ASGITransport(app=app), base_url="http://t", headers=headers
            ) as c,
        ):
            yield c

    @pytest.mark.parametrize(
        "url",
        [
            "http://127.0.0.1:8080/hook",
            "http://localhost:8080/hook",
            "http://10.0.0.7/hook",
            "http://[fe80::1]/hook",
            "http://169.254.169.254/latest",
        ],
    )
    async def test_loopback_private_and_link_local_urls_are_400(
        self, strict_client: httpx.AsyncClient, url: str
    ) -> None:
        r = await strict_client.post("/api/webhooks", json=HOOK | {"url": url})
        assert (r.status_code, r.json()["code"]) == (400, "webhook_url_not_allowed")
        assert (await strict_client.get("/api/webhooks")).json()["items"] == []


class TestListWebhooks:
    async def test_webhooks_are_listed_oldest_first_in_pages(
        self, client: httpx.AsyncClient, clock: FixedClock
    ) -> None:
        ids = []
        for _ in range(3):
            ids.append((await register(client))["id"])
            clock.advance(dt.timedelta(seconds=1))
        first = (await client.get("/api/webhooks", params={"limit": 2})).json()
        second = (
            await client.get("/api/webhooks", params={"limit": 2, "cursor": first["nextCursor"]})
        ).json()
        assert [w["id"] for w in first["items"]] == ids[:2]
        assert ([w["id"] for w in second["items"]], second["nextCursor"]) == (ids[2:], None)

    async def test_each_org_sees_only_its_webhooks(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        mine = await register(client)
        theirs = await register(other_client)
        assert [w["id"] for w in (await client.get("/api/webhooks")).json()["items"]] == [mine["id"]]
        assert [w["id"] for w in (await other_client.get("/api/webhooks")).json()["items"]] == [theirs["id"]]

    async def test_a_bad_cursor_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/webhooks", params={"cursor": "eyJhIjoxfQ"})
        assert (r.status_code, r.json()["code"]) == (400, "invalid_cursor")


class TestGetWebhook:
    async def test_an_unknown_id_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/webhooks/wh_missing")
        assert (r.status_code, r.json()["code"]) == (404, "webhook_not_found")

    async def test_another_orgs_webhook_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        created = await register(client)
        r = await other_client.get(f"/api/webhooks/{created['id']}")
        assert (r.status_code, r.json()["code"]) == (404, "webhook_not_found")


class TestDeleteWebhook:
    async def test_deleting_removes_the_webhook_and_its_pending_deliveries(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope
    ) -> None:
        created = await register(client)
        await enter(store, acme, ["c1"])
        assert (await client.delete(f"/api/webhooks/{created['id']}")).status_code == 204
        assert (await client.get(f"/api/webhooks/{created['id']}")).status_code == 404
        assert await store.collection("webhook_deliveries").count({"webhookId": created["id"]}) == 0

    async def test_another_org_cannot_delete_it(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        created = await register(client)
        r = await other_client.delete(f"/api/webhooks/{created['id']}")
        assert (r.status_code, r.json()["code"]) == (404, "webhook_not_found")
        assert (await client.get(f"/api/webhooks/{created['id']}")).status_code == 200


class TestListDeliveries:
    async def test_deliveries_are_stored_pending_before_any_try(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope
    ) -> None:
        created = await register(client)
        await enter(store, acme, ["c1"])
        items = (await client.get(f"/api/webhooks/{created['id']}/deliveries")).json()["items"]
        assert len(items) == 1
        delivery = items[0]
        assert delivery["id"].startswith("dlv_")
        assert (delivery["state"], delivery["attempts"], delivery["nextAttemptAt"]) == (
            "pending",
            0,
            "2026-04-24T12:00:00.000Z",
        )
        assert delivery["payload"] == {
            "id": delivery["changeId"],
            "type": "audience.entered",
            "audienceId": "aud-1",
            "audienceKind": "journey",
            "subjectId": "c1",
            "at": "2026-04-24T12:00:00.000Z",
            "definitionVersion": 1,
        }

    async def test_deliveries_are_paged_newest_first_and_filtered_by_state(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope
    ) -> None:
        created = await register(client)
        for minute, subject in enumerate(["c1", "c2", "c3"]):
            await enter(store, acme, [subject], at=AS_OF + dt.timedelta(minutes=minute))
        url = f"/api/webhooks/{created['id']}/deliveries"
        first = (await client.get(url, params={"limit": 2})).json()
        second = (await client.get(url, params={"limit": 2, "cursor": first["nextCursor"]})).json()
        subjects = [d["payload"]["subjectId"] for d in first["items"] + second["items"]]
        assert subjects == ["c3", "c2", "c1"]
        assert second["nextCursor"] is None
        assert (await client.get(url, params={"state": "delivered"})).json()["items"] == []
        assert len((await client.get(url, params={"state": "pending"})).json()["items"]) == 3

    async def test_webhooks_only_get_the_events_and_audiences_they_asked_for(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope
    ) -> None:
        leaves = await register(client, events=["audience.left"])
        other_audience = await register(client, audienceIds=["aud-2"])
        this_audience = await register(client, audienceIds=["aud-1"])
        await enter(store, acme, ["c1"])

        async def count(hook: dict[str, Any]) -> int:
            return len((await client.get(f"/api/webhooks/{hook['id']}/deliveries")).json()["items"])

        assert (await count(leaves), await count(other_audience), await count(this_audience)) == (0, 0, 1)

    async def test_an_orgs_changes_go_only_to_its_own_webhooks(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        store: Database,
        globex: TenantScope,
    ) -> None:
        mine = await register(client)
        await register(other_client)
        await enter(store, globex, ["c1"])
        assert (await client.get(f"/api/webhooks/{mine['id']}/deliveries")).json()["items"] == []

    async def test_another_orgs_delivery_log_is_404(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient
    ) -> None:
        created = await register(client)
        r = await other_client.get(f"/api/webhooks/{created['id']}/deliveries")
        assert (r.status_code, r.json()["code"]) == (404, "webhook_not_found")

    async def test_enqueuing_the_same_change_twice_stores_one_delivery(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope
    ) -> None:
        created = await register(client)
        changes = await membership.apply_membership(
            db=store,
            scope=acme,
            audience_kind="segment",
            audience_id="seg-1",
            definition_version=1,
            results={"c1": True},
            at=AS_OF,
            timeout_ms=15_000,
        )
        again = await service.enqueue_deliveries(
            db=store, scope=acme, changes=changes, now=AS_OF, timeout_ms=15_000
        )
        assert again == 0
        assert len((await client.get(f"/api/webhooks/{created['id']}/deliveries")).json()["items"]) == 1


class TestWebhookLimit:
    async def test_registering_past_the_per_org_limit_is_409(
        self, client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "MAX_WEBHOOKS_PER_ORG", 2)
        await register(client)
        await register(client)
        r = await client.post("/api/webhooks", json=HOOK)
        assert (r.status_code, r.json()["code"]) == (409, "webhook_limit_reached")

    async def test_the_limit_counts_each_orgs_webhooks_only(
        self, client: httpx.AsyncClient, other_client: httpx.AsyncClient, monkeypatch: pytest.MonkeyPatch
    ) -> None:
        monkeypatch.setattr(service, "MAX_WEBHOOKS_PER_ORG", 2)
        await register(client)
        await register(client)
        r = await other_client.post("/api/webhooks", json=HOOK)
        assert r.status_code == 201, r.text
