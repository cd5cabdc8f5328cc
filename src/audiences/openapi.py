"""The OpenAPI document tells the truth about errors.

FastAPI documents a 422 on every operation with parameters, and nothing else; this API
never answers 422 (errors.py turns validation failures into 400) and answers
400/401/403/404/409/413/503 as RFC 9457 problem+json. `install_openapi` replaces
`app.openapi` with a builder that post-processes FastAPI's document once:

- every 422 goes;
- each operation gets the problem statuses its route can produce, derived from what the
  route depends on (auth → 400 `orgid_required`/401/403, a path id → 404, a body → 400/413,
  parameters → 400, the database → 503);
- statuses a route declares itself (`responses={409: {"description": ...}}`, for errors
  only its feature knows) keep their description and get the `Problem` content too.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from http import HTTPStatus
from typing import Any

from fastapi import FastAPI
from fastapi.dependencies.models import Dependant

from audiences.auth import current_principal, tenant_scope
from audiences.deps import get_db
from audiences.errors import PROBLEM_JSON
from audiences.routes import Operation, route_table

PROBLEM_REF = "#/components/schemas/Problem"

# What each derived status means for a caller, and a typical code for the example.
_DERIVED: dict[int, tuple[str, str, str]] = {
    400: (
        "The request is invalid: `errors` lists every problem with its JSON path "
        "(`validation_failed`, `malformed_json`, `orgid_required`, or a feature's code).",
        "validation_failed",
        "limit: Input should be less than or equal to 200",
    ),
    401: (
        "No bearer token, or one that is malformed, expired or badly signed "
        "(`missing_token`, `invalid_token`, `token_expired`).",
        "missing_token",
        "Send `Authorization: Bearer <token>`.",
    ),
    403: (
        "The token does not grant this org (`org_forbidden`) or lacks the scope (`insufficient_scope`).",
        "org_forbidden",
        "The token does not grant access to this org.",
    ),
    404: (
        "No such resource in this org (ids of other orgs answer 404 too).",
        "not_found",
        "No segment 'seg_0f3a' in this org.",
    ),
    409: (
        "The request conflicts with the current state.",
        "conflict",
        "'aud-vip' already exists in this org.",
    ),
    413: (
        "The request body exceeds the configured limit (`payload_too_large`).",
        "payload_too_large",
        "The request body exceeds 33554432 bytes.",
    ),
    503: (
        "The database did not answer in time (`query_timeout`: narrow the filter or add an index) "
        "or is unreachable.",
        "query_timeout",
        "The query hit the server-side time limit.",
    ),
}

BEARER_SCHEME = {
    "type": "http",
    "scheme": "bearer",
    "bearerFormat": "JWT",
    "description": "A JWT (`sub`, `exp`, `orgs`, optional `scope`); `audiences token --org ORG` mints one.",
}

PROBLEM_SCHEMA: dict[str, Any] = {
    "title": "Problem",
    "type": "object",
    "description": "An RFC 9457 problem. `code` is stable and snake_case; branch on it, not on `title`.",
    "required": ["type", "title", "status", "detail", "code", "errors"],
    "properties": {
        "type": {"type": "string", "description": "A URI naming the problem type."},
        "title": {"type": "string"},
        "status": {"type": "integer", "minimum": 400, "maximum": 599},
        "detail": {"type": "string"},
        "code": {"type": "string", "pattern": "^[a-z][a-z0-9_]*$"},
        "errors": {
            "type": "array",
            "description": "Every problem found, each located by a JSON path such as `filter.where.$or[1]`.",
            "items": {
                "type": "object",
                "required": ["code", "path", "message"],
                "properties": {
                    "code": {"type": "string"},
                    "path": {"type": "string"},
                    "message": {"type": "string"},
                },
            },
        },
    },
    "additionalProperties": True,
}


def problem_example(status: int, code: str, detail: str, path: str = "") -> dict[str, Any]:
    title = HTTPStatus(status).phrase
    errors = [{"code": code, "path": path, "message": detail}] if path else []
    return {
        "type": f"https://audiences.dev/problems/{code.replace('_', '-')}",
        "title": title,
        "status": status,
        "detail": detail,
        "code": code,
        "errors": errors,
    }


def _problem_response(status: int, description: str | None) -> dict[str, Any]:
    default_description, code, detail = _DERIVED.get(status, (HTTPStatus(status).phrase, "error", ""))
    path = "limit" if status == 400 else ""
    response: dict[str, Any] = {
        "description": description or default_description,
        "content": {
            PROBLEM_JSON: {
                "schema": {"$ref": PROBLEM_REF},
                "example": problem_example(status, code, detail or HTTPStatus(status).phrase, path),
            }
        },
    }
    if status == 401:
        response["headers"] = {
            "WWW-Authenticate": {
                "description": "Always `Bearer` with the realm.",
                "required": True,
                "schema": {"type": "string"},
            }
        }
    if status == 503:
        response["headers"] = {
            "Retry-After": {"description": "Seconds to wait before retrying.", "schema": {"type": "string"}}
        }
    return response


def _calls(dependant: Dependant) -> Iterator[Any]:
    for sub in dependant.dependencies:
        yield sub.call
        yield from _calls(sub)


def _has_query_params(dependant: Dependant) -> bool:
    return bool(dependant.query_params) or any(_has_query_params(sub) for sub in dependant.dependencies)


def _has_path_params(dependant: Dependant) -> bool:
    return bool(dependant.path_params) or any(_has_path_params(sub) for sub in dependant.dependencies)


def derived_problem_statuses(route: Operation) -> set[int]:
    """The problem statuses `route` can answer because of what it depends on."""
    calls = set(_calls(route.dependant))
    statuses: set[int] = set()
    if current_principal in calls:
        statuses.add(401)
    if tenant_scope in calls:
        statuses |= {400, 403}
    if _has_path_params(route.dependant):
        statuses.add(404)
    if route.dependant.body_params:
        statuses |= {400, 413}
    if _has_query_params(route.dependant):
        statuses.add(400)
    if get_db in calls:
        statuses.add(503)
    return statuses


def _operations(document: dict[str, Any], route: Operation) -> Iterator[dict[str, Any]]:
    path_item = document.get("paths", {}).get(route.path, {})
    for method in route.methods:
        operation = path_item.get(method.lower())
        if operation is not None:
            yield operation


def _declare_bearer_auth(operation: dict[str, Any], *, orgid_required: bool) -> None:
    """The bearer token as a security requirement (so /docs has an Authorize button and
    clients know the scheme) instead of a plain `authorization` header parameter; `orgid`
    is required on tenant routes (without it they answer 400 `orgid_required`)."""
    parameters = [
        p
        for p in operation.get("parameters", [])
        if not (p["in"] == "header" and p["name"].lower() == "authorization")
    ]
    for parameter in parameters:
        if orgid_required and parameter["in"] == "header" and parameter["name"] == "orgid":
            parameter["required"] = True
            parameter["schema"] = {"type": "string", "minLength": 1}
            parameter.setdefault("example", "acme")
    if parameters:
        operation["parameters"] = parameters
    else:
        operation.pop("parameters", None)
    operation["security"] = [{"bearerAuth": []}]


def truthful_openapi(app: FastAPI) -> dict[str, Any]:
    document = FastAPI.openapi(app)
    for route in route_table(app):
        if not route.include_in_schema:
            continue
        declared = {int(s) for s in route.responses if str(s).isdigit() and int(s) >= 400}
        calls = set(_calls(route.dependant))
        for operation in _operations(document, route):
            if current_principal in calls:
                _declare_bearer_auth(operation, orgid_required=tenant_scope in calls)
            responses: dict[str, Any] = operation.setdefault("responses", {})
            responses.pop("422", None)
            for status in sorted(derived_problem_statuses(route) | declared):
                own = route.responses.get(status) or route.responses.get(str(status)) or {}
                if "content" in own or "model" in own:
                    continue  # the route documents a body of its own (e.g. /readyz's 503)
                responses[str(status)] = _problem_response(status, own.get("description"))
    components = document.setdefault("components", {})
    components.setdefault("securitySchemes", {})["bearerAuth"] = BEARER_SCHEME
    schemas = components.setdefault("schemas", {})
    schemas["Problem"] = PROBLEM_SCHEMA
    # FastAPI's 422 shapes are left unreferenced: drop them.
    for name in ("HTTPValidationError", "ValidationError"):
        if f'"#/components/schemas/{name}"' not in json.dumps(document):
            schemas.pop(name, None)
    return document


def install_openapi(app: FastAPI) -> None:
    """Serve `truthful_openapi(app)` at /openapi.json (built once, on first use)."""

    document: dict[str, Any] | None = None

    def build() -> dict[str, Any]:
        nonlocal document
        if document is None:
            document = truthful_openapi(app)
        return document

    app.openapi = build  # type: ignore[method-assign]
