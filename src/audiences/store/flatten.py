"""Shred a contact document into `contact_values` rows, by the path rules of the
in-memory evaluator (`querylang.evaluate.resolve`, MongoDB's documented semantics):

- a path reaches a value through documents by field name and through an array by looking
  into each element that is a document; arrays directly inside arrays, and scalars in an
  array, are not walked into;
- every value reached at a path is a row (`in_array` false), and so is every element of
  an array value reached there (`in_array` true), since equality and ranges also test the
  elements of an array.

So `{"tags": ["a", "b"], "items": [{"sku": "x"}]}` gives rows at `tags` (the array, then
`a` and `b` as elements), `items` (the array, its one document element) and `items.sku`
(`x`, loc `items[0].sku`). Compiled SQL finds "path P has a value satisfying C" as a
semi-join on (path, typed column); "P is missing somewhere" needs the locs of the
documents on the way (see the SQL compiler).
"""

from __future__ import annotations

import builtins
import datetime as dt
import json
import math
from collections.abc import Iterator, Mapping
from typing import Any, NamedTuple

from audiences.store.schema import (
    KIND_ARRAY,
    KIND_BOOL,
    KIND_DATE,
    KIND_NULL,
    KIND_NUMBER,
    KIND_OBJECT,
    KIND_OTHER,
    KIND_STRING,
)

# Stored documents keep these keys for bookkeeping; they are not contact fields.
HIDDEN_KEYS = frozenset({"_id", "orgId"})


class ValueRow(NamedTuple):
    path: str
    loc: str
    in_array: bool
    kind: int
    num: float | None
    str: str | None
    bool: bool | None
    ts: dt.datetime | None
    json: builtins.str | None  # `str` is a field name here
    size: int | None


def utc_naive(value: dt.datetime) -> dt.datetime:
    """DuckDB TIMESTAMP is zone-less: store UTC wall time."""
    if value.tzinfo is not None:
        value = value.astimezone(dt.UTC).replace(tzinfo=None)
    return value


def _canonical(value: Any) -> Any:
    """A JSON-able form where MongoDB-equal values are equal: numbers by value (1 == 1.0),
    dates by instant, documents keep their key order (MongoDB compares them in order)."""
    if value is None or isinstance(value, str):
        return value
    if isinstance(value, bool):
        return {"$b": value}
    if isinstance(value, int | float):
        number = float(value)
        if math.isfinite(number) and number == int(number) and abs(number) < 2**63:
            return {"$n": str(int(number))} if isinstance(value, float) else {"$n": str(value)}
        return {"$n": repr(number)}
    if isinstance(value, dt.datetime):
        return {"$d": utc_naive(value).isoformat()}
    if isinstance(value, list | tuple):
        return [_canonical(v) for v in value]
    if isinstance(value, Mapping):
        return {"$o": [[str(k), _canonical(v)] for k, v in value.items()]}
    return {"$x": repr(value)}


def canonical_json(value: Any) -> str:
    return json.dumps(_canonical(value), separators=(",", ":"), ensure_ascii=False)


def value_row(path: str, loc: str, in_array: bool, value: Any) -> ValueRow:
    # Exact-type fast paths first (a contact is mostly plain scalars; ABC checks are slow).
    kind = type(value)
    if kind is str:
        return ValueRow(path, loc, in_array, KIND_STRING, None, value, None, None, None, None)
    if kind is float or kind is int:
        return ValueRow(path, loc, in_array, KIND_NUMBER, float(value), None, None, None, None, None)
    if value is None:
        return ValueRow(path, loc, in_array, KIND_NULL, None, None, None, None, None, None)
    if isinstance(value, bool):
        return ValueRow(path, loc, in_array, KIND_BOOL, None, None, value, None, None, None)
    if isinstance(value, int | float):
        return ValueRow(path, loc, in_array, KIND_NUMBER, float(value), None, None, None, None, None)
    if isinstance(value, str):
        return ValueRow(path, loc, in_array, KIND_STRING, None, value, None, None, None, None)
    if isinstance(value, dt.datetime):
        return ValueRow(path, loc, in_array, KIND_DATE, None, None, None, utc_naive(value), None, None)
    if isinstance(value, list | tuple):
        return ValueRow(
            path, loc, in_array, KIND_ARRAY, None, None, None, None, canonical_json(value), len(value)
        )
    if isinstance(value, Mapping):
        return ValueRow(path, loc, in_array, KIND_OBJECT, None, None, None, None, canonical_json(value), None)
    return ValueRow(path, loc, in_array, KIND_OTHER, None, None, None, None, canonical_json(value), None)


_LEAVES = frozenset({str, int, float, bool, type(None), dt.datetime})


def _walk_document(document: Mapping[str, Any], prefix: str, loc_prefix: str) -> Iterator[ValueRow]:
    for key, value in document.items():
        path = f"{prefix}{key}"
        loc = f"{loc_prefix}{key}"
        yield value_row(path, loc, False, value)
        if type(value) in _LEAVES:
            continue
        if isinstance(value, Mapping):
            yield from _walk_document(value, f"{path}.", f"{loc}.")
        elif isinstance(value, list | tuple):
            for i, element in enumerate(value):
                element_loc = f"{loc}[{i}]"
                yield value_row(path, element_loc, True, element)
                if isinstance(element, Mapping):
                    yield from _walk_document(element, f"{path}.", f"{element_loc}.")


def flatten_contact(document: Mapping[str, Any]) -> Iterator[ValueRow]:
    """The `contact_values` rows of one stored contact (without org and contact id)."""
    visible = {k: v for k, v in document.items() if k not in HIDDEN_KEYS}
    return _walk_document(visible, "", "")
