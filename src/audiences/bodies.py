"""The JSON body guard (pure ASGI): refuses bodies that are not strict JSON or that would
cost far more to parse and validate than their size suggests, before FastAPI parses them.

- `NaN`, `Infinity` and `-Infinity` are not JSON (RFC 8259), though Python's parser takes
  them: 400 `malformed_json`.
- More values in all than `max_elements` (a 7.9 MB array of a million integers): 413
  `too_many_elements`.
- Nesting deeper than the parser can follow (RecursionError): 400 `json_too_deep` (when
  FastAPI's own parse meets it, `errors.install_error_handlers` says the same).
- A lone surrogate (`"\\ud800"`) in any string or key: 400 `invalid_unicode` with its
  path — it could be stored but never sent back as UTF-8. The batch ingestion routes
  (paths ending in `:batch`) check their rows one by one instead, to reject only the bad
  row.

Reading the body here also means a chunked body over the byte limit is refused with 413
by `RequestContextMiddleware` rather than turned into a parse error by FastAPI.

The checks start from the bytes: commas and opening brackets bound the number of values
from above, and `NaN`, `Infinity` or a `\\uD8..` escape must appear literally. Only a
body that fails one of these byte checks is parsed here, so an ordinary body is parsed
once, by FastAPI (a 1.7 MB batch of 10,000 contacts costs a few ms here).
"""

from __future__ import annotations

import json
from typing import Any

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from audiences.errors import AppError, ErrorItem, PayloadTooLarge, json_path, problem_response
from audiences.values import is_valid_unicode

_NO_BODY = frozenset({"GET", "HEAD", "OPTIONS", "DELETE"})
_CONSTANTS = (b"NaN", b"Infinity")
# A surrogate can reach a parsed string only through a `\uD800`-style escape (the bytes
# themselves must be valid UTF-8); valid pairs decode to one character.
_SURROGATE_ESCAPES = (b"\\ud", b"\\uD")


class _NotJson(ValueError):
    pass


def _refuse_constant(name: str) -> Any:
    raise _NotJson(name)


def _is_json(scope: Scope) -> bool:
    for key, value in scope["headers"]:
        if key.lower() == b"content-type":
            media = bytes(value).split(b";", 1)[0].strip().lower()
            return media == b"application/json" or media.endswith(b"+json")
    return True  # FastAPI parses a body without a content type as JSON


def _exceeds(value: Any, *, max_elements: int) -> AppError | None:
    elements = 0
    stack: list[Any] = [value]
    while stack:
        node = stack.pop()
        elements += 1
        if isinstance(node, dict | list):
            if elements + len(node) > max_elements:
                return _too_many(max_elements)
            stack.extend(node.values() if isinstance(node, dict) else node)
    return None


def _lone_surrogate(value: Any) -> AppError | None:
    stack: list[tuple[Any, tuple[str | int, ...]]] = [(value, ())]
    while stack:
        node, path = stack.pop()
        if isinstance(node, str):
            bad = not is_valid_unicode(node)
        elif isinstance(node, dict):
            bad = False
            for key, inner in node.items():
                if not is_valid_unicode(key):
                    bad = True
                    break
                stack.append((inner, (*path, key)))
        else:
            bad = False
            if isinstance(node, list):
                stack.extend((inner, (*path, i)) for i, inner in enumerate(node))
        if bad:
            where = json_path(path)
            message = "text must be valid Unicode (a lone surrogate such as \\ud800 is not)"
            return AppError(
                message, code="invalid_unicode", errors=[ErrorItem("invalid_unicode", where, message)]
            )
    return None


def _too_many(limit: int) -> AppError:
    return PayloadTooLarge(
        f"The JSON body holds more than {limit:,} values (AUDIENCES_MAX_JSON_ELEMENTS).",
        code="too_many_elements",
    )


def too_deep() -> AppError:
    return AppError("The JSON body nests deeper than the parser can follow.", code="json_too_deep")


def json_body_problem(body: bytes, *, max_elements: int, check_unicode: bool = True) -> AppError | None:
    """Why `body` is refused, or None (also when it is malformed: FastAPI reports that)."""
    # Every value but the first follows a comma or an opening bracket; strings holding
    # either only raise the bound.
    bound = body.count(b",") + body.count(b"[") + body.count(b"{") + 1
    constants = any(c in body for c in _CONSTANTS)
    escapes = check_unicode and any(e in body for e in _SURROGATE_ESCAPES)
    if bound <= max_elements and not constants and not escapes:
        return None
    try:
        value = json.loads(body, parse_constant=_refuse_constant)
    except _NotJson as exc:
        return AppError(
            f"`{exc}` is not a JSON number; send finite numbers only.",
            code="malformed_json",
        )
    except RecursionError:
        return too_deep()
    except ValueError:
        return None
    too_large = _exceeds(value, max_elements=max_elements)
    if too_large is not None or not escapes:
        return too_large
    return _lone_surrogate(value)


class JsonBodyGuard:
    """Reads the whole body of requests that carry JSON, checks it with
    `json_body_problem`, and replays it to the app. Streamed uploads (paths ending in
    `/upload`) pass untouched."""

    def __init__(self, app: ASGIApp, *, max_elements: int) -> None:
        self.app = app
        self.max_elements = max_elements

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if (
            scope["type"] != "http"
            or scope["method"] in _NO_BODY
            or str(scope.get("path", "")).endswith("/upload")
            or not _is_json(scope)
        ):
            await self.app(scope, receive, send)
            return
        chunks: list[bytes] = []
        more = True
        while more:
            message = await receive()
            if message["type"] != "http.request":  # the client went away
                await self.app(scope, receive, send)
                return
            chunks.append(message.get("body", b""))
            more = bool(message.get("more_body", False))
        body = b"".join(chunks)
        problem = json_body_problem(
            body,
            max_elements=self.max_elements,
            check_unicode=not str(scope.get("path", "")).endswith(":batch"),
        )
        if problem is not None:
            await problem_response(problem)(scope, receive, send)
            return
        replayed = False

        async def replay() -> Message:
            nonlocal replayed
            if replayed:
                return await receive()
            replayed = True
            return {"type": "http.request", "body": body, "more_body": False}

        await self.app(scope, replay, send)
