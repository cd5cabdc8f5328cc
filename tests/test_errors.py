"""Errors are problem+json (CONTRACT §5) and never leak internals."""

from __future__ import annotations

import httpx


class TestProblemJson:
    async def test_unknown_route_is_404_problem(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/api/nope")
        assert r.status_code == 404
        assert r.headers["content-type"].startswith("application/problem+json")
        assert r.json()["code"] == "not_found"

    async def test_wrong_method_is_405_problem(self, client: httpx.AsyncClient) -> None:
        r = await client.put("/healthz")
        assert r.status_code == 405
        assert r.json()["code"] == "method_not_allowed"

    async def test_malformed_json_is_400(self, client: httpx.AsyncClient) -> None:
        r = await client.post(
            "/api/events:batch", content=b'{"events": [', headers={"content-type": "application/json"}
        )
        assert r.status_code == 400
        assert r.json()["code"] == "malformed_json"

    async def test_validation_lists_every_problem_with_a_path(self, client: httpx.AsyncClient) -> None:
        r = await client.post("/api/events:batch", json={"events": "not-a-list", "extra": 1})
        assert r.status_code == 400
        body = r.json()
        assert body["code"] == "validation_failed"
        assert [e["path"] for e in body["errors"]] == ["events"]

    async def test_body_too_large_is_413(self, client: httpx.AsyncClient, app: object) -> None:
        limit = client._transport.app.state.settings.max_body_bytes  # type: ignore[attr-defined]
        r = await client.post(
            "/api/events:batch", content=b" " * (limit + 1), headers={"content-type": "application/json"}
        )
        assert r.status_code == 413
        assert r.json()["code"] == "payload_too_large"

    async def test_uploads_have_their_own_larger_limit(self, client: httpx.AsyncClient) -> None:
        settings = client._transport.app.state.settings  # type: ignore[attr-defined]
        assert settings.max_upload_bytes > settings.max_body_bytes
        body = b"x" * (settings.max_body_bytes + 1)
        r = await client.post(
            "/api/crm/audiences/custom/cus_missing/upload",
            content=body,
            headers={"content-type": "multipart/form-data; boundary=b"},
        )
        # Past the general limit but under the upload limit: the route answers, not the guard.
        assert r.status_code != 413
        assert r.json()["code"] != "payload_too_large"

    async def test_request_id_is_echoed(self, client: httpx.AsyncClient) -> None:
        r = await client.get("/healthz", headers={"x-request-id": "abc-123"})
        assert r.headers["x-request-id"] == "abc-123"
        r = await client.get("/healthz")
        assert len(r.headers["x-request-id"]) == 32
