"""Where mongoeco's meaning differs from MongoDB's, and how the compiler avoids it.

Each class pins one difference listed in docs/semantics.md: the plain query on mongoeco
gives a non-MongoDB answer (if mongoeco changes, the first test says so), and the
compiled query gives MongoDB's answer (the evaluator's).
"""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from audiences.db import Database, OperationFailure
from audiences.querylang import QueryNotSupported, compile_query, matches, parse_where
from tests.conftest import AS_OF

D = dt.datetime(2026, 1, 1, tzinfo=dt.UTC)
DOCS: list[dict[str, Any]] = [
    {"_id": "num", "a": 5},
    {"_id": "str", "a": "abc"},
    {"_id": "bool", "a": True},
    {"_id": "date", "a": D},
    {"_id": "doc", "a": {"b": 1}},
    {"_id": "null", "a": None},
    {"_id": "mixed", "a": ["x", -1]},
    {"_id": "nums", "a": [1, 2]},
    {"_id": "empty", "a": []},
    {"_id": "docs", "a": [{"b": 1}, {"c": 2}]},
    {"_id": "missing"},
]


@pytest.fixture
async def stored(db: Database) -> Database:
    await db.collection("embedded").insert_many([dict(d) for d in DOCS])
    return db


async def raw(db: Database, mongo_filter: dict[str, Any]) -> set[str]:
    return {str(d["_id"]) for d in await db.collection("embedded").find_list(mongo_filter)}


async def compiled(db: Database, where: dict[str, Any]) -> set[str]:
    return await raw(db, compile_query(parse_where(where), as_of=AS_OF, backend=db.backend))


def mongodb_meaning(where: dict[str, Any]) -> set[str]:
    query = parse_where(where)
    return {str(d["_id"]) for d in DOCS if matches(query, d, as_of=AS_OF)}


class TestRangeTypeBracketing:
    async def test_mongoeco_compares_across_types(self, stored: Database) -> None:
        assert await raw(stored, {"a": {"$gt": 0}}) > {"num", "nums", "str", "bool", "date", "doc"}
        assert "null" in await raw(stored, {"a": {"$lt": 10}})

    @pytest.mark.parametrize(
        "where",
        [
            {"a": {"$gt": 0}},
            {"a": {"$lt": 10}},
            {"a": {"$gte": "a"}},
            {"a": {"$lt": D + dt.timedelta(days=1)}},
            {"a": {"$gt": False}},
            {"a": {"$not": {"$gt": 0}}},
            {"a.b": {"$gt": 0}},
            {"a": {"$elemMatch": {"$gt": 0}}},
        ],
    )
    async def test_compiled_ranges_keep_mongodb_type_brackets(
        self, stored: Database, where: dict[str, Any]
    ) -> None:
        assert await compiled(stored, where) == mongodb_meaning(where)

    async def test_mixed_arrays_need_one_element_in_range(self, stored: Database) -> None:
        # ["x", -1]: "x" sorts above 0 but is not a number; -1 is a number but not > 0.
        assert "mixed" not in await compiled(stored, {"a": {"$gt": 0}})

    def test_on_mongodb_the_range_is_sent_as_written(self) -> None:
        assert compile_query(parse_where({"a": {"$gt": 0}}), as_of=AS_OF, backend="pymongo") == {
            "a": {"$gt": 0}
        }


class TestAllWithNullOrArrays:
    async def test_mongoeco_all_differs_for_null_and_arrays(self, stored: Database) -> None:
        assert "missing" not in await raw(stored, {"a": {"$all": [None]}})

    @pytest.mark.parametrize(
        "where", [{"a": {"$all": [None]}}, {"a": {"$all": [[1, 2]]}}, {"a": {"$all": [1, 2]}}]
    )
    async def test_compiled_all_is_the_and_of_equalities(
        self, stored: Database, where: dict[str, Any]
    ) -> None:
        assert await compiled(stored, where) == mongodb_meaning(where)


class TestLogicInsideElemMatch:
    async def test_mongoeco_refuses_or_inside_elem_match(self, stored: Database) -> None:
        with pytest.raises(OperationFailure, match=r"\$or"):
            await raw(stored, {"a": {"$elemMatch": {"$or": [{"b": 1}, {"c": 2}]}}})

    @pytest.mark.parametrize(
        "where",
        [
            {"a": {"$elemMatch": {"$or": [{"b": 1}, {"c": 9}]}}},
            {"a": {"$elemMatch": {"$and": [{"b": {"$exists": True}}, {"b": {"$ne": 2}}]}}},
            {"a": {"$elemMatch": {"$nor": [{"b": 1}]}}},
        ],
    )
    async def test_compiled_elem_match_is_split_into_alternatives(
        self, stored: Database, where: dict[str, Any]
    ) -> None:
        assert await compiled(stored, where) == mongodb_meaning(where)

    @pytest.mark.parametrize(
        "where",
        [
            {"a": {"$elemMatch": {"$and": [{"b": {"$regex": "x"}}, {"b": {"$regex": "y"}}]}}},
            {"a": {"$elemMatch": {"p.q": {"$not": {"$gt": 1}}}}},
            {"a": {"$elemMatch": {"p.q.r": {"$ne": None}}}},
        ],
    )
    def test_what_has_no_exact_rewrite_is_refused_on_the_embedded_backend(
        self, where: dict[str, Any]
    ) -> None:
        with pytest.raises(QueryNotSupported):
            compile_query(parse_where(where), as_of=AS_OF, backend="mongoeco")
        assert compile_query(parse_where(where), as_of=AS_OF, backend="pymongo")


class TestNullThroughArrays:
    async def test_mongoeco_matches_empty_arrays_and_misses_documents_lacking_the_field(
        self, stored: Database
    ) -> None:
        answer = await raw(stored, {"a.b": None})
        assert "empty" in answer
        assert "docs" not in answer

    @pytest.mark.parametrize(
        "where",
        [{"a.b": None}, {"a.b": {"$ne": None}}, {"a.b": {"$in": [None, 1]}}, {"a.b": {"$nin": [None]}}],
    )
    async def test_compiled_null_follows_mongodb(self, stored: Database, where: dict[str, Any]) -> None:
        assert await compiled(stored, where) == mongodb_meaning(where)
