"""What a predicate reads: its event leaves, attribute paths, cohorts, time dependence.

Every walk here follows `in_cohort` into dynamic cohorts, so a predicate's needs include
those of the cohorts it uses. The membership helper uses `predicate_dependencies` to
decide which audiences an ingested contact or event can affect.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterator
from dataclasses import dataclass

from audiences.predicates.cohorts import Cohorts, DynamicCohort, StaticCohort
from audiences.predicates.model import Attribute, EventFired, EventNotFired, InCohort, Node, children


class CohortCycleError(Exception):
    """Stored cohorts refer to each other in a cycle (saves refuse it; a race can't be ruled out)."""


@dataclass(frozen=True, slots=True)
class EventSpec:
    """One counter: events named `name` in the last `days` days up to `asOf` (None: ever)."""

    name: str
    days: int | None

    def start(self, as_of: dt.datetime) -> dt.datetime | None:
        return None if self.days is None else as_of - dt.timedelta(days=self.days)


def event_spec(leaf: EventFired | EventNotFired) -> EventSpec:
    return EventSpec(leaf.event_name, leaf.window.days)


def walk(node: Node, cohorts: Cohorts, _trail: tuple[str, ...] = ()) -> Iterator[Node]:
    """Every node, depth first, entering the predicates of dynamic cohorts."""
    yield node
    if isinstance(node, InCohort):
        cohort = cohorts.get(node.cohort_id)
        if isinstance(cohort, DynamicCohort):
            if node.cohort_id in _trail:
                raise CohortCycleError(" → ".join([*_trail, node.cohort_id]))
            yield from walk(cohort.predicate, cohorts, (*_trail, node.cohort_id))
        return
    for child in children(node):
        yield from walk(child, cohorts, _trail)


def event_specs(node: Node, cohorts: Cohorts) -> list[EventSpec]:
    """The distinct counters a predicate needs, in first-use order."""
    specs = (event_spec(n) for n in walk(node, cohorts) if isinstance(n, EventFired | EventNotFired))
    return list(dict.fromkeys(specs))


@dataclass(frozen=True, slots=True)
class Dependencies:
    event_names: frozenset[str]
    field_paths: frozenset[str]
    cohort_ids: frozenset[str]
    # Ids named by the static cohorts the predicate uses (directly or through others).
    static_subject_ids: frozenset[str]
    # True when the answer can change with time alone: some window is `last_n_days`.
    time_dependent: bool

    @property
    def top_fields(self) -> frozenset[str]:
        """Top-level contact fields read (`plan.name` → `plan`)."""
        return frozenset(path.split(".", 1)[0] for path in self.field_paths)


def predicate_dependencies(node: Node, cohorts: Cohorts) -> Dependencies:
    names: set[str] = set()
    paths: set[str] = set()
    cohort_ids: set[str] = set()
    subject_ids: set[str] = set()
    timed = False
    for n in walk(node, cohorts):
        if isinstance(n, EventFired | EventNotFired):
            names.add(n.event_name)
            timed = timed or n.window.days is not None
        elif isinstance(n, Attribute):
            paths.add(n.field_path)
        elif isinstance(n, InCohort):
            cohort_ids.add(n.cohort_id)
            cohort = cohorts.get(n.cohort_id)
            if isinstance(cohort, StaticCohort):
                subject_ids.update(cohort.subject_ids)
    return Dependencies(
        frozenset(names), frozenset(paths), frozenset(cohort_ids), frozenset(subject_ids), timed
    )
