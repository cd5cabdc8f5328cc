"""The sweep: time windows that pass without new data (`last_n_days`, `{"$now": ...}`
dates) change membership without any ingest to trigger it, so every time-dependent
definition is re-checked with its kind's production query at one `as_of` instant, and
the differences are logged as transitions.

Run by `POST /api/membership/sweep` (one org), `audiences sweep` (one or every org) and
a periodic task every `AUDIENCES_SWEEP_INTERVAL_S` seconds (every org; 0 turns it off).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import time
from dataclasses import dataclass

from audiences.clock import Clock
from audiences.config import Settings
from audiences.db import Database
from audiences.errors import NotFound
from audiences.membership.adapters import kind_adapter
from audiences.membership.jobs import get_status
from audiences.membership.repository import TriggerRepository
from audiences.membership.service import replace_membership
from audiences.tenancy import system_scope

log = logging.getLogger("audiences.membership.sweep")
_sleep = asyncio.sleep  # tests replace it to run the loop without waiting


@dataclass(frozen=True, slots=True)
class SweepResult:
    audiences: int  # time-dependent audiences re-checked
    entered: int
    left: int
    took_ms: int
    failed: int = 0  # audiences whose re-check failed (details in the log)


async def sweep(
    *,
    db: Database,
    as_of: dt.datetime,
    timeout_ms: int,
    org_id: str | None = None,
    now: dt.datetime | None = None,
) -> SweepResult:
    """Re-check every time-dependent definition of `org_id` (every org when None) at
    `as_of`. Changes are recorded at `now` (default `as_of`). An audience whose recompute
    is pending or running is left to it; one that fails is counted and logged, and the
    others go on."""
    started = time.perf_counter()
    audiences = entered = left = failed = 0
    for trigger in await TriggerRepository(db).time_dependent(org_id=org_id, timeout_ms=timeout_ms):
        scope = system_scope(trigger["orgId"])
        kind, audience_id = trigger["kind"], trigger["audienceId"]
        adapter = kind_adapter(kind)
        if adapter is None:
            continue
        job = await get_status(
            db=db, scope=scope, audience_kind=kind, audience_id=audience_id, timeout_ms=timeout_ms
        )
        if job is not None and job.state in ("pending", "running"):
            continue
        try:
            result = await replace_membership(
                db=db,
                scope=scope,
                audience_kind=kind,
                audience_id=audience_id,
                definition_version=int(trigger["version"]),
                members=adapter.members(
                    db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=timeout_ms
                ),
                at=as_of,
                now=now,
                timeout_ms=timeout_ms,
            )
        except NotFound:
            continue  # deleted meanwhile; `definition_deleted` drops its tracking
        except Exception:
            failed += 1
            log.exception(
                "sweep of an audience failed", extra={"orgId": scope.org_id, "audienceId": audience_id}
            )
            continue
        audiences += 1
        entered += result.entered
        left += result.left
    took_ms = round((time.perf_counter() - started) * 1000)
    return SweepResult(audiences=audiences, entered=entered, left=left, took_ms=took_ms, failed=failed)


async def sweep_forever(*, db: Database, clock: Clock, settings: Settings) -> None:
    """The periodic sweep of every org (an in-process task; see `background`)."""
    interval = settings.sweep_interval_s
    while True:
        await _sleep(interval)
        try:
            result = await sweep(db=db, as_of=clock.now(), timeout_ms=settings.query_timeout_ms)
        except Exception:
            log.exception("membership sweep failed")
            continue
        log.info(
            "membership sweep",
            extra={
                "audiences": result.audiences,
                "entered": result.entered,
                "left": result.left,
                "failed": result.failed,
                "tookMs": result.took_ms,
            },
        )
