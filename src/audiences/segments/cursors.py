"""Opaque page cursors: URL-safe base64 of a small JSON value. Callers cannot build or
edit them by accident, and what they wrap can change without breaking clients."""

from __future__ import annotations

import datetime as dt
from typing import Any

from audiences.clock import format_instant, parse_instant
from audiences.pagination import INVALID as _INVALID
from audiences.pagination import InvalidCursor, encode_cursor
from audiences.pagination import decode_cursor as _decode

__all__ = [
    "decode_cursor",
    "decode_list_cursor",
    "decode_string_cursor",
    "encode_cursor",
    "encode_list_cursor",
]

MAX_CURSOR_LENGTH = 2048


def decode_cursor(cursor: str) -> Any:
    """The value `encode_cursor` wrapped; `InvalidCursor` (400) for anything else."""
    return _decode(cursor, max_length=MAX_CURSOR_LENGTH)


def decode_string_cursor(cursor: str | None) -> str | None:
    """A cursor that wraps one string (a contact id), or None when no cursor was given."""
    if cursor is None:
        return None
    value = decode_cursor(cursor)
    if not isinstance(value, str):
        raise InvalidCursor(_INVALID)
    return value


def encode_list_cursor(after: tuple[dt.datetime, str]) -> str:
    """The segment list's cursor: the last (createdAt, id) returned."""
    return encode_cursor([format_instant(after[0]), after[1]])


def decode_list_cursor(cursor: str | None) -> tuple[dt.datetime, str] | None:
    if cursor is None:
        return None
    value = decode_cursor(cursor)
    if not (isinstance(value, list) and len(value) == 2 and all(isinstance(v, str) for v in value)):
        raise InvalidCursor(_INVALID)
    try:
        return parse_instant(value[0]), value[1]
    except ValueError as exc:
        raise InvalidCursor(_INVALID) from exc
