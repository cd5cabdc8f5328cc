"""Why a DynamicQuery is refused."""

from __future__ import annotations

from collections.abc import Sequence

from audiences.errors import AppError, ErrorItem, ValidationFailed

OPERATOR_NOT_ALLOWED = "operator_not_allowed"


class QueryInvalid(ValidationFailed):
    """Every problem found in a filter, each with its JSON path. The top-level `code` is
    `operator_not_allowed` when any problem is a refused operator (the one a client must
    never retry), otherwise the first problem's code."""

    title = "Invalid filter"

    def __init__(self, errors: Sequence[ErrorItem]) -> None:
        refused = any(e.code == OPERATOR_NOT_ALLOWED for e in errors)
        super().__init__(errors, code=OPERATOR_NOT_ALLOWED if refused else None)


class QueryNotSupported(AppError):
    """A valid filter that the configured backend cannot run exactly (see
    docs/semantics.md, "The embedded backend"). MongoDB runs every valid filter."""

    status = 400
    code = "query_not_supported_by_backend"
    title = "Filter not supported by this backend"
