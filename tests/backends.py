"""The two backends storage tests run on: the embedded in-memory one, and MongoDB through
`pymongo.AsyncMongoClient` (marker `mongodb`) — a real server when
AUDIENCES_TEST_MONGODB_URI is set, else mongoeco's wire server on loopback (conftest).

On the wire server the engine behind the driver is mongoeco, so where mongoeco's meaning
differs from MongoDB's a test is fenced here, with the difference named (docs/semantics.md,
"The PyMongo path in CI", lists them). A real MongoDB runs every test unfenced.
"""

from __future__ import annotations

import os

import pytest

from audiences.config import Settings
from audiences.db import Database
from audiences.db.collection import Backend

BACKENDS = [
    pytest.param("embedded", id="embedded"),
    pytest.param("mongodb", id="mongodb", marks=[pytest.mark.mongodb]),
]

ON_WIRE_SERVER = not os.environ.get("AUDIENCES_TEST_MONGODB_URI")

WIRE_DIFFERENCES = {
    "max_time_ms": (
        "mongoeco's wire server runs a query to its end on its event loop: maxTimeMS does not "
        "stop a long scan, and the server answers nothing else until it ends (the test also "
        "needs 20,000 documents; its inserts are quadratic: 1,000 took 2.8 s)"
    ),
}


def backend_settings(request: pytest.FixtureRequest, name: str) -> Settings:
    """Settings for `request.param`'s backend and a fresh database `name`."""
    if request.param == "mongodb":
        uri = request.getfixturevalue("mongodb_uri")
        return Settings(mongodb_uri=uri, database=name, jwt_secret="x" * 40)
    return Settings(mongodb_uri=None, embedded_in_memory=True, database=name)


def on_wire_server(db: Database) -> bool:
    """`db` speaks to mongoeco's wire server through PyMongo (not to a real MongoDB)."""
    return ON_WIRE_SERVER and not db.embedded


def skip_on_wire_server(db: Database, difference: str) -> None:
    if on_wire_server(db):
        pytest.skip(f"mongoeco wire server: {WIRE_DIFFERENCES[difference]}")


def query_dialect(db: Database) -> Backend:
    """The filter dialect the engine behind `db` needs. On the wire server that engine is
    mongoeco, so filters get the embedded backend's rewrites (docs/semantics.md) while the
    driver path (PyMongo, BSON, cursors) is the production one."""
    return "mongoeco" if on_wire_server(db) else db.backend
