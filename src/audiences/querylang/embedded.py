"""The filter for the embedded backend: the same answers as MongoDB, from the constructs
mongoeco gets right (measured; docs/semantics.md lists each difference and its test).

mongoeco 4.11 differs from MongoDB in three ways that matter here:

1. `$gt`/`$gte`/`$lt`/`$lte` compare across types by BSON sort order instead of type
   bracketing (`{"score": {"$gt": 0}}` matches `"abc"`, `true`, documents and dates).
   A range is therefore pinned to the operand's type with `$type`. A `$type` beside the
   range is exact only for a single value, so a field that may be an array is split:
   either it is an array and one element satisfies both (`$elemMatch`), or it is not a
   non-empty array (`<path>.0` does not exist) and the value satisfies both. A path
   through arrays of documents is split the same way at every segment. Two shortcuts stay
   exact: `$gt`/`$gte` a date needs nothing (no JSON value sorts above dates), and a
   top-level field that ingestion stores as a single date or string (see
   `SCALAR_STRING_FIELDS`, date fields) needs only the `$type`.
2. `$all` with `null` or with an array value differs; `$all` is written as the `$and` of
   equalities MongoDB defines it to be.
3. `$and`, `$or` and `$nor` are refused inside `$elemMatch`. The sub-query is put in
   disjunctive normal form, each disjunct becomes one `$elemMatch` document (`$or` of
   them), and conditions on one sub-field are merged into one operator document. The few
   merges that have no exact single-document form raise `QueryNotSupported`.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from itertools import product
from typing import Any

from audiences.contacts.fields import is_date_field
from audiences.db.embedded_speedups import MIN_VALUES as SET_LOOKUP_MIN_VALUES
from audiences.querylang.errors import QueryNotSupported
from audiences.querylang.model import (
    All,
    Comparison,
    Condition,
    ElemMatchQuery,
    ElemMatchValue,
    Exists,
    FieldQuery,
    Logical,
    Membership,
    Not,
    Query,
    Regex,
    Size,
)
from audiences.querylang.render import MongoFilter, regex_ops, render_query, render_value

# Top-level contact fields that ingestion always stores as one string (or null).
SCALAR_STRING_FIELDS = frozenset({"email", "phone", "country", "city", "firstName", "lastName"})
# MongoDB `$type` aliases of the bracket of a range operand.
_TYPE_ALIASES = {bool: "bool", int: "number", float: "number", str: "string", dt.datetime: "date"}
# A disjunctive normal form larger than this is refused rather than sent.
MAX_DISJUNCTS = 256
# Matches no document on either backend.
NOTHING: MongoFilter = {"$nor": [{}]}


# Formulas: what the filter means, before it is written as MongoDB documents -------------


@dataclass(frozen=True, slots=True)
class Atom:
    """`{path: ops}` where mongoeco's answer is MongoDB's."""

    path: str
    ops: MongoFilter


@dataclass(frozen=True, slots=True)
class AndF:
    parts: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class OrF:
    parts: tuple[Formula, ...]


@dataclass(frozen=True, slots=True)
class NotF:
    part: Formula


@dataclass(frozen=True, slots=True)
class ElemF:
    """`{path: {"$elemMatch": sub}}` with `sub` a formula over the element's fields."""

    path: str
    sub: Formula


@dataclass(frozen=True, slots=True)
class CaseF:
    """`when_array` if `path` holds a non-empty array (`path.0` exists), else `when_scalar`.
    Its negation is the case of the negations, so negating never mixes the branches."""

    path: str
    when_array: Formula
    when_scalar: Formula


type Formula = Atom | AndF | OrF | NotF | ElemF | CaseF
# One condition of a conjunct: `(path, operators)`.
type Literal = tuple[str, MongoFilter]

TRUE: Formula = AndF(())
FALSE: Formula = OrF(())


def conj(parts: Sequence[Formula]) -> Formula:
    flat: list[Formula] = []
    for part in parts:
        if part == FALSE:
            return FALSE
        if isinstance(part, AndF):
            flat.extend(part.parts)
        else:
            flat.append(part)
    return flat[0] if len(flat) == 1 else AndF(tuple(flat))


def disj(parts: Sequence[Formula]) -> Formula:
    flat: list[Formula] = []
    for part in parts:
        if part == TRUE:
            return TRUE
        if isinstance(part, OrF):
            flat.extend(part.parts)
        else:
            flat.append(part)
    return flat[0] if len(flat) == 1 else OrF(tuple(flat))


def neg(part: Formula) -> Formula:
    if part == TRUE:
        return FALSE
    if part == FALSE:
        return TRUE
    if isinstance(part, NotF):
        return part.part
    if isinstance(part, CaseF):
        return CaseF(part.path, neg(part.when_array), neg(part.when_scalar))
    return NotF(part)


def _prefix(head: str, formula: Formula) -> Formula:
    """`formula` over the fields of the document at `head` (known not to be an array)."""
    match formula:
        case Atom(path=path, ops=ops):
            return Atom(f"{head}.{path}", ops)
        case ElemF(path=path, sub=sub):
            return ElemF(f"{head}.{path}", sub)
        case AndF(parts=parts):
            return AndF(tuple(_prefix(head, p) for p in parts))
        case OrF(parts=parts):
            return OrF(tuple(_prefix(head, p) for p in parts))
        case NotF(part=part):
            return NotF(_prefix(head, part))
        case CaseF(path=path, when_array=when_array, when_scalar=when_scalar):
            return CaseF(f"{head}.{path}", _prefix(head, when_array), _prefix(head, when_scalar))
    raise TypeError(formula)


# Lowering the AST ------------------------------------------------------------------------


def _type_alias(value: Any) -> str:
    return _TYPE_ALIASES[type(value)]


def _split(segments: Sequence[str], ops: MongoFilter) -> Formula:
    """Some value reached by `segments` satisfies every operator in `ops` (one value)."""
    head = segments[0]
    if len(segments) == 1:
        return CaseF(head, Atom(head, {"$elemMatch": ops}), Atom(head, ops))
    rest = _split(segments[1:], ops)
    return CaseF(head, ElemF(head, rest), _prefix(head, rest))


def _array_case(path: str, array: bool) -> Literal:
    return (f"{path}.0", {"$exists": array})


def _known_scalar(path: str, absolute: bool) -> bool:
    return absolute and "." not in path and (path in SCALAR_STRING_FIELDS or is_date_field(path))


def _range(path: str, c: Comparison, absolute: bool) -> Formula:
    value = render_value(c.value)
    if isinstance(value, dt.datetime) and c.op in ("$gt", "$gte"):
        return Atom(path, {c.op: value})
    ops = {c.op: value, "$type": _type_alias(value)}
    if _known_scalar(path, absolute):
        return Atom(path, ops)
    return _split(path.split("."), ops)


def _null_eq(segments: Sequence[str]) -> Formula:
    """MongoDB's `{path: null}`: some value reached is null, or a document on the way lacks
    the next field (or a scalar stands in for one). mongoeco agrees on a one-segment path;
    on a longer one it also matches an empty array on the way and misses documents in an
    array that lack the field, so the path is split at each segment."""
    head = segments[0]
    if len(segments) == 1:
        return Atom(head, {"$eq": None})
    rest = _null_eq(segments[1:])
    return CaseF(head, ElemF(head, rest), conj([Atom(head, {"$ne": []}), _prefix(head, rest)]))


def _equals(path: str, value: Any) -> Formula:
    if value is None and "." in path:
        return _null_eq(path.split("."))
    return Atom(path, {"$eq": value})


def _comparison(path: str, c: Comparison, absolute: bool) -> Formula:
    if c.op == "$eq":
        return _equals(path, render_value(c.value))
    if c.op == "$ne":
        return neg(_equals(path, render_value(c.value)))
    return _range(path, c, absolute)


def _membership(path: str, c: Membership, absolute: bool) -> Formula:
    values = [render_value(v) for v in c.values]
    if "." in path and None in values:
        others = [v for v in values if v is not None]
        found = disj(
            [_null_eq(path.split(".")), Atom(path, {"$in": others})]
            if others
            else [_null_eq(path.split("."))]
        )
        return found if c.op == "$in" else neg(found)
    if (
        c.op == "$in"
        and values
        and len(values) < SET_LOOKUP_MIN_VALUES
        and all(type(v) is str for v in values)
    ):
        # Repeating values changes nothing for `$in`, and puts the list on the embedded
        # backend's set lookup (db/embedded_speedups.py): 2 tags over 20,000 contacts, 0.9 s → 0.13 s.
        values = [values[i % len(values)] for i in range(SET_LOOKUP_MIN_VALUES)]
    return Atom(path, {c.op: values})


def _exists(path: str, c: Exists, absolute: bool) -> Formula:
    return Atom(path, {"$exists": c.present})


def _regex(path: str, c: Regex, absolute: bool) -> Formula:
    return Atom(path, regex_ops(c))


def _size(path: str, c: Size, absolute: bool) -> Formula:
    return Atom(path, {"$size": c.length})


def _all(path: str, c: All, absolute: bool) -> Formula:
    if not c.values:
        return FALSE
    return conj([_equals(path, render_value(v)) for v in c.values])


def _not(path: str, c: Not, absolute: bool) -> Formula:
    return neg(conj([lower_condition(path, inner, absolute) for inner in c.conditions]))


def _elem_match_value(path: str, c: ElemMatchValue, absolute: bool) -> Formula:
    ops = element_ops(c.conditions)
    return FALSE if ops is None else Atom(path, {"$elemMatch": ops})


def _elem_match_query(path: str, c: ElemMatchQuery, absolute: bool) -> Formula:
    return ElemF(path, lower(c.query, absolute=False))


_LOWERERS: dict[type[Any], Callable[[str, Any, bool], Formula]] = {
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


def lower_condition(path: str, condition: Condition, absolute: bool) -> Formula:
    return _LOWERERS[type(condition)](path, condition, absolute)


def lower(query: Query, *, absolute: bool) -> Formula:
    if isinstance(query, FieldQuery):
        return conj([lower_condition(query.path, c, absolute) for c in query.conditions])
    assert isinstance(query, Logical)
    parts = [lower(c, absolute=absolute) for c in query.clauses]
    if query.op == "$and":
        return conj(parts)
    if query.op == "$or":
        return disj(parts)
    return neg(disj(parts))


def element_ops(conditions: Sequence[Condition]) -> MongoFilter | None:
    """Operators testing one array element (the operator form of `$elemMatch`), with each
    range pinned to its operand's type; None when no element can satisfy them."""
    ops: MongoFilter = {}
    for condition in conditions:
        match condition:
            case Comparison(op=op, value=value) if op not in ("$eq", "$ne"):
                bound = render_value(value)
                alias = _type_alias(bound)
                if ops.setdefault("$type", alias) != alias:
                    return None
                ops[op] = bound
            case Not(conditions=inner):
                negated = element_ops(inner)
                if negated is not None:
                    ops["$not"] = negated
            case ElemMatchValue(conditions=inner):
                nested = element_ops(inner)
                if nested is None:
                    return None
                ops["$elemMatch"] = nested
            case ElemMatchQuery(query=sub):
                ops["$elemMatch"] = render_query(sub)
            case All(values=values) if not values:
                return None
            case _:
                ops.update(_plain_ops(condition))
    return ops


def _plain_ops(condition: Condition) -> MongoFilter:
    match condition:
        case Comparison(op=op, value=value):
            return {op: render_value(value)}
        case Membership(op=op, values=values):
            return {op: [render_value(v) for v in values]}
        case Exists(present=present):
            return {"$exists": present}
        case Regex():
            return regex_ops(condition)
        case Size(length=length):
            return {"$size": length}
        case All(values=values):
            return {"$all": [render_value(v) for v in values]}
    raise TypeError(condition)


# Writing formulas as MongoDB documents ---------------------------------------------------


def negate_ops(ops: MongoFilter) -> MongoFilter:
    """`{path: negate_ops(ops)}` matches exactly when `{path: ops}` does not."""
    if len(ops) == 1:
        ((key, value),) = ops.items()
        flipped = {"$eq": "$ne", "$ne": "$eq", "$in": "$nin", "$nin": "$in"}
        if key in flipped:
            return {flipped[key]: value}
        if key == "$exists":
            return {"$exists": not value}
        if key == "$not":
            return dict(value)
    return {"$not": dict(ops)}


def dnf(formula: Formula, negated: bool = False) -> list[list[Literal]]:
    """Disjunctive normal form of (not) `formula` over an element's fields."""
    match formula:
        case Atom(path=path, ops=ops):
            return [[(path, negate_ops(ops) if negated else ops)]]
        case NotF(part=part):
            return dnf(part, not negated)
        case AndF(parts=parts) if not negated:
            return _product([dnf(p) for p in parts])
        case OrF(parts=parts) if negated:
            return _product([dnf(p, True) for p in parts])
        case AndF(parts=parts) | OrF(parts=parts):
            out = [c for p in parts for c in dnf(p, negated)]
            _check_size(out)
            return out
        case ElemF(path=path, sub=sub):
            matches = [{"$elemMatch": merge_conjunct(c)} for c in _satisfiable(dnf(sub))]
            if negated:
                return [[(path, negate_ops(m)) for m in matches]]
            return [[(path, m)] for m in matches]
        case CaseF(path=path, when_array=when_array, when_scalar=when_scalar):
            out = [[_array_case(path, True), *c] for c in dnf(when_array, negated)]
            out += [[_array_case(path, False), *c] for c in dnf(when_scalar, negated)]
            _check_size(out)
            return out
    raise TypeError(formula)


def _check_size(disjuncts: Sequence[object]) -> None:
    if len(disjuncts) > MAX_DISJUNCTS:
        raise QueryNotSupported(
            "This filter's $elemMatch expands to more than "
            f"{MAX_DISJUNCTS} alternatives on the embedded backend; simplify it or use MongoDB."
        )


def _product(factors: list[list[list[Literal]]]) -> list[list[Literal]]:
    size = 1
    for factor in factors:
        size *= len(factor)
    _check_size(range(size))
    return [[lit for conjunct in combo for lit in conjunct] for combo in product(*factors)]


class _Contradiction(Exception):
    """A conjunct no document can satisfy (dropped from the disjunction)."""


def _satisfiable(disjuncts: list[list[Literal]]) -> list[list[Literal]]:
    out = []
    for conjunct in disjuncts:
        try:
            merge_conjunct(conjunct)
        except _Contradiction:
            continue
        out.append(conjunct)
    return out


def _same(a: Any, b: Any) -> bool:
    """Deep equality that keeps types apart (`1 != True`, `1 != 1.0`)."""
    if type(a) is not type(b):
        return False
    if isinstance(a, dict):
        return list(a) == list(b) and all(_same(a[k], b[k]) for k in a)
    if isinstance(a, list):
        return len(a) == len(b) and all(_same(x, y) for x, y in zip(a, b, strict=True))
    return bool(a == b)


def _unsupported(path: str, key: str) -> QueryNotSupported:
    return QueryNotSupported(
        f"Inside $elemMatch, `{path}` gets two different `{key}` conditions in one alternative; "
        "the embedded backend cannot run that exactly. Rewrite it, or use MongoDB."
    )


def _is_elem_match(value: Any) -> bool:
    return isinstance(value, dict) and list(value) == ["$elemMatch"]


def _plain_scalar(value: Any) -> bool:
    return isinstance(value, bool | int | float | str | dt.datetime)


_STRICTER: dict[str, Callable[[Any, Any], Any]] = {"$gt": max, "$gte": max, "$lt": min, "$lte": min}


def merge_ops(path: str, into: MongoFilter, ops: MongoFilter) -> None:
    """Add `ops` (conditions on `path`) to `into`, keeping the meaning of their AND."""
    for key in sorted(ops, key=lambda k: k != "$type"):
        value = ops[key]
        if key not in into or _same(into[key], value):
            into.setdefault(key, value)
            continue
        current = into[key]
        if key in ("$type", "$exists"):
            # `$type` only sits beside a range on a value known not to be an array: one
            # value cannot have two types; nor can a path both exist and not exist.
            raise _Contradiction
        if key in _STRICTER and into.get("$type") == ops.get("$type") is not None:
            # One value (see above) of one type, bounded twice: the tighter bound.
            into[key] = _STRICTER[key](current, value)
        elif key in ("$ne", "$nin"):
            extra = [value] if key == "$ne" else list(value)
            if key == "$ne":
                del into["$ne"]
                extra.append(current)
            into["$nin"] = [*into.get("$nin", []), *extra]
        elif key == "$elemMatch" and all(_is_elem_match(v) for v in into.get("$all", [])):
            del into["$elemMatch"]
            into["$all"] = [*into.get("$all", []), {"$elemMatch": current}, {"$elemMatch": value}]
        elif key == "$eq" and all(_plain_scalar(v) for v in [current, value, *into.get("$all", [])]):
            # `$all` of plain scalars is exact on mongoeco (not with null or arrays).
            del into["$eq"]
            into["$all"] = [*into.get("$all", []), current, value]
        else:
            raise _unsupported(path, key)


def merge_conjunct(conjunct: list[Literal]) -> MongoFilter:
    """One element query for a conjunction of literals (raises `_Contradiction`)."""
    fields: dict[str, MongoFilter] = {}
    for path, ops in conjunct:
        merge_ops(path, fields.setdefault(path, {}), ops)
    return fields


def _operator_documents(a: Any, b: Any) -> bool:
    """Two operator documents with no operator in common."""
    return (
        isinstance(a, dict)
        and isinstance(b, dict)
        and all(k.startswith("$") for k in (*a, *b))
        and not set(a) & set(b)
    )


def render(formula: Formula) -> MongoFilter:
    """A formula as a top-level contacts filter."""
    match formula:
        case Atom(path=path, ops=ops):
            return {path: ops}
        case AndF(parts=parts):
            rendered = [render(p) for p in parts]
            merged: MongoFilter = {}
            for part in rendered:
                for key, value in part.items():
                    if key not in merged:
                        merged[key] = value
                    elif _operator_documents(merged[key], value):
                        # `{f: A} and {f: B}` is `{f: A ∪ B}`: each operator tests f on its own.
                        merged[key] = {**merged[key], **value}
                    else:
                        return {"$and": rendered}
            return merged
        case OrF(parts=parts):
            if not parts:
                return dict(NOTHING)
            return {"$or": [render(p) for p in parts]}
        case NotF(part=Atom(path=path, ops=ops)):
            return {path: negate_ops(ops)}
        case NotF(part=part):
            return {"$nor": [render(part)]}
        case ElemF(path=path, sub=sub):
            alternatives = [{path: {"$elemMatch": merge_conjunct(c)}} for c in _satisfiable(dnf(sub))]
            if not alternatives:
                return dict(NOTHING)
            return alternatives[0] if len(alternatives) == 1 else {"$or": alternatives}
        case CaseF(path=path, when_array=when_array, when_scalar=when_scalar):
            branches = [
                conj([Atom(*_array_case(path, True)), when_array]),
                conj([Atom(*_array_case(path, False)), when_scalar]),
            ]
            return render(disj([b for b in branches if b != FALSE]))
    raise TypeError(formula)


def lower_query(query: Query) -> MongoFilter:
    """The embedded backend's filter for a `$now`-bound query."""
    return render(lower(query, absolute=True))
