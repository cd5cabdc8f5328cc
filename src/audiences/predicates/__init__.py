"""The journey predicate language (seed 003): model → validate → compile / evaluate.

For other modules (see docs/predicates.md, "For other modules"):

- `parse_predicate(raw)` → `Checked(predicate, errors)`.
- `load_cohorts(predicate, loader)` / `cohort_problems(...)`: resolve `in_cohort` in
  batched lookups, report unknown cohorts and cycles.
- `compile_predicate(predicate, scope=, cohorts=, as_of=)` → a pipeline over events or
  contacts yielding subject ids.
- `evaluate_subject(predicate, subject=, events=, cohorts=, as_of=)` → matched flag and
  explanation, in memory, no I/O.
- `predicate_dependencies(predicate, cohorts)` → event names, field paths, cohorts,
  static ids and whether time alone can change the answer.
"""

from audiences.predicates.analysis import CohortCycleError, Dependencies, predicate_dependencies
from audiences.predicates.cohorts import (
    Cohort,
    CohortGraph,
    CohortLoader,
    Cohorts,
    DynamicCohort,
    StaticCohort,
    cohort_problems,
    load_cohorts,
    raw_cohort_references,
    referenced_ids,
)
from audiences.predicates.compile import CompiledPredicate, PlanName, choose_plan, compile_predicate
from audiences.predicates.evaluate import Evaluation, evaluate_subject
from audiences.predicates.model import Node
from audiences.predicates.validate import Checked, parse_predicate

__all__ = [
    "Checked",
    "Cohort",
    "CohortCycleError",
    "CohortGraph",
    "CohortLoader",
    "Cohorts",
    "CompiledPredicate",
    "Dependencies",
    "DynamicCohort",
    "Evaluation",
    "Node",
    "PlanName",
    "StaticCohort",
    "choose_plan",
    "cohort_problems",
    "compile_predicate",
    "evaluate_subject",
    "load_cohorts",
    "parse_predicate",
    "predicate_dependencies",
    "raw_cohort_references",
    "referenced_ids",
]
