"""Measured speed fixes for mongoeco's `$in`, applied once when the embedded backend opens.

mongoeco compiles `{field: {"$in": [...]}}` to a nested loop over candidates × list items
with a full equality call per pair, so a 1,000-id `$in` over 20,000 documents took 13.5 s.
Static segments, snapshots and membership state all use `$in` over id lists. For lists of
plain strings without a collation, membership is exactly set membership (a string equals
only an equal string), so the compiled test becomes a set lookup; anything else (regexes,
numbers, None, arrays, collations) keeps mongoeco's own code. On the SQLite engine, lists
over 64 values are not translated to SQL (hundreds of values fail with "Expression tree is
too large" or take minutes) but matched in Python, where the interpreted matcher's string
values get a set too: 2,000 ids over 20,000 documents went from 40 s to 0.65 s.
`tests/db/test_embedded_speedups.py` checks that answers do not change on either engine.
"""

from __future__ import annotations

from typing import Any

import mongoeco.engines.sqlite_query as sqlite_query
from mongoeco.core.compiled_query import CompiledQuery
from mongoeco.core.filtering import QueryEngine
from mongoeco.core.query_plan import InCondition

MIN_VALUES = 8
# Above this many values the SQLite engine's SQL for `$in` grows past SQLite's expression
# limit ("Expression tree is too large") or takes minutes; Python evaluation is used instead.
MAX_SQL_IN_VALUES = 64
_applied = False
_prepared: dict[tuple[int, bool, int], tuple[object, Any]] = {}


def apply_embedded_speedups() -> None:
    global _applied
    if _applied:
        return
    original = CompiledQuery._node_to_code

    def node_to_code(self: Any, node: Any, depth: int) -> str:
        code: str = original(self, node, depth)
        if (
            isinstance(node, InCondition)
            and len(node.values) >= MIN_VALUES
            and all(type(v) is str for v in node.values)
        ):
            field_key = self._field(node.field)
            set_key = self._store("values", frozenset(node.values))
            fast = (
                f"any(type(candidate) is str and candidate in {set_key}"
                f" for candidate in (_extract(doc, {field_key}) or [None]))"
            )
            return f"(({fast}) if collation is None else ({code}))"
        return code

    CompiledQuery._node_to_code = node_to_code  # type: ignore[method-assign]

    translate_membership = sqlite_query._translate_membership

    def bounded_translate_membership(
        field: str, values: tuple[object, ...], *, negated: bool, null_matches_undefined: bool = False
    ) -> Any:
        if len(values) > MAX_SQL_IN_VALUES:
            raise NotImplementedError("large $in lists are matched in Python")
        return translate_membership(
            field, values, negated=negated, null_matches_undefined=null_matches_undefined
        )

    sqlite_query._translate_membership = bounded_translate_membership

    # The interpreted matcher (used by the SQLite engine's Python fallback) rebuilds the
    # lookup set of an `$in` list for every document; build it once per list.
    prepare = QueryEngine._prepare_membership_values.__func__  # type: ignore[attr-defined]

    def prepare_once(
        cls: Any, values: tuple[Any, ...], *, null_matches_undefined: bool, collation: Any = None
    ) -> Any:
        key = (id(values), null_matches_undefined, id(collation))
        hit = _prepared.get(key)
        if hit is not None and hit[0] is values:
            return hit[1]
        literal, regexes, residual = prepare(
            cls, values, null_matches_undefined=null_matches_undefined, collation=collation
        )
        if collation is None:
            residual = _SplitResidual(residual)
        result = (literal, regexes, residual)
        if len(_prepared) > 256:
            _prepared.clear()
        _prepared[key] = (values, result)
        return result

    QueryEngine._prepare_membership_values = classmethod(prepare_once)  # type: ignore[method-assign,assignment]

    candidate_matches = QueryEngine._candidate_matches_membership.__func__  # type: ignore[attr-defined]

    def candidate_matches_fast(cls: Any, candidate: Any, /, **kw: Any) -> Any:
        residual = kw.get("residual_values")
        if isinstance(residual, _SplitResidual) and type(candidate) is str and kw.get("collation") is None:
            # A string equals only an equal string (BSON type order), so the non-string
            # residual values cannot match it; regexes still can.
            if candidate in residual.strings:
                return True
            return any(cls._regex_item_matches_candidate(candidate, p) for p in kw["regex_values"])
        return candidate_matches(cls, candidate, **kw)

    QueryEngine._candidate_matches_membership = classmethod(  # type: ignore[method-assign,assignment]
        candidate_matches_fast
    )
    _applied = True


class _SplitResidual(list[Any]):
    """mongoeco's residual `$in` values, with the plain strings also held in a set."""

    def __init__(self, values: list[Any]) -> None:
        super().__init__(values)
        self.strings = frozenset(v for v in values if type(v) is str)
