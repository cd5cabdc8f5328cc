"""Fixtures for membership tests: the app without its background loops (tests drive the
delivery worker and the sweep themselves), scopes for two orgs, and fake audience kinds."""

from __future__ import annotations

from collections.abc import AsyncIterator, Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import pytest
from fastapi import FastAPI

from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database
from audiences.db.indexes import ensure_indexes
from audiences.main import create_app
from audiences.membership import adapters, recompute, registry
from audiences.membership.model import AudienceKind
from audiences.tenancy import TenantScope, system_scope
from tests.membership.fake_kind import FakeKind, save_definition


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


@pytest.fixture(autouse=True)
def existence_checks(monkeypatch: pytest.MonkeyPatch) -> dict[AudienceKind, registry.AudienceExists]:
    """Membership routes answer from the change log alone (no kind checks that an audience
    exists) unless a test puts checks back; returns the real ones for that."""
    real = dict(registry._checkers)
    monkeypatch.setattr(registry, "_checkers", {})
    return real


@dataclass
class Kinds:
    segment: FakeKind
    journey: FakeKind

    def __getitem__(self, kind: AudienceKind) -> FakeKind:
        return self.segment if kind == "segment" else self.journey


@pytest.fixture
def kinds(monkeypatch: pytest.MonkeyPatch) -> Kinds:
    """Fake segment and journey kinds registered in place of the real ones (restored after)."""
    registered = Kinds(segment=FakeKind("segment"), journey=FakeKind("journey"))
    monkeypatch.setitem(adapters._adapters, "segment", registered.segment)
    monkeypatch.setitem(adapters._adapters, "journey", registered.journey)
    return registered


Define = Callable[..., Awaitable[int]]


@pytest.fixture
def define(db: Database, clock: FixedClock, settings: Settings, kinds: Kinds) -> Define:
    """Save a fake definition, announce it through `definition_changed` and wait for its
    recompute to end; returns the definition version."""

    async def run(scope: TenantScope, kind: AudienceKind, audience_id: str, **definition: Any) -> int:
        version = await save_definition(db, scope, kind, audience_id, **definition)
        await recompute.definition_changed(
            db=db, scope=scope, kind=kind, audience_id=audience_id, clock=clock, settings=settings
        )
        await recompute.wait_for_recomputes()
        return version

    return run
