"""Helpers for custom audience tests: creating audiences and uploading CSV text."""

from __future__ import annotations

from collections.abc import Awaitable, Callable
from typing import Any

import httpx
import pytest

BASE = "/api/crm/audiences"

CreateFn = Callable[..., Awaitable[dict[str, Any]]]
UploadFn = Callable[..., Awaitable[httpx.Response]]


@pytest.fixture
def create_custom(client: httpx.AsyncClient) -> CreateFn:
    """POST /custom and return the created audience, failing on anything but 201."""

    async def run(body: dict[str, Any], *, via: httpx.AsyncClient | None = None) -> dict[str, Any]:
        response = await (via or client).post(f"{BASE}/custom", json=body)
        assert response.status_code == 201, response.text
        created: dict[str, Any] = response.json()
        return created

    return run


@pytest.fixture
def upload_csv(client: httpx.AsyncClient) -> UploadFn:
    """POST /custom/{id}/upload with `text` (or bytes) as the file."""

    async def run(
        audience_id: str,
        text: str | bytes,
        *,
        params: dict[str, str] | None = None,
        via: httpx.AsyncClient | None = None,
    ) -> httpx.Response:
        content = text.encode("utf-8") if isinstance(text, str) else text
        return await (via or client).post(
            f"{BASE}/custom/{audience_id}/upload",
            files={"file": ("people.csv", content, "text/csv")},
            params=params or {},
        )

    return run
