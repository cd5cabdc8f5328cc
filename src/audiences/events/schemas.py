"""Request bodies for event ingestion."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

EVENT_EXAMPLE: dict[str, Any] = {
    "eventId": "evt-7f3a",
    "userId": "c-1001",
    "name": "checkout_started",
    "ts": "2026-04-23T18:04:05Z",
    "properties": {"cartValue": 129.5, "currency": "EUR"},
}


class EventBatch(BaseModel):
    """Events to append. `userId` is the contact's id; `ts` defaults to the time of receipt;
    rows with an `eventId` already stored are counted as `duplicates` and not stored again."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"events": [EVENT_EXAMPLE]}]})

    # Rows are checked one by one so that a bad row is reported by index, not the whole batch.
    events: list[Any] = Field(description="Up to AUDIENCES_MAX_BATCH event objects.")
