"""The segments feature's errors, each with a stable code."""

from __future__ import annotations

from audiences.errors import AppError, NotFound
from audiences.pagination import InvalidCursor as InvalidCursor
from audiences.segments.resolve import SegmentNotFound

__all__ = [
    "ClientDisconnected",
    "InvalidCursor",
    "InvalidInstant",
    "SegmentNotFound",
    "SnapshotNotFound",
    "StaticSegmentTooLarge",
]


class SnapshotNotFound(NotFound):
    code = "snapshot_not_found"
    title = "Snapshot not found"


class InvalidInstant(AppError):
    status = 400
    code = "invalid_instant"
    title = "Invalid instant"


class StaticSegmentTooLarge(AppError):
    status = 400
    code = "static_segment_too_large"
    title = "Static segment too large"


class ClientDisconnected(AppError):
    """The caller went away; the work was cancelled (status 499, never seen by anyone)."""

    status = 499
    code = "client_disconnected"
    title = "Client closed request"
