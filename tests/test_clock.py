"""The one instant parser: every instant the API reads near the ends of the calendar
answers 400 with a path, never an OverflowError turned into 500 (issue 13, finding 2)."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from audiences.clock import (
    EVALUATION_EARLIEST,
    EVALUATION_LATEST,
    InstantOutOfRange,
    parse_evaluation_instant,
    parse_instant,
)
from audiences.querylang.durations import parse_duration

EARLY_WITH_OFFSET = "0001-01-01T00:00:00+01:00"
LATE_WITH_OFFSET = "9999-12-31T23:30:00-01:00"


class TestParseInstant:
    @pytest.mark.parametrize("text", [EARLY_WITH_OFFSET, LATE_WITH_OFFSET])
    def test_an_offset_that_leaves_the_calendar_is_out_of_range(self, text: str) -> None:
        with pytest.raises(InstantOutOfRange):
            parse_instant(text)

    def test_the_calendar_ends_themselves_are_instants(self) -> None:
        assert parse_instant("0001-01-01T00:00:00Z") == dt.datetime(1, 1, 1, tzinfo=dt.UTC)
        assert parse_instant("9999-12-31") == dt.datetime(9999, 12, 31, tzinfo=dt.UTC)

    @pytest.mark.parametrize("text", ["0001-01-01", "9999-12-31", "1099-12-31T23:59:59Z", "8900-01-01"])
    def test_evaluation_instants_keep_away_from_the_calendar_ends(self, text: str) -> None:
        with pytest.raises(InstantOutOfRange):
            parse_evaluation_instant(text)

    def test_the_longest_duration_fits_around_any_evaluation_instant(self) -> None:
        last = EVALUATION_LATEST - dt.timedelta(milliseconds=1)
        for text in ("P1000Y", "P366000D"):
            assert parse_duration(text).shift(last).year < 9904
            assert parse_duration("-" + text).shift(EVALUATION_EARLIEST).year > 96
        assert EVALUATION_EARLIEST - dt.timedelta(days=3650) > dt.datetime(1, 1, 1, tzinfo=dt.UTC)


def _problem(r: httpx.Response, status: int = 400) -> dict[str, Any]:
    assert r.status_code == status, r.text
    assert r.headers["content-type"] == "application/problem+json"
    body: dict[str, Any] = r.json()
    return body


class TestInstantsThroughTheApi:
    async def test_event_ts_out_of_range_is_a_row_reject(self, client: httpx.AsyncClient) -> None:
        rows = [
            {"eventId": "e1", "userId": "u1", "name": "seen", "ts": "2026-04-01T00:00:00Z"},
            {"eventId": "e2", "userId": "u1", "name": "seen", "ts": EARLY_WITH_OFFSET},
        ]
        r = await client.post("/api/events:batch", json={"events": rows})
        assert r.status_code == 200, r.text
        assert r.json()["accepted"] == 1
        assert [(x["index"], x["code"], x["path"]) for x in r.json()["rejected"]] == [
            (1, "invalid_date", "ts")
        ]

    async def test_contact_date_out_of_range_is_a_row_reject(self, client: httpx.AsyncClient) -> None:
        rows = [{"id": "ok"}, {"id": "bad", "lastSeenAt": LATE_WITH_OFFSET}]
        r = await client.post("/api/crm/contacts:batch", json={"contacts": rows})
        assert r.status_code == 200, r.text
        assert [(x["index"], x["code"], x["path"]) for x in r.json()["rejected"]] == [
            (1, "invalid_date", "lastSeenAt")
        ]
        assert (await client.get("/api/crm/contacts/ok")).status_code == 200

    async def test_filter_date_literal_out_of_range(self, client: httpx.AsyncClient) -> None:
        where = {"createdAt": {"$gte": EARLY_WITH_OFFSET}}
        r = await client.post(
            "/api/crm/audiences/estimate-reach", json={"filter": {"datatype": "contact", "where": where}}
        )
        body = _problem(r)
        assert [(e["code"], e["path"]) for e in body["errors"]] == [
            ("invalid_date", "filter.where.createdAt.$gte")
        ]

    @pytest.mark.parametrize("as_of", ["0001-01-01T00:00:00+01:00", "9999-12-31T23:59:59Z", "0001-01-01"])
    async def test_reach_as_of_near_the_calendar_ends(self, client: httpx.AsyncClient, as_of: str) -> None:
        where = {"lastSeenAt": {"$gte": {"$now": "-P1000Y"}}}
        r = await client.post(
            "/api/crm/audiences/estimate-reach",
            json={"filter": {"datatype": "contact", "where": where}, "asOf": as_of},
        )
        body = _problem(r)
        assert [(e["code"], e["path"]) for e in body["errors"]] == [("invalid_instant", "asOf")]

    async def test_now_duration_beyond_the_calendar_end(self, client: httpx.AsyncClient) -> None:
        where = {"lastSeenAt": {"$lte": {"$now": "P1000Y"}}}
        r = await client.post(
            "/api/crm/audiences/estimate-reach",
            json={"filter": {"datatype": "contact", "where": where}, "asOf": "9990-01-01T00:00:00Z"},
        )
        assert [(e["code"], e["path"]) for e in _problem(r)["errors"]] == [("invalid_instant", "asOf")]

    async def test_last_n_days_window_at_the_calendar_start(self, client: httpx.AsyncClient) -> None:
        predicate = {
            "kind": "event_fired",
            "eventName": "seen",
            "window": {"type": "last_n_days", "days": 3650},
        }
        r = await client.post(
            "/api/audiences/dry-run", json={"predicate": predicate, "asOf": "0001-06-01T00:00:00Z"}
        )
        assert [(e["code"], e["path"]) for e in _problem(r)["errors"]] == [("invalid_as_of", "asOf")]

    async def test_membership_since_out_of_range(self, client: httpx.AsyncClient) -> None:
        segment = await client.post(
            "/api/crm/audiences/segments",
            json={"name": "all", "filter": {"datatype": "contact", "where": {}}},
        )
        assert segment.status_code == 201, segment.text
        r = await client.get(
            f"/api/crm/audiences/segments/{segment.json()['id']}/changes", params={"since": EARLY_WITH_OFFSET}
        )
        assert [(e["code"], e["path"]) for e in _problem(r)["errors"]] == [("invalid_instant", "since")]

    async def test_sweep_as_of_out_of_range(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/membership/sweep", params={"asOf": "9999-12-31T23:59:59Z"})
        assert [(e["code"], e["path"]) for e in _problem(r)["errors"]] == [("invalid_instant", "asOf")]

    async def test_contact_audiences_as_of_out_of_range(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/crm/contacts/c1/audiences", params={"asOf": EARLY_WITH_OFFSET})
        assert [(e["code"], e["path"]) for e in _problem(r)["errors"]] == [("invalid_instant", "asOf")]
