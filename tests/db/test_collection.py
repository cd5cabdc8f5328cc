"""The collection adapter behaves the same on both backends.

Runs on the embedded backend always, and on a real MongoDB too when
AUDIENCES_TEST_MONGODB_URI is set (marker `mongodb`; e.g. `docker compose up -d mongo`).
"""

from __future__ import annotations

import uuid
from collections.abc import AsyncIterator

import pytest

from audiences.db import Database, DuplicateKeyError, InsertOne, ReplaceOne, UpdateOne, open_database
from audiences.errors import QueryTimeout
from tests.backends import BACKENDS, backend_settings, skip_on_wire_server


@pytest.fixture(params=BACKENDS)
async def backend(request: pytest.FixtureRequest) -> AsyncIterator[Database]:
    name = f"t{uuid.uuid4().hex[:10]}"
    settings = backend_settings(request, name)
    db = open_database(settings)
    await db.connect()
    yield db
    await db.drop()
    await db.close()


class TestCollectionAdapter:
    async def test_bulk_upserts_insert_new_and_update_existing(self, backend: Database) -> None:
        col = backend.collection("c")
        await col.insert_one({"_id": "a", "v": 1})
        summary = await col.bulk_write(
            [
                UpdateOne({"_id": "a"}, {"$set": {"v": 2}}, upsert=True),
                UpdateOne({"_id": "b"}, {"$set": {"v": 3}, "$setOnInsert": {"k": "new"}}, upsert=True),
                ReplaceOne({"_id": "c"}, {"v": 4}, upsert=True),
                InsertOne({"_id": "d", "v": 5}),
            ]
        )
        assert (summary.upserted, summary.inserted, summary.errors) == (2, 1, [])
        docs = await col.find_list({}, sort=[("_id", 1)])
        assert docs == [
            {"_id": "a", "v": 2},
            {"_id": "b", "v": 3, "k": "new"},
            {"_id": "c", "v": 4},
            {"_id": "d", "v": 5},
        ]

    async def test_the_same_new_id_twice_in_one_batch_inserts_then_updates(self, backend: Database) -> None:
        col = backend.collection("c")
        summary = await col.bulk_write(
            [
                UpdateOne({"_id": "n"}, {"$set": {"a": 1}}, upsert=True),
                UpdateOne({"_id": "n"}, {"$set": {"b": 2}}, upsert=True),
            ],
            ordered=True,
        )
        assert summary.errors == []
        assert await col.find_one({"_id": "n"}) == {"_id": "n", "a": 1, "b": 2}

    async def test_duplicate_inserts_are_reported_by_position(self, backend: Database) -> None:
        col = backend.collection("c")
        await col.insert_one({"_id": "a"})
        summary = await col.insert_many([{"_id": "b"}, {"_id": "a"}, {"_id": "c"}], ordered=False)
        assert summary.inserted == 2
        assert [(i, code) for i, code, _ in summary.errors] == [(1, 11000)]
        with pytest.raises(DuplicateKeyError):
            await col.insert_one({"_id": "a"})

    async def test_upsert_that_does_not_match_an_existing_id_is_a_duplicate(self, backend: Database) -> None:
        col = backend.collection("c")
        await col.insert_one({"_id": "a", "orgId": "x"})
        summary = await col.bulk_write(
            [UpdateOne({"_id": "a", "orgId": "y"}, {"$set": {"v": 1}}, upsert=True)]
        )
        assert [code for _, code, _ in summary.errors] == [11000]
        assert await col.find_one({"_id": "a"}) == {"_id": "a", "orgId": "x"}

    async def test_server_time_limit_becomes_query_timeout(self, backend: Database) -> None:
        skip_on_wire_server(backend, "max_time_ms")
        col = backend.collection("c")
        await col.insert_many([{"_id": i, "s": "x" * 30} for i in range(20_000)])
        with pytest.raises(QueryTimeout):
            await col.count({"s": {"$regex": "^(x+x+)+y$"}}, timeout_ms=1)

    async def test_find_streams_in_order(self, backend: Database) -> None:
        col = backend.collection("c")
        await col.insert_many([{"_id": i} for i in range(10)])
        seen = [d["_id"] async for d in col.find({"_id": {"$gte": 3}}, sort=[("_id", -1)], limit=4)]
        assert seen == [9, 8, 7, 6]
