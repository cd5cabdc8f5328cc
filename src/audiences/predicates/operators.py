"""Attribute operators: one table row per operator, used by the validator (`prepare`),
the compiler (`to_filter`, a MongoDB query on the field) and the evaluator (`test`, the
same meaning in Python).

Semantics (docs/predicates.md, "Semantics"):

- Equality follows MongoDB: numbers equal numbers whatever their JSON spelling, booleans
  only booleans, strings only strings (case-sensitive), dates only dates. An ISO-8601
  string in the predicate also matches the stored date it names.
- A stored array matches when any element matches (`equals`, `in`, `greater_than`,
  `less_than`); `not_equals` is the negation of `equals` (no element equals).
- Missing fields: `equals`, `in`, `greater_than`, `less_than` are false; `not_equals`
  and `not_exists` true. `exists` means present and not null.
- `greater_than` / `less_than` compare numbers with numbers and dates with dates; any
  other stored value is false.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

from audiences.clock import as_utc, parse_instant, truncate_ms
from audiences.values import is_valid_unicode, problem_message

OperatorName = Literal["equals", "not_equals", "exists", "not_exists", "greater_than", "less_than", "in"]
Scalar = str | int | float | bool | dt.datetime
Bound = int | float | dt.datetime

MAX_IN_VALUES = 1000
MAX_STRING = 1024
INT64 = 2**63
_ISO_DATE = re.compile(r"^\d{4}-\d{2}-\d{2}(?:[T ]\d{2}:\d{2}.*)?$")


class OperandError(Exception):
    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code
        self.message = message


@dataclass(frozen=True, slots=True)
class Operand:
    """A predicate's `value` made ready to compare: the set of values to match by
    equality (dates added for ISO strings), or the bound of a comparison."""

    values: tuple[Scalar, ...] = ()
    bound: Bound | None = None


@dataclass(frozen=True, slots=True)
class Resolved:
    """What a dotted path finds in a document, by MongoDB's rules: the values reached
    (arrays on the way are traversed) and whether some branch of the path is missing."""

    values: tuple[Any, ...]
    missing: bool

    def candidates(self) -> list[Any]:
        """Values a comparison looks at: each value, and each element of array values."""
        out: list[Any] = []
        for value in self.values:
            out.append(value)
            if isinstance(value, list):
                out.extend(value)
        return out

    def nullish(self) -> bool:
        """MongoDB's `{path: null}`: missing somewhere, null, or an array holding null."""
        return self.missing or any(c is None for c in self.candidates())

    def actual(self) -> Any:
        """The value to show in an explanation."""
        if not self.values:
            return None
        return self.values[0] if len(self.values) == 1 else list(self.values)


def resolve_path(document: Any, path: str) -> Resolved:
    values: list[Any] = []
    missing = _walk(document, path.split("."), values)
    return Resolved(tuple(values), missing)


def _walk(value: Any, parts: Sequence[str], out: list[Any]) -> bool:
    if not parts:
        out.append(value)
        return False
    head, rest = parts[0], parts[1:]
    if isinstance(value, dict):
        if head not in value:
            return True
        return _walk(value[head], rest, out)
    if isinstance(value, list):
        missing = False
        for element in value:
            if isinstance(element, dict):
                missing = _walk(element, parts, out) or missing
        if head.isdigit() and int(head) < len(value):
            missing = _walk(value[int(head)], rest, out) or missing
        return missing
    return True


def same_value(stored: Any, wanted: Scalar) -> bool:
    """MongoDB equality between a stored value and one predicate value."""
    if isinstance(wanted, bool) or isinstance(stored, bool):
        return isinstance(wanted, bool) and isinstance(stored, bool) and stored is wanted
    if isinstance(wanted, int | float):
        return isinstance(stored, int | float) and stored == wanted
    if isinstance(wanted, dt.datetime):
        return isinstance(stored, dt.datetime) and as_utc(stored) == wanted
    return isinstance(stored, str) and stored == wanted


def _as_date(text: str) -> dt.datetime | None:
    if not _ISO_DATE.match(text):
        return None
    try:
        return truncate_ms(parse_instant(text))
    except ValueError:
        return None


def _scalar(value: Any) -> Scalar:
    if isinstance(value, bool):
        return value
    if isinstance(value, int):
        if not -INT64 <= value < INT64:
            raise OperandError("invalid_value", "integers must fit in 64 bits")
        return value
    if isinstance(value, float):
        if not math.isfinite(value):
            raise OperandError("invalid_value", "numbers must be finite")
        return value
    if isinstance(value, str):
        if len(value) > MAX_STRING:
            raise OperandError("invalid_value", f"strings are limited to {MAX_STRING} characters")
        if not is_valid_unicode(value):
            raise OperandError("invalid_value", problem_message("invalid_unicode"))
        return value
    raise OperandError("invalid_value", "value must be a string, number or boolean")


def _with_dates(values: Sequence[Scalar]) -> tuple[Scalar, ...]:
    dates = [d for v in values if isinstance(v, str) and (d := _as_date(v)) is not None]
    out: list[Scalar] = []
    seen: set[tuple[bool, Scalar]] = set()
    for value in [*values, *dates]:
        key = (isinstance(value, bool), value)  # True and 1 are different values in MongoDB
        if key not in seen:
            seen.add(key)
            out.append(value)
    return tuple(out)


def _need(value: Any) -> Any:
    if value is None:
        raise OperandError("value_required", "this operator needs a `value`")
    return value


def _prepare_equality(value: Any) -> Operand:
    return Operand(values=_with_dates([_scalar(_need(value))]))


def _prepare_in(value: Any) -> Operand:
    raw = _need(value)
    if isinstance(raw, str):
        items: list[Scalar] = [part.strip() for part in raw.split(",") if part.strip()]
    elif isinstance(raw, list):
        items = [_scalar(item) for item in raw]
    else:
        raise OperandError("invalid_value", "`in` takes comma-separated values or a JSON array")
    if not items:
        raise OperandError("value_required", "`in` needs at least one value")
    if len(items) > MAX_IN_VALUES:
        raise OperandError("invalid_value", f"`in` takes at most {MAX_IN_VALUES} values")
    return Operand(values=_with_dates(items))


def _prepare_bound(value: Any) -> Operand:
    raw = _need(value)
    if isinstance(raw, int | float) and not isinstance(raw, bool):
        return Operand(bound=_scalar(raw))  # type: ignore[arg-type]
    if isinstance(raw, str) and (date := _as_date(raw)) is not None:
        return Operand(bound=date)
    raise OperandError("invalid_value", "compare with a number or an ISO-8601 date string")


def _prepare_nothing(value: Any) -> Operand:
    return Operand()


def _any_equal(resolved: Resolved, operand: Operand) -> bool:
    return any(same_value(c, v) for c in resolved.candidates() for v in operand.values)


def _comparable(stored: Any, bound: Bound) -> Any:
    if isinstance(bound, dt.datetime):
        return as_utc(stored) if isinstance(stored, dt.datetime) else None
    return stored if isinstance(stored, int | float) and not isinstance(stored, bool) else None


def _compare(test: Callable[[Any, Any], bool]) -> Callable[[Resolved, Operand], bool]:
    def run(resolved: Resolved, operand: Operand) -> bool:
        bound = operand.bound
        assert bound is not None
        return any(
            (value := _comparable(c, bound)) is not None and test(value, bound) for c in resolved.candidates()
        )

    return run


def _range_filter(operator: str) -> Callable[[str, Operand], dict[str, Any]]:
    """`$gt`/`$lt` restricted to the bound's type. MongoDB brackets comparisons by type, but
    the embedded backend orders across types (null < numbers < strings < ... < dates), so
    the type is stated: on a scalar with `$type`, on array elements with `$elemMatch` (so
    the bound and the type test hold for the same element)."""

    def build(path: str, operand: Operand) -> dict[str, Any]:
        bound = operand.bound
        kind = "date" if isinstance(bound, dt.datetime) else "number"
        return {
            "$or": [
                {path: {operator: bound, "$type": kind, "$not": {"$type": "array"}}},
                {path: {"$elemMatch": {operator: bound, "$type": kind}}},
            ]
        }

    return build


def _equality_filter(path: str, operand: Operand) -> dict[str, Any]:
    values = list(operand.values)
    return {path: values[0]} if len(values) == 1 else {path: {"$in": values}}


@dataclass(frozen=True, slots=True)
class AttributeOperator:
    name: OperatorName
    phrase: str  # for explanations: "tier equals pro"
    prepare: Callable[[Any], Operand]
    to_filter: Callable[[str, Operand], dict[str, Any]]
    test: Callable[[Resolved, Operand], bool]

    @property
    def needs_value(self) -> bool:
        return self.name not in ("exists", "not_exists")


OPERATORS: dict[str, AttributeOperator] = {
    op.name: op
    for op in (
        AttributeOperator("equals", "equals", _prepare_equality, _equality_filter, _any_equal),
        AttributeOperator(
            "not_equals",
            "does not equal",
            _prepare_equality,
            lambda path, operand: {path: {"$nin": list(operand.values)}},
            lambda resolved, operand: not _any_equal(resolved, operand),
        ),
        AttributeOperator(
            "in",
            "is one of",
            _prepare_in,
            lambda path, operand: {path: {"$in": list(operand.values)}},
            _any_equal,
        ),
        AttributeOperator(
            "greater_than",
            "is greater than",
            _prepare_bound,
            _range_filter("$gt"),
            _compare(lambda a, b: bool(a > b)),
        ),
        AttributeOperator(
            "less_than",
            "is less than",
            _prepare_bound,
            _range_filter("$lt"),
            _compare(lambda a, b: bool(a < b)),
        ),
        AttributeOperator(
            "exists",
            "exists",
            _prepare_nothing,
            lambda path, operand: {path: {"$ne": None}},
            lambda resolved, operand: not resolved.nullish(),
        ),
        AttributeOperator(
            "not_exists",
            "does not exist",
            _prepare_nothing,
            lambda path, operand: {path: None},
            lambda resolved, operand: resolved.nullish(),
        ),
    )
}
