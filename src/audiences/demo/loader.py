"""Loads the demo tenant through the ingestion services, in batches, reporting progress."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from itertools import islice
from typing import Any

from audiences.clock import SystemClock
from audiences.contacts.service import upsert_contacts
from audiences.db import Database
from audiences.events.service import ingest_events
from audiences.tenancy import system_scope

from .people import DemoShape, generate_contacts, generate_events

BATCH = 2_000


@dataclass(frozen=True, slots=True)
class LoadReport:
    contacts: int
    events: int
    seconds: float

    @property
    def docs_per_second(self) -> float:
        return (self.contacts + self.events) / self.seconds if self.seconds else 0.0


def _batches[T](items: Iterator[T], size: int) -> Iterator[list[T]]:
    while chunk := list(islice(items, size)):
        yield chunk


async def load_demo(
    *,
    db: Database,
    org_id: str,
    shape: DemoShape,
    on_progress: Callable[[str, int], None] = lambda _kind, _n: None,
) -> LoadReport:
    scope = system_scope(org_id)
    started = time.perf_counter()
    ids: list[str] = []
    for chunk in _batches(generate_contacts(shape), BATCH):
        report = await upsert_contacts(db=db, scope=scope, rows=chunk, max_batch=BATCH)
        _raise_on_rejects("contact", report.rejected)
        ids.extend(report.ids)
        on_progress("contacts", len(chunk))
    events = 0
    now = SystemClock().now()
    for chunk in _batches(generate_events(shape, ids), BATCH):
        report = await ingest_events(db=db, scope=scope, rows=chunk, max_batch=BATCH, now=now)
        _raise_on_rejects("event", report.rejected)
        events += report.accepted + report.duplicates
        on_progress("events", len(chunk))
    return LoadReport(contacts=len(ids), events=events, seconds=time.perf_counter() - started)


def _raise_on_rejects(kind: str, rejected: list[dict[str, Any]]) -> None:
    if rejected:
        raise RuntimeError(f"demo {kind} rejected: {rejected[0]}")
