"""GET /api/crm/audiences/interests: the IAB Content Taxonomy 3.1 shipped with the service."""

from __future__ import annotations

import json
from importlib import resources
from typing import Any

import httpx
import pytest

URL = "/api/crm/audiences/interests"


def walk(nodes: list[dict[str, Any]]) -> list[dict[str, Any]]:
    out = []
    for node in nodes:
        out.append(node)
        out.extend(walk(node["children"]))
    return out


def shipped_rows() -> list[dict[str, Any]]:
    data = resources.files("audiences.targeting").joinpath("data", "iab_content_taxonomy_3_1.json")
    rows: list[dict[str, Any]] = json.loads(data.read_text(encoding="utf-8"))
    return rows


class TestInterestTree:
    async def test_without_q_returns_the_whole_taxonomy_as_a_tree(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL)
        assert r.status_code == 200
        body = r.json()
        assert body["taxonomy"] == {
            "name": "IAB Tech Lab Content Taxonomy",
            "version": "3.1",
            "license": "CC BY 3.0",
            "source": "https://github.com/InteractiveAdvertisingBureau/Taxonomies",
        }
        nodes = walk(body["tree"])
        assert body["total"] == len(nodes) == 704
        assert {n["id"] for n in nodes} == {str(row["id"]) for row in shipped_rows()}
        assert "Sports" in [root["name"] for root in body["tree"]]

    async def test_every_node_path_extends_its_parents(self, client: httpx.AsyncClient) -> None:
        body = (await client.get(URL)).json()

        def check(nodes: list[dict[str, Any]], parent_path: list[str]) -> None:
            for node in nodes:
                assert node["path"] == [*parent_path, node["name"]]
                assert node["tier"] == len(node["path"])
                check(node["children"], node["path"])

        check(body["tree"], [])


class TestInterestSearch:
    async def test_finds_a_category_with_its_path_and_stable_iab_id(self, client: httpx.AsyncClient) -> None:
        body = (await client.get(URL, params={"q": "soccer"})).json()
        assert body["total"] == 1
        assert body["results"] == [
            {
                "id": "533",
                "name": "Soccer",
                "path": ["Sports", "Soccer"],
                "parentId": "483",
                "tier": 2,
                "childCount": 0,
            }
        ]
        assert "tree" not in body

    async def test_prefix_matches_rank_before_word_and_substring_matches(
        self, client: httpx.AsyncClient
    ) -> None:
        results = (await client.get(URL, params={"q": "car", "limit": 100})).json()["results"]

        def kind(name: str) -> int:
            words = name.lower().split()
            return 0 if words[0].startswith("car") else 1 if any(w.startswith("car") for w in words) else 2

        kinds = [kind(r["name"]) for r in results]
        assert kinds == sorted(kinds)
        assert set(kinds) == {0, 1, 2}  # Careers, Classic Cars, Eldercare

    async def test_a_parent_ranks_before_its_deeper_namesakes(self, client: httpx.AsyncClient) -> None:
        results = (await client.get(URL, params={"q": "travel"})).json()["results"]
        assert results[0]["path"] == ["Travel"]
        tiers = [r["tier"] for r in results if r["name"].lower().startswith("travel")]
        assert tiers == sorted(tiers)

    @pytest.mark.parametrize("q", ["SOCCER", "Soccér", "soc"])
    async def test_search_ignores_case_and_accents(self, client: httpx.AsyncClient, q: str) -> None:
        results = (await client.get(URL, params={"q": q})).json()["results"]
        assert "533" in [r["id"] for r in results]

    async def test_finds_a_category_by_its_iab_id(self, client: httpx.AsyncClient) -> None:
        results = (await client.get(URL, params={"q": "483"})).json()["results"]
        assert results[0]["path"] == ["Sports"]

    async def test_limit_caps_results_but_not_total(self, client: httpx.AsyncClient) -> None:
        body = (await client.get(URL, params={"q": "e", "limit": 3})).json()
        assert len(body["results"]) == 3
        assert body["total"] > 3

    async def test_no_match_is_an_empty_list(self, client: httpx.AsyncClient) -> None:
        body = (await client.get(URL, params={"q": "zzzqqq"})).json()
        assert (body["total"], body["results"]) == (0, [])


class TestInterestPlatformMapping:
    @pytest.mark.parametrize(
        ("platform", "field"),
        [
            ("facebook", "targeting.flexible_spec[].interests"),
            ("google", "AdGroupCriterion.user_interest.user_interest_category"),
            ("tiktok", "interest_category_ids"),
            ("linkedin", "urn:li:adTargetingFacet:interests"),
        ],
    )
    async def test_platform_adds_where_and_how_it_takes_interests(
        self, client: httpx.AsyncClient, platform: str, field: str
    ) -> None:
        body = (await client.get(URL, params={"q": "soccer", "platform": platform})).json()
        assert body["platform"]["platform"] == platform
        assert body["platform"]["field"] == field
        assert body["platform"]["lookup"]
        assert body["results"][0]["id"] == "533"

    async def test_unknown_platform_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.get(URL, params={"platform": "myspace"})
        assert r.status_code == 400
        assert r.json()["code"] == "unsupported_platform"
