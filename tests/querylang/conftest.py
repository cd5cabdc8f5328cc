"""A database on each backend: embedded always, MongoDB when AUDIENCES_TEST_MONGODB_URI is
set (marker `mongodb`), for properties that must hold on both."""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from audiences.db import Database, open_database
from tests.backends import BACKENDS, backend_settings


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    name = f"q{uuid.uuid4().hex[:10]}"
    settings = backend_settings(request, name)
    database = open_database(settings)
    await database.connect()
    yield database
    await database.drop()
    await database.close()
