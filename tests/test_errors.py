"""Errors are problem+json (CONTRACT §5) and never leak internals."""

from __future__ import annotations

import logging
import socket
from collections.abc import AsyncIterator

import httpx
import pymongo
import pytest
from fastapi import FastAPI
from pymongo.errors import AutoReconnect, NetworkTimeout

from audiences.db import Database


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


class TestDatabaseUnavailable:
    """Issue 13, finding 9: a lost MongoDB connection is 503 `database_unavailable`, logged
    as a warning, not a 500 with a traceback."""

    @pytest.fixture
    async def lost(self, app: FastAPI) -> AsyncIterator[None]:
        # A PyMongo client on a loopback port nobody listens on: server selection fails fast.
        with socket.socket() as s:
            s.bind(("127.0.0.1", 0))
            port = s.getsockname()[1]
        client = pymongo.AsyncMongoClient(
            f"mongodb://127.0.0.1:{port}/", serverSelectionTimeoutMS=100, connectTimeoutMS=100
        )
        working = app.state.db
        app.state.db = Database(client, "audiences", "pymongo", description="mongodb")
        yield
        app.state.db = working
        await client.close()

    @pytest.mark.usefixtures("lost")
    async def test_reads_and_writes_answer_503(
        self, client: httpx.AsyncClient, caplog: pytest.LogCaptureFixture
    ) -> None:
        with caplog.at_level(logging.WARNING, logger="audiences.errors"):
            read = await client.get("/api/crm/contacts/c1")
            write = await client.post("/api/crm/contacts:batch", json={"contacts": [{"id": "c1"}]})
        for r in (read, write):
            assert r.status_code == 503, r.text
            assert r.headers["content-type"] == "application/problem+json"
            assert r.headers["retry-after"] == "5"
            assert r.json()["code"] == "database_unavailable"
        records = [r for r in caplog.records if r.name == "audiences.errors"]
        assert [(r.levelname, r.getMessage(), r.exc_info) for r in records] == [
            ("WARNING", "database unavailable", None)
        ] * 2

    @pytest.mark.usefixtures("lost")
    async def test_readyz_is_503(self, raw_client: httpx.AsyncClient) -> None:
        r = await raw_client.get("/readyz")
        assert (r.status_code, r.json()["status"]) == (503, "unavailable")

    @pytest.mark.parametrize("error", [AutoReconnect("gone"), NetworkTimeout("slow")])
    async def test_every_connection_failure_is_503(
        self, client: httpx.AsyncClient, app: FastAPI, monkeypatch: pytest.MonkeyPatch, error: Exception
    ) -> None:
        async def fail(*_: object, **__: object) -> None:
            raise error

        monkeypatch.setattr(type(app.state.db.collection("contacts")), "find_one", fail)
        r = await client.get("/api/crm/contacts/c1")
        assert (r.status_code, r.json()["code"]) == (503, "database_unavailable")
