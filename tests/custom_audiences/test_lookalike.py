"""Lookalike audiences: the top `ratio` of a country's contacts most like a seed."""

from __future__ import annotations

import datetime as dt
from typing import Any

import httpx
import pytest

from audiences.custom_audiences.lookalike import (
    FeatureCounts,
    activity_band,
    contact_features,
    feature_weights,
    member_count,
    recency_band,
    similarity,
)
from audiences.db import Database
from audiences.segments.resolve import resolve_audience
from audiences.tenancy import system_scope
from tests.conftest import AS_OF, IngestFn
from tests.custom_audiences.conftest import BASE, CreateFn, UploadFn

DAY = dt.timedelta(days=1)


def _at(days_ago: float) -> str:
    return (AS_OF - days_ago * DAY).isoformat()


def population() -> tuple[list[dict[str, Any]], list[dict[str, Any]], dict[str, list[str]]]:
    """Contacts and events of a shop: a seed of VIP buyers, their German twins, and the rest."""
    contacts: list[dict[str, Any]] = []
    events: list[dict[str, Any]] = []
    groups: dict[str, list[str]] = {"seed": [], "twins": [], "de_others": []}

    def buyer(cid: str, country: str) -> None:
        contacts.append(
            {
                "id": cid,
                "email": f"{cid}@example.com",
                "country": country,
                "tags": ["vip", "newsletter"],
                "tier": "pro",
                "lastEmailOpenedAt": _at(2),
                "lastSeenAt": _at(1),
            }
        )
        events.extend(
            {"userId": cid, "name": name, "ts": _at(d)}
            for name, d in (("checkout_started", 5), ("page_view", 6))
        )

    for i in range(30):  # the seed: VIP buyers in Germany and France
        cid = f"s{i:03d}"
        buyer(cid, "DE" if i % 2 else "FR")
        groups["seed"].append(cid)
    for i in range(19):  # Germans who look exactly like the seed
        cid = f"t{i:03d}"
        buyer(cid, "DE")
        groups["twins"].append(cid)
    for i in range(400):  # everyone else in Germany: free tier, quiet
        cid = f"d{i:03d}"
        contacts.append(
            {
                "id": cid,
                "email": f"{cid}@example.com",
                "country": "DE",
                "tier": "free",
                "tags": ["lead"] if i % 3 else [],
                "lastSeenAt": _at(40 + i % 100),
            }
        )
        groups["de_others"].append(cid)
        if i % 5 == 0:
            events.append({"userId": cid, "name": "page_view", "ts": _at(20)})
    for i in range(50):  # French look-alikes do not count for a German lookalike
        buyer(f"f{i:03d}", "FR")
    return contacts, events, groups


async def _members(db: Database, audience_id: str) -> list[str]:
    resolved = await resolve_audience(
        db=db, scope=system_scope("acme"), audience_id=audience_id, as_of=AS_OF, timeout_ms=10_000
    )
    ids = resolved.contact_filter["id"]["$in"]
    return list(ids)


@pytest.fixture
async def seed_id(
    client: httpx.AsyncClient, ingest: IngestFn, create_custom: CreateFn, upload_csv: UploadFn
) -> str:
    contacts, events, groups = population()
    await ingest(client, contacts, events)
    seed = await create_custom({"type": "file_upload", "name": "VIP buyers"})
    report = (await upload_csv(seed["id"], "externalId\n" + "\n".join(groups["seed"]) + "\n")).json()
    assert report["matched"] == 30
    return str(seed["id"])


class TestLookalike:
    async def test_ratio_005_keeps_5_percent_of_the_eligible_the_most_similar_and_never_the_seed(
        self, db: Database, create_custom: CreateFn, seed_id: str
    ) -> None:
        _, _, groups = population()
        lookalike = await create_custom(
            {
                "type": "lookalike",
                "name": "VIP DE 5%",
                "seedAudienceId": seed_id,
                "ratio": 0.05,
                "country": "DE",
            }
        )
        eligible = len(groups["twins"]) + len(groups["de_others"])  # the 15 German seed members are out
        assert lookalike["stats"] == {"eligible": eligible, "seedSize": 30}
        assert lookalike["memberCount"] == round(0.05 * eligible) == 21
        members = await _members(db, lookalike["id"])
        assert len(members) == 21
        assert not set(members) & set(groups["seed"])
        # All 19 twins rank first; the last 2 places go to the best of the rest, by id on ties.
        assert set(groups["twins"]) < set(members)
        assert all(m.startswith("d") for m in set(members) - set(groups["twins"]))

    async def test_is_the_same_on_every_computation(
        self, client: httpx.AsyncClient, db: Database, create_custom: CreateFn, seed_id: str
    ) -> None:
        body = {"type": "lookalike", "name": "a", "seedAudienceId": seed_id, "ratio": 0.05, "country": "DE"}
        first = await create_custom(body)
        second = await create_custom(body)
        members = await _members(db, first["id"])
        assert members == await _members(db, second["id"])
        r = await client.post(f"{BASE}/custom/{first['id']}/refresh")
        assert r.status_code == 200
        assert r.json()["memberCount"] == 21
        assert await _members(db, first["id"]) == members

    async def test_ties_go_to_the_smaller_id(
        self, client: httpx.AsyncClient, db: Database, ingest: IngestFn, create_custom: CreateFn
    ) -> None:
        twins = [
            {"id": f"x{i:02d}", "email": f"x{i}@example.com", "country": "NL", "tags": ["a"]}
            for i in range(40)
        ]
        await ingest(
            client, [*twins, {"id": "seed", "email": "seed@example.com", "country": "NL", "tags": ["a"]}], []
        )
        seed = await create_custom({"type": "file_upload", "name": "s"})
        assert (
            await client.post(f"{BASE}/custom/{seed['id']}/upload", files={"file": ("s.csv", b"id\nseed\n")})
        ).json()["matched"] == 1
        lookalike = await create_custom(
            {"type": "lookalike", "name": "l", "seedAudienceId": seed["id"], "ratio": 0.1, "country": "NL"}
        )
        assert await _members(db, lookalike["id"]) == ["x00", "x01", "x02", "x03"]

    async def test_changing_the_ratio_recomputes(
        self, client: httpx.AsyncClient, create_custom: CreateFn, seed_id: str
    ) -> None:
        lookalike = await create_custom(
            {"type": "lookalike", "name": "l", "seedAudienceId": seed_id, "ratio": 0.05, "country": "DE"}
        )
        r = await client.patch(f"{BASE}/custom/{lookalike['id']}", json={"ratio": 0.1})
        assert r.status_code == 200
        assert r.json()["memberCount"] == round(0.1 * 419) == 42
        r = await client.patch(f"{BASE}/custom/{lookalike['id']}", json={"ratio": 0.5})
        assert r.status_code == 400
        assert r.json()["code"] == "invalid_ratio"

    async def test_an_empty_seed_or_itself_as_seed_is_refused(
        self, client: httpx.AsyncClient, create_custom: CreateFn, seed_id: str
    ) -> None:
        empty = await create_custom({"type": "file_upload", "name": "empty"})
        body = {
            "type": "lookalike",
            "name": "l",
            "seedAudienceId": empty["id"],
            "ratio": 0.05,
            "country": "DE",
        }
        r = await client.post(f"{BASE}/custom", json=body)
        assert r.status_code == 400
        assert r.json()["code"] == "seed_audience_empty"
        lookalike = await create_custom({**body, "seedAudienceId": seed_id})
        r = await client.patch(f"{BASE}/custom/{lookalike['id']}", json={"seedAudienceId": lookalike["id"]})
        assert r.status_code == 400
        assert r.json()["code"] == "seed_is_self"

    async def test_only_lookalikes_can_be_refreshed(
        self, client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        upload = await create_custom({"type": "file_upload", "name": "u"})
        r = await client.post(f"{BASE}/custom/{upload['id']}/refresh")
        assert r.status_code == 409
        assert r.json()["code"] == "operation_not_supported"


class TestMethod:
    def test_recency_and_activity_bands(self) -> None:
        assert [recency_band(AS_OF - d * DAY, AS_OF) for d in (0, 7, 8, 30, 31, 90, 91)] == [
            "0-7d",
            "0-7d",
            "8-30d",
            "8-30d",
            "31-90d",
            "31-90d",
            ">90d",
        ]
        assert recency_band(None, AS_OF) == "never"
        assert [activity_band(n) for n in (0, 1, 5, 6, 20, 21)] == ["0", "1-5", "1-5", "6-20", "6-20", "21+"]

    def test_features_of_a_contact(self) -> None:
        contact = {"tags": ["vip"], "tier": "pro", "lastEmailOpenedAt": AS_OF - 3 * DAY}
        features = contact_features(contact, {"names": ["checkout_started"], "n": 7}, AS_OF)
        assert features == {
            "tag:vip",
            "tier:pro",
            "emailOpen:0-7d",
            "seen:never",
            "event:checkout_started",
            "events90:6-20",
        }

    def test_features_common_in_the_seed_and_rare_elsewhere_weigh_most(self) -> None:
        seed, everyone = FeatureCounts(), FeatureCounts()
        for _ in range(10):
            seed.add(frozenset({"tag:vip", "tier:pro"}))
        for i in range(100):
            everyone.add(frozenset({"tier:pro"} | ({"tag:vip"} if i < 5 else set())))
        weights = feature_weights(seed, everyone)
        assert weights["tag:vip"] > 0  # 100% of the seed, 5% of everyone
        assert weights["tag:vip"] > weights["tier:pro"]  # everyone has it: it tells nothing
        assert similarity(frozenset({"tag:vip"}), weights) > similarity(frozenset({"tier:pro"}), weights)

    def test_member_count_rounds_halves_up(self) -> None:
        assert [member_count(0.05, n) for n in (0, 9, 10, 30, 419)] == [0, 0, 1, 2, 21]
