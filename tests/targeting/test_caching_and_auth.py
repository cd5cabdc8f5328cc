"""Targeting responses are cacheable (ETag, 304) and, like every tenant route, need auth."""

from __future__ import annotations

from collections.abc import Callable

import httpx
import pytest

ROUTES = [
    ("/api/crm/audiences/locations", {"q": "mun"}),
    ("/api/crm/audiences/interests", {"q": "soccer"}),
    ("/api/crm/audiences/targeting-options", {"platform": "google"}),
]


class TestCaching:
    @pytest.mark.parametrize(("url", "params"), ROUTES)
    async def test_responses_carry_an_etag_and_cache_control(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str]
    ) -> None:
        r = await client.get(url, params=params)
        assert r.status_code == 200
        assert r.headers["cache-control"] == "private, max-age=3600"
        assert r.headers["etag"].startswith('"')
        assert r.headers["etag"].endswith('"')
        again = await client.get(url, params=params)
        assert again.headers["etag"] == r.headers["etag"]

    @pytest.mark.parametrize(("url", "params"), ROUTES)
    async def test_if_none_match_with_the_current_etag_is_304_without_body(
        self, client: httpx.AsyncClient, url: str, params: dict[str, str]
    ) -> None:
        etag = (await client.get(url, params=params)).headers["etag"]
        r = await client.get(url, params=params, headers={"If-None-Match": etag})
        assert r.status_code == 304
        assert r.content == b""
        assert r.headers["etag"] == etag
        assert r.headers["cache-control"] == "private, max-age=3600"

    async def test_weak_and_listed_etags_also_match(self, client: httpx.AsyncClient) -> None:
        url, params = ROUTES[1]
        etag = (await client.get(url, params=params)).headers["etag"]
        for header in (f"W/{etag}", f'"other", {etag}', "*"):
            r = await client.get(url, params=params, headers={"If-None-Match": header})
            assert r.status_code == 304, header

    async def test_a_stale_etag_gets_the_full_response(self, client: httpx.AsyncClient) -> None:
        url, params = ROUTES[1]
        r = await client.get(url, params=params, headers={"If-None-Match": '"stale"'})
        assert r.status_code == 200
        assert r.json()["results"][0]["name"] == "Soccer"

    async def test_different_queries_have_different_etags(self, client: httpx.AsyncClient) -> None:
        url = "/api/crm/audiences/interests"
        a = (await client.get(url, params={"q": "soccer"})).headers["etag"]
        b = (await client.get(url, params={"q": "tennis"})).headers["etag"]
        assert a != b


class TestAuth:
    @pytest.mark.parametrize(("url", "params"), ROUTES)
    async def test_without_a_token_is_401(
        self, raw_client: httpx.AsyncClient, url: str, params: dict[str, str]
    ) -> None:
        r = await raw_client.get(url, params=params)
        assert r.status_code == 401
        assert r.headers["www-authenticate"].startswith("Bearer")

    @pytest.mark.parametrize(("url", "params"), ROUTES)
    async def test_without_the_orgid_header_is_400(
        self, raw_client: httpx.AsyncClient, token: Callable[..., str], url: str, params: dict[str, str]
    ) -> None:
        r = await raw_client.get(url, params=params, headers={"Authorization": f"Bearer {token('acme')}"})
        assert r.status_code == 400
        assert r.json()["code"] == "orgid_required"

    @pytest.mark.parametrize(("url", "params"), ROUTES)
    async def test_a_token_without_read_scope_is_403(
        self, raw_client: httpx.AsyncClient, token: Callable[..., str], url: str, params: dict[str, str]
    ) -> None:
        headers = {"Authorization": f"Bearer {token('acme', scopes=['data:write'])}", "orgid": "acme"}
        r = await raw_client.get(url, params=params, headers=headers)
        assert r.status_code == 403
        assert r.json()["code"] == "insufficient_scope"

    async def test_read_scope_is_enough(
        self, raw_client: httpx.AsyncClient, token: Callable[..., str]
    ) -> None:
        headers = {"Authorization": f"Bearer {token('acme', scopes=['audiences:read'])}", "orgid": "acme"}
        r = await raw_client.get("/api/crm/audiences/interests", params={"q": "soccer"}, headers=headers)
        assert r.status_code == 200
