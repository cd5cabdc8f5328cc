"""Conditional GET for reference data: a strong ETag over the body, and 304 on a match."""

from __future__ import annotations

import hashlib

from fastapi import Request, Response
from pydantic import BaseModel

CACHE_CONTROL = "private, max-age=3600"


def cacheable_json(request: Request, body: BaseModel) -> Response:
    """`body` as JSON with `ETag` and `Cache-Control`, or an empty 304 when the client's
    `If-None-Match` already names this ETag."""
    content = body.model_dump_json(by_alias=True, exclude_none=True).encode()
    etag = f'"{hashlib.sha256(content).hexdigest()[:32]}"'
    headers = {"ETag": etag, "Cache-Control": CACHE_CONTROL}
    if _matches(request.headers.get("if-none-match"), etag):
        return Response(status_code=304, headers=headers)
    return Response(content, media_type="application/json", headers=headers)


def _matches(if_none_match: str | None, etag: str) -> bool:
    if not if_none_match:
        return False
    # RFC 9110: If-None-Match uses weak comparison, so `W/"x"` matches `"x"`.
    candidates = (tag.strip().removeprefix("W/") for tag in if_none_match.split(","))
    return any(tag in ("*", etag) for tag in candidates)
