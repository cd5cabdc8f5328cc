"""Raw JSON → typed predicate, collecting every problem with its JSON path.

Two passes: a cheap walk of the raw JSON bounds its size (`predicate_too_deep` past
depth 20, `predicate_too_large` past 200 nodes) before anything recursive runs; then the
pydantic models parse it and each of their errors is translated to the API's codes
(`event_name_required`, `unknown_kind`, `invalid_window`, ...). Checks that need the
database (cohorts) live in `cohorts.py`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

from pydantic import TypeAdapter, ValidationError
from pydantic_core import ErrorDetails

from audiences.errors import ErrorItem, json_path
from audiences.predicates.model import KINDS, MAX_DEPTH, MAX_NODES, WINDOW_TYPES, Node, Predicate
from audiences.predicates.operators import OPERATORS

PREDICATE: TypeAdapter[Node] = TypeAdapter(Predicate)

# Codes raised by the models' own validators: passed through as they are.
OWN_CODES = frozenset(
    {
        "event_name_required",
        "invalid_event_name",
        "field_path_required",
        "invalid_field_path",
        "value_required",
        "invalid_value",
    }
)
# Any other error on these fields gets the field's code.
FIELD_CODES = {
    "eventName": "event_name_required",
    "fieldPath": "field_path_required",
    "cohortId": "cohort_id_required",
    "clauses": "empty_clauses",
    "clause": "clause_required",
    "atLeast": "invalid_at_least",
    "operator": "invalid_operator",
    "value": "invalid_value",
}
FIELD_MESSAGES = {
    "event_name_required": "eventName is required: a non-empty string",
    "field_path_required": "fieldPath is required: a non-empty string",
    "cohort_id_required": "cohortId is required: a non-empty string",
    "empty_clauses": "`and` / `or` need a non-empty list of clauses",
    "clause_required": "`not` needs a clause",
    "invalid_at_least": "atLeast must be an integer from 1 to 1000000",
    "invalid_operator": "operator must be one of " + ", ".join(OPERATORS),
    "invalid_window": 'window must be {"type": "ever"} or {"type": "last_n_days", "days": 1..3650}',
}
TAG_ERRORS = frozenset({"union_tag_invalid", "union_tag_not_found"})
TAGS = frozenset(KINDS) | frozenset(WINDOW_TYPES)


@dataclass(frozen=True, slots=True)
class Checked:
    """A parsed predicate, or the problems that stopped it."""

    predicate: Node | None
    errors: list[ErrorItem] = field(default_factory=list)


def parse_predicate(raw: object, *, path: Sequence[str | int] = ("predicate",)) -> Checked:
    """Parse `raw` (the JSON a caller sent) or list every problem, located under `path`."""
    problems = _size_problems(raw, list(path))
    if problems:
        return Checked(None, problems)
    try:
        return Checked(PREDICATE.validate_python(raw))
    except ValidationError as exc:
        return Checked(None, [_translate(err, list(path)) for err in exc.errors()])


def _size_problems(raw: object, root: list[str | int]) -> list[ErrorItem]:
    nodes = 0
    stack: list[tuple[object, int, list[str | int]]] = [(raw, 1, root)]
    while stack:
        node, depth, where = stack.pop()
        if not isinstance(node, dict):
            continue
        nodes += 1
        if depth > MAX_DEPTH:
            return [
                ErrorItem(
                    "predicate_too_deep", json_path(where), f"predicates may nest at most {MAX_DEPTH} levels"
                )
            ]
        clauses = node.get("clauses")
        if isinstance(clauses, list):
            stack.extend(
                (c, depth + 1, [*where, "clauses", i]) for i, c in reversed(list(enumerate(clauses)))
            )
        if "clause" in node:
            stack.append((node["clause"], depth + 1, [*where, "clause"]))
        if nodes > MAX_NODES:
            return [
                ErrorItem(
                    "predicate_too_large", json_path(root), f"predicates may have at most {MAX_NODES} nodes"
                )
            ]
    return []


def _translate(err: ErrorDetails, root: list[str | int]) -> ErrorItem:
    # pydantic puts the union member's tag (`event_fired`, `last_n_days`) in the location.
    parts: list[str | int] = [p for p in err["loc"] if not (isinstance(p, str) and p in TAGS)]
    kind = err["type"]
    given = err.get("input")
    message = str(err["msg"])
    last = next((p for p in reversed(parts) if isinstance(p, str)), None)
    if kind in OWN_CODES:
        code = kind
    elif kind == "extra_forbidden":
        code, message = "unknown_field", f"unknown key `{last}`"
    elif "window" in parts:
        code = "invalid_window"
    elif kind in TAG_ERRORS:
        code = "unknown_kind"
        found = given.get("kind") if isinstance(given, dict) else None
        message = f"unknown kind {found!r}; expected one of {', '.join(KINDS)}"
        parts.append("kind")
    elif kind in ("model_attributes_type", "model_type") and not (given is None and last == "clause"):
        code, message = "unknown_kind", "each predicate must be an object with a `kind`"
    else:
        code = FIELD_CODES.get(str(last), "invalid_value")
    if kind not in OWN_CODES:  # pydantic's wording ("Field required") says less than ours
        message = FIELD_MESSAGES.get(code, message)
    return ErrorItem(code, json_path([*root, *parts]), message)
