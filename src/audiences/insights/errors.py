"""Errors of insights and overlap requests. Unknown audience ids are `SegmentNotFound`
(404 `segment_not_found`), raised by `resolve_audience`."""

from __future__ import annotations

from audiences.errors import ErrorItem, ValidationFailed


class InvalidAsOf(ValidationFailed):
    """`asOf` is not an ISO-8601 date or date-time (400 `invalid_instant`)."""

    title = "Invalid asOf"

    def __init__(self, value: str) -> None:
        super().__init__(
            [
                ErrorItem(
                    "invalid_instant", "asOf", f"`asOf` must be an ISO-8601 date or date-time, not {value!r}"
                )
            ]
        )


class DuplicateAudienceIds(ValidationFailed):
    """The same id appears twice in an overlap matrix request (400 `duplicate_segment_id`)."""

    title = "Duplicate segment ids"

    def __init__(self, positions: list[tuple[int, str]]) -> None:
        super().__init__(
            [
                ErrorItem(
                    "duplicate_segment_id", f"segmentIds[{index}]", f"{audience_id!r} is already listed"
                )
                for index, audience_id in positions
            ]
        )
