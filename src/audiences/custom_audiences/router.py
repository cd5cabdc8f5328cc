"""Custom audience routes under /api/crm/audiences (HTTP only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Body, File, Query, Response, UploadFile
from fastapi.responses import StreamingResponse

from audiences.auth import ReadScope, WriteScope
from audiences.clock import AppClock
from audiences.custom_audiences import service
from audiences.custom_audiences.catalog import TYPES
from audiences.custom_audiences.hashing import PLATFORMS
from audiences.custom_audiences.schemas import (
    CREATE_EXAMPLES,
    PATCH_EXAMPLES,
    CustomAudienceOut,
    CustomAudiencePage,
    CustomerMatchCreate,
    CustomTypesOut,
    FileUploadCreate,
    LookalikeCreate,
    RetargetingPixelCreate,
    UploadReport,
)
from audiences.deps import AppSettings, Db

router = APIRouter(prefix="/api/crm/audiences", tags=["custom audiences"])

_CREATE_SCHEMA = {
    "oneOf": [
        m.model_json_schema()
        for m in (FileUploadCreate, CustomerMatchCreate, LookalikeCreate, RetargetingPixelCreate)
    ]
}
CreateBody = Annotated[dict[str, Any], Body(openapi_examples=CREATE_EXAMPLES)]
PatchBody = Annotated[dict[str, Any], Body(openapi_examples=PATCH_EXAMPLES)]


def _not_supported(what: str) -> dict[int | str, dict[str, Any]]:
    return {409: {"description": f"`operation_not_supported`: this audience's type {what}."}}


def _out(audience: dict[str, Any]) -> CustomAudienceOut:
    return CustomAudienceOut.model_validate(audience)


@router.get(
    "/custom-types",
    response_model=CustomTypesOut,
    response_model_exclude_none=True,
    summary="The custom audience types, the fields each needs and the platforms each syncs to",
)
async def custom_types(_: ReadScope) -> CustomTypesOut:
    return CustomTypesOut.model_validate({"types": service.custom_types()})


@router.get(
    "/custom",
    response_model=CustomAudiencePage,
    response_model_exclude_unset=True,
    summary="List custom audiences (id order, cursor pages)",
)
async def list_custom(
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    type: Annotated[
        str | None, Query(description="Only this type.", json_schema_extra={"enum": [*TYPES]})
    ] = None,
    limit: Annotated[int, Query(ge=1, le=200)] = 50,
    cursor: Annotated[str | None, Query(description="`nextCursor` of the previous page.")] = None,
) -> CustomAudiencePage:
    items, next_cursor = await service.list_audiences(
        db=db, scope=scope, kind=type, cursor=cursor, limit=limit, timeout_ms=settings.query_timeout_ms
    )
    return CustomAudiencePage(
        items=[_out(i) for i in items], nextCursor=next_cursor, hasMore=next_cursor is not None
    )


@router.post(
    "/custom",
    status_code=201,
    response_model=CustomAudienceOut,
    response_model_exclude_unset=True,
    summary="Create a custom audience (a lookalike is computed now)",
    openapi_extra={"requestBody": {"content": {"application/json": {"schema": _CREATE_SCHEMA}}}},
)
async def create_custom(
    body: CreateBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> CustomAudienceOut:
    return _out(
        await service.create_audience(
            db=db, scope=scope, body=body, now=clock.now(), timeout_ms=settings.query_timeout_ms
        )
    )


@router.get(
    "/custom/{audience_id}",
    response_model=CustomAudienceOut,
    response_model_exclude_unset=True,
    summary="Read a custom audience",
)
async def get_custom(audience_id: str, db: Db, scope: ReadScope, settings: AppSettings) -> CustomAudienceOut:
    doc = await service.get_audience_document(
        db=db, scope=scope, audience_id=audience_id, timeout_ms=settings.query_timeout_ms
    )
    return _out(service.public_audience(doc))


@router.patch(
    "/custom/{audience_id}",
    response_model=CustomAudienceOut,
    response_model_exclude_unset=True,
    summary="Change a custom audience (a lookalike whose seed, ratio or country changes is recomputed)",
)
async def patch_custom(
    audience_id: str, body: PatchBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> CustomAudienceOut:
    return _out(
        await service.update_audience(
            db=db,
            scope=scope,
            audience_id=audience_id,
            body=body,
            now=clock.now(),
            timeout_ms=settings.query_timeout_ms,
        )
    )


@router.delete("/custom/{audience_id}", status_code=204, summary="Delete a custom audience and its rows")
async def delete_custom(audience_id: str, db: Db, scope: WriteScope) -> Response:
    await service.delete_audience(db=db, scope=scope, audience_id=audience_id)
    return Response(status_code=204)


@router.post(
    "/custom/{audience_id}/refresh",
    response_model=CustomAudienceOut,
    response_model_exclude_unset=True,
    summary="Recompute a lookalike from its seed as it is now",
    responses=_not_supported("has nothing to recompute (only lookalikes do)"),
)
async def refresh_custom(
    audience_id: str, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> CustomAudienceOut:
    return _out(
        await service.refresh_audience(
            db=db, scope=scope, audience_id=audience_id, now=clock.now(), timeout_ms=settings.query_timeout_ms
        )
    )


@router.post(
    "/custom/{audience_id}/upload",
    response_model=UploadReport,
    summary="Upload a CSV of people (streamed; any size) and get the match report",
    responses=_not_supported("takes no uploads (file_upload and customer_match do)"),
)
async def upload_custom(
    audience_id: str,
    file: Annotated[UploadFile, File(description="CSV, UTF-8 with or without BOM; `,` `;` tab or `|`.")],
    db: Db,
    scope: WriteScope,
    settings: AppSettings,
    clock: AppClock,
    defaultRegion: Annotated[
        str | None,
        Query(
            description="ISO country for phones in local format when the row has no country.", examples=["DE"]
        ),
    ] = None,
) -> UploadReport:
    report = await service.upload_csv(
        db=db,
        scope=scope,
        audience_id=audience_id,
        source=file.file,
        default_region=defaultRegion,
        now=clock.now(),
        timeout_ms=settings.query_timeout_ms,
    )
    return UploadReport.model_validate(report)


@router.get(
    "/custom/{audience_id}/export",
    response_class=StreamingResponse,
    responses={
        200: {"content": {"text/csv": {}}, "description": "The platform's hashed customer list."},
        **_not_supported("keeps no platform hashes (only customer_match does)"),
    },
    summary="Stream a customer match audience as a platform's hashed customer-list CSV",
)
async def export_custom(
    audience_id: str,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    platform: Annotated[
        str,
        Query(
            description="facebook, google, tiktok or linkedin.",
            examples=["google"],
            json_schema_extra={"enum": [*PLATFORMS]},
        ),
    ],
) -> StreamingResponse:
    chunks = await service.export_hashed_rows(
        db=db, scope=scope, audience_id=audience_id, platform=platform, timeout_ms=settings.query_timeout_ms
    )
    return StreamingResponse(
        chunks,
        media_type="text/csv; charset=utf-8",
        headers={"Content-Disposition": f'attachment; filename="{audience_id}-{platform}.csv"'},
    )
