"""A database on each backend: embedded always, MongoDB when AUDIENCES_TEST_MONGODB_URI is
set (marker `mongodb`), for properties that must hold on both."""

from __future__ import annotations

import os
import uuid
from collections.abc import AsyncIterator

import pytest

from audiences.config import Settings
from audiences.db import Database, open_database

MONGODB_URI = os.environ.get("AUDIENCES_TEST_MONGODB_URI")
BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param(
        "mongodb",
        id="mongodb",
        marks=[
            pytest.mark.mongodb,
            pytest.mark.skipif(
                not MONGODB_URI, reason="set AUDIENCES_TEST_MONGODB_URI to run against MongoDB"
            ),
        ],
    ),
]


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    name = f"q{uuid.uuid4().hex[:10]}"
    if request.param == "mongodb":
        settings = Settings(mongodb_uri=MONGODB_URI, database=name, jwt_secret="x" * 40)
    else:
        settings = Settings(mongodb_uri=None, embedded_in_memory=True, database=name)
    database = open_database(settings)
    await database.connect()
    yield database
    await database.drop()
    await database.close()
