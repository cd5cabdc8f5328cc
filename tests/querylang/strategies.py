"""Hypothesis strategies: contacts as ingestion stores them, and DynamicQuery filters over
them using every allowed operator, dates (absolute and `$now`), arrays, missing fields and
mixed types.

Typed fields follow ingestion's rules (date fields hold a date or null, `email`/`country`
a string or null, `tags` a list of strings); free-form fields hold anything JSON can:
scalars of every type, arrays of scalars, documents and arrays of documents. Arrays
directly inside arrays are left out (docs/semantics.md, "Not covered").
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from hypothesis import strategies as st

from tests.conftest import AS_OF

DAY = dt.timedelta(days=1)
DATES = [AS_OF - 40 * DAY, AS_OF - 10 * DAY, AS_OF - DAY, AS_OF + 2 * DAY]
NOW_OFFSETS = ["-P30D", "-P1D", "-PT12H", "P1D", "-P1M"]
STRINGS = ["a", "b", "abc", "B", "vip", "lead", "", "A b"]
NUMBERS: list[Any] = [0, 1, 2, -1, 2.5, 10]
SCALARS: list[Any] = [None, True, False, *NUMBERS, *STRINGS, *DATES]
SUB_FIELDS = ["sku", "qty", "lang", "n"]
TOP_FIELDS = [
    "email",
    "country",
    "createdAt",
    "lastEmailOpenedAt",
    "tags",
    "tier",
    "score",
    "prefs",
    "items",
    "nothing",
]
PATHS = [*TOP_FIELDS, "prefs.lang", "prefs.n", "items.sku", "items.qty", "prefs.deep.x"]
DATE_FIELDS = {"createdAt", "lastEmailOpenedAt"}
REGEXES = ["^a", "b", "^A$", "c$", "a|v", "^$"]

scalar = st.sampled_from(SCALARS)
scalar_list = st.lists(scalar, max_size=3)
sub_document = st.fixed_dictionaries(
    {},
    optional={
        "sku": st.sampled_from(["A", "B", "a"]),
        "qty": st.one_of(scalar, scalar_list),
        "lang": st.one_of(st.sampled_from(["en", "de", "EN"]), scalar, scalar_list),
        "n": st.one_of(st.sampled_from(NUMBERS), scalar),
        "deep": st.fixed_dictionaries({}, optional={"x": scalar}),
    },
)
free_value = st.one_of(scalar, scalar_list, sub_document, st.lists(sub_document, max_size=3))


@st.composite
def contact(draw: st.DrawFn, index: int) -> dict[str, Any]:
    doc: dict[str, Any] = {"_id": f"t:c{index}", "orgId": "t", "id": f"c{index}"}
    typed = {
        "email": st.sampled_from([None, "a@x.io", "b@x.io"]),
        "country": st.sampled_from([None, "US", "GB", "DE"]),
        "createdAt": st.sampled_from([None, *DATES]),
        "lastEmailOpenedAt": st.sampled_from([None, *DATES]),
        "tags": st.lists(st.sampled_from(["vip", "lead", "mql", "a"]), max_size=3, unique=True),
    }
    for name, strategy in typed.items():
        if draw(st.integers(0, 3)):
            doc[name] = draw(strategy)
    for name in ("tier", "score", "prefs", "items"):
        if draw(st.integers(0, 5)):
            doc[name] = draw(free_value)
    return doc


@st.composite
def contacts(draw: st.DrawFn) -> list[dict[str, Any]]:
    size = draw(st.integers(3, 16))
    return [draw(contact(i)) for i in range(size)]


def _value_for(path: str, draw: st.DrawFn, *, ranged: bool = False) -> Any:
    """A literal to compare `path` with: dates (ISO or `$now`) for date fields."""
    if path in DATE_FIELDS and draw(st.integers(0, 4)):
        if draw(st.booleans()):
            return {"$now": draw(st.sampled_from(NOW_OFFSETS))}
        return draw(st.sampled_from(DATES)).strftime("%Y-%m-%dT%H:%M:%SZ")
    pool = [
        v for v in SCALARS if not (ranged and v is None) and not (path in DATE_FIELDS and isinstance(v, str))
    ]
    return draw(st.sampled_from(pool))


@st.composite
def operator_object(draw: st.DrawFn, path: str, depth: int, *, element: bool = False) -> dict[str, Any]:
    """One to three distinct operators for `path` (or, with `element`, for one array element)."""
    how_many = draw(st.sampled_from([1, 1, 1, 1, 1, 2, 2, 3]))
    kinds = draw(
        st.lists(
            st.sampled_from(
                [
                    "$eq",
                    "$ne",
                    "range",
                    "range",
                    "range",
                    "$in",
                    "$nin",
                    "$exists",
                    "$regex",
                    "$size",
                    "$all",
                    "$not",
                    "$not",
                    "$elemMatch",
                    "$elemMatch",
                ]
            ),
            min_size=how_many,
            max_size=how_many,
        )
    )
    out: dict[str, Any] = {}
    for kind in kinds:
        if kind in ("$eq", "$ne"):
            out[kind] = draw(st.one_of(st.just(_value_for(path, draw)), scalar_list))
        elif kind == "range":
            op = draw(st.sampled_from(["$gt", "$gte", "$lt", "$lte"]))
            out[op] = _value_for(path, draw, ranged=True)
        elif kind in ("$in", "$nin"):
            if draw(st.integers(0, 5)) == 0 and path not in DATE_FIELDS:
                out[kind] = draw(
                    st.lists(st.sampled_from([*STRINGS, "x", "y", "z", "w"]), min_size=8, max_size=10)
                )
            else:
                out[kind] = [_value_for(path, draw) for _ in range(draw(st.integers(0, 3)))]
        elif kind == "$exists":
            out[kind] = draw(st.booleans())
        elif kind == "$regex":
            out[kind] = draw(st.sampled_from(REGEXES))
            if draw(st.booleans()):
                out["$options"] = "i"
        elif kind == "$size":
            out[kind] = draw(st.integers(0, 3))
        elif kind == "$all":
            out[kind] = [
                draw(st.one_of(st.just(_value_for(path, draw)), scalar_list))
                for _ in range(draw(st.integers(0, 2)))
            ]
        elif kind == "$not" and depth < 3:
            inner = draw(operator_object(path, depth + 1, element=element))
            inner.pop("$not", None)
            if inner:
                out[kind] = inner
        elif kind == "$elemMatch" and depth < 3:
            if draw(st.booleans()):
                value_form = draw(operator_object(path, depth + 1, element=True))
                value_form.pop("$elemMatch", None)
                if value_form and all(k.startswith("$") for k in value_form):
                    out[kind] = value_form
            else:
                out[kind] = draw(query(depth + 1, fields=SUB_FIELDS))
    return out or {"$exists": True}


@st.composite
def query(draw: st.DrawFn, depth: int = 0, fields: list[str] = PATHS) -> dict[str, Any]:
    """A DynamicQuery document."""
    choice = draw(st.integers(0, 5 if depth < 2 else 2))
    if choice >= 3:
        op = draw(st.sampled_from(["$and", "$or", "$nor"]))
        return {op: draw(st.lists(query(depth + 1, fields), min_size=1, max_size=3))}
    names = draw(
        st.lists(
            st.sampled_from(fields),
            min_size=0 if depth else 1,
            max_size=draw(st.sampled_from([1, 1, 2])),
            unique=True,
        )
    )
    out: dict[str, Any] = {}
    for name in names:
        if draw(st.integers(0, 3)) == 0:
            out[name] = _value_for(name, draw)
        else:
            out[name] = draw(operator_object(name, depth))
    return out
