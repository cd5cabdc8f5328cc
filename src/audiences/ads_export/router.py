"""Ads export route (HTTP only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query
from fastapi.responses import StreamingResponse

from audiences.ads_export import service
from audiences.auth import ReadScope
from audiences.clock import AppClock
from audiences.custom_audiences.hashing import PLATFORMS
from audiences.deps import AppSettings, Db

router = APIRouter(prefix="/api/crm/audiences", tags=["ads export"])


@router.get(
    "/segments/{segment_id}/export",
    summary="Members as an ad platform's hashed customer-list CSV (streamed)",
    response_class=StreamingResponse,
    responses={200: {"content": {"text/csv": {}}}},
)
async def export_segment(
    segment_id: str,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    clock: AppClock,
    platform: Annotated[
        str,
        Query(description="facebook, google, tiktok or linkedin", json_schema_extra={"enum": [*PLATFORMS]}),
    ],
) -> StreamingResponse:
    export = await service.export_audience(
        db=db,
        scope=scope,
        audience_id=segment_id,
        platform=platform,
        as_of=clock.now(),
        timeout_ms=settings.query_timeout_ms,
    )
    return StreamingResponse(
        export.lines,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{export.filename}"'},
    )
