"""A measured speed fix for mongoeco's query compiler, applied once when the embedded
backend is opened.

mongoeco compiles `{field: {"$in": [...]}}` to a nested loop over candidates × list items
with a full equality call per pair, so a 1,000-id `$in` over 20,000 documents took 13.5 s.
Static segments, snapshots and membership state all use `$in` over id lists. For lists of
plain strings without a collation, membership is exactly set membership (a string equals
only an equal string), so the compiled test becomes a set lookup; anything else (regexes,
numbers, None, arrays, collations) keeps mongoeco's own code. `tests/db/test_embedded_speedups.py`
checks that answers do not change.
"""

from __future__ import annotations

from typing import Any

from mongoeco.core.compiled_query import CompiledQuery
from mongoeco.core.query_plan import InCondition

MIN_VALUES = 8
_applied = False


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
    _applied = True
