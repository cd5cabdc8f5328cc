"""parse_where / parse_filter: what DynamicQuery accepts and how it refuses the rest."""

from __future__ import annotations

import datetime as dt
from typing import Any

import pytest

from audiences.querylang import QueryInvalid, parse_filter, parse_where
from audiences.querylang.model import (
    All,
    Comparison,
    ElemMatchQuery,
    ElemMatchValue,
    Exists,
    FieldQuery,
    Logical,
    Membership,
    Not,
    Now,
    Regex,
    Size,
)
from audiences.querylang.validate import MAX_DEPTH, MAX_LIST_ITEMS, MAX_NODES, MAX_REGEX_LENGTH


def problems(where: Any) -> list[tuple[str, str]]:
    with pytest.raises(QueryInvalid) as caught:
        parse_where(where, path=("filter", "where"))
    return [(e.code, e.path) for e in caught.value.errors]


def top_code(where: Any) -> str:
    with pytest.raises(QueryInvalid) as caught:
        parse_where(where)
    return caught.value.code


class TestAcceptedQueries:
    def test_the_seed_segment_filter_parses_with_its_date_as_a_date(self) -> None:
        query = parse_where(
            {"$and": [{"tags": "vip"}, {"lastEmailOpenedAt": {"$gte": "2026-03-25T00:00:00Z"}}]}
        )
        assert query == Logical(
            "$and",
            (
                FieldQuery("tags", (Comparison("$eq", "vip"),)),
                FieldQuery(
                    "lastEmailOpenedAt",
                    (Comparison("$gte", dt.datetime(2026, 3, 25, tzinfo=dt.UTC)),),
                ),
            ),
        )

    def test_the_seed_reach_filter_parses(self) -> None:
        query = parse_where({"country": "US", "tags": {"$in": ["lead", "mql"]}})
        assert query == Logical(
            "$and",
            (
                FieldQuery("country", (Comparison("$eq", "US"),)),
                FieldQuery("tags", (Membership("$in", ("lead", "mql")),)),
            ),
        )

    def test_every_allowed_operator_parses(self) -> None:
        query = parse_where(
            {
                "a": {"$eq": 1, "$ne": 2, "$gt": 0, "$gte": 0, "$lt": 9, "$lte": 9},
                "b": {"$in": [1, None], "$nin": ["x"], "$exists": True, "$all": ["p"], "$size": 2},
                "c": {"$regex": "^a", "$options": "i", "$not": {"$regex": "z"}},
                "d": {"$elemMatch": {"$gt": 1}},
                "e": {"$elemMatch": {"sku": "A", "$or": [{"qty": 1}]}},
                "$or": [{"f": 1}],
                "$nor": [{"g": 1}],
            }
        )
        assert isinstance(query, Logical)
        kinds = {
            type(c) for clause in query.clauses if isinstance(clause, FieldQuery) for c in clause.conditions
        }
        assert kinds == {
            Comparison,
            Membership,
            Exists,
            All,
            Size,
            Regex,
            Not,
            ElemMatchValue,
            ElemMatchQuery,
        }

    def test_an_empty_where_matches_everyone(self) -> None:
        assert parse_where({}) == Logical("$and", ())

    def test_dotted_paths_are_allowed(self) -> None:
        assert parse_where({"address.city": "Paris"}) == FieldQuery(
            "address.city", (Comparison("$eq", "Paris"),)
        )

    def test_iso_strings_on_date_fields_become_dates_in_every_list_operator(self) -> None:
        query = parse_where({"createdAt": {"$in": ["2026-01-01", "2026-02-01T10:00:00+02:00"]}})
        assert query == FieldQuery(
            "createdAt",
            (
                Membership(
                    "$in",
                    (dt.datetime(2026, 1, 1, tzinfo=dt.UTC), dt.datetime(2026, 2, 1, 8, tzinfo=dt.UTC)),
                ),
            ),
        )

    def test_strings_on_other_fields_stay_strings(self) -> None:
        assert parse_where({"note": "2026-01-01"}) == FieldQuery("note", (Comparison("$eq", "2026-01-01"),))

    def test_now_is_a_relative_date(self) -> None:
        query = parse_where({"lastSeenAt": {"$gte": {"$now": "-P30D"}}})
        assert isinstance(query, FieldQuery)
        condition = query.conditions[0]
        assert isinstance(condition, Comparison)
        assert isinstance(condition.value, Now)
        assert condition.value.at(dt.datetime(2026, 4, 24, 12, tzinfo=dt.UTC)) == dt.datetime(
            2026, 3, 25, 12, tzinfo=dt.UTC
        )

    def test_exists_accepts_one_and_zero(self) -> None:
        assert parse_where({"a": {"$exists": 1}}) == FieldQuery("a", (Exists(True),))


class TestOperatorInjection:
    @pytest.mark.parametrize(
        "operator", ["$where", "$function", "$expr", "$accumulator", "$jsonSchema", "$text", "$near", "$x"]
    )
    def test_a_refused_operator_at_the_top_is_operator_not_allowed(self, operator: str) -> None:
        assert problems({operator: "sleep(1000)"}) == [("operator_not_allowed", f"filter.where.{operator}")]

    @pytest.mark.parametrize("operator", ["$where", "$function", "$expr", "$type", "$mod", "$foo"])
    def test_a_refused_operator_on_a_field_is_operator_not_allowed(self, operator: str) -> None:
        assert problems({"age": {operator: 1}}) == [("operator_not_allowed", f"filter.where.age.{operator}")]

    def test_unknown_operators_are_found_at_any_depth(self) -> None:
        where = {
            "$and": [
                {"$or": [{"a": 1}, {"b": {"$elemMatch": {"c": {"$not": {"$x": 1}}}}}]},
                {"d": {"$eq": {"$function": {"body": "return true"}}}},
            ]
        }
        assert problems(where) == [
            ("operator_not_allowed", "filter.where.$and[0].$or[1].b.$elemMatch.c.$not.$x"),
            ("operator_not_allowed", "filter.where.$and[1].d.$eq.$function"),
        ]

    def test_expr_with_a_function_inside_is_refused_without_looking_inside(self) -> None:
        where = {"$expr": {"$function": {"body": "function() { return true }", "args": [], "lang": "js"}}}
        assert problems(where) == [("operator_not_allowed", "filter.where.$expr")]

    @pytest.mark.parametrize("name", ["a.$where", "pri$ce", "$"])
    def test_a_dollar_in_a_field_name_is_operator_not_allowed(self, name: str) -> None:
        codes = problems({"x": 1, "nested": {"$elemMatch": {name: 1}}} if name != "$" else {name: 1})
        assert codes[0][0] == "operator_not_allowed"

    def test_every_problem_is_listed_at_once(self) -> None:
        where = {
            "$where": "1",
            "age": {"$gt": [1]},
            "createdAt": "yesterday",
            "name": {"$regex": "("},
            "tags": {"$in": "vip"},
        }
        assert problems(where) == [
            ("operator_not_allowed", "filter.where.$where"),
            ("invalid_operand", "filter.where.age.$gt"),
            ("invalid_date", "filter.where.createdAt"),
            ("invalid_regex", "filter.where.name.$regex"),
            ("invalid_operand", "filter.where.tags.$in"),
        ]

    def test_the_top_level_code_is_operator_not_allowed_when_any_problem_is_one(self) -> None:
        assert top_code({"createdAt": "yesterday", "$where": "1"}) == "operator_not_allowed"

    def test_otherwise_the_top_level_code_is_the_first_problem(self) -> None:
        assert top_code({"createdAt": "yesterday"}) == "invalid_date"


class TestLimits:
    def test_deeper_than_the_limit_is_refused_once(self) -> None:
        where: dict[str, Any] = {"a": 1}
        for _ in range(MAX_DEPTH):
            where = {"$and": [where]}
        assert [code for code, _ in problems(where)] == ["query_too_deep"]

    def test_exactly_at_the_depth_limit_is_accepted(self) -> None:
        where: dict[str, Any] = {"a": {"$gt": 1}}  # depth 2
        for _ in range((MAX_DEPTH - 2) // 2):
            where = {"$and": [where]}
        parse_where(where)

    def test_more_nodes_than_the_limit_is_refused(self) -> None:
        where = {"$or": [{f"f{i}": i} for i in range(MAX_NODES)]}
        assert problems(where) == [("query_too_large", f"filter.where.$or[{MAX_NODES - 1}].f{MAX_NODES - 1}")]

    def test_an_in_list_over_the_limit_is_refused(self) -> None:
        assert problems({"id": {"$in": list(range(MAX_LIST_ITEMS + 1))}}) == [
            ("list_too_long", "filter.where.id.$in")
        ]

    def test_an_in_list_at_the_limit_is_accepted(self) -> None:
        parse_where({"id": {"$nin": [str(i) for i in range(MAX_LIST_ITEMS)]}})

    def test_a_long_regex_is_refused(self) -> None:
        assert problems({"name": {"$regex": "a" * (MAX_REGEX_LENGTH + 1)}}) == [
            ("regex_too_long", "filter.where.name.$regex")
        ]

    def test_a_regex_that_does_not_compile_is_refused(self) -> None:
        assert problems({"name": {"$regex": "[a-"}}) == [("invalid_regex", "filter.where.name.$regex")]

    def test_unknown_regex_options_are_refused(self) -> None:
        assert problems({"name": {"$regex": "a", "$options": "ig"}}) == [
            ("invalid_regex", "filter.where.name.$options")
        ]


class TestRefusedShapes:
    @pytest.mark.parametrize(
        ("where", "expected"),
        [
            ({"": 1}, ("invalid_field_name", "filter.where.")),
            ({"a..b": 1}, ("invalid_field_name", "filter.where.a..b")),
            ({"a\x00b": 1}, ("invalid_field_name", "filter.where.a\x00b")),
            ({"items.0.sku": 1}, ("invalid_field_name", "filter.where.items.0.sku")),
            ({"_id": "acme:c1"}, ("reserved_field", "filter.where._id")),
            ({"orgId": "globex"}, ("reserved_field", "filter.where.orgId")),
            ({"$not": {"a": 1}}, ("misplaced_operator", "filter.where.$not")),
            ({"a": {"$and": [{"b": 1}]}}, ("misplaced_operator", "filter.where.a.$and")),
            ({"a": {"$options": "i"}}, ("misplaced_operator", "filter.where.a.$options")),
            ({"a": {"$not": {"$not": {"$gt": 1}}}}, ("misplaced_operator", "filter.where.a.$not.$not")),
            ({"a": {"$gt": None}}, ("invalid_operand", "filter.where.a.$gt")),
            ({"a": {"$size": -1}}, ("invalid_operand", "filter.where.a.$size")),
            ({"a": {"$exists": "yes"}}, ("invalid_operand", "filter.where.a.$exists")),
            ({"a": {"$and": []}}, ("misplaced_operator", "filter.where.a.$and")),
            ({"$or": []}, ("invalid_operand", "filter.where.$or")),
            ({"$or": [1]}, ("invalid_query", "filter.where.$or[0]")),
            ({"a": {"city": "Paris"}}, ("invalid_operand", "filter.where.a")),
            ({"a": {"$gt": 1, "b": 2}}, ("invalid_operand", "filter.where.a.b")),
            ({"a": 2**63}, ("invalid_operand", "filter.where.a")),
            ({"a": float("nan")}, ("invalid_operand", "filter.where.a")),
            ({"a": {"$gte": {"$now": "30 days ago"}}}, ("invalid_duration", "filter.where.a.$gte.$now")),
            (
                {"a": {"$all": [{"$elemMatch": {"b": 1}}]}},
                ("misplaced_operator", "filter.where.a.$all[0].$elemMatch"),
            ),
        ],
    )
    def test_is_refused_with_its_path(self, where: dict[str, Any], expected: tuple[str, str]) -> None:
        assert problems(where) == [expected]

    def test_a_where_that_is_not_an_object_is_refused(self) -> None:
        assert problems(["a"]) == [("invalid_query", "filter.where")]


class TestParseFilter:
    def test_datatype_must_be_contact(self) -> None:
        with pytest.raises(QueryInvalid) as caught:
            parse_filter("company", {"a": 1})
        assert caught.value.code == "unsupported_datatype"
        assert caught.value.errors[0].path == "filter.datatype"

    def test_datatype_and_where_problems_are_reported_together(self) -> None:
        with pytest.raises(QueryInvalid) as caught:
            parse_filter("deal", {"$where": "1"})
        assert [(e.code, e.path) for e in caught.value.errors] == [
            ("unsupported_datatype", "filter.datatype"),
            ("operator_not_allowed", "filter.where.$where"),
        ]


class TestHostileLiterals:
    """Issue 13: literals that could not be stored or encoded are refused with a path."""

    @pytest.mark.parametrize(
        ("where", "path"),
        [
            ({"nick": "\ud800"}, "filter.where.nick"),
            ({"nick": {"$in": ["ok", "\udfff"]}}, "filter.where.nick.$in[1]"),
            ({"n\ud800": 1}, "filter.where.n\ud800"),
            ({"n": float("inf")}, "filter.where.n"),
            ({"n": 2**63}, "filter.where.n"),
        ],
    )
    def test_unstorable_literals_are_refused(self, where: Any, path: str) -> None:
        assert [p for _, p in problems(where)] == [path]
