"""`/docs` and `/redoc` work offline (issue 13, finding 10): every URL the pages load is
on this origin and answers 200 with the right content type."""

from __future__ import annotations

import re

import httpx
import pytest

_URL_ATTR = re.compile(r"""(?:src|href|spec-url)\s*=\s*["']([^"']+)["']|url\s*:\s*["']([^"']+)["']""")
EXPECTED_TYPES = {
    ".js": "text/javascript",
    ".css": "text/css",
    ".png": "image/png",
    ".json": "application/json",
}


def referenced_urls(html: str) -> list[str]:
    return [a or b for a, b in _URL_ATTR.findall(html)]


class TestOfflineDocs:
    @pytest.mark.parametrize("page", ["/docs", "/redoc"])
    async def test_every_asset_is_served_by_the_service(
        self, raw_client: httpx.AsyncClient, page: str
    ) -> None:
        r = await raw_client.get(page)
        assert r.status_code == 200
        assert r.headers["content-type"].startswith("text/html")
        urls = referenced_urls(r.text)
        assert "/openapi.json" in urls
        assert len(urls) >= 3, urls
        for url in urls:
            assert url.startswith("/"), f"{url} is not same-origin"
            assert not url.startswith("//"), f"{url} is not same-origin"
            asset = await raw_client.get(url)
            assert asset.status_code == 200, url
            suffix = url[url.rfind(".") :]
            assert asset.headers["content-type"].startswith(EXPECTED_TYPES[suffix]), url
            assert len(asset.content) > 100, url

    async def test_no_page_names_another_host(self, raw_client: httpx.AsyncClient) -> None:
        for page in ("/docs", "/redoc", "/docs/oauth2-redirect"):
            html = (await raw_client.get(page)).text
            assert "http://" not in html
            assert "https://" not in html, page

    async def test_the_openapi_document_leaves_the_doc_pages_out(self, raw_client: httpx.AsyncClient) -> None:
        paths = (await raw_client.get("/openapi.json")).json()["paths"]
        assert not [p for p in paths if p.startswith(("/docs", "/redoc"))]
