"""Opaque page cursors shared by every paginated route: URL-safe base64 of a small JSON
value, so callers cannot build or edit them by accident and what they wrap can change
without breaking clients. Anything else is 400 `invalid_cursor`."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from audiences.errors import AppError

INVALID = "The cursor is not one this API returned."


class InvalidCursor(AppError):
    status = 400
    code = "invalid_cursor"
    title = "Invalid cursor"


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str, *, max_length: int) -> Any:
    """The value `encode_cursor` wrapped; `InvalidCursor` for anything else."""
    if len(cursor) > max_length:
        raise InvalidCursor(INVALID)
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor(INVALID) from exc
