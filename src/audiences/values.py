"""Free-form values at the edge: what a contact field, an event property or a filter
literal may hold before it reaches storage.

JSON allows more than the stores can keep: `1e309` parses to infinity, integers are
unbounded, `"\\ud800"` decodes to a lone surrogate that no UTF-8 encoder accepts. Each
would fail later, inside a batch write or a response encoder. `check_value` refuses them
up front, together with values too large to be useful (settings `AUDIENCES_MAX_*`).
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from audiences.config import Settings

INT64_MIN = -(2**63)
INT64_MAX = 2**63 - 1
MAX_KEY_LENGTH = 256
_SURROGATE = re.compile("[\ud800-\udfff]")


@dataclass(frozen=True, slots=True)
class ValueProblem(Exception):
    """One refused value, located by a JSON path (`plan.seats`, `properties.items[3]`)."""

    code: str
    path: str
    message: str


@dataclass(frozen=True, slots=True)
class ValueLimits:
    max_string_length: int = 65_536
    max_array_length: int = 10_000
    max_elements: int = 20_000
    max_depth: int = 8

    @classmethod
    def from_settings(cls, settings: Settings) -> ValueLimits:
        return cls(
            max_string_length=settings.max_string_length,
            max_array_length=settings.max_array_length,
            max_elements=settings.max_row_elements,
            max_depth=settings.max_value_depth,
        )


DEFAULT_LIMITS = ValueLimits()


def is_valid_unicode(text: str) -> bool:
    """False when `text` holds a lone surrogate (it cannot be encoded as UTF-8)."""
    return text.isascii() or _SURROGATE.search(text) is None


def scalar_problem(value: object, *, max_string_length: int = DEFAULT_LIMITS.max_string_length) -> str | None:
    """Why a JSON scalar cannot be stored, as `code: message`-ready text, or None."""
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, int):
        return None if INT64_MIN <= value <= INT64_MAX else "integer_out_of_range"
    if isinstance(value, float):
        return None if math.isfinite(value) else "non_finite_number"
    if isinstance(value, str):
        if len(value) > max_string_length:
            return "string_too_long"
        return None if is_valid_unicode(value) else "invalid_unicode"
    return None


_MESSAGES = {
    "integer_out_of_range": "integers must fit in 64 bits (-2^63 .. 2^63-1)",
    "non_finite_number": "numbers must be finite (no NaN, Infinity or overflowing exponents)",
    "invalid_unicode": "text must be valid Unicode (a lone surrogate such as \\ud800 is not)",
}


def problem_message(code: str, limits: ValueLimits = DEFAULT_LIMITS) -> str:
    if code == "string_too_long":
        return f"strings are at most {limits.max_string_length:,} characters (AUDIENCES_MAX_STRING_LENGTH)"
    return _MESSAGES[code]


def _join(path: str, part: str | int) -> str:
    if isinstance(part, int):
        return f"{path}[{part}]"
    return f"{path}.{part}" if path else part


def check_value(value: Any, *, path: str, limits: ValueLimits = DEFAULT_LIMITS) -> None:
    """Raise `ValueProblem` for the first part of `value` that cannot be stored.

    Checks every scalar (`scalar_problem`), every key (valid Unicode, at most
    MAX_KEY_LENGTH characters), array lengths, nesting depth and the total number of
    values, stopping as soon as a limit is passed so a huge value costs little.
    """
    elements = 0
    stack: list[tuple[Any, str, int]] = [(value, path, 0)]
    while stack:
        node, where, depth = stack.pop()
        elements += 1
        if elements > limits.max_elements:
            raise ValueProblem(
                "too_many_elements",
                path,
                f"a value holds at most {limits.max_elements:,} elements (AUDIENCES_MAX_ROW_ELEMENTS)",
            )
        if isinstance(node, list) and len(node) > limits.max_array_length:
            raise ValueProblem(
                "array_too_long",
                where,
                f"arrays hold at most {limits.max_array_length:,} items (AUDIENCES_MAX_ARRAY_LENGTH)",
            )
        if isinstance(node, dict | list):
            if elements + len(node) > limits.max_elements:
                raise ValueProblem(
                    "too_many_elements",
                    path,
                    f"a value holds at most {limits.max_elements:,} elements (AUDIENCES_MAX_ROW_ELEMENTS)",
                )
            if depth >= limits.max_depth and node:
                raise ValueProblem("too_deep", where, f"nesting deeper than {limits.max_depth} levels")
        if isinstance(node, dict):
            for key, inner in node.items():
                if not isinstance(key, str) or not is_valid_unicode(key) or len(key) > MAX_KEY_LENGTH:
                    raise ValueProblem(
                        "invalid_field_name",
                        where,
                        f"field names are valid Unicode of at most {MAX_KEY_LENGTH} characters",
                    )
                stack.append((inner, _join(where, key), depth + 1))
        elif isinstance(node, list):
            stack.extend((inner, _join(where, i), depth + 1) for i, inner in enumerate(node))
        else:
            code = scalar_problem(node, max_string_length=limits.max_string_length)
            if code is not None:
                raise ValueProblem(code, where, problem_message(code, limits))


def id_problem(value: str) -> str | None:
    """Why `value` cannot be an id (contact id, userId, eventId), or None.

    Ids travel in URL paths and storage keys: a NUL or a lone surrogate makes one that can
    be stored but never read back."""
    if "\x00" in value:
        return "ids may not contain NUL"
    if not is_valid_unicode(value):
        return "ids must be valid Unicode (a lone surrogate such as \\ud800 is not)"
    return None
