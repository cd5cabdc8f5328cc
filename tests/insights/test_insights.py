"""GET /api/crm/audiences/segments/{id}/insights: demographic and engagement breakdowns."""

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
from audiences.insights import repository
from audiences.main import create_app
from audiences.tenancy import system_scope
from tests.conftest import AS_OF, IngestFn, make_token
from tests.insights.conftest import FixtureAudiences, make_events, make_people
from tests.insights.expected import expected_insights

EVERYONE: dict[str, Any] = {}


def url(audience_id: str) -> str:
    return f"/api/crm/audiences/segments/{audience_id}/insights"


async def insights(client: httpx.AsyncClient, audience_id: str, **params: str) -> dict[str, Any]:
    r = await client.get(url(audience_id), params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def breakdowns(body: dict[str, Any]) -> dict[str, list[dict[str, Any]]]:
    """Every breakdown that partitions the population, by name."""
    active = body["engagement"]["activeLast30d"]
    return {
        **body["demographics"],
        "emailOpenRecency": body["engagement"]["emailOpenRecency"],
        "activeLast30d": [active["active"], active["inactive"]],
    }


def counts(buckets: list[dict[str, Any]]) -> dict[str, int]:
    return {b["key"]: b["count"] for b in buckets}


class TestSegmentInsights:
    async def test_every_breakdown_sums_to_the_population_count(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        people = make_people(160)
        await ingest(client, people, make_events(people))
        pro = audiences.define("pro", {"tier": "pro"}, lambda c: c["tier"] == "pro")

        body = await insights(client, pro)

        assert body["count"] == len(audiences.members(pro, people)) > 0
        for name, buckets in breakdowns(body).items():
            assert sum(b["count"] for b in buckets) == body["count"], name
            assert len({b["key"] for b in buckets}) == len(buckets), f"{name} repeats a key"
            assert all(b["count"] >= 0 for b in buckets), name

    async def test_matches_an_independent_python_computation(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        people = make_people(200, seed=3)
        events = make_events(people, seed=4)
        await ingest(client, people, events)
        vip = audiences.define("vip", {"tags": "vip"}, lambda c: "vip" in c.get("tags", []))
        population = [c for c in people if c["id"] in audiences.members(vip, people)]

        body = await insights(client, vip)

        assert body["asOf"] == "2026-04-24T12:00:00.000Z"
        assert {k: v for k, v in body.items() if k != "asOf"} == expected_insights(
            population, events, as_of=AS_OF
        )

    async def test_shares_are_counts_over_the_population_to_four_decimals(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        await ingest(client, [{"id": "a", "country": "DE"}, {"id": "b", "country": "DE"}, {"id": "c"}], [])
        audiences.define("all", EVERYONE, lambda c: True)

        body = await insights(client, "all")

        assert body["demographics"]["country"] == [
            {"key": "DE", "count": 2, "share": 0.6667},
            {"key": "unknown", "count": 1, "share": 0.3333},
        ]

    async def test_city_lists_the_ten_most_common_then_other_then_unknown(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        # City k has 13 - k people: ties never decide the top 10.
        people = [{"id": f"c{k}-{i}", "city": f"Town {k:02d}"} for k in range(13) for i in range(13 - k)] + [
            {"id": "nowhere-1"},
            {"id": "nowhere-2", "city": "  "},
        ]
        await ingest(client, people, [])
        audiences.define("all", EVERYONE, lambda c: True)

        city = (await insights(client, "all"))["demographics"]["city"]

        assert [b["key"] for b in city] == [f"Town {k:02d}" for k in range(10)] + ["other", "unknown"]
        assert counts(city)["other"] == 3 + 2 + 1
        assert counts(city)["unknown"] == 2

    async def test_ties_in_a_top_list_are_broken_by_key(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        await ingest(client, [{"id": f"c{k}", "city": f"Town {k:02d}"} for k in reversed(range(12))], [])
        audiences.define("all", EVERYONE, lambda c: True)

        city = (await insights(client, "all"))["demographics"]["city"]

        assert [b["key"] for b in city] == [f"Town {k:02d}" for k in range(10)] + ["other"]

    async def test_age_is_whole_years_on_the_as_of_date(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        # AS_OF is 2026-04-24.
        await ingest(
            client,
            [
                {"id": "turns-18-today", "birthDate": "2008-04-24"},
                {"id": "turns-18-tomorrow", "birthDate": "2008-04-25"},
                {"id": "is-24", "birthDate": "2001-04-25"},
                {"id": "turns-65-today", "birthDate": "1961-04-24T23:30:00Z"},
                {"id": "not-born-yet", "birthDate": "2026-04-25"},
                {"id": "born-today", "birthDate": "2026-04-24"},
                {"id": "no-birth-date"},
            ],
            [],
        )
        audiences.define("all", EVERYONE, lambda c: True)

        ages = counts((await insights(client, "all"))["demographics"]["ageBands"])

        assert ages == {
            "<18": 2,
            "18-24": 2,
            "25-34": 0,
            "35-44": 0,
            "45-54": 0,
            "55-64": 0,
            "65+": 1,
            "unknown": 2,
        }

    async def test_email_open_recency_bands_are_days_before_as_of(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        def opened(days: float) -> str:
            return (AS_OF - dt.timedelta(days=days)).isoformat()

        await ingest(
            client,
            [
                {"id": "a", "lastEmailOpenedAt": opened(7)},
                {"id": "b", "lastEmailOpenedAt": opened(7.01)},
                {"id": "c", "lastEmailOpenedAt": opened(30)},
                {"id": "d", "lastEmailOpenedAt": opened(90)},
                {"id": "e", "lastEmailOpenedAt": opened(90.01)},
                {"id": "f", "lastEmailOpenedAt": None},
                {"id": "g"},
            ],
            [],
        )
        audiences.define("all", EVERYONE, lambda c: True)

        recency = (await insights(client, "all"))["engagement"]["emailOpenRecency"]

        assert [(b["key"], b["count"]) for b in recency] == [
            ("0-7d", 1),
            ("8-30d", 2),
            ("31-90d", 1),
            (">90d", 1),
            ("never", 2),
        ]

    async def test_active_means_seen_in_the_30_days_before_as_of(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        await ingest(
            client,
            [
                {"id": "a", "lastSeenAt": (AS_OF - dt.timedelta(days=30)).isoformat()},
                {"id": "b", "lastSeenAt": (AS_OF - dt.timedelta(days=31)).isoformat()},
                {"id": "c"},
            ],
            [],
        )
        audiences.define("all", EVERYONE, lambda c: True)

        active = (await insights(client, "all"))["engagement"]["activeLast30d"]

        assert active == {
            "active": {"key": "active", "count": 1, "share": 0.3333},
            "inactive": {"key": "inactive", "count": 2, "share": 0.6667},
        }

    async def test_top_events_count_people_of_the_population_in_the_window(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        def at(days: float) -> str:
            return (AS_OF - dt.timedelta(days=days)).isoformat()

        await ingest(
            client,
            [{"id": "a", "tier": "pro"}, {"id": "b", "tier": "pro"}, {"id": "c", "tier": "free"}],
            [
                # a fires `viewed` three times: one person.
                {"userId": "a", "name": "viewed", "ts": at(1)},
                {"userId": "a", "name": "viewed", "ts": at(2)},
                {"userId": "a", "name": "viewed", "ts": at(29.9)},
                {"userId": "b", "name": "viewed", "ts": at(3)},
                {"userId": "b", "name": "bought", "ts": at(0)},
                # Outside the window, after as_of, outside the population, or nobody's.
                {"userId": "b", "name": "old", "ts": at(30.1)},
                {"userId": "b", "name": "future", "ts": at(-0.1)},
                {"userId": "c", "name": "viewed", "ts": at(1)},
                {"userId": "c", "name": "other_tier", "ts": at(1)},
                {"userId": "ghost", "name": "ghostly", "ts": at(1)},
            ],
        )
        audiences.define("pro", {"tier": "pro"}, lambda c: c["tier"] == "pro")

        top = (await insights(client, "pro"))["engagement"]["topEvents30d"]

        assert top == [
            {"key": "viewed", "count": 2, "share": 1.0},
            {"key": "bought", "count": 1, "share": 0.5},
        ]

    async def test_top_events_list_at_most_ten(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        stamp = (AS_OF - dt.timedelta(days=1)).isoformat()
        await ingest(
            client,
            [{"id": "a"}],
            [{"userId": "a", "name": f"event_{k:02d}", "ts": stamp} for k in range(14)],
        )
        audiences.define("all", EVERYONE, lambda c: True)

        top = (await insights(client, "all"))["engagement"]["topEvents30d"]

        assert [b["key"] for b in top] == [f"event_{k:02d}" for k in range(10)]

    async def test_values_are_normalised_before_counting(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        await ingest(
            client,
            [
                {"id": "a", "gender": "Female", "language": "EN-gb"},
                {"id": "b", "gender": " female ", "language": "en"},
                {"id": "c", "gender": "male", "locale": "pt_BR"},
                {"id": "d", "language": "", "locale": "de-AT"},
            ],
            [],
        )
        audiences.define("all", EVERYONE, lambda c: True)

        body = await insights(client, "all")

        assert counts(body["demographics"]["gender"]) == {"female": 2, "male": 1, "unknown": 1}
        # `language` wins over `locale` when it is text, even empty.
        assert counts(body["demographics"]["language"]) == {"en": 2, "pt": 1, "unknown": 1}

    async def test_values_that_are_not_text_count_as_unknown(
        self, client: httpx.AsyncClient, db: Database, audiences: FixtureAudiences
    ) -> None:
        acme = system_scope("acme")
        await db.collection("contacts").insert_many(
            [
                acme.stamp(
                    {"_id": "acme:a", "id": "a", "gender": 1, "city": ["Berlin"], "birthDate": "1990"}
                ),
                acme.stamp({"_id": "acme:b", "id": "b", "gender": None, "city": {"name": "Paris"}}),
                acme.stamp({"_id": "acme:c", "id": "c", "gender": "unknown", "lastSeenAt": "yesterday"}),
            ]
        )
        audiences.define("all", EVERYONE, lambda c: True)

        body = await insights(client, "all")

        # A stored "unknown" joins the unknown bucket rather than duplicating its key.
        assert body["demographics"]["gender"] == [{"key": "unknown", "count": 3, "share": 1.0}]
        assert counts(body["demographics"]["city"]) == {"unknown": 3}
        assert counts(body["demographics"]["ageBands"])["unknown"] == 3
        assert counts(breakdowns(body)["activeLast30d"]) == {"active": 0, "inactive": 3}

    async def test_stored_values_past_the_raw_limit_are_counted_as_other(
        self,
        client: httpx.AsyncClient,
        ingest: IngestFn,
        audiences: FixtureAudiences,
        monkeypatch: pytest.MonkeyPatch,
    ) -> None:
        # Only the 2 most common stored values come back; the rest of the population is
        # `other` (documented), so the buckets still add up.
        monkeypatch.setattr(repository, "RAW_VALUES_LIMIT", 2)
        genders = ["a"] * 5 + ["b"] * 4 + ["c"] * 3 + ["d"] * 2 + [None] * 2
        await ingest(client, [{"id": f"c{i}", "gender": g} for i, g in enumerate(genders)], [])
        audiences.define("all", EVERYONE, lambda c: True)

        gender = (await insights(client, "all"))["demographics"]["gender"]

        assert [(b["key"], b["count"]) for b in gender] == [("a", 5), ("b", 4), ("other", 7)]

    async def test_an_empty_population_has_zero_buckets_and_no_events(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        await ingest(client, [{"id": "a", "tier": "free", "country": "DE"}], [])
        audiences.define("nobody", {"tier": "platinum"}, lambda c: False)

        body = await insights(client, "nobody")

        assert body["count"] == 0
        assert body["demographics"]["country"] == []
        assert body["demographics"]["ageBands"][0] == {"key": "<18", "count": 0, "share": 0.0}
        assert all(b["count"] == 0 and b["share"] == 0.0 for b in body["engagement"]["emailOpenRecency"])
        assert body["engagement"]["topEvents30d"] == []


class TestAsOf:
    async def test_as_of_moves_every_window_and_is_echoed(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences
    ) -> None:
        people = make_people(120, seed=5)
        events = make_events(people, seed=6)
        await ingest(client, people, events)
        audiences.define("all", EVERYONE, lambda c: True)
        earlier = AS_OF - dt.timedelta(days=10, hours=3)

        body = await insights(client, "all", asOf="2026-04-14T09:00:00Z")

        assert body["asOf"] == "2026-04-14T09:00:00.000Z"
        assert audiences.resolved_at == [earlier]
        assert {k: v for k, v in body.items() if k != "asOf"} == expected_insights(
            people, events, as_of=earlier
        )

    async def test_the_same_as_of_gives_the_same_answer(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences, clock: FixedClock
    ) -> None:
        people = make_people(60, seed=7)
        await ingest(client, people, make_events(people, seed=8))
        audiences.define("all", EVERYONE, lambda c: True)

        first = await insights(client, "all", asOf="2026-04-20")
        clock.advance(dt.timedelta(days=40))
        second = await insights(client, "all", asOf="2026-04-20T00:00:00+00:00")

        assert first == second
        assert first["asOf"] == "2026-04-20T00:00:00.000Z"

    async def test_without_as_of_the_app_clock_decides(
        self, client: httpx.AsyncClient, ingest: IngestFn, audiences: FixtureAudiences, clock: FixedClock
    ) -> None:
        seen = (AS_OF - dt.timedelta(days=20)).isoformat()
        await ingest(client, [{"id": "a", "lastSeenAt": seen}], [])
        audiences.define("all", EVERYONE, lambda c: True)

        now = await insights(client, "all")
        clock.advance(dt.timedelta(days=15))
        later = await insights(client, "all")

        assert counts(breakdowns(now)["activeLast30d"]) == {"active": 1, "inactive": 0}
        assert counts(breakdowns(later)["activeLast30d"]) == {"active": 0, "inactive": 1}
        assert later["asOf"] == "2026-05-09T12:00:00.000Z"

    @pytest.mark.parametrize("value", ["yesterday", "2026-13-01", ""])
    async def test_an_invalid_as_of_is_400(
        self, client: httpx.AsyncClient, audiences: FixtureAudiences, value: str
    ) -> None:
        audiences.define("all", EVERYONE, lambda c: True)

        r = await client.get(url("all"), params={"asOf": value})

        assert r.status_code == 400
        assert r.headers["content-type"] == "application/problem+json"
        body = r.json()
        assert body["code"] == "invalid_instant"
        assert body["errors"][0]["path"] == "asOf"


class TestNotFoundAndIsolation:
    async def test_an_unknown_id_is_404_segment_not_found(self, client: httpx.AsyncClient) -> None:
        r = await client.get(url("no-such-segment"))

        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"

    async def test_another_orgs_audience_is_404(
        self, other_client: httpx.AsyncClient, audiences: FixtureAudiences
    ) -> None:
        audiences.define("acme-only", EVERYONE, lambda c: True, org="acme")

        r = await other_client.get(url("acme-only"))

        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"

    async def test_counts_only_the_callers_contacts_and_events(
        self,
        client: httpx.AsyncClient,
        other_client: httpx.AsyncClient,
        ingest: IngestFn,
        audiences: FixtureAudiences,
    ) -> None:
        stamp = (AS_OF - dt.timedelta(days=1)).isoformat()
        await ingest(client, [{"id": "shared-id", "country": "DE"}], [])
        await ingest(
            other_client,
            [{"id": "shared-id", "country": "FR"}, {"id": "g2", "country": "FR"}],
            [{"userId": "shared-id", "name": "globex_event", "ts": stamp}],
        )
        audiences.define("all", EVERYONE, lambda c: True, org="acme")

        body = await insights(client, "all")

        assert body["count"] == 1
        assert counts(body["demographics"]["country"]) == {"DE": 1}
        assert body["engagement"]["topEvents30d"] == []

    async def test_needs_a_token(self, raw_client: httpx.AsyncClient) -> None:
        r = await raw_client.get(url("x"), headers={"orgid": "acme"})

        assert r.status_code == 401


class TestQueryTimeLimit:
    @pytest.fixture
    async def slow_client(
        self, settings: Settings, db: Database, clock: FixedClock
    ) -> AsyncIterator[httpx.AsyncClient]:
        """An app whose query time limit (1 ms) is shorter than any insights aggregation."""
        app: FastAPI = create_app(
            settings.model_copy(update={"query_timeout_ms": 1}), database=db, clock=clock
        )
        async with app.router.lifespan_context(app):
            transport = httpx.ASGITransport(app=app)
            headers = {"Authorization": f"Bearer {make_token(settings, ['acme'])}", "orgid": "acme"}
            async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
                yield c

    async def test_a_query_past_the_limit_is_503_query_timeout(
        self, slow_client: httpx.AsyncClient, db: Database, audiences: FixtureAudiences
    ) -> None:
        acme = system_scope("acme")
        rows = [acme.stamp({"_id": f"acme:{c['id']}", **c}) for c in make_people(3000, seed=9)]
        await db.collection("contacts").insert_many(rows)
        audiences.define("all", EVERYONE, lambda c: True)

        r = await slow_client.get(url("all"))

        assert r.status_code == 503
        assert r.json()["code"] == "query_timeout"
