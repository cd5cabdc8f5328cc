"""The route table: every API route as served, with included routers flattened.

The OpenAPI post-processing, the `Allow` header of 405 answers and the generated
cross-tenant test all walk it, so a new route is covered everywhere at once.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

import fastapi.routing
from fastapi import FastAPI
from fastapi.dependencies.models import Dependant
from fastapi.routing import APIRoute
from starlette.routing import compile_path


@dataclass(frozen=True, slots=True)
class Operation:
    """One API route as served: its full path, methods and what it depends on."""

    path: str
    methods: frozenset[str]
    name: str
    path_regex: re.Pattern[str] = field(repr=False)
    dependant: Dependant = field(repr=False)
    responses: dict[int | str, dict[str, Any]] = field(repr=False)
    include_in_schema: bool = True


def route_table(app: FastAPI) -> list[Operation]:
    """Every API route of `app`, with included routers flattened (newer FastAPI keeps them
    nested in `app.routes`; `iter_route_contexts` resolves their prefixes)."""
    iter_contexts = getattr(fastapi.routing, "iter_route_contexts", None)
    entries: list[Any] = list(iter_contexts(app.routes)) if iter_contexts else list(app.routes)
    table: list[Operation] = []
    for entry in entries:
        if not isinstance(getattr(entry, "original_route", entry), APIRoute):
            continue
        table.append(
            Operation(
                path=entry.path_format,
                methods=frozenset(entry.methods or ()),
                name=entry.name,
                path_regex=compile_path(entry.path_format)[0],
                dependant=entry.dependant,
                responses=dict(entry.responses or {}),
                include_in_schema=bool(entry.include_in_schema),
            )
        )
    return table


def allowed_methods(app: FastAPI, path: str) -> list[str]:
    """The methods of the resource at `path`, for `Allow` (Starlette's 405 names only the
    first route that matched the path, so it missed e.g. DELETE beside GET)."""
    table: list[Operation] | None = getattr(app.state, "route_table", None)
    if table is None:
        table = route_table(app)
        app.state.route_table = table
    matching = [op for op in table if op.path_regex.match(path)]
    if not matching:
        return []
    # `/api/audiences/validate` also matches `/api/audiences/{audience_id}`: the template
    # with the fewest parameters is the resource the path names.
    best = min(op.path.count("{") for op in matching)
    return sorted({m for op in matching if op.path.count("{") == best for m in op.methods})
