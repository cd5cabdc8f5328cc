"""Errors as values: every failure the API reports is an `AppError` with a stable code.

One handler (installed by `install_error_handlers`) renders them, request-validation
failures, HTTP errors and anything unexpected as RFC 9457 problem+json.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from pymongo.errors import ConnectionFailure
from starlette.exceptions import HTTPException as StarletteHTTPException

from audiences.routes import allowed_methods

PROBLEM_JSON = "application/problem+json"
log = logging.getLogger("audiences.errors")


@dataclass(frozen=True, slots=True)
class ErrorItem:
    """One problem found in a request, located by a JSON path such as `filter.where.$or[1]`."""

    code: str
    path: str
    message: str

    def to_json(self) -> dict[str, str]:
        return {"code": self.code, "path": self.path, "message": self.message}


class AppError(Exception):
    """Base of every error the service reports on purpose."""

    status: int = 400
    code: str = "bad_request"
    title: str = "Bad request"

    def __init__(
        self,
        detail: str | None = None,
        *,
        errors: Sequence[ErrorItem] = (),
        code: str | None = None,
        status: int | None = None,
        title: str | None = None,
        headers: dict[str, str] | None = None,
        extra: dict[str, Any] | None = None,
    ) -> None:
        if code is not None:
            self.code = code
        if status is not None:
            self.status = status
        if title is not None:
            self.title = title
        self.detail = detail or self.title
        self.errors = list(errors)
        self.headers = headers or {}
        self.extra = extra or {}
        super().__init__(self.detail)

    def to_problem(self) -> dict[str, Any]:
        body: dict[str, Any] = {
            "type": f"https://audiences.dev/problems/{self.code.replace('_', '-')}",
            "title": self.title,
            "status": self.status,
            "detail": self.detail,
            "code": self.code,
            "errors": [e.to_json() for e in self.errors],
        }
        body.update(self.extra)
        return body


class ValidationFailed(AppError):
    """Request body or query failed validation; `errors` lists every problem."""

    status = 400
    code = "validation_failed"
    title = "Request validation failed"

    def __init__(self, errors: Sequence[ErrorItem], *, code: str | None = None) -> None:
        first = errors[0] if errors else None
        # The first problem's code becomes the top-level code when the caller gave none, so
        # clients can branch on `code` for the common single-problem case.
        super().__init__(
            first.message if first and len(errors) == 1 else f"{len(errors)} problems found",
            errors=errors,
            code=code or (first.code if first else None),
        )


class NotFound(AppError):
    status = 404
    code = "not_found"
    title = "Not found"


class Conflict(AppError):
    status = 409
    code = "conflict"
    title = "Conflict"


class Unauthorized(AppError):
    status = 401
    code = "unauthorized"
    title = "Unauthorized"

    def __init__(self, detail: str, *, code: str = "unauthorized") -> None:
        super().__init__(detail, code=code, headers={"WWW-Authenticate": 'Bearer realm="audiences"'})


class Forbidden(AppError):
    status = 403
    code = "forbidden"
    title = "Forbidden"


class PayloadTooLarge(AppError):
    status = 413
    code = "payload_too_large"
    title = "Payload too large"


class QueryTimeout(AppError):
    status = 503
    code = "query_timeout"
    title = "Query timed out"

    def __init__(self, detail: str | None = None) -> None:
        super().__init__(
            detail
            or (
                "The query hit the server-side time limit. Narrow the filter, or add an "
                "index on the filtered fields with POST /api/collection/index."
            ),
            headers={"Retry-After": "1"},
        )


class ServiceUnavailable(AppError):
    status = 503
    code = "service_unavailable"
    title = "Service unavailable"


class DatabaseUnavailable(AppError):
    """The database cannot be reached (connection lost, no server selectable)."""

    status = 503
    code = "database_unavailable"
    title = "Database unavailable"

    def __init__(self) -> None:
        super().__init__(
            "The database cannot be reached right now; retry shortly.", headers={"Retry-After": "5"}
        )


def json_path(parts: Iterable[str | int]) -> str:
    """Render path parts as `a.b[2].c` (the form every `errors[].path` uses)."""
    out = ""
    for part in parts:
        if isinstance(part, int):
            out += f"[{part}]"
        elif out:
            out += f".{part}"
        else:
            out = str(part)
    return out


def problem_response(error: AppError) -> JSONResponse:
    return JSONResponse(
        error.to_problem(), status_code=error.status, headers=error.headers, media_type=PROBLEM_JSON
    )


_PYDANTIC_CODES = {
    "missing": "field_required",
    "extra_forbidden": "unknown_field",
    "json_invalid": "malformed_json",
}


def _validation_items(exc: RequestValidationError) -> list[ErrorItem]:
    items: list[ErrorItem] = []
    for err in exc.errors():
        loc = [p for p in err.get("loc", ()) if not isinstance(p, str) or p != "body"]
        # pydantic adds the union member's tag to the location; it is noise for callers.
        loc = [p for p in loc if not (isinstance(p, str) and p.startswith("function-"))]
        kind = str(err.get("type", "invalid"))
        items.append(
            ErrorItem(
                code=_PYDANTIC_CODES.get(kind, kind.replace(".", "_")),
                path=json_path(p if isinstance(p, int) else str(p) for p in loc),
                message=str(err.get("msg", "invalid value")),
            )
        )
    return items


def install_error_handlers(app: FastAPI) -> None:
    """The one place errors become HTTP responses."""

    async def on_app_error(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, AppError)
        return problem_response(exc)

    async def on_validation(_: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)
        items = _validation_items(exc)
        if any(i.code == "malformed_json" for i in items):
            return problem_response(
                AppError("The request body is not valid JSON.", code="malformed_json", errors=items)
            )
        return problem_response(ValidationFailed(items, code="validation_failed"))

    async def on_http(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)
        status = exc.status_code
        # FastAPI turns any failure to parse a JSON body into 400 "error parsing the body".
        if isinstance(exc.__cause__, RecursionError):
            return problem_response(
                AppError("The JSON body nests deeper than the parser can follow.", code="json_too_deep")
            )
        if isinstance(exc.__cause__, UnicodeDecodeError):
            return problem_response(AppError("The request body is not UTF-8 JSON.", code="malformed_json"))
        headers = dict(exc.headers or {})
        if status == 405:
            headers["Allow"] = ", ".join(allowed_methods(request.app, request.url.path))
        phrase = HTTPStatus(status).phrase if status in HTTPStatus._value2member_map_ else "Error"
        code = {404: "not_found", 405: "method_not_allowed", 413: "payload_too_large"}.get(
            status, phrase.lower().replace(" ", "_").replace("-", "_")
        )
        detail = exc.detail if isinstance(exc.detail, str) else phrase
        return problem_response(AppError(detail, code=code, status=status, title=phrase, headers=headers))

    async def on_connection_lost(_: Request, exc: Exception) -> JSONResponse:
        # An outage, not a bug: one warning line, no traceback.
        log.warning("database unavailable", extra={"error": type(exc).__name__, "detail": str(exc)[:300]})
        return problem_response(DatabaseUnavailable())

    async def on_unexpected(_: Request, exc: Exception) -> JSONResponse:
        log.exception("unhandled error", exc_info=exc)
        return problem_response(
            AppError(
                "An unexpected error occurred; it has been logged.",
                code="internal_error",
                status=500,
                title="Internal server error",
            )
        )

    app.add_exception_handler(AppError, on_app_error)
    app.add_exception_handler(RequestValidationError, on_validation)
    app.add_exception_handler(StarletteHTTPException, on_http)
    # ServerSelectionTimeoutError, AutoReconnect and NetworkTimeout are ConnectionFailures.
    app.add_exception_handler(ConnectionFailure, on_connection_lost)
    app.add_exception_handler(Exception, on_unexpected)
