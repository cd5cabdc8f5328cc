"""Shared fixtures: an app on the embedded in-memory backend, a pinned clock, tokens, clients.

Every test gets a fresh database. Tests talk to the real app through httpx's ASGI
transport, so routing, auth, validation and error rendering are all exercised.
"""

from __future__ import annotations

import datetime as dt
import os
import uuid
from collections.abc import AsyncIterator, Awaitable, Callable, Iterator
from typing import Any

import httpx
import pytest
from fastapi import FastAPI

from audiences.auth import mint_token
from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database, open_database
from audiences.main import create_app
from tests.mongo_wire import wire_server

AS_OF = dt.datetime(2026, 4, 24, 12, 0, tzinfo=dt.UTC)
SECRET = "test-secret-" + "x" * 40


@pytest.fixture(scope="session")
def mongodb_uri() -> Iterator[str]:
    """The MongoDB the `mongodb` tests use: AUDIENCES_TEST_MONGODB_URI (a real server, the
    reference) when set, else mongoeco's wire-protocol server on loopback, started once."""
    given = os.environ.get("AUDIENCES_TEST_MONGODB_URI")
    if given:
        yield given
        return
    with wire_server() as uri:
        yield uri


@pytest.fixture
def settings(tmp_path: Any) -> Settings:
    return Settings(
        mongodb_uri=None,
        embedded_in_memory=True,
        database=f"t{uuid.uuid4().hex[:8]}",
        data_dir=tmp_path,
        jwt_secret=SECRET,
        sweep_interval_s=0,
        webhook_allow_private=True,
    )


@pytest.fixture
def clock() -> FixedClock:
    return FixedClock(AS_OF)


@pytest.fixture
async def db(settings: Settings) -> AsyncIterator[Database]:
    database = open_database(settings)
    await database.connect()
    yield database
    await database.close()


@pytest.fixture
async def app(settings: Settings, db: Database, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database=db, clock=clock)
    async with application.router.lifespan_context(application):
        yield application


def make_token(settings: Settings, orgs: list[str], scopes: list[str] | None = None) -> str:
    return mint_token(settings, orgs=orgs, scopes=scopes, ttl=dt.timedelta(hours=1))


@pytest.fixture
def token(settings: Settings) -> Callable[..., str]:
    def build(*orgs: str, scopes: list[str] | None = None) -> str:
        return make_token(settings, list(orgs) or ["acme"], scopes)

    return build


@pytest.fixture
async def raw_client(app: FastAPI) -> AsyncIterator[httpx.AsyncClient]:
    """A client with no credentials."""
    transport = httpx.ASGITransport(app=app)
    async with httpx.AsyncClient(transport=transport, base_url="http://test") as c:
        yield c


@pytest.fixture
async def client(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Acts for org `acme` with every scope."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {make_token(settings, ['acme', 'globex'])}", "orgid": "acme"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
        yield c


@pytest.fixture
async def other_client(app: FastAPI, settings: Settings) -> AsyncIterator[httpx.AsyncClient]:
    """Acts for org `globex`: used to prove tenant isolation."""
    transport = httpx.ASGITransport(app=app)
    headers = {"Authorization": f"Bearer {make_token(settings, ['globex'])}", "orgid": "globex"}
    async with httpx.AsyncClient(transport=transport, base_url="http://test", headers=headers) as c:
        yield c


IngestFn = Callable[[httpx.AsyncClient, list[dict[str, Any]], list[dict[str, Any]]], Awaitable[None]]


@pytest.fixture
def ingest() -> IngestFn:
    """Store contacts and events through the API, failing loudly on any rejected row."""

    async def run(c: httpx.AsyncClient, contacts: list[dict[str, Any]], events: list[dict[str, Any]]) -> None:
        for start in range(0, len(contacts), 5000):
            r = await c.post("/api/crm/contacts:batch", json={"contacts": contacts[start : start + 5000]})
            assert r.status_code == 200, r.text
            assert r.json()["rejected"] == [], r.text
        for start in range(0, len(events), 5000):
            r = await c.post("/api/events:batch", json={"events": events[start : start + 5000]})
            assert r.status_code == 200, r.text
            assert r.json()["rejected"] == [], r.text

    return run
