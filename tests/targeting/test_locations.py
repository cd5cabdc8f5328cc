"""GET /api/crm/audiences/locations: countries, regions, cities and ZIP codes from real data."""

from __future__ import annotations

import zoneinfo
from typing import Any

import httpx
import pytest

URL = "/api/crm/audiences/locations"


async def search(client: httpx.AsyncClient, **params: Any) -> dict[str, Any]:
    r = await client.get(URL, params=params)
    assert r.status_code == 200, r.text
    body: dict[str, Any] = r.json()
    return body


def ids(body: dict[str, Any]) -> list[str]:
    return [loc["id"] for loc in body["results"]]


MUNICH = "geonames:2867714"


class TestCitySearch:
    async def test_mun_finds_munich_first(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="mun")
        munich = body["results"][0]
        assert munich["id"] == MUNICH
        assert (munich["name"], munich["countryCode"], munich["type"]) == ("Munich", "DE", "city")
        assert munich["geonameId"] == 2867714
        assert munich["population"] > 1_000_000
        assert body["total"] >= len(body["results"])

    @pytest.mark.parametrize("q", ["München", "münchen", "MUNCHEN", "Muenchen"])
    async def test_finds_munich_by_its_german_name_and_says_which_name_matched(
        self, client: httpx.AsyncClient, q: str
    ) -> None:
        body = await search(client, q=q)
        assert body["results"][0]["id"] == MUNICH
        assert body["results"][0]["matchedName"] in {"München", "Muenchen"}

    async def test_shows_the_accented_spelling_of_the_matched_name(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="munchen")
        assert body["results"][0]["matchedName"] == "München"

    async def test_finds_a_city_by_its_name_in_another_script(self, client: httpx.AsyncClient) -> None:
        assert ids(await search(client, q="慕尼黑"))[0] == MUNICH

    async def test_finds_a_city_by_its_geonames_id(self, client: httpx.AsyncClient) -> None:
        assert ids(await search(client, q="geonames:2867714")) == [MUNICH]

    @pytest.mark.parametrize("q", ["sao paulo", "São Paulo", "SAO PAULO", "são-paulo"])
    async def test_search_ignores_case_accents_and_punctuation(
        self, client: httpx.AsyncClient, q: str
    ) -> None:
        first = (await search(client, q=q, type="city"))["results"][0]
        assert (first["id"], first["name"]) == ("geonames:3448439", "São Paulo")

    async def test_exact_names_rank_first_and_bigger_cities_first_among_them(
        self, client: httpx.AsyncClient
    ) -> None:
        results = (await search(client, q="paris", type="city", limit=10))["results"]
        exact = [r for r in results if r["name"] == "Paris"]
        assert results[0]["id"] == "geonames:2988507"  # Paris, France
        assert results[: len(exact)] == exact  # every exact "Paris" before "Parisian"-like names
        populations = [r["population"] for r in exact]
        assert populations == sorted(populations, reverse=True)

    async def test_name_prefixes_rank_before_later_words(self, client: httpx.AsyncClient) -> None:
        names = [r["name"] for r in (await search(client, q="york", type="city", limit=100))["results"]]
        assert names[:2] == ["York", "York"]  # York, GB and York, PA: exact, bigger first
        assert names.index("Yorkton") < names.index("East New York") < names.index("Danforth East York")
        assert "New York City" in names

    async def test_a_city_carries_coordinates_and_its_iana_time_zone(self, client: httpx.AsyncClient) -> None:
        munich = (await search(client, q="munich", type="city"))["results"][0]
        assert munich["timezone"] == "Europe/Berlin"
        assert zoneinfo.ZoneInfo(munich["timezone"]).key == "Europe/Berlin"
        assert munich["latitude"] == pytest.approx(48.137, abs=0.01)
        assert munich["longitude"] == pytest.approx(11.575, abs=0.01)

    async def test_a_us_city_knows_its_iso_region(self, client: httpx.AsyncClient) -> None:
        boulder = (await search(client, q="boulder", type="city", country="US"))["results"][0]
        assert (boulder["name"], boulder["regionId"]) == ("Boulder", "US-CO")

    async def test_country_filter_keeps_only_that_country(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="paris", country="us", limit=50)
        assert body["results"]
        assert {r["countryCode"] for r in body["results"]} == {"US"}


class TestCountrySearch:
    async def test_finds_a_country_by_prefix(self, client: httpx.AsyncClient) -> None:
        germany = (await search(client, q="germ", type="country"))["results"][0]
        assert germany["id"] == "DE"
        assert (germany["isoAlpha3"], germany["isoNumeric"], germany["geonameId"]) == ("DEU", "276", 2921044)
        assert germany["platformKeys"] == {"facebook": "DE"}
        assert germany["timezones"][0] == "Europe/Berlin"

    async def test_finds_a_country_by_its_name_in_another_language(self, client: httpx.AsyncClient) -> None:
        first = (await search(client, q="Deutschland"))["results"][0]
        assert (first["id"], first["matchedName"]) == ("DE", "Deutschland")

    async def test_an_iso_code_ranks_its_country_first(self, client: httpx.AsyncClient) -> None:
        assert ids(await search(client, q="DE"))[0] == "DE"
        assert ids(await search(client, q="usa"))[0] == "US"

    async def test_listing_countries_gives_all_249_biggest_first(self, client: httpx.AsyncClient) -> None:
        body = await search(client, type="country", limit=3)
        assert body["total"] == 249
        assert ids(body) == ["CN", "IN", "US"]


class TestRegionSearch:
    async def test_finds_an_iso_3166_2_region_within_a_country(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="bay", type="region", country="DE")
        bavaria = body["results"][0]
        assert (bavaria["id"], bavaria["name"], bavaria["subdivisionType"]) == ("DE-BY", "Bayern", "Land")

    async def test_finds_a_region_by_its_english_name(self, client: httpx.AsyncClient) -> None:
        first = (await search(client, q="Bavaria", type="region"))["results"][0]
        assert (first["id"], first["matchedName"]) == ("DE-BY", "Bavaria")

    async def test_lists_the_regions_of_a_country_with_their_time_zones(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await search(client, type="region", country="US", limit=100)
        assert body["total"] == 57  # 50 states, DC and 6 outlying areas in ISO 3166-2:US
        california = next(r for r in body["results"] if r["id"] == "US-CA")
        assert california["timezones"] == ["America/Los_Angeles"]

    async def test_a_nested_region_names_its_parent(self, client: httpx.AsyncClient) -> None:
        first = (await search(client, q="FR-75C", type="region"))["results"][0]
        assert (first["id"], first["parentId"]) == ("FR-75C", "FR-IDF")


class TestZipSearch:
    async def test_finds_a_us_zip_code_with_its_place_and_meta_key(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="80301")
        assert ids(body) == ["zip:US:80301"]
        zip_code = body["results"][0]
        assert (zip_code["type"], zip_code["regionId"], zip_code["timezone"]) == (
            "zip",
            "US-CO",
            "America/Denver",
        )
        assert zip_code["platformKeys"] == {"facebook": "US:80301"}

    async def test_a_zip_prefix_lists_zip_codes_in_order(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="8030", limit=3)
        assert ids(body) == ["zip:US:80301", "zip:US:80302", "zip:US:80303"]

    async def test_zip_codes_of_a_town_are_found_with_type_zip(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="boulder", type="zip", limit=100)
        assert "zip:US:80301" in ids(body)
        assert {r["type"] for r in body["results"]} == {"zip"}

    async def test_a_place_name_does_not_list_zip_codes_without_type_zip(
        self, client: httpx.AsyncClient
    ) -> None:
        body = await search(client, q="boulder", limit=100)
        assert body["results"]
        assert "zip" not in {r["type"] for r in body["results"]}


class TestLocationValidation:
    async def test_unknown_country_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL, params={"q": "paris", "country": "XX"})
        assert r.status_code == 400
        assert r.json()["code"] == "unknown_country"
        assert r.json()["errors"][0]["path"] == "query.country"

    async def test_unknown_type_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL, params={"q": "paris", "type": "planet"})
        assert r.status_code == 400
        assert r.json()["errors"][0]["path"] == "query.type"

    async def test_limit_above_100_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL, params={"q": "paris", "limit": 101})
        assert r.status_code == 400

    async def test_results_respect_limit_and_name_their_sources(self, client: httpx.AsyncClient) -> None:
        body = await search(client, q="san", limit=7)
        assert len(body["results"]) == 7
        assert body["total"] > 7
        assert any("GeoNames" in s["name"] for s in body["sources"])
