"""Contacts for the segments tests, and counts computed independently of the service
(plain Python over the rows we sent, not the query language)."""

from __future__ import annotations

import datetime as dt
import random
from collections.abc import Callable
from typing import Any

import httpx
import pytest

from audiences.clock import parse_instant
from tests.conftest import AS_OF, IngestFn

SEGMENTS = "/api/crm/audiences/segments"
REACH = "/api/crm/audiences/estimate-reach"
SNAPSHOTS = "/api/crm/audiences/snapshots"

SEED_SEGMENT: dict[str, Any] = {
    "name": "VIP recent openers",
    "description": "VIP-tagged contacts who opened a marketing email in the last 30 days",
    "filter": {
        "datatype": "contact",
        "where": {
            "$and": [
                {"tags": "vip"},
                {"lastEmailOpenedAt": {"$gte": "2026-03-25T00:00:00Z"}},
            ]
        },
    },
    "type": "dynamic",
}
SEED_REACH: dict[str, Any] = {
    "filter": {"datatype": "contact", "where": {"country": "US", "tags": {"$in": ["lead", "mql"]}}}
}


def iso(value: dt.datetime) -> str:
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def people(count: int = 60, *, prefix: str = "c", seed: int = 7) -> list[dict[str, Any]]:
    """Realistic rows: some fields missing on purpose (tier, lastEmailOpenedAt, tags)."""
    rnd = random.Random(seed)
    rows = []
    for i in range(count):
        row: dict[str, Any] = {
            "id": f"{prefix}{i:03d}",
            "email": f"{prefix}{i}@example.com",
            "country": rnd.choice(["US", "US", "GB", "DE", "FR"]),
        }
        if rnd.random() < 0.8:
            row["tags"] = rnd.sample(["vip", "lead", "mql", "news"], rnd.randint(0, 2))
        if rnd.random() < 0.7:
            row["lastEmailOpenedAt"] = iso(
                AS_OF - dt.timedelta(days=rnd.randint(0, 60), hours=rnd.randint(0, 23))
            )
        if rnd.random() < 0.6:
            row["tier"] = rnd.choice(["pro", "free", "enterprise"])
        rows.append(row)
    return rows


def ids_where(rows: list[dict[str, Any]], test: Callable[[dict[str, Any]], bool]) -> set[str]:
    return {r["id"] for r in rows if test(r)}


def is_seed_segment_member(row: dict[str, Any]) -> bool:
    opened = row.get("lastEmailOpenedAt")
    return (
        "vip" in row.get("tags", [])
        and opened is not None
        and parse_instant(opened) >= dt.datetime(2026, 3, 25, tzinfo=dt.UTC)
    )


def is_seed_reach_member(row: dict[str, Any]) -> bool:
    return row["country"] == "US" and bool({"lead", "mql"} & set(row.get("tags", [])))


@pytest.fixture
async def crm(client: httpx.AsyncClient, ingest: IngestFn) -> list[dict[str, Any]]:
    """60 contacts stored for org `acme`."""
    rows = people()
    await ingest(client, rows, [])
    return rows


@pytest.fixture
async def globex_crm(other_client: httpx.AsyncClient, ingest: IngestFn) -> list[dict[str, Any]]:
    """Contacts of org `globex`, with ids that also exist in `acme`."""
    rows = people(30, seed=99)
    for row in rows:
        row["tags"] = ["vip", "lead"]
        row["country"] = "US"
    await ingest(other_client, rows, [])
    return rows


async def create(client: httpx.AsyncClient, body: dict[str, Any]) -> dict[str, Any]:
    r = await client.post(SEGMENTS, json=body)
    assert r.status_code == 201, r.text
    result: dict[str, Any] = r.json()
    return result


async def all_member_ids(client: httpx.AsyncClient, url: str, limit: int = 7) -> list[str]:
    """Every member id, page by page."""
    out: list[str] = []
    cursor = None
    while True:
        params: dict[str, Any] = {"limit": limit}
        if cursor:
            params["cursor"] = cursor
        r = await client.get(url, params=params)
        assert r.status_code == 200, r.text
        body = r.json()
        out.extend(i["id"] for i in body["items"])
        cursor = body["nextCursor"]
        if cursor is None:
            return out
