"""Index management errors."""

from __future__ import annotations

from audiences.errors import AppError, Conflict


class IndexConflict(Conflict):
    code = "index_conflict"
    title = "Index conflict"


class TooManyIndexes(Conflict):
    code = "too_many_indexes"
    title = "Too many indexes"


class IndexCapacityReached(AppError):
    """The shared collection holds as many indexes as MongoDB allows: an operator matter,
    reported the same way to every org."""

    status = 503
    code = "index_capacity_reached"
    title = "Index capacity reached"


class IndexBuildFailed(AppError):
    status = 409
    code = "index_build_failed"
    title = "Index build failed"
