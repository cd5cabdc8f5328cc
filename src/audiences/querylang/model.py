"""The DynamicQuery AST: what `validate.parse_where` builds from JSON and what the compiler
and the in-memory evaluator read.

A query is a tree of `Logical` nodes (`$and`, `$or`, `$nor`) over `FieldQuery` leaves; a
field query holds the conditions written for one field path (all must hold). Literal
values are JSON scalars, dates and arrays (as tuples); ISO-8601 strings compared with
date fields are already dates here, and `{"$now": ...}` is a `Now` until it is bound to
an evaluation instant (`bind_now`).
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Literal

from audiences.clock import truncate_ms
from audiences.querylang.durations import Duration

type Scalar = bool | int | float | str | dt.datetime | None
type Value = Scalar | tuple[Value, ...]


@dataclass(frozen=True, slots=True)
class Now:
    """`{"$now": "-P30D"}`: the evaluation instant shifted by `offset`."""

    text: str
    offset: Duration

    def at(self, as_of: dt.datetime) -> dt.datetime:
        # Stored dates have millisecond precision; so does every instant we compare with.
        return truncate_ms(self.offset.shift(as_of))


type Operand = Value | Now

ComparisonOp = Literal["$eq", "$ne", "$gt", "$gte", "$lt", "$lte"]
MembershipOp = Literal["$in", "$nin"]
LogicalOp = Literal["$and", "$or", "$nor"]


@dataclass(frozen=True, slots=True)
class Comparison:
    op: ComparisonOp
    value: Operand


@dataclass(frozen=True, slots=True)
class Membership:
    op: MembershipOp
    values: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Exists:
    present: bool


@dataclass(frozen=True, slots=True)
class Regex:
    pattern: str
    options: str = ""


@dataclass(frozen=True, slots=True)
class Size:
    length: int


@dataclass(frozen=True, slots=True)
class All:
    values: tuple[Operand, ...]


@dataclass(frozen=True, slots=True)
class Not:
    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class ElemMatchValue:
    """`{"$elemMatch": {"$gt": 1, "$lt": 5}}`: one element satisfies every condition."""

    conditions: tuple[Condition, ...]


@dataclass(frozen=True, slots=True)
class ElemMatchQuery:
    """`{"$elemMatch": {"sku": "A", "qty": {"$gt": 2}}}`: one element (a document) matches
    the sub-query, whose paths are relative to the element."""

    query: Query


type Condition = Comparison | Membership | Exists | Regex | Size | All | Not | ElemMatchValue | ElemMatchQuery


@dataclass(frozen=True, slots=True)
class FieldQuery:
    path: str
    conditions: tuple[Condition, ...]

    @property
    def segments(self) -> tuple[str, ...]:
        return tuple(self.path.split("."))


@dataclass(frozen=True, slots=True)
class Logical:
    """`$and` (also a document's several keys), `$or`, `$nor`. `$and` of nothing matches all."""

    op: LogicalOp
    clauses: tuple[Query, ...]


type Query = FieldQuery | Logical

MATCH_ALL: Query = Logical("$and", ())


def _bind_operand(value: Operand, as_of: dt.datetime) -> Operand:
    if isinstance(value, Now):
        return value.at(as_of)
    if isinstance(value, tuple):
        return tuple(_bind_value(v, as_of) for v in value)
    return value


def _bind_value(value: Value, as_of: dt.datetime) -> Value:
    bound = _bind_operand(value, as_of)
    assert not isinstance(bound, Now)
    return bound


def _bind_condition(condition: Condition, as_of: dt.datetime) -> Condition:
    match condition:
        case Comparison(op=op, value=value):
            return Comparison(op, _bind_operand(value, as_of))
        case Membership(op=op, values=values):
            return Membership(op, tuple(_bind_operand(v, as_of) for v in values))
        case All(values=values):
            return All(tuple(_bind_operand(v, as_of) for v in values))
        case Not(conditions=inner):
            return Not(tuple(_bind_condition(c, as_of) for c in inner))
        case ElemMatchValue(conditions=inner):
            return ElemMatchValue(tuple(_bind_condition(c, as_of) for c in inner))
        case ElemMatchQuery(query=query):
            return ElemMatchQuery(bind_now(query, as_of))
        case _:
            return condition


def bind_now(query: Query, as_of: dt.datetime) -> Query:
    """`query` with every `{"$now": ...}` replaced by the instant it means at `as_of`."""
    if isinstance(query, FieldQuery):
        return FieldQuery(query.path, tuple(_bind_condition(c, as_of) for c in query.conditions))
    return Logical(query.op, tuple(bind_now(c, as_of) for c in query.clauses))
