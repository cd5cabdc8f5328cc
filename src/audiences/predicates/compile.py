"""Predicate → MongoDB aggregation pipeline that yields the matching subject ids.

Three plans, chosen by the shape of the predicate (measurements in docs/predicates.md):

- `contacts`: no event leaves. One `$match` on `contacts`; index-backed wherever the
  fields are indexed.
- `events_first`: every match needs at least one counted event (e.g. an `and` with an
  `event_fired` leaf). `$match` on `events` over `{orgId, name, ts}` (one `$or` branch
  per event name, bounded by its widest window and `asOf`), `$group` by `userId` with one
  counter per distinct (event, window), `$match` the event part that is necessary, then
  `$lookup` only those subjects' contacts by primary key and `$match` the whole predicate.
- `union`: subjects with no event can match (`not`, `event_not_fired`, an `or` with an
  attribute). The same grouped events, `$unionWith` the contacts (with the attribute
  clauses of a top-level `and` pushed into that branch's first `$match`), `$group` by
  subject, `$match` the rest. Subjects with no events are reachable with zero counters.

Every plan filters by `orgId` through the tenant scope and ends with `_id` = subject id.
Leaves compile through the operator table; `not` is `$nor`, so no `$expr` negation
(which the embedded backend lacks) is needed.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any, Literal

from audiences.clock import as_utc, truncate_ms
from audiences.contacts.repository import CONTACTS, contact_key
from audiences.events.repository import EVENTS
from audiences.predicates.analysis import EventSpec, event_spec, event_specs, walk
from audiences.predicates.cohorts import Cohorts, DynamicCohort, StaticCohort
from audiences.predicates.model import (
    And,
    Attribute,
    EventFired,
    EventNotFired,
    InCohort,
    Node,
    Not,
    Or,
)
from audiences.predicates.operators import OPERATORS
from audiences.tenancy import TenantScope

PlanName = Literal["contacts", "events_first", "union"]
Stage = dict[str, Any]
SUBJECT_MARK = "isSubject"
CONTACT_FIELD = "c"


@dataclass(frozen=True, slots=True)
class _Layout:
    """Where a compiled filter finds things in the documents it runs on."""

    subject: str  # the subject id
    prefix: str  # in front of attribute paths
    counters: Mapping[EventSpec, str]
    cohorts: Cohorts


def _event_fired(node: EventFired, layout: _Layout) -> dict[str, Any]:
    return {layout.counters[event_spec(node)]: {"$gte": node.at_least}}


def _event_not_fired(node: EventNotFired, layout: _Layout) -> dict[str, Any]:
    return {layout.counters[event_spec(node)]: {"$lt": 1}}


def _attribute(node: Attribute, layout: _Layout) -> dict[str, Any]:
    return OPERATORS[node.operator].to_filter(layout.prefix + node.field_path, node.operand)


def _in_cohort(node: InCohort, layout: _Layout) -> dict[str, Any]:
    cohort = layout.cohorts[node.cohort_id]
    if isinstance(cohort, StaticCohort):
        return {layout.subject: {"$in": sorted(cohort.subject_ids)}}
    return compile_filter(cohort.predicate, layout)


def _and(node: And, layout: _Layout) -> dict[str, Any]:
    return {"$and": [compile_filter(c, layout) for c in node.clauses]}


def _or(node: Or, layout: _Layout) -> dict[str, Any]:
    return {"$or": [compile_filter(c, layout) for c in node.clauses]}


def _not(node: Not, layout: _Layout) -> dict[str, Any]:
    return {"$nor": [compile_filter(node.clause, layout)]}


_COMPILERS: dict[type, Callable[[Any, _Layout], dict[str, Any]]] = {
    EventFired: _event_fired,
    EventNotFired: _event_not_fired,
    Attribute: _attribute,
    InCohort: _in_cohort,
    And: _and,
    Or: _or,
    Not: _not,
}


def compile_filter(node: Node, layout: _Layout) -> dict[str, Any]:
    """The predicate as a MongoDB query filter over `layout`'s documents."""
    return _COMPILERS[type(node)](node, layout)


def _requirement(node: Node, layout: _Layout) -> dict[str, Any] | None:
    """A filter on the counters alone that every matching subject passes, or None when a
    subject with no counted event can match (then `events_first` would miss subjects)."""
    if isinstance(node, EventFired):
        return _event_fired(node, layout)
    if isinstance(node, InCohort):
        cohort = layout.cohorts[node.cohort_id]
        return _requirement(cohort.predicate, layout) if isinstance(cohort, DynamicCohort) else None
    if isinstance(node, And):
        parts = [r for c in node.clauses if (r := _requirement(c, layout)) is not None]
        return None if not parts else parts[0] if len(parts) == 1 else {"$and": parts}
    if isinstance(node, Or):
        alternatives = [_requirement(c, layout) for c in node.clauses]
        if any(a is None for a in alternatives):
            return None
        return {"$or": alternatives}
    return None


@dataclass(frozen=True, slots=True)
class CompiledPredicate:
    """A plan and its pipeline. `stages(after)` yields subjects (id in `id_field`), with
    ids greater than `after` when paging; the helpers add counting, sorting and paging."""

    plan: PlanName
    collection: str
    id_field: str
    build: Callable[[str | None], list[Stage]]

    def stages(self, *, after: str | None = None) -> list[Stage]:
        return self.build(after)

    def _tail(self) -> list[Stage]:
        return [{"$project": {"_id": f"${self.id_field}"}}] if self.id_field != "_id" else []

    def ids_pipeline(self, *, after: str | None = None, limit: int | None = None) -> list[Stage]:
        """Subject ids in ascending order, `{_id: id}` each."""
        paging: list[Stage] = [{"$sort": {self.id_field: 1}}]
        if limit is not None:
            paging.append({"$limit": limit})
        return [*self.stages(after=after), *paging, *self._tail()]

    def count_pipeline(self) -> list[Stage]:
        return [*self.stages(), {"$count": "n"}]

    def dry_run_pipeline(self, *, sample: int) -> list[Stage]:
        """`{count: [{n}], sample: [{_id}...]}` in one pass over the matches."""
        sampling = [{"$sort": {self.id_field: 1}}, {"$limit": max(sample, 1)}, *self._tail()]
        return [*self.stages(), {"$facet": {"count": [{"$count": "n"}], "sample": sampling}}]


def choose_plan(node: Node, cohorts: Cohorts) -> PlanName:
    specs = event_specs(node, cohorts)
    if not specs:
        return "contacts"
    layout = _Layout("_id", CONTACT_FIELD + ".", _counter_names(specs), cohorts)
    return "events_first" if _requirement(node, layout) is not None else "union"


def compile_predicate(
    node: Node,
    *,
    scope: TenantScope,
    cohorts: Cohorts,
    as_of: dt.datetime,
    plan: PlanName | None = None,
) -> CompiledPredicate:
    """The pipeline for `node` at `as_of`. `plan` forces a plan (benchmarks, tests); it
    must be able to answer the predicate (`union` always can)."""
    as_of = truncate_ms(as_utc(as_of))
    chosen = plan or choose_plan(node, cohorts)
    specs = event_specs(node, cohorts)
    counters = _counter_names(specs)
    if chosen == "contacts" or not specs:
        if specs:
            raise ValueError("the contacts plan cannot answer event leaves")
        return _contacts_plan(node, scope, cohorts)
    subject_layout = _Layout("_id", CONTACT_FIELD + ".", counters, cohorts)
    if chosen == "events_first":
        requirement = _requirement(node, subject_layout)
        if requirement is None:
            raise ValueError("events_first needs a predicate that every match proves with an event")
        return _events_first_plan(node, scope, specs, subject_layout, requirement, as_of)
    return _union_plan(node, scope, specs, subject_layout, as_of)


def _counter_names(specs: list[EventSpec]) -> dict[EventSpec, str]:
    return {spec: f"n{i}" for i, spec in enumerate(specs)}


def _after(field: str, after: str | None) -> dict[str, Any]:
    return {field: {"$gt": after}} if after is not None else {}


def _all(filters: list[dict[str, Any]]) -> dict[str, Any]:
    """The conjunction of `filters`, empty ones dropped (`{}` when none is left)."""
    kept = [f for f in filters if f]
    return {} if not kept else kept[0] if len(kept) == 1 else {"$and": kept}


def _contacts_plan(node: Node, scope: TenantScope, cohorts: Cohorts) -> CompiledPredicate:
    condition = compile_filter(node, _Layout("id", "", {}, cohorts))

    def build(after: str | None) -> list[Stage]:
        return [{"$match": scope.filter(_all([condition, _after("id", after)]))}]

    return CompiledPredicate("contacts", CONTACTS, "id", build)


def _grouped_events(
    scope: TenantScope, specs: list[EventSpec], counters: Mapping[EventSpec, str], as_of: dt.datetime
) -> Callable[[str | None], list[Stage]]:
    """`$match` the counted events, `$group` them into one document per subject."""
    widest: dict[str, dt.datetime | None] = {}
    for spec in specs:
        start = spec.start(as_of)
        if spec.name not in widest:
            widest[spec.name] = start
        else:
            known = widest[spec.name]
            widest[spec.name] = None if known is None or start is None else min(known, start)
    branches = []
    for name, start in widest.items():
        window: dict[str, Any] = {"$lte": as_of}
        if start is not None:
            window["$gte"] = start
        # orgId in every branch so each one is an index range on {orgId, name, ts}.
        branches.append(scope.filter({"name": name, "ts": window}))
    accumulators: dict[str, Any] = {}
    for spec in specs:
        tests: list[dict[str, Any]] = []
        if len(widest) > 1:
            tests.append({"$eq": ["$name", spec.name]})
        start = spec.start(as_of)
        if start is not None and start != widest[spec.name]:
            tests.append({"$gte": ["$ts", start]})
        if not tests:
            accumulators[counters[spec]] = {"$sum": 1}
        else:
            test = tests[0] if len(tests) == 1 else {"$and": tests}
            accumulators[counters[spec]] = {"$sum": {"$cond": [test, 1, 0]}}

    def build(after: str | None) -> list[Stage]:
        query = branches[0] if len(branches) == 1 else scope.filter({"$or": branches})
        return [
            {"$match": {**query, **_after("userId", after)}},
            {"$group": {"_id": "$userId", **accumulators}},
        ]

    return build


def _events_first_plan(
    node: Node,
    scope: TenantScope,
    specs: list[EventSpec],
    layout: _Layout,
    requirement: dict[str, Any],
    as_of: dt.datetime,
) -> CompiledPredicate:
    grouped = _grouped_events(scope, specs, layout.counters, as_of)
    condition = compile_filter(node, layout)
    join: list[Stage] = [
        {"$match": requirement},
        # Contacts are keyed `<orgId>:<id>`: a primary-key join, indexed on every backend.
        {"$addFields": {"contactKey": {"$concat": [contact_key(scope, ""), "$_id"]}}},
        {
            "$lookup": {
                "from": CONTACTS,
                "localField": "contactKey",
                "foreignField": "_id",
                "as": CONTACT_FIELD,
            }
        },
        {"$unwind": f"${CONTACT_FIELD}"},
        {"$match": condition},
        {"$project": {"_id": 1}},
    ]
    return CompiledPredicate("events_first", EVENTS, "_id", lambda after: [*grouped(after), *join])


def _union_plan(
    node: Node, scope: TenantScope, specs: list[EventSpec], layout: _Layout, as_of: dt.datetime
) -> CompiledPredicate:
    grouped = _grouped_events(scope, specs, layout.counters, as_of)
    contact_layout = _Layout("id", "", {}, layout.cohorts)
    clauses = list(node.clauses) if isinstance(node, And) else [node]
    pushed = [c for c in clauses if not event_specs(c, layout.cohorts)]
    kept = [c for c in clauses if event_specs(c, layout.cohorts)]
    contact_filter = [compile_filter(c, contact_layout) for c in pushed]
    condition = [compile_filter(c, layout) for c in kept]
    fields = sorted(
        {
            n.field_path.split(".", 1)[0]
            for c in kept
            for n in walk(c, layout.cohorts)
            if isinstance(n, Attribute)
        }
    )
    projection: dict[str, Any] = {"_id": "$id", SUBJECT_MARK: {"$literal": True}}
    merge: dict[str, Any] = {"_id": "$_id", SUBJECT_MARK: {"$max": f"${SUBJECT_MARK}"}}
    if fields:
        projection[CONTACT_FIELD] = {f: f"${f}" for f in fields}
        merge[CONTACT_FIELD] = {"$mergeObjects": f"${CONTACT_FIELD}"}
    merge.update({name: {"$sum": f"${name}"} for name in layout.counters.values()})

    def build(after: str | None) -> list[Stage]:
        contacts_match = scope.filter(_all([*contact_filter, _after("id", after)]))
        return [
            *grouped(after),
            {
                "$unionWith": {
                    "coll": CONTACTS,
                    "pipeline": [{"$match": contacts_match}, {"$project": projection}],
                }
            },
            {"$group": merge},
            {"$match": {SUBJECT_MARK: True, **_all(condition)}},
            {"$project": {"_id": 1}},
        ]

    return CompiledPredicate("union", EVENTS, "_id", build)
