"""Change feeds and membership status routes, for segments and journey audiences."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from audiences.db import Database
from audiences.membership import jobs, registry, service
from audiences.membership.model import AudienceKind
from audiences.tenancy import TenantScope
from tests.conftest import AS_OF

T = 15_000

FEEDS: list[tuple[AudienceKind, str]] = [
    ("journey", "/api/audiences/{id}"),
    ("segment", "/api/crm/audiences/segments/{id}"),
]


async def record(
    db: Database,
    scope: TenantScope,
    kind: AudienceKind,
    audience_id: str,
    results: dict[str, bool],
    at: dt.datetime,
) -> None:
    await service.apply_membership(
        db=db,
        scope=scope,
        audience_kind=kind,
        audience_id=audience_id,
        definition_version=2,
        results=results,
        at=at,
        timeout_ms=T,
    )


@pytest.fixture(params=FEEDS, ids=["journey", "segment"])
def feed(request: pytest.FixtureRequest) -> tuple[AudienceKind, str]:
    kind, base = request.param
    return kind, base


async def history(store: Database, acme: TenantScope, kind: AudienceKind) -> None:
    """c1 enters at T0, c2 at T0+1h, c1 leaves at T0+2h, c3 enters at T0+3h."""
    hour = dt.timedelta(hours=1)
    await record(store, acme, kind, "aud-1", {"c1": True}, AS_OF)
    await record(store, acme, kind, "aud-1", {"c2": True}, AS_OF + hour)
    await record(store, acme, kind, "aud-1", {"c1": False}, AS_OF + 2 * hour)
    await record(store, acme, kind, "aud-1", {"c3": True}, AS_OF + 3 * hour)
    await record(store, acme, kind, "other", {"c9": True}, AS_OF)


def pairs(body: dict[str, Any]) -> list[tuple[str, str]]:
    return [(i["subjectId"], i["change"]) for i in body["items"]]


class TestChangeFeed:
    async def test_changes_are_listed_oldest_first(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope, feed: tuple[AudienceKind, str]
    ) -> None:
        kind, base = feed
        await history(store, acme, kind)
        r = await client.get(base.format(id="aud-1") + "/changes")
        assert r.status_code == 200, r.text
        body = r.json()
        assert pairs(body) == [("c1", "entered"), ("c2", "entered"), ("c1", "left"), ("c3", "entered")]
        first = body["items"][0]
        assert first["audienceId"] == "aud-1"
        assert first["audienceKind"] == kind
        assert first["at"] == "2026-04-24T12:00:00.000Z"
        assert first["definitionVersion"] == 2
        assert first["id"].startswith("chg_")
        assert body["hasMore"] is False

    async def test_the_cursor_pages_through_the_log(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope, feed: tuple[AudienceKind, str]
    ) -> None:
        kind, base = feed
        await history(store, acme, kind)
        url = base.format(id="aud-1") + "/changes"
        first = (await client.get(url, params={"limit": 3})).json()
        second = (await client.get(url, params={"limit": 3, "cursor": first["nextCursor"]})).json()
        assert (pairs(first), first["hasMore"]) == (
            [("c1", "entered"), ("c2", "entered"), ("c1", "left")],
            True,
        )
        assert (pairs(second), second["hasMore"]) == ([("c3", "entered")], False)

    async def test_a_poller_resumes_from_the_last_cursor_and_sees_only_new_changes(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope, feed: tuple[AudienceKind, str]
    ) -> None:
        kind, base = feed
        url = base.format(id="aud-1") + "/changes"
        await history(store, acme, kind)
        caught_up = (await client.get(url)).json()
        idle = (await client.get(url, params={"cursor": caught_up["nextCursor"]})).json()
        assert (idle["items"], idle["nextCursor"]) == ([], caught_up["nextCursor"])
        await record(store, acme, kind, "aud-1", {"c2": False}, AS_OF + dt.timedelta(hours=5))
        fresh = (await client.get(url, params={"cursor": idle["nextCursor"]})).json()
        assert pairs(fresh) == [("c2", "left")]

    async def test_since_keeps_changes_at_or_after_the_instant(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope, feed: tuple[AudienceKind, str]
    ) -> None:
        kind, base = feed
        await history(store, acme, kind)
        r = await client.get(base.format(id="aud-1") + "/changes", params={"since": "2026-04-24T14:00:00Z"})
        assert pairs(r.json()) == [("c1", "left"), ("c3", "entered")]

    async def test_an_audience_without_changes_has_an_empty_feed(
        self, client: httpx.AsyncClient, feed: tuple[AudienceKind, str]
    ) -> None:
        r = await client.get(feed[1].format(id="quiet") + "/changes")
        assert r.json() == {"items": [], "nextCursor": None, "hasMore": False}

    @pytest.mark.parametrize(
        ("params", "code", "path"),
        [
            ({"since": "yesterday"}, "invalid_instant", "since"),
            ({"limit": "0"}, "validation_failed", "query.limit"),
            ({"limit": "1001"}, "validation_failed", "query.limit"),
            ({"cursor": "not-a-cursor"}, "invalid_cursor", None),
            ({"cursor": "eyJ4IjoxfQ"}, "invalid_cursor", None),
        ],
    )
    async def test_bad_parameters_are_refused(
        self,
        client: httpx.AsyncClient,
        feed: tuple[AudienceKind, str],
        params: dict[str, str],
        code: str,
        path: str | None,
    ) -> None:
        r = await client.get(feed[1].format(id="aud-1") + "/changes", params=params)
        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        assert r.json()["code"] == code
        if path is not None:
            assert [e["path"] for e in r.json()["errors"]] == [path]

    async def test_another_orgs_changes_are_never_listed(
        self,
        other_client: httpx.AsyncClient,
        store: Database,
        acme: TenantScope,
        feed: tuple[AudienceKind, str],
    ) -> None:
        kind, base = feed
        await history(store, acme, kind)
        r = await other_client.get(base.format(id="aud-1") + "/changes")
        assert (r.status_code, r.json()["items"]) == (200, [])

    async def test_reading_needs_a_token(
        self, raw_client: httpx.AsyncClient, feed: tuple[AudienceKind, str]
    ) -> None:
        r = await raw_client.get(feed[1].format(id="aud-1") + "/changes", headers={"orgid": "acme"})
        assert r.status_code == 401


class TestAudienceExistence:
    """With the owning feature's checker registered, unknown ids answer that kind's 404."""

    @pytest.fixture
    def only_aud_1(self, monkeypatch: pytest.MonkeyPatch) -> None:
        async def exists(*, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int) -> bool:
            return scope.org_id == "acme" and audience_id == "aud-1"

        for kind in ("segment", "journey"):
            monkeypatch.setitem(registry._checkers, kind, exists)

    @pytest.mark.usefixtures("only_aud_1")
    @pytest.mark.parametrize("suffix", ["/changes", "/membership-status"])
    async def test_an_unknown_audience_is_404_with_its_kinds_code(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        feed: tuple[AudienceKind, str],
        suffix: str,
    ) -> None:
        kind, base = feed
        code = "segment_not_found" if kind == "segment" else "audience_not_found"
        missing = await client.get(base.format(id="nope") + suffix)
        foreign = await other_client.get(base.format(id="aud-1") + suffix)
        assert (missing.status_code, missing.json()["code"]) == (404, code)
        assert (foreign.status_code, foreign.json()["code"]) == (404, code)

    @pytest.mark.usefixtures("only_aud_1")
    async def test_a_known_audience_is_answered(
        self, client: httpx.AsyncClient, feed: tuple[AudienceKind, str]
    ) -> None:
        r = await client.get(feed[1].format(id="aud-1") + "/changes")
        assert r.status_code == 200


class TestMembershipStatus:
    async def test_no_recompute_recorded_is_404(
        self, client: httpx.AsyncClient, feed: tuple[AudienceKind, str]
    ) -> None:
        r = await client.get(feed[1].format(id="aud-1") + "/membership-status")
        assert (r.status_code, r.json()["code"]) == (404, "membership_status_not_found")

    async def test_progress_of_a_running_recompute(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope, feed: tuple[AudienceKind, str]
    ) -> None:
        kind, base = feed
        handle = await jobs.queue_job(
            db=store, scope=acme, audience_kind=kind, audience_id="aud-1", definition_version=5, now=AS_OF
        )
        url = base.format(id="aud-1") + "/membership-status"
        pending = (await client.get(url)).json()
        await jobs.start_job(db=store, handle=handle, now=AS_OF + dt.timedelta(seconds=1), total=10)
        await jobs.update_progress(db=store, handle=handle, processed=4)
        running = (await client.get(url)).json()
        assert pending == {
            "audienceId": "aud-1",
            "audienceKind": kind,
            "state": "pending",
            "definitionVersion": 5,
            "processed": 0,
            "total": None,
            "queuedAt": "2026-04-24T12:00:00.000Z",
            "startedAt": None,
            "finishedAt": None,
            "error": None,
        }
        assert (running["state"], running["processed"], running["total"], running["startedAt"]) == (
            "running",
            4,
            10,
            "2026-04-24T12:00:01.000Z",
        )

    async def test_a_failed_recompute_shows_its_error(
        self, client: httpx.AsyncClient, store: Database, acme: TenantScope, feed: tuple[AudienceKind, str]
    ) -> None:
        kind, base = feed
        handle = await jobs.queue_job(
            db=store, scope=acme, audience_kind=kind, audience_id="aud-1", definition_version=1, now=AS_OF
        )
        await jobs.fail_job(db=store, handle=handle, now=AS_OF, error="the cohort 'vip' no longer exists")
        body = (await client.get(base.format(id="aud-1") + "/membership-status")).json()
        assert (body["state"], body["error"], body["finishedAt"]) == (
            "failed",
            "the cohort 'vip' no longer exists",
            "2026-04-24T12:00:00.000Z",
        )

    async def test_another_orgs_status_is_not_visible(
        self,
        other_client: httpx.AsyncClient,
        store: Database,
        acme: TenantScope,
        feed: tuple[AudienceKind, str],
    ) -> None:
        kind, base = feed
        await jobs.queue_job(
            db=store, scope=acme, audience_kind=kind, audience_id="aud-1", definition_version=1, now=AS_OF
        )
        r = await other_client.get(base.format(id="aud-1") + "/membership-status")
        assert r.status_code == 404
