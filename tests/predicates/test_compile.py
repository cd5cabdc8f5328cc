"""The compiler's plans: which one a predicate gets, and the shape that keeps each one
index-backed on MongoDB and runnable on the embedded backend."""

from __future__ import annotations

import datetime as dt
import json
from collections.abc import Iterator
from typing import Any

import pytest

from audiences.predicates import (
    Cohort,
    DynamicCohort,
    StaticCohort,
    choose_plan,
    compile_predicate,
    parse_predicate,
)
from audiences.predicates.model import Node
from audiences.tenancy import system_scope
from tests.conftest import AS_OF

SCOPE = system_scope("acme")
PRO = {"kind": "attribute", "fieldPath": "tier", "operator": "equals", "value": "pro"}
BUY_7D = {
    "kind": "event_fired",
    "eventName": "buy",
    "window": {"type": "last_n_days", "days": 7},
    "atLeast": 2,
}
VIEW_EVER = {"kind": "event_fired", "eventName": "view"}
NO_BUY_30D = {"kind": "event_not_fired", "eventName": "buy", "window": {"type": "last_n_days", "days": 30}}


def _parsed(raw: Any) -> Node:
    checked = parse_predicate(raw)
    assert checked.predicate is not None
    return checked.predicate


COHORTS: dict[str, Cohort] = {
    "vip": StaticCohort("vip", frozenset({"u2", "u1"})),
    "buyers": DynamicCohort("buyers", _parsed(BUY_7D)),
    "pros": DynamicCohort("pros", _parsed(PRO)),
}


def matches(stages: Any) -> Iterator[dict[str, Any]]:
    """Every `$match` body anywhere in a pipeline (sub-pipelines included)."""
    if isinstance(stages, list):
        for item in stages:
            yield from matches(item)
    elif isinstance(stages, dict):
        for key, value in stages.items():
            if key == "$match":
                yield value
            yield from matches(value)


class TestChoosePlan:
    @pytest.mark.parametrize(
        ("raw", "plan"),
        [
            (PRO, "contacts"),
            ({"kind": "in_cohort", "cohortId": "vip"}, "contacts"),
            ({"kind": "in_cohort", "cohortId": "pros"}, "contacts"),
            ({"kind": "and", "clauses": [PRO, BUY_7D]}, "events_first"),
            ({"kind": "or", "clauses": [BUY_7D, VIEW_EVER]}, "events_first"),
            ({"kind": "in_cohort", "cohortId": "buyers"}, "events_first"),
            ({"kind": "and", "clauses": [BUY_7D, {"kind": "not", "clause": VIEW_EVER}]}, "events_first"),
            ({"kind": "or", "clauses": [PRO, BUY_7D]}, "union"),
            ({"kind": "not", "clause": BUY_7D}, "union"),
            (NO_BUY_30D, "union"),
            ({"kind": "and", "clauses": [PRO, NO_BUY_30D]}, "union"),
        ],
    )
    async def test_plan_follows_whether_every_match_needs_an_event(self, raw: Any, plan: str) -> None:
        assert choose_plan(_parsed(raw), COHORTS) == plan


class TestPipelines:
    async def test_contacts_plan_is_one_match_on_contacts(self) -> None:
        compiled = compile_predicate(_parsed(PRO), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF)
        assert (compiled.plan, compiled.collection) == ("contacts", "contacts")
        assert compiled.stages() == [{"$match": {"tier": "pro", "orgId": "acme"}}]

    async def test_events_first_matches_the_named_events_in_their_widest_window(self) -> None:
        raw = {
            "kind": "and",
            "clauses": [
                BUY_7D,
                {"kind": "event_fired", "eventName": "buy", "window": {"type": "last_n_days", "days": 30}},
                VIEW_EVER,
            ],
        }
        compiled = compile_predicate(_parsed(raw), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF)
        first = compiled.stages()[0]["$match"]
        assert compiled.collection == "events"
        branches = {b["name"]: b for b in first["$or"]}
        assert set(branches) == {"buy", "view"}
        # Each branch is an index range on {orgId, name, ts}, ending at asOf.
        assert branches["buy"] == {
            "name": "buy",
            "ts": {"$lte": AS_OF, "$gte": AS_OF - dt.timedelta(days=30)},
            "orgId": "acme",
        }
        assert branches["view"] == {"name": "view", "ts": {"$lte": AS_OF}, "orgId": "acme"}
        group = compiled.stages()[1]["$group"]
        assert group["_id"] == "$userId"
        assert len(group) == 4  # one counter per distinct (event, window)

    async def test_one_event_in_one_window_is_counted_without_expressions(self) -> None:
        compiled = compile_predicate(_parsed(BUY_7D), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF)
        assert compiled.stages()[1] == {"$group": {"_id": "$userId", "n0": {"$sum": 1}}}
        assert compiled.stages()[2] == {"$match": {"n0": {"$gte": 2}}}

    async def test_union_pushes_contact_clauses_of_a_top_level_and_into_the_first_contacts_match(
        self,
    ) -> None:
        raw = {"kind": "and", "clauses": [PRO, {"kind": "in_cohort", "cohortId": "vip"}, NO_BUY_30D]}
        compiled = compile_predicate(_parsed(raw), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF)
        assert compiled.plan == "union"
        union = next(s["$unionWith"] for s in compiled.stages() if "$unionWith" in s)
        assert union["pipeline"][0] == {
            "$match": {"$and": [{"tier": "pro"}, {"id": {"$in": ["u1", "u2"]}}], "orgId": "acme"}
        }
        final = compiled.stages()[-2]["$match"]
        assert final == {"isSubject": True, "n0": {"$lt": 1}}

    async def test_every_match_on_stored_data_is_scoped_to_the_org(self) -> None:
        union = {"kind": "or", "clauses": [PRO, BUY_7D, {"kind": "in_cohort", "cohortId": "buyers"}]}
        events_first = {"kind": "and", "clauses": [BUY_7D, union]}
        for raw, plan in ((union, "union"), (events_first, "events_first")):
            compiled = compile_predicate(_parsed(raw), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF)
            assert compiled.plan == plan
            first = compiled.stages()[0]["$match"]
            assert first["orgId"] == "acme"
            assert all(b["orgId"] == "acme" for b in first.get("$or", []))
            for stage in compiled.stages():
                if "$unionWith" in stage:
                    assert stage["$unionWith"]["pipeline"][0]["$match"]["orgId"] == "acme"
                if "$addFields" in stage:  # the contact key used for the join embeds the org
                    assert stage["$addFields"]["contactKey"]["$concat"][0] == "acme:"

    async def test_no_aggregation_negation_is_needed(self) -> None:
        raw = {"kind": "not", "clause": {"kind": "or", "clauses": [PRO, {"kind": "not", "clause": BUY_7D}]}}
        text = json.dumps(
            compile_predicate(_parsed(raw), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF).stages(), default=str
        )
        assert '"$not"' not in text.replace('"$not": {"$type": "array"}', "")
        assert "$expr" not in text
        assert "$nor" in text

    async def test_paging_starts_after_the_cursor_in_the_first_stages(self) -> None:
        raw = {"kind": "or", "clauses": [PRO, BUY_7D]}
        compiled = compile_predicate(_parsed(raw), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF)
        stages = compiled.ids_pipeline(after="u5", limit=10)
        assert stages[0]["$match"]["userId"] == {"$gt": "u5"}
        union = next(s["$unionWith"] for s in stages if "$unionWith" in s)
        assert union["pipeline"][0]["$match"]["id"] == {"$gt": "u5"}
        assert stages[-2:] == [{"$sort": {"_id": 1}}, {"$limit": 10}]

    async def test_forcing_a_plan_that_cannot_answer_is_an_error(self) -> None:
        with pytest.raises(ValueError, match="events_first"):
            compile_predicate(
                _parsed(NO_BUY_30D), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF, plan="events_first"
            )
        with pytest.raises(ValueError, match="contacts"):
            compile_predicate(_parsed(BUY_7D), scope=SCOPE, cohorts=COHORTS, as_of=AS_OF, plan="contacts")
