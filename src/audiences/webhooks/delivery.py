"""Sending deliveries: one `deliver_due` pass, and the background worker that repeats it.

`deliver_due(now=…)` takes the due pending deliveries of every org, claims each (so two
workers never send the same try), POSTs it signed, and records the outcome: 2xx →
`delivered`; anything else (other status, timeout after 5 s, connection failure) →
retried after an exponential backoff with jitter, until the 24 h window since the
delivery was stored has passed, then `failed`. Time and randomness are parameters, so
tests drive it without sleeping; the worker only calls it in a loop.

The slots of a pass are shared between orgs: each org with due deliveries gets an equal
share first, and only the slots left over go to the earliest due of any org, so one org's
backlog cannot hold back another's deliveries.
"""

from __future__ import annotations

import asyncio
import datetime as dt
import logging
import random
import time
import uuid
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

import httpx

from audiences import __version__
from audiences.clock import Clock, as_utc, truncate_ms
from audiences.db import Database
from audiences.tenancy import system_scope
from audiences.webhooks.egress import GuardedTransport, Resolver, resolve_host
from audiences.webhooks.repository import DeliveryRepository, WebhookRepository
from audiences.webhooks.signing import DELIVERY_HEADER, SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

log = logging.getLogger("audiences.webhooks")

DELIVERY_TIMEOUT_S = 5.0
HISTORY_LIMIT = 20
MAX_ERROR_LENGTH = 300


@dataclass(frozen=True, slots=True)
class RetryPolicy:
    """Delay before try n+1 after n failed tries: `min(cap, base * factor**(n-1))`, scaled
    by a random factor in [1 - jitter, 1 + jitter]; no try is scheduled past `window`."""

    base: dt.timedelta = dt.timedelta(seconds=30)
    factor: float = 2.0
    cap: dt.timedelta = dt.timedelta(hours=1)
    jitter: float = 0.25
    window: dt.timedelta = dt.timedelta(hours=24)
    # How long a claimed delivery stays hidden from other workers (> the 5 s timeout).
    lease: dt.timedelta = dt.timedelta(seconds=60)

    def delay(self, failed_tries: int, rand: float) -> dt.timedelta:
        exponential = self.base * self.factor ** max(failed_tries - 1, 0)
        return min(self.cap, exponential) * (1 - self.jitter + 2 * self.jitter * rand)


DEFAULT_POLICY = RetryPolicy()


@dataclass(slots=True)
class DeliveryRun:
    """What one `deliver_due` pass did."""

    attempted: int = 0
    delivered: int = 0
    retrying: int = 0
    failed: int = 0
    ids: list[str] = field(default_factory=list)


def build_delivery_client(
    *, allow_private: bool, resolve: Resolver = resolve_host, timeout_s: float = DELIVERY_TIMEOUT_S
) -> httpx.AsyncClient:
    """The HTTP client deliveries use: address policy enforced at connect time, no
    redirects followed, no proxy settings taken from the environment."""
    return httpx.AsyncClient(
        transport=GuardedTransport(allow_private=allow_private, resolve=resolve),
        timeout=timeout_s,
        follow_redirects=False,
        trust_env=False,
        headers={"User-Agent": f"audiences-webhooks/{__version__}"},
    )


async def _send(
    client: httpx.AsyncClient, url: str, body: bytes, headers: dict[str, str], timeout_s: float
) -> tuple[int | None, str | None]:
    """(status, error) of one POST; the response body is never read."""
    try:
        async with asyncio.timeout(timeout_s):
            async with client.stream("POST", url, content=body, headers=headers) as response:
                status = response.status_code
    except (TimeoutError, httpx.TimeoutException):
        return None, f"timed out after {timeout_s:g} s"
    except httpx.HTTPError as exc:
        return None, f"{type(exc).__name__}: {exc}"[:MAX_ERROR_LENGTH]
    if 200 <= status < 300:
        return status, None
    return status, f"HTTP {status}"


async def _attempt(
    *,
    repo: DeliveryRepository,
    doc: dict[str, Any],
    hook: dict[str, Any] | None,
    claim: str,
    now: dt.datetime,
    client: httpx.AsyncClient,
    policy: RetryPolicy,
    rand: Callable[[], float],
    timeout_s: float,
) -> str:
    """One try of one claimed delivery; returns its new state."""
    started = time.perf_counter()
    status: int | None
    error: str | None
    if hook is None:
        status, error = None, "the webhook was deleted"
    else:
        body = doc["body"].encode()
        timestamp = int(now.timestamp())
        headers = {
            "Content-Type": "application/json",
            DELIVERY_HEADER: doc["_id"],
            TIMESTAMP_HEADER: str(timestamp),
            SIGNATURE_HEADER: sign(hook["secret"], timestamp, body),
        }
        status, error = await _send(client, hook["url"], body, headers, timeout_s)
    tries = int(doc.get("attempts", 0)) + 1
    entry = {
        "at": now,
        "status": status,
        "error": error,
        "durationMs": round((time.perf_counter() - started) * 1000),
    }
    changes: dict[str, Any] = {
        "attempts": tries,
        "lastAttemptAt": now,
        "lastStatus": status,
        "lastError": error,
        "history": [*doc.get("history", []), entry][-HISTORY_LIMIT:],
    }
    expires = as_utc(doc["expiresAt"])
    if error is None:
        changes |= {"state": "delivered", "deliveredAt": now, "finishedAt": now, "nextAttemptAt": None}
    elif hook is None or now >= expires:
        changes |= {"state": "failed", "finishedAt": now, "nextAttemptAt": None}
    else:
        retry_at = min(now + policy.delay(tries, rand()), expires)
        changes |= {"state": "pending", "nextAttemptAt": truncate_ms(retry_at)}
    await repo.record_attempt(doc, claim=claim, changes=changes)
    return str(changes["state"])


async def deliver_due(
    *,
    db: Database,
    now: dt.datetime,
    client: httpx.AsyncClient,
    timeout_ms: int,
    policy: RetryPolicy = DEFAULT_POLICY,
    rand: Callable[[], float] = random.random,
    limit: int = 100,
    concurrency: int = 10,
    timeout_s: float = DELIVERY_TIMEOUT_S,
) -> DeliveryRun:
    """Try every delivery due at `now` (up to `limit`), at most `concurrency` at once."""
    now = truncate_ms(as_utc(now))
    deliveries = DeliveryRepository(db)
    claim = uuid.uuid4().hex
    claimed = [
        doc
        for doc in await _due_fairly(deliveries, now=now, limit=limit, timeout_ms=timeout_ms)
        if await deliveries.claim(doc, claim=claim, until=truncate_ms(now + policy.lease))
    ]
    hooks: dict[tuple[str, str], dict[str, Any]] = {}
    for org_id in {d["orgId"] for d in claimed}:
        wanted = sorted({d["webhookId"] for d in claimed if d["orgId"] == org_id})
        for hook in await WebhookRepository(db).get_many(system_scope(org_id), wanted, timeout_ms=timeout_ms):
            hooks[(org_id, hook["_id"])] = hook
    gate = asyncio.Semaphore(concurrency)

    async def one(doc: dict[str, Any]) -> str:
        async with gate:
            return await _attempt(
                repo=deliveries,
                doc=doc,
                hook=hooks.get((doc["orgId"], doc["webhookId"])),
                claim=claim,
                now=now,
                client=client,
                policy=policy,
                rand=rand,
                timeout_s=timeout_s,
            )

    run = DeliveryRun(attempted=len(claimed), ids=[d["_id"] for d in claimed])
    for state in await asyncio.gather(*(one(d) for d in claimed)):
        match state:
            case "delivered":
                run.delivered += 1
            case "failed":
                run.failed += 1
            case _:
                run.retrying += 1
    return run


async def _due_fairly(
    deliveries: DeliveryRepository, *, now: dt.datetime, limit: int, timeout_ms: int
) -> list[dict[str, Any]]:
    """Up to `limit` due deliveries: an equal share per org, then the earliest of any org."""
    orgs = await deliveries.due_orgs(now=now, timeout_ms=timeout_ms)
    if len(orgs) > limit:
        # More orgs than slots: start at an offset that moves every second, so each org
        # comes first in turn.
        start = int(now.timestamp()) % len(orgs)
        orgs = (orgs[start:] + orgs[:start])[:limit]
    share = max(1, limit // max(1, len(orgs)))
    chosen: dict[str, dict[str, Any]] = {}
    for org_id in orgs:
        for doc in await deliveries.due_for_org(
            system_scope(org_id), now=now, limit=share, timeout_ms=timeout_ms
        ):
            chosen[doc["_id"]] = doc
    if len(chosen) < limit:
        for doc in await deliveries.due(now=now, limit=limit, timeout_ms=timeout_ms):
            if len(chosen) >= limit:
                break
            chosen.setdefault(doc["_id"], doc)
    return sorted(chosen.values(), key=lambda d: (d["nextAttemptAt"], d["_id"]))[:limit]


_wakeups: weakref.WeakKeyDictionary[Database, asyncio.Event] = weakref.WeakKeyDictionary()


def wake_delivery_worker(db: Database) -> None:
    """Tell the worker serving `db` (if one runs) that new deliveries are waiting."""
    event = _wakeups.get(db)
    if event is not None:
        event.set()


class DeliveryWorker:
    """Calls `deliver_due` in a loop beside request handling (every wait in it is
    non-blocking I/O, so a slow receiver never holds up a request). Between passes it
    sleeps until the earliest pending delivery is due, at most `idle_s`, and wakes at
    once when new deliveries are queued."""

    def __init__(
        self,
        *,
        db: Database,
        clock: Clock,
        allow_private: bool,
        timeout_ms: int,
        idle_s: float = 30.0,
        min_wait_s: float = 0.5,
        batch: int = 100,
    ) -> None:
        self._db = db
        self._clock = clock
        self._allow_private = allow_private
        self._timeout_ms = timeout_ms
        self._idle_s = idle_s
        self._min_wait_s = min_wait_s
        self._batch = batch

    async def _pass(self, client: httpx.AsyncClient) -> float:
        """One delivery pass; returns how long to wait before the next."""
        run = await deliver_due(
            db=self._db, now=self._clock.now(), client=client, timeout_ms=self._timeout_ms, limit=self._batch
        )
        if run.attempted >= self._batch:
            return 0.0
        due = await DeliveryRepository(self._db).next_due_at(timeout_ms=self._timeout_ms)
        if due is None:
            return self._idle_s
        wait = (as_utc(due) - self._clock.now()).total_seconds()
        return min(max(wait, self._min_wait_s), self._idle_s)

    async def run_forever(self) -> None:
        wake = asyncio.Event()
        _wakeups[self._db] = wake
        try:
            async with build_delivery_client(allow_private=self._allow_private) as client:
                while True:
                    wake.clear()
                    try:
                        wait = await self._pass(client)
                    except Exception:
                        log.exception("webhook delivery pass failed")
                        wait = self._idle_s
                    if wait <= 0:
                        continue
                    try:
                        async with asyncio.timeout(wait):
                            await wake.wait()
                    except TimeoutError:
                        pass
        finally:
            if _wakeups.get(self._db) is wake:
                del _wakeups[self._db]
