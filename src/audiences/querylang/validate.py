"""JSON → DynamicQuery AST, refusing anything outside the language and reporting every
problem at once, each with its JSON path (`filter.where.$and[1].lastEmailOpenedAt.$gte`).

Limits: the `where` document nests at most `MAX_DEPTH` levels of objects and arrays; it
has at most `MAX_NODES` nodes (a node is a logical operator, a field, or an operator);
`$in`/`$nin`/`$all` lists hold at most `MAX_LIST_ITEMS` values; a `$regex` is at most
`MAX_REGEX_LENGTH` characters and must compile. ISO-8601 strings compared with a date
field (a top-level `*At`/`*Date` field or `birthDate`, stored as dates by ingestion) become
dates; a string there that is not a date is refused rather than silently never matching.
"""

from __future__ import annotations

import datetime as dt
import math
import re
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

from audiences.clock import parse_instant, truncate_ms
from audiences.contacts.fields import is_date_field
from audiences.errors import ErrorItem, json_path
from audiences.querylang.durations import parse_duration
from audiences.querylang.errors import OPERATOR_NOT_ALLOWED, QueryInvalid
from audiences.querylang.model import (
    MATCH_ALL,
    All,
    Comparison,
    ComparisonOp,
    Condition,
    ElemMatchQuery,
    ElemMatchValue,
    Exists,
    FieldQuery,
    Logical,
    LogicalOp,
    Membership,
    MembershipOp,
    Not,
    Now,
    Operand,
    Query,
    Regex,
    Size,
    Value,
)
from audiences.querylang.operators import FIELD_OPERATORS, LOGICAL_OPERATORS, NOW, refusal_message
from audiences.values import is_valid_unicode, problem_message, scalar_problem

MAX_DEPTH = 12
MAX_NODES = 500
MAX_LIST_ITEMS = 10_000
MAX_REGEX_LENGTH = 512
MAX_PATH_SEGMENTS = 8
MAX_FIELD_NAME_LENGTH = 512
REGEX_OPTIONS = "imsx"
RESERVED_FIELDS = frozenset({"_id", "orgId"})
CONTACT_DATATYPE = "contact"

_INT64 = 2**63
_REGEX_FLAGS = {"i": re.IGNORECASE, "m": re.MULTILINE, "s": re.DOTALL, "x": re.VERBOSE}

type Path = tuple[str | int, ...]

# The operator names as the AST's literal types.
_LOGICAL_OPS: dict[str, LogicalOp] = {"$and": "$and", "$or": "$or", "$nor": "$nor"}
_COMPARISON_OPS: dict[str, ComparisonOp] = {
    "$eq": "$eq",
    "$ne": "$ne",
    "$gt": "$gt",
    "$gte": "$gte",
    "$lt": "$lt",
    "$lte": "$lte",
}
_MEMBERSHIP_OPS: dict[str, MembershipOp] = {"$in": "$in", "$nin": "$nin"}


class _Bad:
    """Stands for a value that failed to parse; its error is already recorded."""


_BAD = _Bad()


def regex_flags(options: str) -> int:
    flags = 0
    for letter in options:
        flags |= _REGEX_FLAGS[letter]
    return flags


@dataclass(frozen=True, slots=True)
class _Call:
    """One `"$op": operand` inside a field's operator object."""

    op: str
    operand: Any
    siblings: Mapping[str, Any]
    path: Path
    depth: int  # depth of the operator object holding it
    date_field: bool


class _Parser:
    def __init__(self) -> None:
        self.errors: list[ErrorItem] = []
        self.nodes = 0
        self._too_deep = False
        self._too_large = False

    def fail(self, code: str, path: Path, message: str) -> _Bad:
        self.errors.append(ErrorItem(code=code, path=json_path(path), message=message))
        return _BAD

    def enter(self, depth: int, path: Path) -> bool:
        """False (and one error for the whole query) past the nesting limit."""
        if depth <= MAX_DEPTH:
            return True
        if not self._too_deep:
            self._too_deep = True
            self.fail("query_too_deep", path, f"the filter nests deeper than {MAX_DEPTH} levels")
        return False

    def count(self, path: Path) -> None:
        self.nodes += 1
        if self.nodes > MAX_NODES and not self._too_large:
            self._too_large = True
            self.fail("query_too_large", path, f"the filter has more than {MAX_NODES} nodes")

    # Queries ------------------------------------------------------------------------

    def query(self, raw: Any, path: Path, depth: int, *, absolute: bool) -> Query | _Bad:
        if not isinstance(raw, dict):
            return self.fail("invalid_query", path, "a query must be a JSON object")
        if not self.enter(depth, path):
            return _BAD
        clauses: list[Query | _Bad] = []
        for key, value in raw.items():
            where = (*path, key)
            if key in LOGICAL_OPERATORS:
                clauses.append(self.logical(key, value, where, depth, absolute=absolute))
            elif key in FIELD_OPERATORS or key == NOW:
                clauses.append(
                    self.fail(
                        "misplaced_operator",
                        where,
                        f'`{key}` applies to a field (`{{"field": {{"{key}": ...}}}}`), '
                        "not to a whole query; use $nor to negate a query",
                    )
                )
            elif key.startswith("$"):
                clauses.append(self.fail(OPERATOR_NOT_ALLOWED, where, refusal_message(key)))
            else:
                clauses.append(self.field(key, value, where, depth, absolute=absolute))
        good = [c for c in clauses if not isinstance(c, _Bad)]
        if len(good) != len(clauses):
            return _BAD
        if len(good) == 1:
            return good[0]
        return Logical("$and", tuple(good)) if good else MATCH_ALL

    def logical(self, op: str, raw: Any, path: Path, depth: int, *, absolute: bool) -> Query | _Bad:
        self.count(path)
        if not isinstance(raw, list) or not raw:
            return self.fail("invalid_operand", path, f"`{op}` takes a non-empty array of queries")
        if not self.enter(depth + 1, path):
            return _BAD
        parsed = [self.query(item, (*path, i), depth + 2, absolute=absolute) for i, item in enumerate(raw)]
        good = [c for c in parsed if not isinstance(c, _Bad)]
        if len(good) != len(parsed):
            return _BAD
        return Logical(_LOGICAL_OPS[op], tuple(good))

    def field(self, name: str, raw: Any, path: Path, depth: int, *, absolute: bool) -> Query | _Bad:
        self.count(path)
        if not self.field_name(name, path, absolute=absolute):
            return _BAD
        date_field = absolute and is_date_field(name)
        if isinstance(raw, dict) and any(k.startswith("$") for k in raw) and set(raw) != {NOW}:
            conditions = self.conditions(raw, path, depth + 1, date_field=date_field)
            if isinstance(conditions, _Bad):
                return _BAD
            return FieldQuery(name, conditions)
        value = self.operand(raw, path, depth + 1, date_field=date_field)
        if isinstance(value, _Bad):
            return _BAD
        return FieldQuery(name, (Comparison("$eq", value),))

    def field_name(self, name: str, path: Path, *, absolute: bool) -> bool:
        if "$" in name:
            self.fail(OPERATOR_NOT_ALLOWED, path, "`$` is not allowed in field names")
            return False
        segments = name.split(".")
        problem = None
        if not name or len(name) > MAX_FIELD_NAME_LENGTH:
            problem = f"field names are 1..{MAX_FIELD_NAME_LENGTH} characters"
        elif "\x00" in name or not is_valid_unicode(name):
            problem = "field names are valid Unicode without NUL"
        elif any(not s for s in segments):
            problem = "a field path may not have an empty segment (`a..b`, `.a`, `a.`)"
        elif any(s.isdigit() for s in segments):
            problem = "array positions (`items.0`) are not supported; use $elemMatch or $size"
        elif len(segments) > MAX_PATH_SEGMENTS:
            problem = f"a field path has at most {MAX_PATH_SEGMENTS} segments"
        if problem is not None:
            self.fail("invalid_field_name", path, problem)
            return False
        if absolute and segments[0] in RESERVED_FIELDS:
            self.fail("reserved_field", path, f"`{segments[0]}` is internal; contacts are found by `id`")
            return False
        return True

    # Conditions ---------------------------------------------------------------------

    def conditions(
        self, raw: Mapping[str, Any], path: Path, depth: int, *, date_field: bool
    ) -> tuple[Condition, ...] | _Bad:
        if not self.enter(depth, path):
            return _BAD
        out: list[Condition | _Bad] = []
        for key, operand in raw.items():
            where = (*path, key)
            if key == "$options":
                if "$regex" not in raw:
                    out.append(self.fail("misplaced_operator", where, "`$options` needs `$regex` beside it"))
                continue
            if key in FIELD_OPERATORS:
                self.count(where)
                out.append(_OPERATORS[key](self, _Call(key, operand, raw, where, depth, date_field)))
            elif key in LOGICAL_OPERATORS or key == NOW:
                out.append(
                    self.fail("misplaced_operator", where, f"`{key}` is not an operator on a field's value")
                )
            elif key.startswith("$"):
                out.append(self.fail(OPERATOR_NOT_ALLOWED, where, refusal_message(key)))
            else:
                out.append(
                    self.fail(
                        "invalid_operand",
                        where,
                        f"`{key}` inside an operator object: write either operators or a value, not both",
                    )
                )
        good = [c for c in out if not isinstance(c, _Bad)]
        return tuple(good) if len(good) == len(out) else _BAD

    def comparison(self, call: _Call) -> Condition | _Bad:
        value = self.operand(call.operand, call.path, call.depth + 1, date_field=call.date_field)
        if isinstance(value, _Bad):
            return _BAD
        op = _COMPARISON_OPS[call.op]
        if op in ("$eq", "$ne"):
            return Comparison(op, value)
        if value is None or isinstance(value, tuple):
            return self.fail(
                "invalid_operand",
                call.path,
                f"`{call.op}` compares with a number, string, boolean or date (use $eq/$exists for null)",
            )
        return Comparison(op, value)

    def value_list(self, call: _Call) -> tuple[Operand, ...] | _Bad:
        if not isinstance(call.operand, list):
            return self.fail("invalid_operand", call.path, f"`{call.op}` takes an array")
        if len(call.operand) > MAX_LIST_ITEMS:
            return self.fail(
                "list_too_long", call.path, f"`{call.op}` takes at most {MAX_LIST_ITEMS:,} values"
            )
        if not self.enter(call.depth + 1, call.path):
            return _BAD
        items = [
            self.operand(item, (*call.path, i), call.depth + 2, date_field=call.date_field)
            for i, item in enumerate(call.operand)
        ]
        good = [i for i in items if not isinstance(i, _Bad)]
        return tuple(good) if len(good) == len(items) else _BAD

    def membership(self, call: _Call) -> Condition | _Bad:
        values = self.value_list(call)
        if isinstance(values, _Bad):
            return _BAD
        return Membership(_MEMBERSHIP_OPS[call.op], values)

    def all_of(self, call: _Call) -> Condition | _Bad:
        values = self.value_list(call)
        return _BAD if isinstance(values, _Bad) else All(values)

    def exists(self, call: _Call) -> Condition | _Bad:
        flag = call.operand
        if isinstance(flag, bool) or (type(flag) is int and flag in (0, 1)):
            return Exists(bool(flag))
        return self.fail("invalid_operand", call.path, "`$exists` takes true or false")

    def size(self, call: _Call) -> Condition | _Bad:
        n = call.operand
        if type(n) is int and 0 <= n < _INT64:
            return Size(n)
        return self.fail("invalid_operand", call.path, "`$size` takes a non-negative integer")

    def regex(self, call: _Call) -> Condition | _Bad:
        pattern, options = call.operand, call.siblings.get("$options", "")
        bad = False
        if not isinstance(options, str) or any(o not in REGEX_OPTIONS for o in options):
            self.fail(
                "invalid_regex",
                (*call.path[:-1], "$options"),
                f"`$options` is a string of the letters {REGEX_OPTIONS}",
            )
            bad, options = True, ""
        if not isinstance(pattern, str):
            return self.fail("invalid_operand", call.path, "`$regex` takes a string")
        if len(pattern) > MAX_REGEX_LENGTH:
            return self.fail(
                "regex_too_long", call.path, f"`$regex` is at most {MAX_REGEX_LENGTH} characters"
            )
        try:
            re.compile(pattern, regex_flags(options))
        except (re.error, OverflowError, RecursionError) as exc:
            return self.fail("invalid_regex", call.path, f"the regular expression does not compile: {exc}")
        return _BAD if bad else Regex(pattern, "".join(sorted(set(options))))

    def negation(self, call: _Call) -> Condition | _Bad:
        raw = call.operand
        if not isinstance(raw, dict) or not raw or not all(k.startswith("$") for k in raw):
            return self.fail(
                "invalid_operand", call.path, '`$not` takes an operator object such as {"$gt": 5}'
            )
        if "$not" in raw:
            return self.fail("misplaced_operator", (*call.path, "$not"), "`$not` cannot be nested in `$not`")
        inner = self.conditions(raw, call.path, call.depth + 1, date_field=call.date_field)
        return _BAD if isinstance(inner, _Bad) else Not(inner)

    def elem_match(self, call: _Call) -> Condition | _Bad:
        raw = call.operand
        if not isinstance(raw, dict):
            return self.fail("invalid_operand", call.path, "`$elemMatch` takes a query or an operator object")
        value_form = bool(raw) and all(k.startswith("$") and k not in LOGICAL_OPERATORS for k in raw)
        if value_form:
            inner = self.conditions(raw, call.path, call.depth + 1, date_field=False)
            return _BAD if isinstance(inner, _Bad) else ElemMatchValue(inner)
        sub = self.query(raw, call.path, call.depth + 1, absolute=False)
        return _BAD if isinstance(sub, _Bad) else ElemMatchQuery(sub)

    # Values ---------------------------------------------------------------------------

    def operand(self, raw: Any, path: Path, depth: int, *, date_field: bool) -> Operand | _Bad:
        if isinstance(raw, dict):
            return self.special_value(raw, path)
        if isinstance(raw, str) and date_field:
            try:
                return truncate_ms(parse_instant(raw))
            except ValueError:
                return self.fail(
                    "invalid_date", path, f"{raw!r} is not an ISO-8601 date (the field holds dates)"
                )
        return self.literal(raw, path, depth)

    def literal(self, raw: Any, path: Path, depth: int) -> Value | _Bad:
        if isinstance(raw, str) and scalar_problem(raw) is not None:
            return self.fail("invalid_operand", path, problem_message(str(scalar_problem(raw))))
        if raw is None or isinstance(raw, bool | str):
            return raw
        if isinstance(raw, int):
            if -_INT64 <= raw < _INT64:
                return raw
            return self.fail("invalid_operand", path, "integers are limited to 64 bits")
        if isinstance(raw, float):
            if math.isfinite(raw):
                return raw
            return self.fail("invalid_operand", path, "numbers must be finite")
        if isinstance(raw, dt.datetime):
            return truncate_ms(raw)
        if isinstance(raw, list):
            if not self.enter(depth, path):
                return _BAD
            items = [self.literal_item(item, (*path, i), depth + 1) for i, item in enumerate(raw)]
            good = [i for i in items if not isinstance(i, _Bad)]
            return tuple(good) if len(good) == len(items) else _BAD
        return self.fail("invalid_operand", path, "unsupported value")

    def literal_item(self, raw: Any, path: Path, depth: int) -> Value | _Bad:
        if isinstance(raw, dict):
            bad = self.special_value(raw, path)
            if isinstance(bad, _Bad):
                return _BAD
            return self.fail("invalid_operand", path, "`$now` is a value of its own, not an array item")
        return self.literal(raw, path, depth)

    def special_value(self, raw: Mapping[str, Any], path: Path) -> Operand | _Bad:
        if set(raw) == {NOW}:
            text = raw[NOW]
            if not isinstance(text, str):
                return self.fail("invalid_duration", (*path, NOW), "`$now` takes an ISO-8601 duration")
            try:
                return Now(text, parse_duration(text))
            except ValueError as exc:
                return self.fail("invalid_duration", (*path, NOW), str(exc))
        dollar = [k for k in raw if k.startswith("$")]
        for key in dollar:
            if key in FIELD_OPERATORS or key in LOGICAL_OPERATORS or key == NOW:
                self.fail("misplaced_operator", (*path, key), f"`{key}` is not a value")
            else:
                self.fail(OPERATOR_NOT_ALLOWED, (*path, key), refusal_message(key))
        if not dollar:
            self.fail(
                "invalid_operand",
                path,
                "documents are not supported as values; compare sub-fields with dotted paths "
                "(`address.city`)",
            )
        return _BAD


_OPERATORS: dict[str, Callable[[_Parser, _Call], Condition | _Bad]] = {
    "$eq": _Parser.comparison,
    "$ne": _Parser.comparison,
    "$gt": _Parser.comparison,
    "$gte": _Parser.comparison,
    "$lt": _Parser.comparison,
    "$lte": _Parser.comparison,
    "$in": _Parser.membership,
    "$nin": _Parser.membership,
    "$all": _Parser.all_of,
    "$exists": _Parser.exists,
    "$size": _Parser.size,
    "$regex": _Parser.regex,
    "$not": _Parser.negation,
    "$elemMatch": _Parser.elem_match,
}


def parse_where(where: Any, *, path: Sequence[str | int] = ("where",)) -> Query:
    """The AST of a DynamicQuery `where`; raise `QueryInvalid` listing every problem."""
    parser = _Parser()
    query = parser.query(where, tuple(path), 1, absolute=True)
    if parser.errors or isinstance(query, _Bad):
        raise QueryInvalid(parser.errors)
    return query


def parse_filter(datatype: Any, where: Any, *, path: Sequence[str | int] = ("filter",)) -> Query:
    """A segment's `filter` (`{"datatype": "contact", "where": {...}}`): both parts are
    checked and their problems reported together."""
    parser = _Parser()
    base = tuple(path)
    if datatype != CONTACT_DATATYPE:
        parser.fail(
            "unsupported_datatype",
            (*base, "datatype"),
            f"datatype must be {CONTACT_DATATYPE!r}; other record types are not supported",
        )
    query = parser.query(where, (*base, "where"), 1, absolute=True)
    if parser.errors or isinstance(query, _Bad):
        raise QueryInvalid(parser.errors)
    return query
