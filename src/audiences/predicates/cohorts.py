"""Cohorts as the compiler and the evaluator see them, and the checks that need them.

A cohort is static (a set of subject ids) or dynamic (a predicate, which may itself use
`in_cohort`). `load_cohorts` fetches every cohort a predicate reaches, one batched query
per nesting level (one in the common case) — never one per leaf. `cohort_problems`
reports unknown cohorts and cycles at the path of the `in_cohort` leaf that leads to
them.
"""

from __future__ import annotations

from collections.abc import Awaitable, Callable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field

from audiences.errors import ErrorItem, json_path
from audiences.predicates.model import MAX_DEPTH, And, InCohort, Node, Not, Or, children

# Expanding dynamic cohorts inline may not grow a predicate past this many nodes.
MAX_EXPANDED_NODES = 2000


@dataclass(frozen=True, slots=True)
class StaticCohort:
    id: str
    subject_ids: frozenset[str]


@dataclass(frozen=True, slots=True)
class DynamicCohort:
    id: str
    predicate: Node


Cohort = StaticCohort | DynamicCohort
Cohorts = Mapping[str, Cohort]
# Fetches the cohorts with these ids (those that exist) in one query.
CohortLoader = Callable[[Sequence[str]], Awaitable[Mapping[str, Cohort]]]


@dataclass(frozen=True, slots=True)
class CohortGraph:
    """Every cohort reachable from a predicate, and the ids that do not exist."""

    cohorts: dict[str, Cohort] = field(default_factory=dict)
    missing: frozenset[str] = frozenset()


def cohort_leaves(
    node: Node, path: tuple[str | int, ...] = ("predicate",)
) -> Iterator[tuple[InCohort, tuple[str | int, ...]]]:
    """Each `in_cohort` leaf of the predicate itself (not of the cohorts it uses), with its path."""
    if isinstance(node, InCohort):
        yield node, path
        return
    if isinstance(node, And | Or):
        for i, clause in enumerate(node.clauses):
            yield from cohort_leaves(clause, (*path, "clauses", i))
    elif isinstance(node, Not):
        yield from cohort_leaves(node.clause, (*path, "clause"))


def raw_cohort_references(raw: object, root: Sequence[str | int] = ("predicate",)) -> list[tuple[str, str]]:
    """`(cohortId, path of cohortId)` for each `in_cohort` in raw JSON, even JSON that does
    not parse, so an unknown cohort is reported alongside the other problems."""
    found: list[tuple[str, str]] = []
    stack: list[tuple[object, list[str | int]]] = [(raw, list(root))]
    while stack:
        node, where = stack.pop()
        if not isinstance(node, dict) or len(where) > 3 * MAX_DEPTH:
            continue
        cohort_id = node.get("cohortId")
        if node.get("kind") == "in_cohort" and isinstance(cohort_id, str) and cohort_id:
            found.append((cohort_id, json_path([*where, "cohortId"])))
        clauses = node.get("clauses")
        if isinstance(clauses, list):
            stack.extend((c, [*where, "clauses", i]) for i, c in reversed(list(enumerate(clauses))))
        if "clause" in node:
            stack.append((node["clause"], [*where, "clause"]))
    return found


def referenced_ids(node: Node) -> list[str]:
    return list(dict.fromkeys(leaf.cohort_id for leaf, _ in cohort_leaves(node)))


async def load_cohorts(node: Node, loader: CohortLoader, *, known: Cohorts | None = None) -> CohortGraph:
    """Breadth-first over `in_cohort` references: one `loader` call per nesting level.
    Cohorts in `known` (e.g. the one being saved, in its new form) are not fetched."""
    found: dict[str, Cohort] = dict(known or {})
    missing: set[str] = set()
    wanted = [i for i in referenced_ids(node) if i not in found]
    while wanted:
        fetched = await loader(wanted)
        following: list[str] = []
        for cohort_id in wanted:
            cohort = fetched.get(cohort_id)
            if cohort is None:
                missing.add(cohort_id)
                continue
            found[cohort_id] = cohort
            if isinstance(cohort, DynamicCohort):
                following.extend(referenced_ids(cohort.predicate))
        wanted = [i for i in dict.fromkeys(following) if i not in found and i not in missing]
    return CohortGraph(found, frozenset(missing))


def cohort_problems(
    node: Node, graph: CohortGraph, *, root: Sequence[str | int] = ("predicate",)
) -> list[ErrorItem]:
    """`cohort_not_found` and `cohort_cycle` for each `in_cohort` leaf of `node`, and
    `predicate_too_large` when inlining the cohorts would exceed the compiler's bound."""
    problems: list[ErrorItem] = []
    sizes: dict[str, int] = {}
    for leaf, path in cohort_leaves(node, tuple(root)):
        where = json_path([*path, "cohortId"])
        cohort_id = leaf.cohort_id
        if cohort_id in graph.missing:
            problems.append(
                ErrorItem("cohort_not_found", where, f"no cohort {cohort_id!r} in this workspace")
            )
            continue
        trail = _cycle_from(cohort_id, graph.cohorts, [])
        if trail is not None:
            problems.append(
                ErrorItem(
                    "cohort_cycle", where, "cohorts refer to each other in a cycle: " + " → ".join(trail)
                )
            )
            continue
        absent = _missing_below(cohort_id, graph)
        if absent is not None:
            problems.append(
                ErrorItem(
                    "cohort_not_found",
                    where,
                    f"cohort {cohort_id!r} uses cohort {absent!r}, which does not exist",
                )
            )
            continue
        if _expanded_size(cohort_id, graph.cohorts, sizes) > MAX_EXPANDED_NODES:
            problems.append(
                ErrorItem(
                    "predicate_too_large",
                    where,
                    f"cohort {cohort_id!r} expands to more than {MAX_EXPANDED_NODES} nodes",
                )
            )
    return problems


def _cycle_from(cohort_id: str, cohorts: Cohorts, trail: list[str]) -> list[str] | None:
    if cohort_id in trail:
        return [*trail[trail.index(cohort_id) :], cohort_id]
    cohort = cohorts.get(cohort_id)
    if not isinstance(cohort, DynamicCohort):
        return None
    for next_id in referenced_ids(cohort.predicate):
        found = _cycle_from(next_id, cohorts, [*trail, cohort_id])
        if found is not None:
            return found
    return None


def _missing_below(cohort_id: str, graph: CohortGraph) -> str | None:
    seen: set[str] = set()
    stack = [cohort_id]
    while stack:
        current = stack.pop()
        if current in seen:
            continue
        seen.add(current)
        if current in graph.missing:
            return current
        cohort = graph.cohorts.get(current)
        if isinstance(cohort, DynamicCohort):
            stack.extend(referenced_ids(cohort.predicate))
    return None


def _expanded_size(cohort_id: str, cohorts: Cohorts, memo: dict[str, int]) -> int:
    if cohort_id not in memo:
        cohort = cohorts.get(cohort_id)
        memo[cohort_id] = (
            _node_size(cohort.predicate, cohorts, memo) if isinstance(cohort, DynamicCohort) else 1
        )
    return memo[cohort_id]


def _node_size(node: Node, cohorts: Cohorts, memo: dict[str, int]) -> int:
    if isinstance(node, InCohort):
        return _expanded_size(node.cohort_id, cohorts, memo)
    return 1 + sum(_node_size(c, cohorts, memo) for c in children(node))
