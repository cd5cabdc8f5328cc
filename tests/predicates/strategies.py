"""Hypothesis strategies: small worlds of contacts, events, cohorts, and raw predicates.

Values are chosen to hit the pinned semantics: missing vs null fields, numbers vs
booleans vs numeric strings, arrays, nested objects, dates vs ISO strings, and events
exactly on window edges and after `asOf`.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass
from typing import Any

from hypothesis import strategies as st

from tests.conftest import AS_OF

SUBJECTS = [f"s{i}" for i in range(6)]  # s5 is never a contact: only events and cohorts name it
EVENT_NAMES = ["a", "b", "c"]
WINDOW_DAYS = [1, 3, 7, 30]
MISSING: Any = object()

FIELD_VALUES: dict[str, list[Any]] = {
    "tier": [MISSING, None, "pro", "free", "Pro", 1, True, ["pro", "x"], [], [None, "free"]],
    "score": [MISSING, None, -1, 0, 1, 2, 2.5, "2", True, False, [1, 5]],
    "tags": [MISSING, [], ["a"], ["a", "b"], ["c", None], "a"],
    "signupAt": [
        MISSING,
        None,
        AS_OF - dt.timedelta(days=30),
        AS_OF - dt.timedelta(days=7),
        dt.datetime(2026, 4, 1, tzinfo=dt.UTC),
        "2026-04-01",
        5,
    ],
    "plan": [MISSING, None, {"name": "pro", "seats": 3}, {"name": "free"}, {"seats": 0}, {}, "pro"],
}
PATHS = ["tier", "score", "tags", "signupAt", "plan", "plan.name", "plan.seats", "nope"]
EQUALITY_VALUES: list[Any] = [
    "pro",
    "free",
    "a",
    1,
    2,
    0,
    2.5,
    True,
    False,
    "2",
    "2026-04-01",
    "2026-04-01T00:00:00Z",
]
BOUNDS: list[Any] = [-1, 0, 1, 2, 2.5, 3, "2026-04-01", "2026-03-25T12:00:00Z", "2026-04-17T12:00:00.000Z"]
IN_VALUES: list[Any] = [
    "pro, free",
    "pro",
    " a ,b",
    "x,,pro",
    ["pro", 1],
    [True, 2],
    ["2026-04-01"],
    [2.5, "free", False],
]


@st.composite
def contacts(draw: st.DrawFn) -> list[dict[str, Any]]:
    ids = draw(st.lists(st.sampled_from(SUBJECTS[:5]), unique=True, min_size=1, max_size=5))
    out = []
    for subject_id in sorted(ids):
        doc: dict[str, Any] = {"id": subject_id}
        for name, values in FIELD_VALUES.items():
            value = draw(st.sampled_from(values))
            if value is not MISSING:
                doc[name] = value
        out.append(doc)
    return out


# Hours before (negative) or after asOf; window edges are whole days so some events fall
# exactly on `asOf - days*24h`, and some at or after asOf.
OFFSETS = st.one_of(
    st.sampled_from([-24 * d for d in WINDOW_DAYS] + [-24 * d - 1 for d in WINDOW_DAYS] + [0, 1, 24]),
    st.integers(min_value=-24 * 8, max_value=0),
    st.integers(min_value=-24 * 40, max_value=48),
)


@st.composite
def events(draw: st.DrawFn) -> list[dict[str, Any]]:
    rows = draw(
        st.lists(
            st.tuples(st.sampled_from(SUBJECTS), st.sampled_from(EVENT_NAMES), OFFSETS),
            min_size=6,
            max_size=30,
        )
    )
    return [{"userId": u, "name": n, "ts": AS_OF + dt.timedelta(hours=h)} for u, n, h in rows]


def _window() -> st.SearchStrategy[dict[str, Any]]:
    return st.one_of(
        st.just({"type": "ever"}),
        st.sampled_from(WINDOW_DAYS).map(lambda d: {"type": "last_n_days", "days": d}),
    )


def _event_leaf() -> st.SearchStrategy[dict[str, Any]]:
    name = st.sampled_from([*EVENT_NAMES, "zz"])
    fired = st.builds(
        lambda n, w, k: {"kind": "event_fired", "eventName": n, **({"window": w} if w else {}), **k},
        name,
        st.one_of(st.none(), _window()),
        st.one_of(st.just({}), st.integers(1, 2).map(lambda a: {"atLeast": a})),
    )
    not_fired = st.builds(
        lambda n, w: {"kind": "event_not_fired", "eventName": n, **({"window": w} if w else {})},
        name,
        st.one_of(st.none(), _window()),
    )
    return st.one_of(fired, not_fired)


def _attribute_leaf() -> st.SearchStrategy[dict[str, Any]]:
    path = st.sampled_from(PATHS)

    def leaf(op: str, value: Any) -> st.SearchStrategy[dict[str, Any]]:
        return st.builds(
            lambda p, v: {
                "kind": "attribute",
                "fieldPath": p,
                "operator": op,
                **({} if v is MISSING else {"value": v}),
            },
            path,
            value,
        )

    return st.one_of(
        leaf("equals", st.sampled_from(EQUALITY_VALUES)),
        leaf("not_equals", st.sampled_from(EQUALITY_VALUES)),
        leaf("in", st.sampled_from(IN_VALUES)),
        leaf("greater_than", st.sampled_from(BOUNDS)),
        leaf("less_than", st.sampled_from(BOUNDS)),
        leaf("exists", st.sampled_from([MISSING, "ignored"])),
        leaf("not_exists", st.just(MISSING)),
    )


def predicates(cohort_ids: list[str]) -> st.SearchStrategy[dict[str, Any]]:
    leaves = [_event_leaf(), _event_leaf(), _attribute_leaf()]  # events twice as likely
    if cohort_ids:
        leaves.append(st.sampled_from(cohort_ids).map(lambda c: {"kind": "in_cohort", "cohortId": c}))
    return st.recursive(
        st.one_of(*leaves),
        lambda inner: st.one_of(
            st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"kind": "and", "clauses": cs}),
            st.lists(inner, min_size=1, max_size=3).map(lambda cs: {"kind": "or", "clauses": cs}),
            inner.map(lambda c: {"kind": "not", "clause": c}),
        ),
        max_leaves=6,
    )


@dataclass(frozen=True)
class World:
    contacts: list[dict[str, Any]]
    events: list[dict[str, Any]]
    # cohort id → ("static", [ids]) or ("dynamic", raw predicate); later ones may use earlier ones.
    cohorts: dict[str, tuple[str, Any]]
    predicate: dict[str, Any]


@st.composite
def worlds(draw: st.DrawFn) -> World:
    cohorts: dict[str, tuple[str, Any]] = {}
    for i in range(draw(st.integers(0, 3))):
        if draw(st.booleans()):
            cohorts[f"k{i}"] = ("static", draw(st.lists(st.sampled_from(SUBJECTS), unique=True, max_size=5)))
        else:
            cohorts[f"k{i}"] = ("dynamic", draw(predicates(list(cohorts))))
    return World(draw(contacts()), draw(events()), cohorts, draw(predicates(list(cohorts))))
