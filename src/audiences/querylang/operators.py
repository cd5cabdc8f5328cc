"""Which `$` keys DynamicQuery knows: the allowed ones (CONTRACT §7) and, for a useful
message, why some well-known MongoDB operators are refused. Anything else that starts
with `$` is refused as unknown."""

from __future__ import annotations

LOGICAL_OPERATORS: frozenset[str] = frozenset({"$and", "$or", "$nor"})

FIELD_OPERATORS: frozenset[str] = frozenset(
    {
        "$eq",
        "$ne",
        "$gt",
        "$gte",
        "$lt",
        "$lte",
        "$in",
        "$nin",
        "$exists",
        "$regex",
        "$options",
        "$elemMatch",
        "$all",
        "$size",
        "$not",
    }
)

# The value-level form `{"$now": "-P30D"}` (a relative date), not an operator.
NOW = "$now"

_JAVASCRIPT = "runs server-side JavaScript"
_EXPRESSIONS = "aggregation expressions are not part of DynamicQuery"
_GEO = "geospatial queries are not part of DynamicQuery"

REFUSED_OPERATORS: dict[str, str] = {
    "$where": _JAVASCRIPT,
    "$function": _JAVASCRIPT,
    "$accumulator": _JAVASCRIPT,
    "$expr": _EXPRESSIONS,
    "$jsonSchema": "schema validation is not part of DynamicQuery",
    "$text": "text search is not part of DynamicQuery",
    "$near": _GEO,
    "$nearSphere": _GEO,
    "$geoWithin": _GEO,
    "$geoIntersects": _GEO,
    "$type": "not in the allowed operator list",
    "$mod": "not in the allowed operator list",
    "$comment": "not in the allowed operator list",
    "$sampleRate": "not in the allowed operator list",
    "$bitsAllSet": "not in the allowed operator list",
    "$bitsAnySet": "not in the allowed operator list",
    "$bitsAllClear": "not in the allowed operator list",
    "$bitsAnyClear": "not in the allowed operator list",
}


def refusal_message(key: str) -> str:
    reason = REFUSED_OPERATORS.get(key, "unknown operator")
    return f"`{key}` is not allowed: {reason}."
