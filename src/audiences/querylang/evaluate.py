"""The in-memory evaluator: does one contact document match a DynamicQuery?

It implements MongoDB's documented query semantics (docs/semantics.md), which is what
the compiled query means on MongoDB:

- A path reaches values: through a document by field name; through an array by looking
  into each element that is a document (arrays directly inside arrays and scalars in an
  array are skipped). The path is *missing* when a document on the way lacks the next
  field or a scalar stands where a document is needed — but not merely because an array
  on the way has no document elements (`{"a.b": null}` does not match `{"a": []}`).
- Equality, `$in`, `$gt`… and `$regex` test each value reached and, when it is an array,
  each of its elements: an array field matches if any element matches.
- `{"$eq": null}` also matches a missing path; `$ne` and `$nin` are the exact negations of
  `$eq` and `$in`, so they match contacts that lack the field.
- Type bracketing: `$gt`/`$gte`/`$lt`/`$lte` compare numbers with numbers, strings with
  strings (by code point), dates with dates and booleans with booleans; anything else is
  false. Equality never makes a number equal a string or a boolean.
- `$all` is the `$and` of equalities (an empty `$all` matches nothing); `$size` matches an
  array of that length; `$elemMatch` needs one element that satisfies every condition
  (operator form) or that is a document matching the sub-query (query form).
"""

from __future__ import annotations

import datetime as dt
import re
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any

from audiences.clock import as_utc
from audiences.querylang.model import (
    All,
    Comparison,
    Condition,
    ElemMatchQuery,
    ElemMatchValue,
    Exists,
    FieldQuery,
    Membership,
    Not,
    Query,
    Regex,
    Size,
    bind_now,
)
from audiences.querylang.validate import regex_flags


def bracket(value: Any) -> str:
    """MongoDB's canonical type of a value, for comparisons."""
    if value is None:
        return "null"
    if isinstance(value, bool):
        return "bool"
    if isinstance(value, int | float):
        return "number"
    if isinstance(value, str):
        return "string"
    if isinstance(value, dt.datetime):
        return "date"
    if isinstance(value, list | tuple):
        return "array"
    if isinstance(value, dict):
        return "object"
    return type(value).__name__


def bson_equal(a: Any, b: Any) -> bool:
    """MongoDB equality: same canonical type and same value; documents compare field by
    field in order, arrays element by element."""
    kind = bracket(a)
    if kind != bracket(b):
        return False
    if kind == "array":
        return len(a) == len(b) and all(bson_equal(x, y) for x, y in zip(a, b, strict=True))
    if kind == "object":
        return list(a) == list(b) and all(bson_equal(a[k], b[k]) for k in a)
    if kind == "date":
        return bool(as_utc(a) == as_utc(b))
    return bool(a == b)


_RANGE_TESTS: dict[str, Callable[[Any, Any], bool]] = {
    "$gt": lambda a, b: a > b,
    "$gte": lambda a, b: a >= b,
    "$lt": lambda a, b: a < b,
    "$lte": lambda a, b: a <= b,
}
_ORDERED = frozenset({"number", "string", "date", "bool"})


def in_range(op: str, value: Any, bound: Any) -> bool:
    kind = bracket(value)
    if kind != bracket(bound) or kind not in _ORDERED:
        return False
    if kind == "date":
        value, bound = as_utc(value), as_utc(bound)
    return _RANGE_TESTS[op](value, bound)


@dataclass(frozen=True, slots=True)
class Target:
    """What a path reaches in one document: the values (arrays not opened) and whether the
    path is missing. `expand` is False for an `$elemMatch` element, which is tested as one
    value."""

    values: tuple[Any, ...]
    missing: bool
    expand: bool = True

    def candidates(self) -> Iterator[Any]:
        for value in self.values:
            yield value
            if self.expand and isinstance(value, list):
                yield from value


def resolve(document: Mapping[str, Any], segments: tuple[str, ...]) -> Target:
    values: list[Any] = []
    missing = False

    def walk(node: Any, i: int) -> None:
        nonlocal missing
        if i == len(segments):
            values.append(node)
        elif isinstance(node, dict):
            if segments[i] in node:
                walk(node[segments[i]], i + 1)
            else:
                missing = True
        elif isinstance(node, list):
            for element in node:
                if isinstance(element, dict):
                    walk(element, i)
        else:
            missing = True

    walk(document, 0)
    return Target(tuple(values), missing)


def _equals(target: Target, value: Any) -> bool:
    if value is None and target.missing:
        return True
    return any(bson_equal(c, value) for c in target.candidates())


def _comparison(c: Comparison, target: Target) -> bool:
    if c.op == "$eq":
        return _equals(target, c.value)
    if c.op == "$ne":
        return not _equals(target, c.value)
    return any(in_range(c.op, v, c.value) for v in target.candidates())


def _membership(c: Membership, target: Target) -> bool:
    found = any(_equals(target, v) for v in c.values)
    return found if c.op == "$in" else not found


def _exists(c: Exists, target: Target) -> bool:
    return bool(target.values) is c.present


@lru_cache(maxsize=1024)
def _compiled(pattern: str, options: str) -> re.Pattern[str]:
    return re.compile(pattern, regex_flags(options))


def _regex(c: Regex, target: Target) -> bool:
    compiled = _compiled(c.pattern, c.options)
    return any(isinstance(v, str) and compiled.search(v) is not None for v in target.candidates())


def _size(c: Size, target: Target) -> bool:
    return any(isinstance(v, list) and len(v) == c.length for v in target.values)


def _all(c: All, target: Target) -> bool:
    return bool(c.values) and all(_equals(target, v) for v in c.values)


def _not(c: Not, target: Target) -> bool:
    return not all(condition_holds(inner, target) for inner in c.conditions)


def _elem_match_value(c: ElemMatchValue, target: Target) -> bool:
    return any(
        isinstance(array, list)
        and any(
            all(condition_holds(inner, Target((element,), False, expand=False)) for inner in c.conditions)
            for element in array
        )
        for array in target.values
    )


def _elem_match_query(c: ElemMatchQuery, target: Target) -> bool:
    return any(
        isinstance(array, list)
        and any(isinstance(element, dict) and _matches(c.query, element) for element in array)
        for array in target.values
    )


_CONDITIONS: dict[type[Any], Callable[[Any, Target], bool]] = {
    Comparison: _comparison,
    Membership: _membership,
    Exists: _exists,
    Regex: _regex,
    Size: _size,
    All: _all,
    Not: _not,
    ElemMatchValue: _elem_match_value,
    ElemMatchQuery: _elem_match_query,
}


def condition_holds(condition: Condition, target: Target) -> bool:
    return _CONDITIONS[type(condition)](condition, target)


_LOGICAL: dict[str, Callable[[Iterator[bool]], bool]] = {
    "$and": all,
    "$or": any,
    "$nor": lambda results: not any(results),
}


def _matches(query: Query, document: Mapping[str, Any]) -> bool:
    if isinstance(query, FieldQuery):
        target = resolve(document, query.segments)
        return all(condition_holds(c, target) for c in query.conditions)
    return _LOGICAL[query.op](_matches(clause, document) for clause in query.clauses)


def matches(query: Query, document: Mapping[str, Any], *, as_of: dt.datetime) -> bool:
    """Whether `document` (a stored contact) matches `query` at the instant `as_of`."""
    return _matches(bind_now(query, as_of), document)


def matcher(query: Query, *, as_of: dt.datetime) -> Callable[[Mapping[str, Any]], bool]:
    """A predicate for many documents at one instant (binds `$now` once)."""
    bound = bind_now(query, as_of)
    return lambda document: _matches(bound, document)
