"""The pinned semantics (CONTRACT §8, docs/predicates.md "Semantics"), each checked on both
surfaces: the in-memory evaluator and the compiled pipeline run by the backend (embedded,
and MongoDB when `AUDIENCES_TEST_MONGODB_URI` is set)."""

from __future__ import annotations

import datetime as dt
import itertools
from typing import Any

import pytest

from audiences.db import Database
from audiences.predicates import (
    Cohort,
    DynamicCohort,
    StaticCohort,
    compile_predicate,
    evaluate_subject,
    parse_predicate,
)
from audiences.tenancy import system_scope
from tests.conftest import AS_OF

_orgs = itertools.count()


async def both(
    backend: Database,
    predicate: dict[str, Any],
    contact: dict[str, Any],
    events: list[tuple[str, dt.datetime]] = (),  # type: ignore[assignment]
    cohorts: dict[str, Cohort] | None = None,
    as_of: dt.datetime = AS_OF,
) -> bool:
    """The evaluator's answer for one contact, after checking the pipeline gives the same."""
    checked = parse_predicate(predicate)
    assert checked.predicate is not None, checked.errors
    scope = system_scope(f"sem{next(_orgs)}")
    doc = {"id": "s1", **contact}
    rows = [{"userId": "s1", "name": name, "ts": ts, "properties": {}} for name, ts in events]
    await backend.collection("contacts").insert_one(scope.stamp({"_id": f"{scope.org_id}:s1", **doc}))
    if rows:
        await backend.collection("events").insert_many([scope.stamp(r) for r in rows])
    cohorts = cohorts or {}
    compiled = compile_predicate(checked.predicate, scope=scope, cohorts=cohorts, as_of=as_of)
    found = await backend.collection(compiled.collection).aggregate_list(compiled.ids_pipeline())
    matched = evaluate_subject(
        checked.predicate, subject=doc, events=rows, cohorts=cohorts, as_of=as_of
    ).matched
    assert ([r["_id"] for r in found] == ["s1"]) is matched, "pipeline and evaluator disagree"
    return matched


def attr(field: str, operator: str, value: Any = None, *, with_value: bool = True) -> dict[str, Any]:
    leaf = {"kind": "attribute", "fieldPath": field, "operator": operator}
    if with_value:
        leaf["value"] = value
    return leaf


class TestMissingAndNull:
    async def test_missing_attribute_fails_equals(self, backend: Database) -> None:
        assert await both(backend, attr("tier", "equals", "pro"), {}) is False

    async def test_missing_attribute_passes_not_equals(self, backend: Database) -> None:
        assert await both(backend, attr("tier", "not_equals", "pro"), {}) is True

    @pytest.mark.parametrize(
        ("value", "exists"),
        [(None, False), ("", True), (0, True), (False, True), ([], True), ([None], False)],
    )
    async def test_exists_means_present_and_not_null(
        self, backend: Database, value: Any, exists: bool
    ) -> None:
        assert await both(backend, attr("tier", "exists", with_value=False), {"tier": value}) is exists
        assert (
            await both(backend, attr("tier", "not_exists", with_value=False), {"tier": value}) is not exists
        )

    async def test_exists_on_a_missing_field(self, backend: Database) -> None:
        assert await both(backend, attr("tier", "exists", with_value=False), {}) is False

    async def test_exists_ignores_the_value(self, backend: Database) -> None:
        assert await both(backend, attr("tier", "exists", "whatever"), {"tier": "x"}) is True

    async def test_dotted_paths_reach_into_objects(self, backend: Database) -> None:
        assert await both(backend, attr("plan.name", "equals", "pro"), {"plan": {"name": "pro"}}) is True
        assert await both(backend, attr("plan.name", "exists", with_value=False), {"plan": "pro"}) is False


class TestEquality:
    @pytest.mark.parametrize(
        ("stored", "value", "equal"),
        [
            (1, 1.0, True),
            (1, True, False),
            (True, 1, False),
            ("1", 1, False),
            ("Pro", "pro", False),
            (dt.datetime(2026, 4, 1, tzinfo=dt.UTC), "2026-04-01", True),
            (dt.datetime(2026, 4, 1, tzinfo=dt.UTC), "2026-04-01T00:00:00Z", True),
            ("2026-04-01", "2026-04-01", True),
        ],
    )
    async def test_equals_compares_like_mongodb(
        self, backend: Database, stored: Any, value: Any, equal: bool
    ) -> None:
        assert await both(backend, attr("f", "equals", value), {"f": stored}) is equal
        assert await both(backend, attr("f", "not_equals", value), {"f": stored}) is not equal

    async def test_arrays_match_if_any_element_matches(self, backend: Database) -> None:
        assert await both(backend, attr("tags", "equals", "vip"), {"tags": ["new", "vip"]}) is True
        assert await both(backend, attr("scores", "greater_than", 10), {"scores": [1, 20]}) is True
        assert await both(backend, attr("tags", "in", "x, vip"), {"tags": ["vip"]}) is True

    async def test_not_equals_on_an_array_means_no_element_equals(self, backend: Database) -> None:
        assert await both(backend, attr("tags", "not_equals", "vip"), {"tags": ["new", "vip"]}) is False
        assert await both(backend, attr("tags", "not_equals", "vip"), {"tags": ["new"]}) is True


class TestOrdering:
    @pytest.mark.parametrize(
        ("stored", "value", "greater"),
        [
            (5, 3, True),
            (2.5, 2, True),
            (3, 3, False),
            ("5", 3, False),  # a numeric string is a string
            (True, 0, False),  # booleans are not numbers
            (None, -1, False),
            (dt.datetime(2026, 4, 2, tzinfo=dt.UTC), "2026-04-01", True),
            (dt.datetime(2026, 4, 2, tzinfo=dt.UTC), 5, False),  # a date is not a number
            (7, "2026-04-01", False),  # nor a number a date
            ("2026-04-02", "2026-04-01", False),  # a stored string is not a date
        ],
    )
    async def test_greater_than_compares_numbers_with_numbers_and_dates_with_dates(
        self, backend: Database, stored: Any, value: Any, greater: bool
    ) -> None:
        assert await both(backend, attr("f", "greater_than", value), {"f": stored}) is greater

    async def test_less_than_is_false_for_missing_and_null(self, backend: Database) -> None:
        assert await both(backend, attr("f", "less_than", 100), {}) is False
        assert await both(backend, attr("f", "less_than", 100), {"f": None}) is False

    async def test_an_array_needs_one_element_that_is_both_the_type_and_in_range(
        self, backend: Database
    ) -> None:
        # null would sort below -1 on the embedded backend; it must not count.
        assert await both(backend, attr("f", "less_than", -1), {"f": [None, 5]}) is False
        assert await both(backend, attr("f", "less_than", -1), {"f": [None, -5]}) is True


class TestIn:
    async def test_splits_on_commas_and_trims(self, backend: Database) -> None:
        assert await both(backend, attr("tier", "in", " pro , enterprise"), {"tier": "enterprise"}) is True
        assert await both(backend, attr("tier", "in", "pro,enterprise"), {"tier": "pro,enterprise"}) is False

    async def test_accepts_a_json_array_with_typed_values(self, backend: Database) -> None:
        assert await both(backend, attr("seats", "in", [1, 2, 3]), {"seats": 2}) is True
        assert (
            await both(backend, attr("seats", "in", "1,2,3"), {"seats": 2}) is False
        )  # comma values are strings

    async def test_missing_field_is_not_in(self, backend: Database) -> None:
        assert await both(backend, attr("tier", "in", "pro"), {}) is False


def _fired(name: str, days: int | None = None, at_least: int | None = None) -> dict[str, Any]:
    leaf: dict[str, Any] = {"kind": "event_fired", "eventName": name}
    leaf["window"] = {"type": "ever"} if days is None else {"type": "last_n_days", "days": days}
    if at_least is not None:
        leaf["atLeast"] = at_least
    return leaf


class TestWindows:
    async def test_last_n_days_includes_its_start_instant(self, backend: Database) -> None:
        edge = AS_OF - dt.timedelta(days=7)
        assert await both(backend, _fired("buy", 7), {}, [("buy", edge)]) is True
        assert (
            await both(backend, _fired("buy", 7), {}, [("buy", edge - dt.timedelta(milliseconds=1))]) is False
        )

    async def test_events_after_as_of_are_not_counted(self, backend: Database) -> None:
        later = AS_OF + dt.timedelta(milliseconds=1)
        assert await both(backend, _fired("buy"), {}, [("buy", later)]) is False
        assert await both(backend, _fired("buy"), {}, [("buy", AS_OF)]) is True

    async def test_at_least_counts_events_in_the_window(self, backend: Database) -> None:
        events = [("buy", AS_OF - dt.timedelta(days=d)) for d in (1, 2, 10)]
        assert await both(backend, _fired("buy", 7, at_least=2), {}, events) is True
        assert await both(backend, _fired("buy", 7, at_least=3), {}, events) is False
        assert await both(backend, _fired("buy", None, at_least=3), {}, events) is True

    async def test_event_not_fired_holds_for_subjects_without_any_event(self, backend: Database) -> None:
        leaf = {"kind": "event_not_fired", "eventName": "buy", "window": {"type": "last_n_days", "days": 30}}
        assert await both(backend, leaf, {}) is True
        assert await both(backend, leaf, {}, [("buy", AS_OF - dt.timedelta(days=31))]) is True
        assert await both(backend, leaf, {}, [("buy", AS_OF - dt.timedelta(days=29))]) is False

    async def test_not_reaches_subjects_without_events(self, backend: Database) -> None:
        assert await both(backend, {"kind": "not", "clause": _fired("buy")}, {}) is True

    async def test_a_missing_window_means_ever(self, backend: Database) -> None:
        leaf = {"kind": "event_fired", "eventName": "buy"}
        assert await both(backend, leaf, {}, [("buy", AS_OF - dt.timedelta(days=3000))]) is True


class TestCohorts:
    async def test_static_cohorts_list_subject_ids(self, backend: Database) -> None:
        leaf = {"kind": "in_cohort", "cohortId": "vip"}
        assert await both(backend, leaf, {}, cohorts={"vip": StaticCohort("vip", frozenset({"s1"}))}) is True
        assert await both(backend, leaf, {}, cohorts={"vip": StaticCohort("vip", frozenset({"s2"}))}) is False

    async def test_dynamic_cohorts_evaluate_their_predicate_for_the_same_subject(
        self, backend: Database
    ) -> None:
        inner = parse_predicate(_fired("buy", 7)).predicate
        assert inner is not None
        cohorts: dict[str, Cohort] = {"buyers": DynamicCohort("buyers", inner)}
        leaf = {"kind": "not", "clause": {"kind": "in_cohort", "cohortId": "buyers"}}
        assert await both(backend, leaf, {}, cohorts=cohorts) is True
        assert (
            await both(backend, leaf, {}, [("buy", AS_OF - dt.timedelta(days=1))], cohorts=cohorts) is False
        )
