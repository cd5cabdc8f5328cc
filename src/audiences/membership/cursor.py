"""Opaque page cursors: URL-safe base64 of a small JSON value, so callers cannot build
or edit them by accident and the stored key can change without breaking clients."""

from __future__ import annotations

import base64
import binascii
import json
from typing import Any

from audiences.membership.errors import InvalidCursor

MAX_CURSOR_LENGTH = 512


def encode_cursor(value: Any) -> str:
    raw = json.dumps(value, separators=(",", ":")).encode()
    return base64.urlsafe_b64encode(raw).decode().rstrip("=")


def decode_cursor(cursor: str) -> Any:
    """The value `encode_cursor` wrapped; `InvalidCursor` (400) for anything else."""
    if len(cursor) > MAX_CURSOR_LENGTH:
        raise InvalidCursor("The cursor is not one this API returned.")
    try:
        raw = base64.urlsafe_b64decode(cursor + "=" * (-len(cursor) % 4))
        return json.loads(raw)
    except (binascii.Error, ValueError) as exc:
        raise InvalidCursor("The cursor is not one this API returned.") from exc
