"""Contact ingestion and lookup routes (HTTP only)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Response

from audiences.auth import DataWriteScope, ReadScope
from audiences.contacts import service
from audiences.contacts.schemas import BatchResult, ContactBatch
from audiences.deps import AppSettings, Db
from audiences.documents import public_contact
from audiences.values import ValueLimits

router = APIRouter(prefix="/api/crm/contacts", tags=["contacts"])


@router.post(":batch", response_model=BatchResult, summary="Upsert up to 10,000 contacts")
async def upsert_contacts(
    body: ContactBatch, db: Db, scope: DataWriteScope, settings: AppSettings
) -> BatchResult:
    report = await service.upsert_contacts(
        db=db,
        scope=scope,
        rows=body.contacts,
        max_batch=settings.max_batch,
        limits=ValueLimits.from_settings(settings),
    )
    return BatchResult.model_validate(
        {"accepted": report.accepted, "rejected": report.rejected, "ids": report.ids}
    )


@router.get("/{contact_id}", summary="Read one contact")
async def get_contact(contact_id: str, db: Db, scope: ReadScope) -> dict[str, Any]:
    return public_contact(await service.get_contact(db=db, scope=scope, contact_id=contact_id))


@router.delete("/{contact_id}", status_code=204, summary="Delete a contact and its events")
async def delete_contact(contact_id: str, db: Db, scope: DataWriteScope) -> Response:
    await service.delete_contact(db=db, scope=scope, contact_id=contact_id)
    return Response(status_code=204)
