"""The in-memory evaluator implements MongoDB's documented query semantics."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from audiences.querylang import matches, parse_where
from tests.conftest import AS_OF

D1 = dt.datetime(2026, 3, 1, tzinfo=dt.UTC)
D2 = dt.datetime(2026, 4, 20, tzinfo=dt.UTC)

DOCS: dict[str, dict[str, Any]] = {
    "int": {"a": 1},
    "float": {"a": 1.0},
    "string": {"a": "1"},
    "bool": {"a": True},
    "null": {"a": None},
    "missing": {},
    "array": {"a": [1, 2]},
    "nested": {"a": [[1, 2]]},
    "empty": {"a": []},
    "date": {"a": D1},
    "doc": {"a": {"b": 1}},
    "docs": {"a": [{"b": 1}, {"c": 2}]},
    "scalars": {"a": [5, "x"]},
}


def selected(where: dict[str, Any]) -> set[str]:
    query = parse_where(where)
    return {name for name, doc in DOCS.items() if matches(query, doc, as_of=AS_OF)}


class TestEquality:
    def test_a_number_equals_numbers_of_any_kind_and_array_elements(self) -> None:
        assert selected({"a": 1}) == {"int", "float", "array"}

    def test_a_number_never_equals_a_string_or_a_boolean(self) -> None:
        assert "string" not in selected({"a": 1})
        assert selected({"a": True}) == {"bool"}

    def test_null_matches_null_missing_and_arrays_holding_null(self) -> None:
        docs = dict(DOCS, holds_null={"a": [None, 1]})
        query = parse_where({"a": None})
        assert {n for n, d in docs.items() if matches(query, d, as_of=AS_OF)} == {
            "null",
            "missing",
            "holds_null",
        }

    def test_an_array_value_matches_the_whole_array_or_an_element_that_is_that_array(self) -> None:
        assert selected({"a": [1, 2]}) == {"array", "nested"}

    def test_ne_matches_contacts_without_the_field(self) -> None:
        assert selected({"a": {"$ne": 1}}) == set(DOCS) - {"int", "float", "array"}

    def test_nin_matches_contacts_without_the_field(self) -> None:
        assert "missing" in selected({"a": {"$nin": ["1", True]}})

    def test_in_with_null_also_matches_missing(self) -> None:
        assert selected({"a": {"$in": [None, "1"]}}) == {"null", "missing", "string"}


class TestRanges:
    def test_gt_a_number_only_sees_numbers(self) -> None:
        assert selected({"a": {"$gt": 0}}) == {"int", "float", "array", "scalars"}

    def test_lt_a_number_never_matches_null_or_missing(self) -> None:
        assert selected({"a": {"$lt": 10}}) == {"int", "float", "array", "scalars"}

    def test_strings_compare_with_strings_only(self) -> None:
        assert selected({"a": {"$gte": "0"}}) == {"string", "scalars"}

    def test_dates_compare_with_dates_only(self) -> None:
        assert selected({"a": {"$lt": D2}}) == {"date"}

    def test_booleans_compare_with_booleans_only(self) -> None:
        assert selected({"a": {"$gt": False}}) == {"bool"}

    def test_relative_dates_resolve_against_as_of(self) -> None:
        query = parse_where({"seenAt": {"$gte": {"$now": "-P30D"}}})
        assert matches(query, {"seenAt": AS_OF - dt.timedelta(days=29)}, as_of=AS_OF)
        assert not matches(query, {"seenAt": AS_OF - dt.timedelta(days=31)}, as_of=AS_OF)
        assert matches(query, {"seenAt": AS_OF - dt.timedelta(days=31)}, as_of=AS_OF - dt.timedelta(days=2))


class TestPaths:
    def test_a_path_through_an_array_of_documents_reaches_each_element(self) -> None:
        assert selected({"a.b": 1}) == {"doc", "docs"}

    def test_null_through_arrays_matches_when_a_document_lacks_the_field(self) -> None:
        assert selected({"a.b": None}) == set(DOCS) - {"doc", "empty", "array", "nested", "scalars"}

    def test_an_array_with_no_documents_does_not_make_the_path_missing(self) -> None:
        assert not matches(parse_where({"a.b": None}), {"a": []}, as_of=AS_OF)
        assert matches(parse_where({"a.b": {"$ne": None}}), {"a": [1, 2]}, as_of=AS_OF)

    def test_exists_means_some_value_is_reached(self) -> None:
        assert selected({"a.b": {"$exists": True}}) == {"doc", "docs"}
        assert selected({"a": {"$exists": False}}) == {"missing"}


class TestArrayOperators:
    def test_size_matches_arrays_of_that_length(self) -> None:
        assert selected({"a": {"$size": 2}}) == {"array", "docs", "scalars"}
        assert selected({"a": {"$size": 0}}) == {"empty"}

    def test_all_is_the_and_of_equalities(self) -> None:
        assert selected({"a": {"$all": [1, 2]}}) == {"array"}
        assert selected({"a": {"$all": [1]}}) == {"int", "float", "array"}
        assert selected({"a": {"$all": [[1, 2]]}}) == {"array", "nested"}
        assert selected({"a": {"$all": [None]}}) == {"null", "missing"}

    def test_an_empty_all_matches_nothing(self) -> None:
        assert selected({"a": {"$all": []}}) == set()

    def test_elem_match_needs_one_element_satisfying_every_condition(self) -> None:
        docs = {"one": {"s": [3, 12]}, "both": {"s": [3, 7]}}
        query = parse_where({"s": {"$elemMatch": {"$gt": 5, "$lt": 10}}})
        assert {n for n, d in docs.items() if matches(query, d, as_of=AS_OF)} == {"both"}
        plain = parse_where({"s": {"$gt": 5, "$lt": 10}})
        assert {n for n, d in docs.items() if matches(plain, d, as_of=AS_OF)} == {"one", "both"}

    def test_elem_match_query_form_tests_documents_in_the_array(self) -> None:
        assert selected({"a": {"$elemMatch": {"c": 2}}}) == {"docs"}
        assert selected({"a": {"$elemMatch": {"$or": [{"b": 1}, {"c": 9}]}}}) == {"docs"}

    def test_elem_match_elements_are_single_values(self) -> None:
        assert selected({"a": {"$elemMatch": {"$eq": 1}}}) == {"array"}


class TestLogic:
    def test_not_is_the_negation_of_its_conditions_including_missing(self) -> None:
        assert selected({"a": {"$not": {"$gt": 1}}}) == set(DOCS) - {"array", "scalars"}

    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            ({"$or": [{"a": "1"}, {"a": True}]}, {"string", "bool"}),
            ({"$and": [{"a": {"$exists": True}}, {"a": {"$size": 9}}]}, set()),
            ({"$nor": [{"a": {"$exists": True}}]}, {"missing"}),
        ],
    )
    def test_logical_operators(self, where: dict[str, Any], expected: set[str]) -> None:
        assert selected(where) == expected
