"""Cursors of the change feeds, delivery logs and journey members (the shared codec with
this family's length bound)."""

from __future__ import annotations

from typing import Any

from audiences.pagination import decode_cursor as _decode
from audiences.pagination import encode_cursor

__all__ = ["MAX_CURSOR_LENGTH", "decode_cursor", "encode_cursor"]

MAX_CURSOR_LENGTH = 512


def decode_cursor(cursor: str) -> Any:
    """The value `encode_cursor` wrapped; `InvalidCursor` (400) for anything else."""
    return _decode(cursor, max_length=MAX_CURSOR_LENGTH)
