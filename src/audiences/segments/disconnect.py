"""Stop work when the HTTP client goes away (estimate-reach is called on every keystroke:
an abandoned count must not keep the database busy)."""

from __future__ import annotations

import asyncio
import contextlib
from collections.abc import Awaitable

from fastapi import Request

from audiences.segments.errors import ClientDisconnected


async def _disconnected(request: Request) -> None:
    # After the body has been read, the next ASGI message is `http.disconnect`; servers
    # deliver it when the client closes the connection (or once the response is sent).
    while (await request.receive())["type"] != "http.disconnect":
        continue


async def run_until_disconnected[T](request: Request, work: Awaitable[T]) -> T:
    """`await work`, cancelled as soon as the client disconnects (→ `ClientDisconnected`).

    On MongoDB the cancelled operation stops waiting at once and the server stops at the
    `maxTimeMS` limit at the latest; mongoeco runs a count without yielding, so there the
    count finishes (within the same limit) before the cancellation takes effect."""
    task = asyncio.ensure_future(work)
    watcher = asyncio.ensure_future(_disconnected(request))
    try:
        await asyncio.wait({task, watcher}, return_when=asyncio.FIRST_COMPLETED)
    finally:
        for pending in (watcher, task) if not task.done() else (watcher,):
            pending.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await pending
    if task.cancelled():
        raise ClientDisconnected("The client disconnected; the query was cancelled.")
    return task.result()
