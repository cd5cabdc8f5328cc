"""The compiled pipeline, run by the backend, and the in-memory evaluator select exactly
the same subjects — for generated predicates of every kind (nested, with static and
dynamic cohorts), contacts and events. Every plan able to answer a predicate is run, on
the embedded backend and, with `AUDIENCES_TEST_MONGODB_URI` set, on MongoDB."""

from __future__ import annotations

import itertools
from typing import Any

from hypothesis import HealthCheck, event, given, settings

from audiences.db import Database
from audiences.predicates import (
    Cohort,
    DynamicCohort,
    StaticCohort,
    choose_plan,
    compile_predicate,
    evaluate_subject,
    parse_predicate,
)
from audiences.predicates.analysis import event_specs
from audiences.predicates.model import Node
from audiences.tenancy import system_scope
from tests.conftest import AS_OF
from tests.predicates.strategies import World, worlds

_orgs = itertools.count()


def _parsed(raw: Any) -> Node:
    checked = parse_predicate(raw)
    assert checked.predicate is not None, checked.errors
    return checked.predicate


def _cohorts(world: World) -> dict[str, Cohort]:
    return {
        cohort_id: StaticCohort(cohort_id, frozenset(body))
        if kind == "static"
        else DynamicCohort(cohort_id, _parsed(body))
        for cohort_id, (kind, body) in world.cohorts.items()
    }


def _expected(world: World, predicate: Node, cohorts: dict[str, Cohort]) -> set[str]:
    return {
        contact["id"]
        for contact in world.contacts
        if evaluate_subject(
            predicate,
            subject=contact,
            events=[e for e in world.events if e["userId"] == contact["id"]],
            cohorts=cohorts,
            as_of=AS_OF,
        ).matched
    }


class TestCompiledPipelineMatchesEvaluator:
    @settings(
        max_examples=300,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow],
    )
    @given(world=worlds())
    async def test_every_plan_selects_the_subjects_the_evaluator_selects(
        self, backend: Database, world: World
    ) -> None:
        scope = system_scope(f"org{next(_orgs)}")
        contacts, events = backend.collection("contacts"), backend.collection("events")
        await contacts.insert_many(
            [scope.stamp({"_id": f"{scope.org_id}:{c['id']}", **c}) for c in world.contacts]
        )
        await events.insert_many([scope.stamp({**e, "properties": {}}) for e in world.events])
        try:
            cohorts = _cohorts(world)
            predicate = _parsed(world.predicate)
            expected = _expected(world, predicate, cohorts)
            plans = {choose_plan(predicate, cohorts)}
            if event_specs(predicate, cohorts):
                plans.add("union")  # answers every predicate: check it against the chosen one
            share = "none" if not expected else "all" if len(expected) == len(world.contacts) else "some"
            event(f"plans {sorted(plans)}; {share} of the contacts match")
            for plan in plans:
                compiled = compile_predicate(predicate, scope=scope, cohorts=cohorts, as_of=AS_OF, plan=plan)
                rows = await backend.collection(compiled.collection).aggregate_list(compiled.ids_pipeline())
                got = [r["_id"] for r in rows]
                assert got == sorted(expected), (plan, world.predicate)
            counted = await backend.collection(compiled.collection).aggregate_list(compiled.count_pipeline())
            assert (counted[0]["n"] if counted else 0) == len(expected)
        finally:
            await contacts.delete_many({"orgId": scope.org_id})
            await events.delete_many({"orgId": scope.org_id})
