"""Evaluate a predicate for one subject in memory, with an explanation of the answer.

The meaning is the compiler's, leaf for leaf (the differential property test proves the
two select the same subjects): events count when `start <= ts <= asOf`, attributes go
through the same operator table, `in_cohort` looks up static ids or evaluates the
cohort's predicate for the same subject.

`evaluate_subject` is pure: it takes the subject's contact document, its events (all of
them, or only those named by the predicate — see `predicate_dependencies`) and the
resolved cohorts, so the membership tracker can call it for each subject an ingest
touches without any database access.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any

from audiences.clock import as_utc, truncate_ms
from audiences.documents import jsonable
from audiences.predicates.analysis import EventSpec, event_spec, event_specs
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
from audiences.predicates.operators import OPERATORS, resolve_path

Explanation = dict[str, Any]


@dataclass(frozen=True, slots=True)
class Evaluation:
    matched: bool
    # The predicate tree with each node's result and the fact behind it (None when the
    # caller asked for the answer only).
    explanation: Explanation | None


@dataclass(frozen=True, slots=True)
class _Subject:
    document: Mapping[str, Any]
    id: Any
    counts: Mapping[EventSpec, int]
    cohorts: Cohorts
    explain: bool


Outcome = tuple[bool, Explanation | None]


def count_events(
    specs: Iterable[EventSpec], events: Iterable[Mapping[str, Any]], as_of: dt.datetime
) -> dict[EventSpec, int]:
    """How many of `events` each spec counts at `as_of` (one pass over the events)."""
    by_name: dict[str, list[tuple[EventSpec, dt.datetime | None]]] = {}
    counts: dict[EventSpec, int] = {}
    for spec in specs:
        by_name.setdefault(spec.name, []).append((spec, spec.start(as_of)))
        counts[spec] = 0
    for event in events:
        wanted = by_name.get(event.get("name"))  # type: ignore[arg-type]
        ts = event.get("ts")
        if not wanted or not isinstance(ts, dt.datetime):
            continue
        ts = as_utc(ts)
        if ts > as_of:
            continue
        for spec, start in wanted:
            if start is None or ts >= start:
                counts[spec] += 1
    return counts


def evaluate_subject(
    node: Node,
    *,
    subject: Mapping[str, Any],
    events: Iterable[Mapping[str, Any]],
    cohorts: Cohorts,
    as_of: dt.datetime,
    explain: bool = True,
) -> Evaluation:
    """Does `subject` (a stored contact document, id in `id`) match `node` at `as_of`?"""
    as_of = truncate_ms(as_utc(as_of))
    counts = count_events(event_specs(node, cohorts), events, as_of)
    matched, explanation = _visit(node, _Subject(subject, subject.get("id"), counts, cohorts, explain))
    return Evaluation(matched, explanation)


def _times(count: int) -> str:
    return f"{count} time{'s' if count != 1 else ''}"


def _phrase(label: str) -> str:
    return label if label == "ever" else f"in {label}"


def _event_fired(node: EventFired, s: _Subject) -> Outcome:
    count = s.counts[event_spec(node)]
    matched = count >= node.at_least
    if not s.explain:
        return matched, None
    label = node.window.label()
    return matched, {
        "kind": node.kind,
        "matched": matched,
        "eventName": node.event_name,
        "count": count,
        "needed": node.at_least,
        "window": label,
        "reason": f"{node.event_name} fired {_times(count)} {_phrase(label)}, needs {node.at_least}",
    }


def _event_not_fired(node: EventNotFired, s: _Subject) -> Outcome:
    count = s.counts[event_spec(node)]
    matched = count == 0
    if not s.explain:
        return matched, None
    label = node.window.label()
    return matched, {
        "kind": node.kind,
        "matched": matched,
        "eventName": node.event_name,
        "count": count,
        "needed": 0,
        "window": label,
        "reason": f"{node.event_name} fired {_times(count)} {_phrase(label)}, needs none",
    }


def _attribute(node: Attribute, s: _Subject) -> Outcome:
    resolved = resolve_path(s.document, node.field_path)
    operator = OPERATORS[node.operator]
    matched = operator.test(resolved, node.operand)
    if not s.explain:
        return matched, None
    present = bool(resolved.values)
    actual = jsonable(resolved.actual())
    fact: Explanation = {
        "kind": node.kind,
        "matched": matched,
        "fieldPath": node.field_path,
        "operator": node.operator,
    }
    if operator.needs_value:
        fact["expected"] = node.value
    fact["actual"] = actual
    seen = f"{node.field_path} is {_shown(actual)}" if present else f"{node.field_path} is missing"
    wanted = f"{node.field_path} {operator.phrase}"
    if operator.needs_value:
        wanted += f" {_shown(node.value)}"
    fact["reason"] = f"{seen}; condition: {wanted}"
    if not present:
        fact["missing"] = True
    return matched, fact


def _shown(value: Any) -> str:
    return (
        repr(value)
        if isinstance(value, str)
        else str(value).lower()
        if isinstance(value, bool)
        else str(value)
    )


def _in_cohort(node: InCohort, s: _Subject) -> Outcome:
    cohort = s.cohorts[node.cohort_id]
    if isinstance(cohort, StaticCohort):
        matched = s.id in cohort.subject_ids
        if not s.explain:
            return matched, None
        return matched, {
            "kind": node.kind,
            "matched": matched,
            "cohortId": node.cohort_id,
            "cohortType": "static",
            "reason": f"{'listed' if matched else 'not listed'} in static cohort {node.cohort_id}",
        }
    assert isinstance(cohort, DynamicCohort)
    matched, inner = _visit(cohort.predicate, s)
    if not s.explain:
        return matched, None
    return matched, {
        "kind": node.kind,
        "matched": matched,
        "cohortId": node.cohort_id,
        "cohortType": "dynamic",
        "reason": f"{'matches' if matched else 'does not match'} the predicate of cohort {node.cohort_id}",
        "clause": inner,
    }


def _composite(node: And | Or, s: _Subject) -> Outcome:
    needs_all = isinstance(node, And)
    if not s.explain:
        results = (_visit(c, s)[0] for c in node.clauses)
        return (all(results) if needs_all else any(results)), None
    outcomes = [_visit(c, s) for c in node.clauses]
    hits = sum(1 for m, _ in outcomes if m)
    matched = hits == len(outcomes) if needs_all else hits > 0
    return matched, {
        "kind": node.kind,
        "matched": matched,
        "reason": f"{hits} of {len(outcomes)} clauses matched; needs {'all' if needs_all else 'one'}",
        "clauses": [e for _, e in outcomes],
    }


def _not(node: Not, s: _Subject) -> Outcome:
    inner_matched, inner = _visit(node.clause, s)
    if not s.explain:
        return not inner_matched, None
    return not inner_matched, {
        "kind": node.kind,
        "matched": not inner_matched,
        "reason": f"the clause {'matched' if inner_matched else 'did not match'}",
        "clause": inner,
    }


_EVALUATORS: dict[type, Callable[[Any, _Subject], Outcome]] = {
    EventFired: _event_fired,
    EventNotFired: _event_not_fired,
    Attribute: _attribute,
    InCohort: _in_cohort,
    And: _composite,
    Or: _composite,
    Not: _not,
}


def _visit(node: Node, s: _Subject) -> Outcome:
    return _EVALUATORS[type(node)](node, s)
