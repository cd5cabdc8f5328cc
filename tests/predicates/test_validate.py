"""`parse_predicate` and the cohort checks: one code per problem, each at its JSON path."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import pytest

from audiences.predicates import (
    Cohort,
    DynamicCohort,
    StaticCohort,
    cohort_problems,
    load_cohorts,
    parse_predicate,
)
from audiences.predicates.model import Node


def problems(raw: Any) -> list[tuple[str, str]]:
    checked = parse_predicate(raw)
    assert checked.predicate is None
    return [(e.code, e.path) for e in checked.errors]


def event(**extra: Any) -> dict[str, Any]:
    return {"kind": "event_fired", "eventName": "buy", **extra}


def attribute(**extra: Any) -> dict[str, Any]:
    return {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro", **extra}


class TestParsePredicate:
    async def test_returns_the_typed_tree(self) -> None:
        checked = parse_predicate({"kind": "not", "clause": event(atLeast=2)})
        assert checked.errors == []
        assert type(checked.predicate).__name__ == "Not"

    @pytest.mark.parametrize(
        "window",
        [
            {"type": "last_n_days", "days": 0},
            {"type": "last_n_days", "days": 3651},
            {"type": "last_n_days", "days": 7.5},
            {"type": "last_n_days", "days": "7"},
            {"type": "last_n_days", "days": True},
            {"type": "last_n_days"},
            {"type": "this_month"},
            "ever",
            None,
        ],
    )
    async def test_invalid_windows(self, window: Any) -> None:
        assert [code for code, _ in problems(event(window=window))] == ["invalid_window"]

    async def test_keys_a_window_does_not_have_are_unknown_fields(self) -> None:
        assert problems(event(window={"type": "ever", "days": 3})) == [
            ("unknown_field", "predicate.window.days")
        ]

    @pytest.mark.parametrize("at_least", [0, -1, 1.5, "2", True, None, 1_000_001])
    async def test_invalid_at_least(self, at_least: Any) -> None:
        assert problems(event(atLeast=at_least)) == [("invalid_at_least", "predicate.atLeast")]

    @pytest.mark.parametrize("name", [None, "", "   ", 5])
    async def test_event_name_required(self, name: Any) -> None:
        assert problems({"kind": "event_not_fired", "eventName": name}) == [
            ("event_name_required", "predicate.eventName")
        ]

    async def test_event_names_are_bounded(self) -> None:
        assert problems(event(eventName="x" * 257)) == [("invalid_event_name", "predicate.eventName")]

    @pytest.mark.parametrize("path", ["orgId", "_id.x", "$where", "a..b", "a.", ".a"])
    async def test_field_paths_are_plain_and_not_internal(self, path: str) -> None:
        assert problems(attribute(fieldPath=path)) == [("invalid_field_path", "predicate.fieldPath")]

    async def test_field_path_required(self) -> None:
        assert problems({"kind": "attribute", "operator": "exists"}) == [
            ("field_path_required", "predicate.fieldPath")
        ]

    @pytest.mark.parametrize("operator", ["eq", "EQUALS", "", None, "contains"])
    async def test_invalid_operator(self, operator: Any) -> None:
        assert problems(attribute(operator=operator)) == [("invalid_operator", "predicate.operator")]

    @pytest.mark.parametrize("operator", ["equals", "not_equals", "greater_than", "less_than", "in"])
    async def test_value_required_except_for_exists(self, operator: str) -> None:
        leaf = {"kind": "attribute", "fieldPath": "tier", "operator": operator}
        assert problems(leaf) == [("value_required", "predicate.value")]
        assert problems({**leaf, "value": None}) == [("value_required", "predicate.value")]

    @pytest.mark.parametrize("operator", ["exists", "not_exists"])
    async def test_exists_needs_no_value(self, operator: str) -> None:
        assert parse_predicate({"kind": "attribute", "fieldPath": "tier", "operator": operator}).errors == []

    @pytest.mark.parametrize(
        ("operator", "value"),
        [
            ("equals", {"a": 1}),
            ("equals", ["pro"]),
            ("greater_than", "abc"),
            ("greater_than", True),
            ("less_than", [1]),
            ("in", {"a": 1}),
            ("in", [["nested"]]),
            ("in", list(range(1001))),
            ("equals", 2**70),
        ],
    )
    async def test_invalid_values(self, operator: str, value: Any) -> None:
        assert problems(attribute(operator=operator, value=value)) == [("invalid_value", "predicate.value")]

    async def test_in_needs_at_least_one_value(self) -> None:
        assert problems(attribute(operator="in", value=" , ,")) == [("value_required", "predicate.value")]

    async def test_unknown_and_missing_kinds(self) -> None:
        assert problems({"kind": "maybe"}) == [("unknown_kind", "predicate.kind")]
        assert problems({"eventName": "buy"}) == [("unknown_kind", "predicate.kind")]
        assert problems({"kind": "and", "clauses": ["buy"]}) == [("unknown_kind", "predicate.clauses[0]")]

    async def test_composites(self) -> None:
        assert problems({"kind": "and"}) == [("empty_clauses", "predicate.clauses")]
        assert problems({"kind": "or", "clauses": "x"}) == [("empty_clauses", "predicate.clauses")]
        assert problems({"kind": "not"}) == [("clause_required", "predicate.clause")]
        assert problems({"kind": "not", "clause": None}) == [("clause_required", "predicate.clause")]
        assert problems({"kind": "and", "clauses": [event()], "clause": event()}) == [
            ("unknown_field", "predicate.clause")
        ]

    async def test_cohort_id_required(self) -> None:
        assert problems({"kind": "in_cohort"}) == [("cohort_id_required", "predicate.cohortId")]
        assert problems({"kind": "in_cohort", "cohortId": ""}) == [
            ("cohort_id_required", "predicate.cohortId")
        ]

    async def test_problems_in_nested_nodes_carry_their_full_path(self) -> None:
        raw = {
            "kind": "or",
            "clauses": [
                event(),
                {"kind": "not", "clause": {"kind": "and", "clauses": [event(eventName="")]}},
            ],
        }
        assert problems(raw) == [("event_name_required", "predicate.clauses[1].clause.clauses[0].eventName")]

    async def test_depth_and_size_limits(self) -> None:
        deep: dict[str, Any] = event()
        for _ in range(20):
            deep = {"kind": "not", "clause": deep}
        assert problems(deep) == [("predicate_too_deep", "predicate" + ".clause" * 20)]
        assert problems({"kind": "or", "clauses": [event()] * 200}) == [("predicate_too_large", "predicate")]
        assert parse_predicate({"kind": "or", "clauses": [event()] * 199}).errors == []


def _parsed(raw: Any) -> Node:
    checked = parse_predicate(raw)
    assert checked.predicate is not None
    return checked.predicate


class _Store:
    """Cohorts by id, counting the batched lookups."""

    def __init__(self, cohorts: dict[str, Cohort]) -> None:
        self.cohorts = cohorts
        self.calls: list[list[str]] = []

    async def __call__(self, ids: Sequence[str]) -> Mapping[str, Cohort]:
        self.calls.append(list(ids))
        return {i: self.cohorts[i] for i in ids if i in self.cohorts}


def in_cohort(cohort_id: str) -> dict[str, Any]:
    return {"kind": "in_cohort", "cohortId": cohort_id}


class TestCohortChecks:
    async def test_one_batched_lookup_per_nesting_level(self) -> None:
        store = _Store(
            {
                "a": StaticCohort("a", frozenset()),
                "b": DynamicCohort("b", _parsed(in_cohort("c"))),
                "c": StaticCohort("c", frozenset({"u1"})),
            }
        )
        predicate = _parsed({"kind": "and", "clauses": [in_cohort("a"), in_cohort("b"), in_cohort("a")]})
        graph = await load_cohorts(predicate, store)
        assert store.calls == [["a", "b"], ["c"]]
        assert sorted(graph.cohorts) == ["a", "b", "c"]
        assert cohort_problems(predicate, graph) == []

    async def test_unknown_cohorts_are_reported_at_each_leaf(self) -> None:
        predicate = _parsed(
            {"kind": "or", "clauses": [in_cohort("x"), {"kind": "not", "clause": in_cohort("x")}]}
        )
        graph = await load_cohorts(predicate, _Store({}))
        assert [(e.code, e.path) for e in cohort_problems(predicate, graph)] == [
            ("cohort_not_found", "predicate.clauses[0].cohortId"),
            ("cohort_not_found", "predicate.clauses[1].clause.cohortId"),
        ]

    async def test_an_unknown_cohort_used_by_a_cohort_is_reported_at_the_leaf_that_leads_there(self) -> None:
        store = _Store({"b": DynamicCohort("b", _parsed(in_cohort("gone")))})
        predicate = _parsed(in_cohort("b"))
        [error] = cohort_problems(predicate, await load_cohorts(predicate, store))
        assert (error.code, error.path) == ("cohort_not_found", "predicate.cohortId")
        assert "'gone'" in error.message

    async def test_cycles_are_reported(self) -> None:
        store = _Store(
            {
                "a": DynamicCohort("a", _parsed(in_cohort("b"))),
                "b": DynamicCohort("b", _parsed(in_cohort("a"))),
            }
        )
        predicate = _parsed(in_cohort("a"))
        [error] = cohort_problems(predicate, await load_cohorts(predicate, store))
        assert error.code == "cohort_cycle"
        assert error.message.endswith("a → b → a")

    async def test_the_cohort_being_saved_is_checked_in_its_new_form(self) -> None:
        store = _Store({"b": DynamicCohort("b", _parsed(in_cohort("a")))})
        new_a = _parsed({"kind": "not", "clause": in_cohort("b")})
        graph = await load_cohorts(new_a, store, known={"a": DynamicCohort("a", new_a)})
        assert [e.code for e in cohort_problems(new_a, graph)] == ["cohort_cycle"]
        assert store.calls == [["b"]]

    async def test_expansion_is_bounded(self) -> None:
        # Each level uses the one below twice: inlining doubles at every level.
        leaf = {"kind": "attribute", "fieldPath": "tier", "operator": "exists"}
        cohorts: dict[str, Cohort] = {"c0": DynamicCohort("c0", _parsed(leaf))}
        for i in range(1, 13):
            below = in_cohort(f"c{i - 1}")
            cohorts[f"c{i}"] = DynamicCohort(f"c{i}", _parsed({"kind": "or", "clauses": [below, below]}))
        predicate = _parsed(in_cohort("c12"))
        errors = cohort_problems(predicate, await load_cohorts(predicate, _Store(cohorts)))
        assert [e.code for e in errors] == ["predicate_too_large"]


class TestHostileValues:
    """Issue 13: lone surrogates cannot be compared with stored text; they are refused."""

    def test_a_lone_surrogate_value_is_refused(self) -> None:
        assert problems(attribute(value="\ud800")) == [("invalid_value", "predicate.value")]

    def test_a_lone_surrogate_event_name_is_refused(self) -> None:
        assert problems(event(eventName="seen\udc00")) == [("invalid_event_name", "predicate.eventName")]

    def test_a_lone_surrogate_field_path_is_refused(self) -> None:
        assert problems(attribute(fieldPath="plan.\ud800")) == [("invalid_field_path", "predicate.fieldPath")]
