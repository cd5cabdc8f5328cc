"""Liveness and readiness probes (no auth)."""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import JSONResponse

from audiences.deps import Db

router = APIRouter(tags=["health"])


@router.get("/healthz", summary="The process is up")
async def healthz() -> dict[str, str]:
    return {"status": "ok"}


_READY_BODY = {
    "type": "object",
    "properties": {"status": {"type": "string"}, "database": {"type": "string"}},
    "required": ["status", "database"],
}


@router.get(
    "/readyz",
    summary="The database answers a ping",
    responses={
        200: {"content": {"application/json": {"schema": _READY_BODY}}},
        503: {
            "description": "The database does not answer.",
            "content": {"application/json": {"schema": _READY_BODY}},
        },
    },
)
async def readyz(db: Db) -> JSONResponse:
    try:
        ok = await db.ping()
    except Exception:  # any driver failure means "not ready"; details stay in the logs
        ok = False
    body = {"status": "ok" if ok else "unavailable", "database": db.description if ok else "unreachable"}
    return JSONResponse(body, status_code=200 if ok else 503)
