"""Opening the database: MongoDB when `AUDIENCES_MONGODB_URI` is set, else mongoeco."""

from __future__ import annotations

import datetime as dt
import logging
from typing import Any

import mongoeco
import pymongo
from mongoeco.engines import MemoryEngine, SQLiteEngine

from audiences.config import Settings
from audiences.db.collection import Backend, Collection, DriverCollection
from audiences.db.embedded_speedups import apply_embedded_speedups
from audiences.store.engine import DuckEngine

log = logging.getLogger("audiences.db")
SPILL_THRESHOLD = 50_000


class Database:
    """A named database on either backend; hands out `Collection`s."""

    def __init__(self, client: Any, name: str, backend: Backend, *, description: str) -> None:
        self._client = client
        self._db = client[name]
        self.backend: Backend = backend
        self.description = description
        self._collections: dict[str, Collection] = {}
        self._connected = False
        # The embedded contact/event store (DuckDB); None on MongoDB, where contacts and
        # events are collections like the rest.
        self.duck: DuckEngine | None = None

    @property
    def embedded(self) -> bool:
        return self.backend == "mongoeco"

    def collection(self, name: str) -> Collection:
        if name not in self._collections:
            self._collections[name] = DriverCollection(self._db[name], self.backend)
        return self._collections[name]

    async def connect(self) -> None:
        """Open the storage; idempotent. mongoeco's engines must be connected explicitly
        (its client does it on `__aenter__`); PyMongo connects lazily."""
        if self.embedded and not self._connected:
            await self._client.__aenter__()
        self._connected = True

    async def ping(self) -> bool:
        result = await self._db.command("ping")
        return bool(result.get("ok"))

    async def drop(self) -> None:
        await self._client.drop_database(self._db.name)

    async def close(self) -> None:
        result = self._client.close()
        if hasattr(result, "__await__"):
            await result
        if self.duck is not None:
            self.duck.close()


def open_database(settings: Settings) -> Database:
    """A `Database` for the configured backend; call `await db.connect()` before use."""
    if settings.mongodb_uri:
        client: Any = pymongo.AsyncMongoClient(
            settings.mongodb_uri, tz_aware=True, tzinfo=dt.UTC, appname="audiences"
        )
        return Database(client, settings.database, "pymongo", description="mongodb")
    apply_embedded_speedups()
    codec = mongoeco.CodecOptions(tz_aware=True, tzinfo=dt.UTC)
    # mongoeco refuses a blocking stage over 50,000 documents unless it may spill; with
    # the threshold it spills instead (a 60,000-contact $facet took 1.2 s).
    if settings.embedded_in_memory:
        engine: Any = MemoryEngine(aggregation_spill_threshold=SPILL_THRESHOLD)
        where = "memory"
        duck = DuckEngine(None)
    else:
        settings.data_dir.mkdir(parents=True, exist_ok=True)
        path = settings.data_dir / f"{settings.database}.sqlite3"
        engine = SQLiteEngine(str(path), aggregation_spill_threshold=SPILL_THRESHOLD)
        where = str(path)
        duck = DuckEngine(settings.data_dir / f"{settings.database}.duckdb")
    log.info("embedded backend", extra={"engine": where, "store": duck.description})
    client = mongoeco.AsyncMongoClient(engine, codec_options=codec)
    database = Database(client, settings.database, "mongoeco", description=f"embedded ({where})")
    database.duck = duck
    return database
