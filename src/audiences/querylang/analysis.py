"""What a DynamicQuery reads: the contact fields it uses and whether it depends on time.

Membership tracking uses these to decide which ingested changes can move a contact in or
out of a segment, and which segments the periodic sweep must re-check.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Any

from audiences.querylang.model import (
    All,
    Comparison,
    Condition,
    ElemMatchQuery,
    ElemMatchValue,
    FieldQuery,
    Membership,
    Not,
    Now,
    Query,
)
from audiences.querylang.validate import parse_where


def _as_query(where: Query | Mapping[str, Any]) -> Query:
    return parse_where(where) if isinstance(where, Mapping) else where


def _field_paths(query: Query, prefix: str) -> Iterator[str]:
    if isinstance(query, FieldQuery):
        path = f"{prefix}{query.path}"
        inner = [p for condition in query.conditions for p in _condition_paths(condition, path)]
        if not inner or not all(isinstance(c, ElemMatchQuery) for c in query.conditions):
            yield path
        yield from inner
        return
    for clause in query.clauses:
        yield from _field_paths(clause, prefix)


def _condition_paths(condition: Condition, path: str) -> Iterator[str]:
    if isinstance(condition, ElemMatchQuery):
        yield from _field_paths(condition.query, f"{path}.")
    elif isinstance(condition, Not | ElemMatchValue):
        for inner in condition.conditions:
            yield from _condition_paths(inner, path)


def fields_used(where: Query | Mapping[str, Any]) -> list[str]:
    """Every field path the query tests, sorted, without duplicates. Sub-fields inside an
    `$elemMatch` query are joined to their array's path (`items.sku`), which is what an
    index would cover. The first segment of each path is the top-level contact field a
    change must touch to matter."""
    return sorted(set(_field_paths(_as_query(where), "")))


def _condition_uses_now(condition: Condition) -> bool:
    match condition:
        case Comparison(value=value):
            return isinstance(value, Now)
        case Membership(values=values) | All(values=values):
            return any(isinstance(v, Now) for v in values)
        case Not(conditions=inner) | ElemMatchValue(conditions=inner):
            return any(_condition_uses_now(c) for c in inner)
        case ElemMatchQuery(query=query):
            return uses_now(query)
    return False


def uses_now(where: Query | Mapping[str, Any]) -> bool:
    """Whether the answer can change with time alone (the query uses `{"$now": ...}`)."""
    query = _as_query(where)
    if isinstance(query, FieldQuery):
        return any(_condition_uses_now(c) for c in query.conditions)
    return any(uses_now(clause) for clause in query.clauses)
