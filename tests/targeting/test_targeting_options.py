"""GET /api/crm/audiences/targeting-options: each platform's documented targeting options."""

from __future__ import annotations

from typing import Any

import httpx
import pytest

URL = "/api/crm/audiences/targeting-options"
PLATFORMS = ["facebook", "google", "tiktok", "linkedin"]


async def options(client: httpx.AsyncClient, platform: str, **params: Any) -> dict[str, Any]:
    r = await client.get(URL, params={"platform": platform, **params})
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def facet(body: dict[str, Any], key: str) -> dict[str, Any]:
    found: dict[str, Any] = next(o for o in body["options"] if o["id"] == key)
    return found


def values(node: dict[str, Any]) -> list[Any]:
    return [child["value"] for child in node["children"]]


class TestEveryPlatform:
    @pytest.mark.parametrize("platform", PLATFORMS)
    async def test_lists_age_gender_locations_languages_and_interests_with_sources(
        self, client: httpx.AsyncClient, platform: str
    ) -> None:
        body = await options(client, platform)
        assert body["platform"] == platform
        keys = [o["id"] for o in body["options"]]
        assert {"age", "gender", "locations", "languages", "interests"} <= set(keys)
        for option in body["options"]:
            assert option["field"]
            assert option["sources"]
            assert all(s["url"].startswith("https://") for s in option["sources"])
        locations = facet(body, "locations")
        assert locations["href"] == "/api/crm/audiences/locations"
        assert all(
            kind["href"].startswith("/api/crm/audiences/locations?type=") for kind in locations["children"]
        )

    @pytest.mark.parametrize("platform", PLATFORMS)
    async def test_interests_are_the_iab_tree(self, client: httpx.AsyncClient, platform: str) -> None:
        interests = facet(await options(client, platform), "interests")
        assert interests["href"] == f"/api/crm/audiences/interests?platform={platform}"
        sports = next(n for n in interests["children"] if n["name"] == "Sports")
        assert (sports["id"], sports["code"]) == ("interests.483", "483")
        assert {"id": "interests.533", "name": "Soccer", "code": "533"} in sports["children"]

    @pytest.mark.parametrize("platform", PLATFORMS)
    async def test_languages_are_iso_codes_with_names_from_langcodes(
        self, client: httpx.AsyncClient, platform: str
    ) -> None:
        languages = facet(await options(client, platform), "languages")
        german = next(n for n in languages["children"] if n["code"] == "de")
        assert (german["id"], german["name"], german["nativeName"]) == ("languages.de", "German", "Deutsch")
        assert len(languages["children"]) == 184  # every ISO 639-1 language


class TestPlatformValues:
    async def test_meta_takes_a_free_age_range_from_13_to_65(self, client: httpx.AsyncClient) -> None:
        age = facet(await options(client, "facebook"), "age")
        assert (age["field"], age["minAge"], age["maxAge"]) == (
            "targeting.age_min, targeting.age_max",
            13,
            65,
        )
        assert values(facet(await options(client, "facebook"), "gender")) == [1, 2]

    async def test_meta_devices_and_operating_systems(self, client: httpx.AsyncClient) -> None:
        body = await options(client, "facebook")
        assert values(facet(body, "devices")) == ["mobile", "desktop", "connected_tv"]
        assert values(facet(body, "operatingSystems")) == ["iOS", "Android"]

    async def test_google_age_buckets_carry_their_criterion_ids(self, client: httpx.AsyncClient) -> None:
        age = facet(await options(client, "google"), "age")
        assert values(age)[0] == "AGE_RANGE_18_24"
        over_65 = next(c for c in age["children"] if c["value"] == "AGE_RANGE_65_UP")
        assert (over_65["minAge"], over_65.get("maxAge"), over_65["criterionId"]) == (65, None, 503006)
        gender = facet(await options(client, "google"), "gender")
        assert [(c["value"], c["criterionId"]) for c in gender["children"]] == [
            ("MALE", 10),
            ("FEMALE", 11),
            ("UNDETERMINED", 20),
        ]

    async def test_tiktok_age_groups_genders_and_language_codes(self, client: httpx.AsyncClient) -> None:
        body = await options(client, "tiktok")
        assert values(facet(body, "age")) == [
            "AGE_13_17",
            "AGE_18_24",
            "AGE_25_34",
            "AGE_35_44",
            "AGE_45_54",
            "AGE_55_100",
        ]
        assert values(facet(body, "gender")) == ["GENDER_UNLIMITED", "GENDER_MALE", "GENDER_FEMALE"]
        german = next(n for n in facet(body, "languages")["children"] if n["code"] == "de")
        assert german["value"] == "de"  # TikTok's `languages` takes the code itself
        assert values(facet(body, "operatingSystems")) == ["ANDROID", "IOS"]

    async def test_linkedin_age_ranges_are_urns_and_it_has_no_device_targeting(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await options(client, "linkedin")
        assert values(facet(body, "age")) == [
            "urn:li:ageRange:(18,24)",
            "urn:li:ageRange:(25,34)",
            "urn:li:ageRange:(35,54)",
            "urn:li:ageRange:(55,2147483647)",
        ]
        assert values(facet(body, "gender")) == ["urn:li:gender:MALE", "urn:li:gender:FEMALE"]
        assert "devices" not in [o["id"] for o in body["options"]]


class TestTargetingOptionSearch:
    async def test_q_keeps_only_matching_branches(self, client: httpx.AsyncClient) -> None:
        body = await options(client, "tiktok", q="soccer")
        assert [o["id"] for o in body["options"]] == ["interests"]
        sports = facet(body, "interests")["children"]
        assert sports == [
            {
                "id": "interests.483",
                "name": "Sports",
                "code": "483",
                "children": [{"id": "interests.533", "name": "Soccer", "code": "533"}],
            }
        ]

    async def test_q_matches_a_language_by_its_own_name_without_accents(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await options(client, "google", q="FRANCAIS")
        languages = facet(body, "languages")
        assert [c["code"] for c in languages["children"]] == ["fr"]

    async def test_q_matching_a_facet_keeps_all_its_values(self, client: httpx.AsyncClient) -> None:
        body = await options(client, "google", q="gender")
        assert [o["id"] for o in body["options"]] == ["gender"]
        assert len(facet(body, "gender")["children"]) == 3

    async def test_platform_name_is_case_insensitive(self, client: httpx.AsyncClient) -> None:
        assert (await options(client, "LinkedIn"))["platform"] == "linkedin"


class TestTargetingOptionErrors:
    async def test_unknown_platform_is_400_unsupported_platform(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL, params={"platform": "myspace"})
        assert r.status_code == 400
        body = r.json()
        assert body["code"] == "unsupported_platform"
        assert body["errors"][0]["path"] == "query.platform"
        assert r.headers["content-type"] == "application/problem+json"

    async def test_missing_platform_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL)
        assert r.status_code == 400
        assert r.json()["errors"][0]["path"] == "query.platform"
