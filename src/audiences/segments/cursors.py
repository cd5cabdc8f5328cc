"""Opaque page cursors: URL-safe base64 of a small JSON value. Callers cannot build or
edit them by accident, and what they wrap can change without breaking clients."""

from __future__ import annotations

import base64
import binascii
import datetime as dt
import json
from typing import Any

from audiences.clock import format_instant, parse_instant
from audiences.segments.errors import InvalidCursor

MAX_CURSOR_LENGTH = 2048
_INVALID = "The cursor is not one this API returned."


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The value `encode_cursor` wrapped; `InvalidCursor` (400) for anything else."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor(_INVALID)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(_INVALID) from exc


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
