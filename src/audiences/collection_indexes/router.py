"""`/api/collection/index`: create and list indexes (HTTP only)."""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query, Response

from audiences.auth import ReadScope, WriteScope
from audiences.clock import AppClock, truncate_ms
from audiences.collection_indexes import service
from audiences.collection_indexes.schemas import IndexList, IndexOut, IndexRequest
from audiences.deps import Db

router = APIRouter(prefix="/api/collection", tags=["indexes"])


@router.post(
    "/index",
    status_code=201,
    response_model=IndexOut,
    summary="Create an index (prefixed by orgId); 200 when it already exists",
    responses={
        200: {
            "model": IndexOut,
            "description": "The org had already requested this index (`created: false`).",
        },
        409: {"description": "`index_conflict` (same keys, other options) or `too_many_indexes`."},
    },
)
async def create_index(
    body: IndexRequest, response: Response, db: Db, scope: WriteScope, clock: AppClock
) -> IndexOut:
    keys = service.parse_key_pattern(body.collection, [(f.field, f.order) for f in body.fields])
    info = await service.create_index(
        db=db,
        scope=scope,
        collection=body.collection,
        keys=keys,
        unique=body.unique,
        now=truncate_ms(clock.now()),
    )
    if not info.created:
        response.status_code = 200
    return IndexOut.model_validate(info.to_json())


@router.get("/index", response_model=IndexList, response_model_exclude_none=True, summary="List indexes")
async def list_indexes(
    db: Db,
    scope: ReadScope,
    collection: Annotated[
        str | None,
        Query(
            description="`contacts` or `events` (default: both).",
            json_schema_extra={"enum": [*service.COLLECTIONS]},
        ),
    ] = None,
) -> IndexList:
    if collection is not None:
        service.check_collection(collection)
    infos = await service.list_indexes(db=db, scope=scope, collection=collection)
    return IndexList(items=[IndexOut.model_validate(i.to_json()) for i in infos])
