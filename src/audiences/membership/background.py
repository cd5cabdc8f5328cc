"""What runs beside request handling for as long as the app is up.

`run_background_workers(app)` wraps the app's lifespan: at startup it fails recomputes a
previous process left unfinished, finishes transitions a crash left unlogged and attaches
trigger evaluation of ingests to the app's clock and settings; then it runs the webhook
delivery worker, a periodic maintenance pass (repair, and purging deliveries past their
retention) and the periodic sweep (every `sweep_interval_s`; 0 = off) as asyncio tasks.
At shutdown those tasks and any running recompute are cancelled.

Set `app.state.background_loops = False` before startup to run the startup recovery only
(tests drive `deliver_due` and `sweep` themselves, so no loop races them).
"""

from __future__ import annotations

import asyncio
import contextlib
import datetime as dt
import logging
from collections.abc import AsyncIterator

from fastapi import FastAPI

from audiences.clock import Clock
from audiences.config import Settings
from audiences.db import Database
from audiences.membership import kinds  # noqa: F401  (registers the audience kinds)
from audiences.membership.jobs import fail_interrupted_jobs
from audiences.membership.recompute import cancel_recomputes
from audiences.membership.service import repair_unlogged_transitions
from audiences.membership.sweep import sweep_forever
from audiences.membership.tracking import attach_tracking, detach_tracking
from audiences.webhooks.delivery import DeliveryWorker
from audiences.webhooks.service import purge_finished_deliveries

log = logging.getLogger("audiences.membership")

MAINTENANCE_INTERVAL_S = 300.0
RECOVERY_TIMEOUT_MS = 60_000


async def maintain(*, db: Database, clock: Clock, timeout_ms: int) -> None:
    """One maintenance pass: finish unlogged transitions, purge old deliveries."""
    await repair_unlogged_transitions(db=db, now=clock.now(), timeout_ms=timeout_ms)
    await purge_finished_deliveries(db=db, now=clock.now())


async def _maintain_forever(db: Database, clock: Clock, timeout_ms: int) -> None:
    while True:
        await asyncio.sleep(MAINTENANCE_INTERVAL_S)
        try:
            await maintain(db=db, clock=clock, timeout_ms=timeout_ms)
        except Exception:
            log.exception("membership maintenance pass failed")


@contextlib.asynccontextmanager
async def run_background_workers(app: FastAPI) -> AsyncIterator[None]:
    db: Database = app.state.db
    settings: Settings = app.state.settings
    clock: Clock = app.state.clock
    timeout_ms = settings.query_timeout_ms
    # Startup recovery answers no request: a short request time limit must not stop the app.
    recovery_ms = max(timeout_ms, RECOVERY_TIMEOUT_MS)
    await fail_interrupted_jobs(db=db, now=clock.now(), timeout_ms=recovery_ms)
    # Whatever is unlogged now was left by a previous process.
    await repair_unlogged_transitions(db=db, now=clock.now(), timeout_ms=recovery_ms, min_age=dt.timedelta(0))
    attach_tracking(db, clock=clock, settings=settings)
    tasks: list[asyncio.Task[None]] = []
    if getattr(app.state, "background_loops", True):
        worker = DeliveryWorker(
            db=db, clock=clock, allow_private=settings.webhook_allow_private, timeout_ms=timeout_ms
        )
        tasks.append(asyncio.create_task(worker.run_forever(), name="webhook-delivery"))
        tasks.append(
            asyncio.create_task(_maintain_forever(db, clock, timeout_ms), name="membership-maintenance")
        )
        if settings.sweep_interval_s > 0:
            tasks.append(
                asyncio.create_task(
                    sweep_forever(db=db, clock=clock, settings=settings), name="membership-sweep"
                )
            )
    try:
        yield
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        await cancel_recomputes()
        detach_tracking(db)
