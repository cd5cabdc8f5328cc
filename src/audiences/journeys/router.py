"""`/api/audiences` (journey audiences) and `/api/cohorts` routes — HTTP only."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query, Request, Response
from fastapi.responses import StreamingResponse

from audiences.auth import ReadScope, WriteScope
from audiences.clock import AppClock, format_instant
from audiences.deps import AppSettings, Db
from audiences.documents import NDJSON, ndjson_contacts, public_contact, wants_ndjson
from audiences.journeys import service
from audiences.journeys.schemas import (
    AudienceBody,
    AudienceOut,
    AudiencePatch,
    CohortBody,
    CohortOut,
    CohortPatch,
    DryRunBody,
    DryRunOut,
    EvaluateBody,
    EvaluateOut,
    MembersOut,
    PredicateBody,
    ProblemItem,
    ValidationOut,
)

router = APIRouter(tags=["journey audiences"])


def _audience_out(doc: dict[str, Any]) -> AudienceOut:
    return AudienceOut(
        id=doc["id"],
        projectKey=doc["projectKey"],
        name=doc["name"],
        description=doc.get("description"),
        subjectType=doc["subjectType"],
        predicate=doc["predicate"],
        createdAt=format_instant(doc["createdAt"]),
        updatedAt=format_instant(doc["updatedAt"]),
    )


def _cohort_out(doc: dict[str, Any]) -> CohortOut:
    fields: dict[str, Any] = {
        "id": doc["id"],
        "name": doc["name"],
        "description": doc.get("description"),
        "type": "dynamic" if doc.get("predicate") is not None else "static",
        "createdAt": format_instant(doc["createdAt"]),
        "updatedAt": format_instant(doc["updatedAt"]),
    }
    if doc.get("predicate") is not None:
        fields["predicate"] = doc["predicate"]
    else:
        fields["subjectIds"] = doc.get("subjectIds") or []
    return CohortOut.model_validate(fields)


@router.get(
    "/api/audiences",
    response_model=list[AudienceOut],
    summary="List journey audiences, newest first",
)
async def list_audiences(
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    projectKey: Annotated[str | None, Query(description="Only audiences of this project.")] = None,
) -> list[AudienceOut]:
    docs = await service.list_audiences(
        db=db, scope=scope, project_key=projectKey, timeout_ms=settings.query_timeout_ms
    )
    return [_audience_out(d) for d in docs]


@router.post(
    "/api/audiences",
    status_code=201,
    response_model=AudienceOut,
    summary="Create a journey audience",
    responses={409: {"description": "`audience_exists`: the given `id` is taken in this org."}},
)
async def create_audience(
    body: AudienceBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> AudienceOut:
    doc = await service.create_audience(
        db=db,
        scope=scope,
        body=body,
        clock=clock,
        settings=settings,
    )
    return _audience_out(doc)


@router.post(
    "/api/audiences/validate", response_model=ValidationOut, summary="Check a predicate without saving"
)
async def validate_predicate(
    body: PredicateBody, db: Db, scope: ReadScope, settings: AppSettings
) -> ValidationOut:
    problems = await service.validate_predicate(
        db=db, scope=scope, raw=body.predicate, timeout_ms=settings.query_timeout_ms
    )
    return ValidationOut(valid=not problems, errors=[ProblemItem(**p.to_json()) for p in problems])


@router.post(
    "/api/audiences/dry-run",
    response_model=DryRunOut,
    summary="Count and sample the subjects a predicate selects, without saving",
)
async def dry_run(
    body: DryRunBody, db: Db, scope: ReadScope, settings: AppSettings, clock: AppClock
) -> DryRunOut:
    result = await service.dry_run(
        db=db,
        scope=scope,
        raw=body.predicate,
        as_of=service.resolve_as_of(body.asOf, clock),
        sample_size=body.sampleSize,
        timeout_ms=settings.query_timeout_ms,
    )
    return DryRunOut(
        count=result.count,
        sample=[public_contact(d) for d in result.sample],
        asOf=format_instant(result.as_of),
        tookMs=result.took_ms,
    )


@router.get("/api/audiences/{audience_id}", response_model=AudienceOut, summary="Read a journey audience")
async def get_audience(audience_id: str, db: Db, scope: ReadScope, settings: AppSettings) -> AudienceOut:
    doc = await service.get_audience(
        db=db, scope=scope, audience_id=audience_id, timeout_ms=settings.query_timeout_ms
    )
    return _audience_out(doc)


@router.put("/api/audiences/{audience_id}", response_model=AudienceOut, summary="Replace a journey audience")
async def replace_audience(
    audience_id: str, body: AudienceBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> AudienceOut:
    doc = await service.replace_audience(
        db=db,
        scope=scope,
        audience_id=audience_id,
        body=body,
        clock=clock,
        settings=settings,
    )
    return _audience_out(doc)


@router.patch(
    "/api/audiences/{audience_id}",
    response_model=AudienceOut,
    summary="Update name, description, project or predicate",
)
async def update_audience(
    audience_id: str, body: AudiencePatch, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> AudienceOut:
    doc = await service.update_audience(
        db=db,
        scope=scope,
        audience_id=audience_id,
        body=body,
        clock=clock,
        settings=settings,
    )
    return _audience_out(doc)


@router.delete("/api/audiences/{audience_id}", status_code=204, summary="Delete a journey audience")
async def delete_audience(audience_id: str, db: Db, scope: WriteScope) -> Response:
    await service.delete_audience(db=db, scope=scope, audience_id=audience_id)
    return Response(status_code=204)


@router.post(
    "/api/audiences/{audience_id}/evaluate",
    response_model=EvaluateOut,
    summary="Is one subject in the audience, and why",
)
async def evaluate(
    audience_id: str, body: EvaluateBody, db: Db, scope: ReadScope, settings: AppSettings, clock: AppClock
) -> EvaluateOut:
    as_of = service.resolve_as_of(body.asOf, clock)
    result = await service.evaluate_audience(
        db=db,
        scope=scope,
        audience_id=audience_id,
        subject_id=body.subjectId,
        as_of=as_of,
        timeout_ms=settings.query_timeout_ms,
    )
    return EvaluateOut(
        matched=result.matched, explanation=result.explanation or {}, asOf=format_instant(as_of)
    )


@router.get(
    "/api/audiences/{audience_id}/members",
    response_model=MembersOut,
    summary="Page through the members (or stream them all as NDJSON)",
    responses={200: {"content": {NDJSON: {}}, "description": "A page, or one contact per line as NDJSON"}},
)
async def members(
    audience_id: str,
    request: Request,
    db: Db,
    scope: ReadScope,
    settings: AppSettings,
    clock: AppClock,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    cursor: Annotated[str | None, Query(description="`nextCursor` of the previous page.")] = None,
    asOf: Annotated[str | None, Query(description="ISO-8601 instant; a cursor keeps its own.")] = None,
) -> Any:
    after, as_of = (
        service.decode_members_cursor(cursor) if cursor else (None, service.resolve_as_of(asOf, clock))
    )
    if wants_ndjson(request.headers.get("accept")):
        resolved = await service.resolve_audience_predicate(
            db=db, scope=scope, audience_id=audience_id, timeout_ms=settings.query_timeout_ms
        )

        members = service.stream_members(
            db=db,
            scope=scope,
            resolved=resolved,
            as_of=as_of,
            after=after,
            timeout_ms=settings.query_timeout_ms,
        )
        return StreamingResponse(
            ndjson_contacts(members), media_type=NDJSON, headers={"X-As-Of": format_instant(as_of)}
        )
    page = await service.members_page(
        db=db,
        scope=scope,
        audience_id=audience_id,
        after=after,
        limit=limit,
        as_of=as_of,
        timeout_ms=settings.query_timeout_ms,
    )
    return MembersOut(
        items=[public_contact(d) for d in page.items],
        nextCursor=service.encode_members_cursor(page.next_after, as_of) if page.next_after else None,
        asOf=format_instant(as_of),
    )


@router.get(
    "/api/cohorts", response_model=list[CohortOut], response_model_exclude_unset=True, summary="List cohorts"
)
async def list_cohorts(db: Db, scope: ReadScope, settings: AppSettings) -> list[CohortOut]:
    return [
        _cohort_out(d)
        for d in await service.list_cohorts(db=db, scope=scope, timeout_ms=settings.query_timeout_ms)
    ]


@router.post(
    "/api/cohorts",
    status_code=201,
    response_model=CohortOut,
    response_model_exclude_unset=True,
    summary="Create a static or dynamic cohort",
    responses={409: {"description": "`cohort_exists`: the given `id` is taken in this org."}},
)
async def create_cohort(
    body: CohortBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> CohortOut:
    doc = await service.create_cohort(
        db=db,
        scope=scope,
        body=body,
        clock=clock,
        settings=settings,
    )
    return _cohort_out(doc)


@router.get(
    "/api/cohorts/{cohort_id}",
    response_model=CohortOut,
    response_model_exclude_unset=True,
    summary="Read a cohort",
)
async def get_cohort(cohort_id: str, db: Db, scope: ReadScope, settings: AppSettings) -> CohortOut:
    return _cohort_out(
        await service.get_cohort(
            db=db, scope=scope, cohort_id=cohort_id, timeout_ms=settings.query_timeout_ms
        )
    )


@router.put(
    "/api/cohorts/{cohort_id}",
    response_model=CohortOut,
    response_model_exclude_unset=True,
    summary="Replace a cohort",
)
async def replace_cohort(
    cohort_id: str, body: CohortBody, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> CohortOut:
    doc = await service.replace_cohort(
        db=db,
        scope=scope,
        cohort_id=cohort_id,
        body=body,
        clock=clock,
        settings=settings,
    )
    return _cohort_out(doc)


@router.patch(
    "/api/cohorts/{cohort_id}",
    response_model=CohortOut,
    response_model_exclude_unset=True,
    summary="Update a cohort",
)
async def update_cohort(
    cohort_id: str, body: CohortPatch, db: Db, scope: WriteScope, settings: AppSettings, clock: AppClock
) -> CohortOut:
    doc = await service.update_cohort(
        db=db,
        scope=scope,
        cohort_id=cohort_id,
        body=body,
        clock=clock,
        settings=settings,
    )
    return _cohort_out(doc)


@router.delete(
    "/api/cohorts/{cohort_id}",
    status_code=204,
    summary="Delete a cohort (refused while audiences or cohorts use it)",
    responses={409: {"description": "`cohort_in_use`: audiences or cohorts use it (`usedBy` lists them)."}},
)
async def delete_cohort(cohort_id: str, db: Db, scope: WriteScope, settings: AppSettings) -> Response:
    await service.delete_cohort(db=db, scope=scope, cohort_id=cohort_id, timeout_ms=settings.query_timeout_ms)
    return Response(status_code=204)
