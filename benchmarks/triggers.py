"""Ingest throughput with 10 and with 1,000 tracked audiences that do not read the ingested
event names or contact fields: the trigger path must cost the same in both (within 20%),
because its cost grows with the affected audiences only.

Everything runs in one process: the app on the embedded backend (mongoeco's in-memory
engine by default, `--engine sqlite` for the on-disk one), driven through its HTTP API
with httpx's ASGI transport. Audiences are registered through
`membership.recompute.definition_changed` with a simple audience kind defined here (a
field equality AND an event in a window), so the benchmark does not depend on the
segments or journeys features; two audiences that DO read the ingested names and fields
are present in both setups, so the trigger path does real work in each.

    python benchmarks/triggers.py                 # about 4 minutes on 2 cores
    python benchmarks/triggers.py --rounds 3 --contacts 1000   # quicker

A third setup with no audiences at all shows what the trigger path costs. Each batch is
sent to every setup back to back, in a rotating order, so load from outside the benchmark
falls on all setups alike; the median round of each setup is reported; the exit status is 1 when the
1,000 and 10 figures differ by more than 20%.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import datetime as dt
import gc
import statistics
import sys
import tempfile
import time
import uuid
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
from fastapi import FastAPI

from audiences import ingest_hooks
from audiences.auth import mint_token
from audiences.clock import FixedClock
from audiences.config import Settings
from audiences.db import Database, open_database
from audiences.main import create_app
from audiences.membership import recompute, tracking
from audiences.membership.adapters import TrackedDefinition, register_kind_adapter
from audiences.membership.model import AudienceKind
from audiences.membership.repository import TRIGGERS
from audiences.tenancy import TenantScope, system_scope

AS_OF = dt.datetime(2026, 4, 24, 12, 0, tzinfo=dt.UTC)
DEFINITIONS = "bench_definitions"
INGESTED_EVENTS = ["page_viewed", "email_opened", "checkout_started"]
INGESTED_FIELDS = ["city", "plan"]


class BenchKind:
    """member ⇔ contact[field] == value AND `event` fired in the last `days` days."""

    kind: AudienceKind = "segment"

    def _tracked(self, doc: dict[str, Any]) -> TrackedDefinition:
        return TrackedDefinition(
            kind=self.kind,
            audience_id=doc["id"],
            name=doc["id"],
            version=int(doc["version"]),
            fields=frozenset({doc["field"]}),
            events=frozenset({doc["event"]}),
            time_dependent=True,
            matches_empty=False,
        )

    async def _doc(
        self, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
    ) -> dict[str, Any]:
        doc = await db.collection(DEFINITIONS).find_one(
            scope.filter({"_id": f"{scope.org_id}:{audience_id}"}), timeout_ms=timeout_ms
        )
        assert doc is not None
        return doc

    async def list_definitions(
        self, *, db: Database, scope: TenantScope, timeout_ms: int
    ) -> list[TrackedDefinition]:
        return [
            self._tracked(d)
            for d in await db.collection(DEFINITIONS).find_list(scope.filter(), timeout_ms=timeout_ms)
        ]

    async def get_definition(
        self, *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
    ) -> TrackedDefinition | None:
        return self._tracked(await self._doc(db, scope, audience_id, timeout_ms))

    async def evaluate_subjects(
        self,
        *,
        db: Database,
        scope: TenantScope,
        audience_id: str,
        subject_ids: Sequence[str],
        as_of: dt.datetime,
        timeout_ms: int,
    ) -> dict[str, bool]:
        doc = await self._doc(db, scope, audience_id, timeout_ms)
        keys = [f"{scope.org_id}:{s}" for s in subject_ids]
        contacts = await db.collection("contacts").find_list(
            scope.filter({"_id": {"$in": keys}, doc["field"]: doc["value"]}),
            projection={"id": 1},
            timeout_ms=timeout_ms,
        )
        since = as_of - dt.timedelta(days=doc["days"])
        events = await db.collection("events").find_list(
            scope.filter({"userId": {"$in": list(subject_ids)}, "name": doc["event"]}),
            projection={"userId": 1, "ts": 1},
            timeout_ms=timeout_ms,
        )
        fired = {e["userId"] for e in events if since <= e["ts"] <= as_of}
        matching = {c["id"] for c in contacts} & fired
        return {s: s in matching for s in subject_ids}

    async def members(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> AsyncIterator[str]:
        doc = await self._doc(db, scope, audience_id, timeout_ms)
        window = {"$gte": as_of - dt.timedelta(days=doc["days"]), "$lte": as_of}
        users = await db.collection("events").distinct(
            "userId", scope.filter({"name": doc["event"], "ts": window}), timeout_ms=timeout_ms
        )
        async for c in db.collection("contacts").find(
            scope.filter({doc["field"]: doc["value"], "id": {"$in": users}}),
            projection={"id": 1},
            timeout_ms=timeout_ms,
        ):
            yield c["id"]


@dataclass(frozen=True)
class Round:
    """Rows per second, and milliseconds spent in the trigger path per 1,000 rows."""

    events: float
    contacts: float
    total: float
    trigger_ms: float


class Setup:
    def __init__(self, audiences: int, args: argparse.Namespace, data_dir: Path, *, hot: bool = True) -> None:
        self.audiences = audiences
        self.hot = hot
        self.label = f"{audiences:>5} unaffected + 2 affected" if hot else "no audiences (reference)"
        self.args = args
        self.settings = Settings(
            mongodb_uri=None,
            embedded_in_memory=args.engine == "memory",
            database=f"bench{audiences}_{uuid.uuid4().hex[:6]}",
            data_dir=data_dir,
            jwt_secret="bench-" + "x" * 40,
            sweep_interval_s=0,
        )
        self.clock = FixedClock(AS_OF)
        self.db = open_database(self.settings)
        self.app: FastAPI = create_app(self.settings, database=self.db, clock=self.clock)
        self.app.state.background_loops = False
        self.rounds: list[Round] = []
        self.batch = 0

    def client(self) -> httpx.AsyncClient:
        token = mint_token(self.settings, orgs=["bench"], ttl=dt.timedelta(hours=2))
        return httpx.AsyncClient(
            transport=httpx.ASGITransport(app=self.app),
            base_url="http://bench",
            headers={"Authorization": f"Bearer {token}", "orgid": "bench"},
            timeout=600,
        )

    async def prepare(self, c: httpx.AsyncClient) -> None:
        scope = system_scope("bench")
        contacts = [
            {"id": f"c{i:05d}", "plan": ["free", "pro"][i % 2], "city": "Leeds", "tier": "gold"}
            for i in range(self.args.contacts)
        ]
        for start in range(0, len(contacts), 5000):
            r = await c.post("/api/crm/contacts:batch", json={"contacts": contacts[start : start + 5000]})
            r.raise_for_status()
        hot: list[dict[str, Any]] = [
            # Two audiences that read what is ingested: real trigger work in both setups.
            {"id": "hot-checkout", "field": "plan", "value": "pro", "event": "checkout_started", "days": 7},
            {"id": "hot-city", "field": "city", "value": "York", "event": "page_viewed", "days": 30},
        ]
        definitions: list[dict[str, Any]] = (hot if self.hot else []) + [
            {
                "id": f"cold-{i:04d}",
                "field": f"attr_{i}",
                "value": "x",
                "event": f"never_ingested_{i}",
                "days": 30,
            }
            for i in range(self.audiences)
        ]
        started = time.perf_counter()
        for d in definitions:
            await self.db.collection(DEFINITIONS).insert_one(
                scope.stamp(d | {"_id": f"bench:{d['id']}", "version": 1})
            )
            await recompute.definition_changed(
                db=self.db,
                scope=scope,
                kind="segment",
                audience_id=d["id"],
                clock=self.clock,
                settings=self.settings,
            )
        await recompute.wait_for_recomputes()
        tracked = await self.db.collection(TRIGGERS).count({"orgId": "bench"})
        print(
            f"  {self.label}: {tracked} trigger documents written in {time.perf_counter() - started:.1f} s",
            flush=True,
        )

    async def events_batch(self, c: httpx.AsyncClient) -> float:
        """Ingest one batch of events; returns the seconds it took."""
        self.batch += 1
        n = self.args.contacts
        events = [
            {
                "eventId": f"b{self.batch}-{i}",
                "userId": f"c{(self.batch * 7919 + i) % n:05d}",
                "name": INGESTED_EVENTS[i % len(INGESTED_EVENTS)],
                "ts": (AS_OF - dt.timedelta(minutes=i)).isoformat(),
            }
            for i in range(self.args.batch_size)
        ]
        started = time.perf_counter()
        r = await c.post("/api/events:batch", json={"events": events})
        took = time.perf_counter() - started
        r.raise_for_status()
        return took

    async def contacts_batch(self, c: httpx.AsyncClient) -> float:
        """Ingest one batch of contact updates; returns the seconds it took."""
        self.batch += 1
        n = self.args.contacts
        updates = [
            {"id": f"c{(self.batch * 104729 + i) % n:05d}", "city": ["Leeds", "York"][(self.batch + i) % 2]}
            for i in range(self.args.batch_size)
        ]
        started = time.perf_counter()
        r = await c.post("/api/crm/contacts:batch", json={"contacts": updates})
        took = time.perf_counter() - started
        r.raise_for_status()
        return took


async def run_round(
    setups: list[Setup], clients: list[httpx.AsyncClient], r: int, *, record: bool = True
) -> None:
    """One round: each batch is sent to every setup back to back (in an order that rotates),
    so load from outside the benchmark falls on all setups alike."""
    args = setups[0].args
    steps = ["events"] * args.event_batches + ["contacts"] * args.contact_batches
    seconds = {i: {"events": 0.0, "contacts": 0.0} for i in range(len(setups))}
    for setup in setups:
        TRIGGER_SECONDS.pop(setup.db, None)
    for k, step in enumerate(steps):
        for j in range(len(setups)):
            i = (r + k + j) % len(setups)
            send = setups[i].events_batch if step == "events" else setups[i].contacts_batch
            seconds[i][step] += await send(clients[i])
    if not record:
        return
    events_rows = args.event_batches * args.batch_size
    contacts_rows = args.contact_batches * args.batch_size
    for i, setup in enumerate(setups):
        spent = seconds[i]
        setup.rounds.append(
            Round(
                events=events_rows / spent["events"],
                contacts=contacts_rows / spent["contacts"],
                total=(events_rows + contacts_rows) / (spent["events"] + spent["contacts"]),
                trigger_ms=TRIGGER_SECONDS.pop(setup.db, 0.0) * 1000 / (events_rows + contacts_rows) * 1000,
            )
        )


# Time spent in the membership ingest listeners (the trigger path), per database.
TRIGGER_SECONDS: dict[Database, float] = {}


def time_trigger_path() -> None:
    """Wrap tracking's ingest listeners to add up the time they take, per database."""

    async def contacts(*, db: Database, scope: TenantScope, contact_ids: Sequence[str], **kw: Any) -> None:
        started = time.perf_counter()
        await tracking.track_contacts_changed(db=db, scope=scope, contact_ids=contact_ids, **kw)
        TRIGGER_SECONDS[db] = TRIGGER_SECONDS.get(db, 0.0) + time.perf_counter() - started

    async def events(*, db: Database, scope: TenantScope, events: Sequence[dict[str, Any]]) -> None:
        started = time.perf_counter()
        await tracking.track_events_ingested(db=db, scope=scope, events=events)
        TRIGGER_SECONDS[db] = TRIGGER_SECONDS.get(db, 0.0) + time.perf_counter() - started

    ingest_hooks._contacts[ingest_hooks._contacts.index(tracking.track_contacts_changed)] = contacts
    ingest_hooks._events[ingest_hooks._events.index(tracking.track_events_ingested)] = events


async def main(args: argparse.Namespace) -> int:
    register_kind_adapter(BenchKind())
    time_trigger_path()
    print(
        f"engine={args.engine} contacts={args.contacts} per round: {args.event_batches} event batches + "
        f"{args.contact_batches} contact batches of {args.batch_size} rows; {args.rounds} rounds",
        flush=True,
    )
    with tempfile.TemporaryDirectory() as tmp:
        setups = [
            Setup(0, args, Path(tmp), hot=False),
            Setup(10, args, Path(tmp)),
            Setup(1000, args, Path(tmp)),
        ]
        async with contextlib.AsyncExitStack() as stack:
            for setup in setups:
                await stack.enter_async_context(setup.app.router.lifespan_context(setup.app))
            clients = [await stack.enter_async_context(s.client()) for s in setups]
            for setup, c in zip(setups, clients, strict=True):
                await setup.prepare(c)
            await run_round(setups, clients, 0, record=False)  # warm-up
            for r in range(args.rounds):
                gc.collect()  # every round starts from the same collector state
                await run_round(setups, clients, r)
        for setup in setups:
            await setup.db.close()
    print("medians                        rows/s: events  contact updates      all   trigger ms/1,000 rows")
    medians = []
    for setup in setups:
        m = Round(
            *(
                statistics.median(getattr(x, k) for x in setup.rounds)
                for k in ("events", "contacts", "total", "trigger_ms")
            )
        )
        medians.append(m)
        print(
            f"  {setup.label:<28} {m.events:14,.0f} {m.contacts:16,.0f} {m.total:8,.0f} {m.trigger_ms:17,.0f}"
        )
        print("    rounds, all rows/s: " + ", ".join(f"{x.total:,.0f}" for x in setup.rounds))
    few, many = medians[1], medians[2]
    ratio = many.total / few.total
    within = abs(1 - ratio) <= 0.20
    print(
        f"1,000 / 10 unaffected audiences: all rows {ratio:.3f} "
        f"({'within' if within else 'NOT within'} 20%); events {many.events / few.events:.3f}; "
        f"contact updates {many.contacts / few.contacts:.3f}; "
        f"trigger path time {many.trigger_ms / few.trigger_ms:.3f}"
    )
    return 0 if within else 1


def parse_args(argv: list[str]) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--engine", choices=["memory", "sqlite"], default="memory")
    p.add_argument("--contacts", type=int, default=2000)
    p.add_argument("--batch-size", type=int, default=500)
    p.add_argument("--event-batches", type=int, default=4)
    p.add_argument("--contact-batches", type=int, default=2)
    p.add_argument("--rounds", type=int, default=7)
    return p.parse_args(argv)


if __name__ == "__main__":
    sys.exit(asyncio.run(main(parse_args(sys.argv[1:]))))
