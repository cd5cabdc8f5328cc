"""Customer match hashing as the platforms document it, and GET /custom/{id}/export."""

from __future__ import annotations

import csv
import hashlib
import io

import httpx
import pytest

from audiences.custom_audiences.hashing import (
    PLATFORM_FORMATS,
    email_sha256,
    google_name,
    hash_identity,
    meta_name,
    meta_phone_sha256,
    meta_zip,
    normalise_email,
    normalise_phone,
    phone_sha256,
)
from tests.custom_audiences.conftest import BASE, CreateFn, UploadFn


def sha(text: str) -> str:
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def rows_of(body: str) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(body)))


class TestNormaliseAndHash:
    def test_email_is_trimmed_and_lowercased_then_sha256_hex(self) -> None:
        email = normalise_email("  John.Doe@Example.COM ")
        assert email == "john.doe@example.com"
        assert email_sha256(email) == sha("john.doe@example.com")

    def test_tiktoks_published_example_hash(self) -> None:
        # TikTok's customer-file article shows this pair for "janedoe@gmail.com".
        assert email_sha256(normalise_email("JaneDoe@gmail.com")) == (
            "d6117306485ed0e50afab3ac871e98f81699151f30281527d63ff5f233656c69"
        )

    def test_google_hashes_e164_with_the_plus_and_meta_the_digits_without_it(self) -> None:
        phone = normalise_phone("(415) 555-0123", region="US")
        assert phone == "+14155550123"
        assert phone_sha256(phone) == sha("+14155550123")
        assert meta_phone_sha256(phone) == sha("14155550123")

    def test_names_follow_each_platform(self) -> None:
        assert meta_name(" Mary-Ann O'Neil ") == "maryannoneil"
        assert meta_name("Zoë") == "zoë"
        assert google_name(" Mary Ann ") == "maryann"

    def test_meta_zip_keeps_five_digits_in_the_us(self) -> None:
        assert meta_zip("94016-1234", "US") == "94016"
        assert meta_zip("SW1A 1AA", "GB") == "sw1a1aa"

    def test_country_and_zip_stay_clear_for_google(self) -> None:
        who = hash_identity(email="a@example.com", country="DE", zip_code=" 10115 ")
        assert PLATFORM_FORMATS["google"].row(who) == (sha("a@example.com"), "", "", "", "DE", "10115")
        assert PLATFORM_FORMATS["facebook"].row(who)[4:] == (sha("10115"), sha("de"))


EXPORT_CSV = (
    "Email,Phone,First Name,Last Name,Country,Zip\n"
    "  John.Doe@Example.COM ,(415) 555-0123,John,Doe,US,94016-1234\n"
    ",030 1234567,Zoë,Müller-Lüdenscheidt,DE,10115\n"
    "solo@example.com,,,,,\n"
)


class TestExport:
    @pytest.fixture
    async def audience_id(self, create_custom: CreateFn, upload_csv: UploadFn) -> str:
        audience = await create_custom({"type": "customer_match", "name": "Buyers"})
        report = (await upload_csv(audience["id"], EXPORT_CSV)).json()
        assert report["unmatched"] == 3
        return str(audience["id"])

    async def test_meta_gets_its_documented_columns_and_hashes(
        self, client: httpx.AsyncClient, audience_id: str
    ) -> None:
        r = await client.get(f"{BASE}/custom/{audience_id}/export", params={"platform": "facebook"})
        assert r.status_code == 200
        assert r.headers["content-type"] == "text/csv; charset=utf-8"
        assert r.headers["content-disposition"] == f'attachment; filename="{audience_id}-facebook.csv"'
        rows = rows_of(r.text)
        assert list(rows[0]) == ["email", "phone", "fn", "ln", "zip", "country"]
        assert rows[0] == {
            "email": sha("john.doe@example.com"),
            "phone": sha("14155550123"),
            "fn": sha("john"),
            "ln": sha("doe"),
            "zip": sha("94016"),
            "country": sha("us"),
        }
        assert rows[1]["email"] == ""
        assert rows[1]["phone"] == sha("49301234567")
        assert rows[1]["ln"] == sha("müllerlüdenscheidt")
        assert rows[2] == {
            "email": sha("solo@example.com"),
            "phone": "",
            "fn": "",
            "ln": "",
            "zip": "",
            "country": "",
        }

    async def test_google_gets_e164_hashes_and_clear_country_and_zip(
        self, client: httpx.AsyncClient, audience_id: str
    ) -> None:
        r = await client.get(f"{BASE}/custom/{audience_id}/export", params={"platform": "google"})
        rows = rows_of(r.text)
        assert rows[0] == {
            "Email": sha("john.doe@example.com"),
            "Phone": sha("+14155550123"),
            "First Name": sha("john"),
            "Last Name": sha("doe"),
            "Country": "US",
            "Zip": "94016-1234",
        }
        assert rows[1]["Phone"] == sha("+49301234567")
        assert rows[1]["Last Name"] == sha("müller-lüdenscheidt")

    async def test_tiktok_and_linkedin_get_their_headers(
        self, client: httpx.AsyncClient, audience_id: str
    ) -> None:
        tiktok = rows_of((await client.get(f"{BASE}/custom/{audience_id}/export?platform=tiktok")).text)
        assert tiktok[0] == {"Email_SHA256": sha("john.doe@example.com"), "Phone_SHA256": sha("+14155550123")}
        linkedin = (await client.get(f"{BASE}/custom/{audience_id}/export?platform=linkedin")).text
        assert (
            linkedin.splitlines()[0] == "email,firstname,lastname,jobtitle,employeecompany,country,googleaid"
        )
        assert rows_of(linkedin)[0]["email"] == sha("john.doe@example.com")
        assert rows_of(linkedin)[0]["country"] == "US"

    async def test_no_clear_text_identifier_is_ever_exported(
        self, client: httpx.AsyncClient, audience_id: str
    ) -> None:
        for platform in ("facebook", "google", "tiktok", "linkedin"):
            body = (
                await client.get(f"{BASE}/custom/{audience_id}/export", params={"platform": platform})
            ).text
            for clear in ("john", "doe", "example.com", "4155550123", "1234567", "Zoë"):
                assert clear not in body.lower()

    async def test_an_unknown_platform_is_unknown_platform(
        self, client: httpx.AsyncClient, audience_id: str
    ) -> None:
        r = await client.get(f"{BASE}/custom/{audience_id}/export", params={"platform": "myspace"})
        assert r.status_code == 400
        assert r.json()["code"] == "unknown_platform"

    async def test_only_customer_match_audiences_keep_platform_hashes(
        self, client: httpx.AsyncClient, create_custom: CreateFn
    ) -> None:
        plain = await create_custom({"type": "file_upload", "name": "x"})
        r = await client.get(f"{BASE}/custom/{plain['id']}/export", params={"platform": "google"})
        assert r.status_code == 409
        assert r.json()["code"] == "operation_not_supported"
