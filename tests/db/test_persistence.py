"""The embedded default keeps data across restarts (SQLite file in AUDIENCES_DATA_DIR)."""

from __future__ import annotations

import datetime as dt
from pathlib import Path

import httpx

from audiences.config import Settings
from audiences.main import create_app
from tests.conftest import SECRET, make_token


async def _run(settings: Settings, method: str, path: str, **kw: object) -> httpx.Response:
    app = create_app(settings)
    async with app.router.lifespan_context(app):
        headers = {"Authorization": f"Bearer {make_token(settings, ['acme'])}", "orgid": "acme"}
        transport = httpx.ASGITransport(app=app)
        async with httpx.AsyncClient(transport=transport, base_url="http://t", headers=headers) as c:
            return await c.request(method, path, **kw)  # type: ignore[arg-type]


class TestEmbeddedPersistence:
    async def test_data_survives_a_restart(self, tmp_path: Path) -> None:
        settings = Settings(mongodb_uri=None, data_dir=tmp_path, jwt_secret=SECRET, sweep_interval_s=0)
        r = await _run(
            settings,
            "POST",
            "/api/crm/contacts:batch",
            json={"contacts": [{"id": "c1", "lastSeenAt": "2026-04-01T00:00:00Z"}]},
        )
        assert r.json()["accepted"] == 1
        assert (tmp_path / "audiences.sqlite3").exists()
        r = await _run(settings, "GET", "/api/crm/contacts/c1")
        assert r.status_code == 200
        assert r.json()["lastSeenAt"] == "2026-04-01T00:00:00.000Z"

    async def test_dates_come_back_timezone_aware(self, tmp_path: Path) -> None:
        settings = Settings(mongodb_uri=None, data_dir=tmp_path, jwt_secret=SECRET)
        from audiences.db import open_database

        db = open_database(settings)
        await db.connect()
        try:
            when = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
            await db.collection("x").insert_one({"_id": 1, "d": when})
            doc = await db.collection("x").find_one({"_id": 1})
            assert doc is not None
            assert doc["d"] == when
            assert doc["d"].tzinfo is not None
        finally:
            await db.close()
