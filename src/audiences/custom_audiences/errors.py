"""Errors custom audiences report, each with a stable code."""

from __future__ import annotations

from audiences.errors import AppError, Conflict, NotFound


class CustomAudienceNotFound(NotFound):
    code = "custom_audience_not_found"
    title = "Custom audience not found"


class OperationNotSupported(Conflict):
    """The audience's type has no such operation (e.g. uploading into a lookalike)."""

    code = "operation_not_supported"
    title = "Not supported for this custom audience type"


class CsvUnreadable(AppError):
    """The uploaded file is not a CSV this service can read (empty, no identifier column,
    UTF-16, a line longer than the limit, broken quoting)."""

    status = 400
    code = "csv_unreadable"
    title = "The CSV file cannot be read"
