"""Ads export: the platform's customer-list CSV, hashed as the platform documents."""

from __future__ import annotations

import csv
import datetime as dt
import hashlib
import io
from typing import Any

import httpx
import pytest

from audiences.db import Database
from audiences.segments.resolve import ResolvedAudience, register_audience_source
from audiences.tenancy import TenantScope


class _TierSource:
    """A test audience kind: `ads-test-<tier>` = contacts with that tier."""

    async def resolve(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> ResolvedAudience | None:
        if not audience_id.startswith("ads-test-"):
            return None
        tier = audience_id.removeprefix("ads-test-")
        return ResolvedAudience(audience_id, tier, "dynamic", {"tier": tier}, {})


register_audience_source(_TierSource())

CONTACTS: list[dict[str, Any]] = [
    {
        "id": "c1",
        "tier": "pro",
        "email": " Ada@Example.com",
        "phone": "+44 20 7946 0018",
        "country": "GB",
        "firstName": "Ada",
        "lastName": "Lovelace",
    },
    {"id": "c2", "tier": "pro", "email": "grace@example.com"},
    {"id": "c3", "tier": "pro", "phone": "+1 415 555 0123", "country": "US"},
    {"id": "c4", "tier": "pro", "firstName": "No identifiers"},
    {"id": "c5", "tier": "free", "email": "free@example.com"},
]


def sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def rows(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


@pytest.fixture
async def stored(client: httpx.AsyncClient, ingest: Any) -> None:
    await ingest(client, CONTACTS, [])


class TestSegmentExport:
    @pytest.mark.usefixtures("stored")
    async def test_facebook_export_has_exactly_the_members_hashed_emails(
        self, client: httpx.AsyncClient
    ) -> None:
        r = await client.get(
            "/api/crm/audiences/segments/ads-test-pro/export", params={"platform": "facebook"}
        )
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/csv")
        got = rows(r.text)
        assert list(got[0]) == ["email", "phone", "fn", "ln", "zip", "country"]
        assert {row["email"] for row in got} == {sha("ada@example.com"), sha("grace@example.com"), ""}
        assert len(got) == 3  # c4 has no e-mail or phone; c5 is not a member
        ada = next(row for row in got if row["email"] == sha("ada@example.com"))
        # Meta: phone digits with country code and no `+`; names lower-case; country lower-case.
        assert ada["phone"] == sha("442079460018")
        assert (ada["fn"], ada["ln"], ada["country"]) == (sha("ada"), sha("lovelace"), sha("gb"))

    @pytest.mark.usefixtures("stored")
    async def test_google_export_hashes_e164_with_plus(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/crm/audiences/segments/ads-test-pro/export", params={"platform": "google"})
        got = rows(r.text)
        assert list(got[0]) == ["Email", "Phone", "First Name", "Last Name", "Country", "Zip"]
        phones = {row["Phone"] for row in got}
        assert sha("+14155550123") in phones
        assert sha("+442079460018") in phones

    @pytest.mark.usefixtures("stored")
    @pytest.mark.parametrize("platform", ["tiktok", "linkedin"])
    async def test_every_platform_exports_every_member_with_an_identifier(
        self, client: httpx.AsyncClient, platform: str
    ) -> None:
        r = await client.get("/api/crm/audiences/segments/ads-test-pro/export", params={"platform": platform})
        assert r.status_code == 200
        got = rows(r.text)
        if platform == "tiktok":
            assert len(got) == 3
        else:  # LinkedIn matches on e-mail only, so the phone-only contact is skipped
            assert [row["email"] for row in got] == [sha("ada@example.com"), sha("grace@example.com")]

    async def test_unknown_platform_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(
            "/api/crm/audiences/segments/ads-test-pro/export", params={"platform": "myspace"}
        )
        assert r.status_code == 400
        assert r.json()["code"] == "unsupported_platform"

    async def test_unknown_segment_is_404(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/crm/audiences/segments/nope/export", params={"platform": "google"})
        assert r.status_code == 404
        assert r.json()["code"] == "segment_not_found"

    @pytest.mark.usefixtures("stored")
    async def test_another_org_exports_none_of_these_contacts(self, other_client: httpx.AsyncClient) -> None:
        r = await other_client.get(
            "/api/crm/audiences/segments/ads-test-pro/export", params={"platform": "google"}
        )
        assert r.status_code == 200
        assert rows(r.text) == []
