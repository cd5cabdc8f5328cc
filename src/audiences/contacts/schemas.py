"""Request and response bodies for contact ingestion."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ConfigDict, Field

CONTACT_EXAMPLE: dict[str, Any] = {
    "id": "c-1001",
    "email": "Ada.Lovelace@example.com",
    "phone": "+44 20 7946 0018",
    "firstName": "Ada",
    "lastName": "Lovelace",
    "country": "GB",
    "city": "London",
    "tags": ["vip", "newsletter"],
    "tier": "pro",
    "birthDate": "1990-12-10",
    "createdAt": "2026-01-04T09:30:00Z",
    "lastEmailOpenedAt": "2026-04-20T08:12:00Z",
}


class ContactBatch(BaseModel):
    """Contacts to upsert. Each row is free-form JSON; `id` (your id) or `email` finds the
    contact to update. Well-known fields are typed (see README, "Contacts")."""

    model_config = ConfigDict(json_schema_extra={"examples": [{"contacts": [CONTACT_EXAMPLE]}]})

    # Rows are checked one by one so that a bad row is reported by index, not the whole batch.
    contacts: list[Any] = Field(description="Up to AUDIENCES_MAX_BATCH contact objects.")


class RejectedRow(BaseModel):
    index: int = Field(description="Position of the row in the request.")
    code: str
    message: str
    path: str | None = None


class BatchResult(BaseModel):
    accepted: int = Field(description="Rows stored (inserted or updated).")
    rejected: list[RejectedRow]
    duplicates: int = Field(default=0, description="Rows already stored (same eventId).")
    ids: list[str] | None = Field(default=None, description="Ids of the accepted contacts, in order.")
