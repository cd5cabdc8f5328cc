"""DynamicQuery AST → MongoDB filter, exactly as written (what MongoDB runs).

DynamicQuery *is* MongoDB's query language, restricted: rendering only turns the AST's
values back into BSON-ready Python (arrays as lists, dates as datetimes).
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

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
    Now,
    Operand,
    Query,
    Regex,
    Size,
)

type MongoFilter = dict[str, Any]


def render_value(value: Operand) -> Any:
    """A bound operand as MongoDB wants it (arrays as lists)."""
    if isinstance(value, Now):
        raise ValueError("bind $now before rendering")
    if isinstance(value, tuple):
        return [render_value(v) for v in value]
    return value


def _comparison(c: Comparison) -> MongoFilter:
    return {c.op: render_value(c.value)}


def _membership(c: Membership) -> MongoFilter:
    return {c.op: [render_value(v) for v in c.values]}


def _exists(c: Exists) -> MongoFilter:
    return {"$exists": c.present}


def regex_ops(c: Regex) -> MongoFilter:
    return {"$regex": c.pattern, "$options": c.options} if c.options else {"$regex": c.pattern}


def _size(c: Size) -> MongoFilter:
    return {"$size": c.length}


def _all(c: All) -> MongoFilter:
    return {"$all": [render_value(v) for v in c.values]}


def _not(c: Not) -> MongoFilter:
    return {"$not": render_conditions(c.conditions)}


def _elem_match_value(c: ElemMatchValue) -> MongoFilter:
    return {"$elemMatch": render_conditions(c.conditions)}


def _elem_match_query(c: ElemMatchQuery) -> MongoFilter:
    return {"$elemMatch": render_query(c.query)}


_RENDERERS: dict[type[Any], Callable[[Any], MongoFilter]] = {
    Comparison: _comparison,
    Membership: _membership,
    Exists: _exists,
    Regex: regex_ops,
    Size: _size,
    All: _all,
    Not: _not,
    ElemMatchValue: _elem_match_value,
    ElemMatchQuery: _elem_match_query,
}


def render_conditions(conditions: tuple[Condition, ...]) -> MongoFilter:
    out: MongoFilter = {}
    for condition in conditions:
        out.update(_RENDERERS[type(condition)](condition))
    return out


def merge_clauses(op: str, parts: list[MongoFilter]) -> MongoFilter:
    """`{"$and": parts}` as one document when no two parts share a key (easier to read and
    to plan); `$or`/`$nor` as they are."""
    if op != "$and":
        return {op: parts}
    merged: MongoFilter = {}
    for part in parts:
        if any(key in merged for key in part):
            return {"$and": parts}
        merged.update(part)
    return merged


def render_query(query: Query) -> MongoFilter:
    """The filter for a `$now`-bound query, exactly as MongoDB means it."""
    if isinstance(query, FieldQuery):
        return {query.path: render_conditions(query.conditions)}
    return merge_clauses(query.op, [render_query(c) for c in query.clauses])
