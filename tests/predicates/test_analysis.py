"""`predicate_dependencies` and `evaluate_subject` as other modules call them."""

from __future__ import annotations

import datetime as dt
from typing import Any

from audiences.predicates import (
    Cohort,
    DynamicCohort,
    StaticCohort,
    evaluate_subject,
    parse_predicate,
    predicate_dependencies,
)
from audiences.predicates.model import Node
from tests.conftest import AS_OF


def _parsed(raw: Any) -> Node:
    checked = parse_predicate(raw)
    assert checked.predicate is not None
    return checked.predicate


INNER = {"kind": "event_fired", "eventName": "buy", "window": {"type": "last_n_days", "days": 7}}
COHORTS: dict[str, Cohort] = {
    "buyers": DynamicCohort("buyers", _parsed(INNER)),
    "vip": StaticCohort("vip", frozenset({"u1", "u9"})),
}
PREDICATE = {
    "kind": "and",
    "clauses": [
        {"kind": "attribute", "fieldPath": "plan.name", "operator": "equals", "value": "pro"},
        {"kind": "event_not_fired", "eventName": "churn"},
        {
            "kind": "or",
            "clauses": [
                {"kind": "in_cohort", "cohortId": "buyers"},
                {"kind": "in_cohort", "cohortId": "vip"},
            ],
        },
    ],
}


class TestPredicateDependencies:
    async def test_follows_cohorts_into_their_predicates(self) -> None:
        deps = predicate_dependencies(_parsed(PREDICATE), COHORTS)
        assert deps.event_names == {"churn", "buy"}
        assert deps.field_paths == {"plan.name"}
        assert deps.top_fields == {"plan"}
        assert deps.cohort_ids == {"buyers", "vip"}
        assert deps.static_subject_ids == {"u1", "u9"}
        assert deps.time_dependent is True  # through `buyers`

    async def test_ever_windows_do_not_depend_on_time(self) -> None:
        deps = predicate_dependencies(_parsed({"kind": "event_fired", "eventName": "x"}), {})
        assert deps.time_dependent is False


class TestEvaluateSubject:
    async def test_is_pure_and_takes_any_subset_of_events(self) -> None:
        subject = {"id": "u1", "plan": {"name": "pro"}}
        events = [
            {"userId": "u1", "name": "buy", "ts": AS_OF - dt.timedelta(days=1)},
            {"userId": "u1", "name": "unrelated", "ts": AS_OF},
        ]
        result = evaluate_subject(
            _parsed(PREDICATE), subject=subject, events=events, cohorts=COHORTS, as_of=AS_OF
        )
        assert result.matched is True
        assert result.explanation is not None
        assert [c["matched"] for c in result.explanation["clauses"]] == [True, True, True]

    async def test_without_explanation_gives_the_same_answer(self) -> None:
        subject = {"id": "u2", "plan": {"name": "pro"}}
        for events in ([], [{"name": "churn", "ts": AS_OF}]):
            full = evaluate_subject(
                _parsed(PREDICATE), subject=subject, events=events, cohorts=COHORTS, as_of=AS_OF
            )
            bare = evaluate_subject(
                _parsed(PREDICATE),
                subject=subject,
                events=events,
                cohorts=COHORTS,
                as_of=AS_OF,
                explain=False,
            )
            assert (bare.matched, bare.explanation) == (full.matched, None)

    async def test_event_not_fired_explains_what_it_saw(self) -> None:
        leaf = {
            "kind": "event_not_fired",
            "eventName": "purchase",
            "window": {"type": "last_n_days", "days": 30},
        }
        result = evaluate_subject(
            _parsed(leaf),
            subject={"id": "u1"},
            events=[{"name": "purchase", "ts": AS_OF - dt.timedelta(days=2)}],
            cohorts={},
            as_of=AS_OF,
        )
        assert result.explanation == {
            "kind": "event_not_fired",
            "matched": False,
            "eventName": "purchase",
            "count": 1,
            "needed": 0,
            "window": "last 30 days",
            "reason": "purchase fired 1 time in last 30 days, needs none",
        }
