"""Event ingestion: check each row, store the good ones once, report the rest by index."""

from __future__ import annotations

import datetime as dt
from collections.abc import Sequence
from typing import Any

from bson import ObjectId

from audiences.clock import parse_instant, truncate_ms
from audiences.contacts.fields import FieldProblem, normalise_contact_fields
from audiences.contacts.service import IngestReport, check_batch_size
from audiences.db import Database
from audiences.events.repository import EventRepository
from audiences.ingest_hooks import notify_events_ingested
from audiences.tenancy import TenantScope
from audiences.values import DEFAULT_LIMITS, ValueLimits, id_problem

DUPLICATE_KEY = 11000
MAX_NAME = 256
ALLOWED_KEYS = frozenset({"eventId", "userId", "name", "ts", "properties"})


def _string_field(row: dict[str, Any], key: str, *, required: bool) -> str | None:
    value = row.get(key)
    if value is None:
        if required:
            raise FieldProblem(
                f"{key.lower()}_required" if key != "userId" else "user_id_required",
                key,
                f"`{key}` is required",
            )
        return None
    if not isinstance(value, str) or not value.strip() or len(value) > MAX_NAME:
        raise FieldProblem(
            f"invalid_{key.lower()}",
            key,
            f"`{key}` must be a non-empty string of at most {MAX_NAME} characters",
        )
    problem = id_problem(value)
    if problem is not None:
        raise FieldProblem(f"invalid_{key.lower()}", key, f"`{key}`: {problem}")
    return value.strip()


def _event_document(
    scope: TenantScope, row: dict[str, Any], received_at: dt.datetime, limits: ValueLimits
) -> dict[str, Any]:
    unknown = sorted(set(row) - ALLOWED_KEYS)
    if unknown:
        raise FieldProblem(
            "unknown_field", unknown[0], f"unknown key `{unknown[0]}`; put custom data in `properties`"
        )
    event_id = _string_field(row, "eventId", required=False)
    user_id = _string_field(row, "userId", required=True)
    name = _string_field(row, "name", required=True)
    raw_ts = row.get("ts")
    if raw_ts is None:
        ts = received_at
    elif isinstance(raw_ts, str):
        try:
            ts = parse_instant(raw_ts)
        except ValueError as exc:
            raise FieldProblem("invalid_date", "ts", f"ts is not an ISO-8601 date-time: {raw_ts!r}") from exc
    else:
        raise FieldProblem("invalid_date", "ts", "ts must be an ISO-8601 string")
    properties = row.get("properties") or {}
    if not isinstance(properties, dict):
        raise FieldProblem("invalid_properties", "properties", "properties must be an object")
    # Properties follow the contact rules for names and `*At` dates.
    props = normalise_contact_fields(properties, path="properties", limits=limits) if properties else {}
    return {
        "_id": f"{scope.org_id}:{event_id}" if event_id else str(ObjectId()),
        "eventId": event_id,
        "userId": user_id,
        "name": name,
        "ts": truncate_ms(ts),
        "properties": props,
    }


async def ingest_events(
    *,
    db: Database,
    scope: TenantScope,
    rows: Sequence[Any],
    max_batch: int,
    now: dt.datetime,
    limits: ValueLimits = DEFAULT_LIMITS,
) -> IngestReport:
    check_batch_size(rows, limit=max_batch, what="events")
    report = IngestReport()
    docs: list[dict[str, Any]] = []
    positions: list[int] = []
    seen: set[str] = set()
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            report.rejected.append(
                {
                    "index": index,
                    "code": "invalid_row",
                    "message": "each event must be a JSON object",
                    "path": None,
                }
            )
            continue
        try:
            doc = _event_document(scope, row, now, limits)
        except FieldProblem as problem:
            report.rejected.append(
                {"index": index, "code": problem.code, "message": problem.message, "path": problem.path}
            )
            continue
        if doc["_id"] in seen:  # the same eventId twice in one batch
            report.duplicates += 1
            continue
        seen.add(doc["_id"])
        docs.append(doc)
        positions.append(index)
    summary = await EventRepository(db).insert_many(scope, docs)
    failed: set[int] = set()
    for position, code, message in summary.errors:
        failed.add(position)
        if code == DUPLICATE_KEY:
            report.duplicates += 1
        else:
            report.rejected.append(
                {"index": positions[position], "code": "write_failed", "message": message[:200], "path": None}
            )
    report.accepted = len(docs) - len(failed)
    report.rejected.sort(key=lambda r: int(r["index"]))
    stored = [d for i, d in enumerate(docs) if i not in failed]
    await notify_events_ingested(db=db, scope=scope, events=[scope.stamp(d) for d in stored])
    return report
