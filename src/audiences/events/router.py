"""Event ingestion route (HTTP only)."""

from __future__ import annotations

from fastapi import APIRouter

from audiences.auth import DataWriteScope
from audiences.clock import AppClock
from audiences.contacts.schemas import BatchResult
from audiences.deps import AppSettings, Db
from audiences.events import service
from audiences.events.schemas import EventBatch
from audiences.values import ValueLimits

router = APIRouter(prefix="/api/events", tags=["events"])


@router.post(
    ":batch",
    response_model=BatchResult,
    response_model_exclude_none=True,
    summary="Append up to 10,000 events",
)
async def ingest_events(
    body: EventBatch, db: Db, scope: DataWriteScope, settings: AppSettings, clock: AppClock
) -> BatchResult:
    report = await service.ingest_events(
        db=db,
        scope=scope,
        rows=body.events,
        max_batch=settings.max_batch,
        now=clock.now(),
        limits=ValueLimits.from_settings(settings),
    )
    return BatchResult.model_validate(
        {"accepted": report.accepted, "rejected": report.rejected, "duplicates": report.duplicates}
    )
