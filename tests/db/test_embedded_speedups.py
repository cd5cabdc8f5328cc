"""The `$in` fast paths on the embedded backend (memory and SQLite engines) give MongoDB's
answers, including lists longer than the SQLite engine's SQL translation takes."""

from __future__ import annotations

import datetime as dt
import random
from typing import Any

import pytest

from audiences.config import Settings
from audiences.db import Database, open_database

VALUES: list[Any] = [
    "a",
    "b",
    "x",
    "1",
    1,
    1.0,
    None,
    True,
    ["a", "b"],
    {"k": "a"},
    dt.datetime(2026, 1, 1, tzinfo=dt.UTC),
]


def _mongo_in(doc: dict[str, Any], field: str, wanted: list[str]) -> bool:
    """MongoDB's meaning for string lists: the value, or any element of an array value, is one of them."""
    value = doc.get(field)
    candidates = value if isinstance(value, list) else [value]
    return any(isinstance(c, str) and c in wanted for c in candidates)


@pytest.fixture(params=["memory", "sqlite"])
async def engine(request: pytest.FixtureRequest, tmp_path: Any) -> Any:
    settings = Settings(mongodb_uri=None, embedded_in_memory=request.param == "memory", data_dir=tmp_path)
    database = open_database(settings)
    await database.connect()
    yield database
    await database.close()


@pytest.fixture
async def docs(engine: Database) -> list[dict[str, Any]]:
    db = engine
    rnd = random.Random(3)
    rows = []
    for i in range(400):
        doc: dict[str, Any] = {"_id": i}
        if rnd.random() < 0.8:
            doc["v"] = rnd.choice(VALUES) if rnd.random() < 0.7 else rnd.sample(["a", "b", "x", "q"], k=2)
        rows.append(doc)
    await db.collection("c").insert_many(rows)
    return rows


class TestInFastPath:
    @pytest.mark.parametrize(
        "wanted",
        [
            ["a", "b", "c", "d", "e", "f", "g", "h"],
            ["x", "1", "q", "zz", "yy", "ww", "vv", "uu", "tt"],
            [str(i) for i in range(50)],
            [str(i) for i in range(500)] + ["a", "x"],
        ],
    )
    async def test_in_over_strings_matches_mongodb(
        self, engine: Database, docs: list[dict[str, Any]], wanted: list[str]
    ) -> None:
        db = engine
        got = {d["_id"] for d in await db.collection("c").find_list({"v": {"$in": wanted}})}
        assert got == {d["_id"] for d in docs if _mongo_in(d, "v", wanted)}
        got_nin = {d["_id"] for d in await db.collection("c").find_list({"v": {"$nin": wanted}})}
        assert got_nin == {d["_id"] for d in docs if not _mongo_in(d, "v", wanted)}

    async def test_in_with_mixed_types_keeps_full_semantics(
        self, engine: Database, docs: list[dict[str, Any]]
    ) -> None:
        db = engine
        wanted: list[Any] = ["a", 1, None, "b", "c", "d", "e", "f"]
        got = {d["_id"] for d in await db.collection("c").find_list({"v": {"$in": wanted}})}
        # 1 matches 1, 1.0 (numbers compare by value) but never True; None matches missing fields.
        expected = set()
        for d in docs:
            v = d.get("v", None)
            cands = v if isinstance(v, list) else [v]
            if any(
                (isinstance(c, str) and c in wanted) or (c is None) or (type(c) in (int, float) and c == 1)
                for c in cands
            ):
                expected.add(d["_id"])
        assert got == expected
