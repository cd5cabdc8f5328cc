"""Fixtures for membership tests: the app without its background loops (tests drive the
delivery worker themselves), and scopes for two orgs."""

from __future__ import annotations

from collections.abc import AsyncIterator

import pytest
from fastapi import FastAPI

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.db.indexes import ensure_indexes
from audiences.main import create_app
from audiences.tenancy import TenantScope, system_scope


@pytest.fixture
async def app(settings: Settings, db: Database, clock: FixedClock) -> AsyncIterator[FastAPI]:
    application = create_app(settings, database=db, clock=clock)
    application.state.background_loops = False
    async with application.router.lifespan_context(application):
        yield application


@pytest.fixture
async def store(db: Database) -> Database:
    """The test database with every registered index created (as at app startup)."""
    await ensure_indexes(db)
    return db


@pytest.fixture
def acme() -> TenantScope:
    return system_scope("acme")


@pytest.fixture
def globex() -> TenantScope:
    return system_scope("globex")
