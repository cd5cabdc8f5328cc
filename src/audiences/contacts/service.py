"""Contact ingestion: type the rows, find each contact by id or e-mail, upsert in bulk."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from audiences.contacts.errors import ContactNotFound
from audiences.contacts.fields import FieldProblem, normalise_contact_fields
from audiences.contacts.repository import ContactRepository
from audiences.db import Database
from audiences.errors import PayloadTooLarge
from audiences.events.repository import EventRepository
from audiences.ingest_hooks import notify_contacts_changed
from audiences.tenancy import TenantScope
from audiences.values import DEFAULT_LIMITS, ValueLimits, id_problem

MAX_ID_LENGTH = 256


@dataclass(slots=True)
class IngestReport:
    accepted: int = 0
    rejected: list[dict[str, Any]] = field(default_factory=list)
    duplicates: int = 0
    ids: list[str] = field(default_factory=list)


def check_batch_size(rows: Sequence[object], *, limit: int, what: str) -> None:
    if len(rows) > limit:
        raise PayloadTooLarge(
            f"{len(rows)} {what} in one batch; the limit is {limit} (AUDIENCES_MAX_BATCH).",
            code="batch_too_large",
        )


def _reject(report: IngestReport, index: int, code: str, message: str, path: str | None = None) -> None:
    report.rejected.append({"index": index, "code": code, "message": message, "path": path})


async def upsert_contacts(
    *,
    db: Database,
    scope: TenantScope,
    rows: Sequence[Any],
    max_batch: int,
    limits: ValueLimits = DEFAULT_LIMITS,
) -> IngestReport:
    check_batch_size(rows, limit=max_batch, what="contacts")
    report = IngestReport()
    typed: list[tuple[int, str | None, dict[str, Any]]] = []
    for index, row in enumerate(rows):
        if not isinstance(row, dict):
            _reject(report, index, "invalid_row", "each contact must be a JSON object")
            continue
        fields = dict(row)
        raw_id = fields.pop("id", None)
        if raw_id is not None and (not isinstance(raw_id, str | int) or isinstance(raw_id, bool)):
            _reject(report, index, "invalid_id", "id must be a string", "id")
            continue
        contact_id = str(raw_id).strip() if raw_id is not None else None
        if contact_id is not None and not (0 < len(contact_id) <= MAX_ID_LENGTH):
            _reject(report, index, "invalid_id", f"id must be 1..{MAX_ID_LENGTH} characters", "id")
            continue
        bad_id = id_problem(contact_id) if contact_id is not None else None
        if bad_id is not None:
            _reject(report, index, "invalid_id", bad_id, "id")
            continue
        try:
            clean = normalise_contact_fields(fields, limits=limits)
        except FieldProblem as problem:
            _reject(report, index, problem.code, problem.message, problem.path)
            continue
        if contact_id is None and not clean.get("email"):
            _reject(report, index, "id_or_email_required", "a contact needs an `id` or an `email`")
            continue
        typed.append((index, contact_id, clean))

    repo = ContactRepository(db)
    # Rows without an id update the contact that already has that e-mail, else the e-mail
    # becomes the id.
    emails = [f["email"] for _, cid, f in typed if cid is None]
    known = await repo.ids_by_email(scope, emails)
    merged: dict[str, dict[str, Any]] = {}
    for _, cid, fields in typed:
        contact_id = cid or known.get(fields["email"]) or fields["email"]
        merged.setdefault(contact_id, {}).update(fields)
        report.ids.append(contact_id)
    summary = await repo.upsert_many(scope, list(merged.items()))
    failed = {i for i, _, _ in summary.errors}
    if failed:
        keys = list(merged)
        for position in sorted(failed):
            _reject(report, -1, "write_failed", f"contact {keys[position]!r} could not be stored")
    report.accepted = len(typed) - len(failed)
    report.rejected.sort(key=lambda r: int(r["index"]))
    stored = [cid for i, cid in enumerate(merged) if i not in failed]
    # The write reports how many it created, not which: when it created some but not all,
    # every stored contact may be new (listeners treat them so; an extra check is harmless).
    created = frozenset(stored) if summary.upserted else frozenset()
    written = frozenset(name for i, row in enumerate(merged.values()) if i not in failed for name in row)
    await notify_contacts_changed(db=db, scope=scope, contact_ids=stored, fields=written, created=created)
    return report


async def get_contact(*, db: Database, scope: TenantScope, contact_id: str) -> dict[str, Any]:
    doc = await ContactRepository(db).get(scope, contact_id)
    if doc is None:
        raise ContactNotFound(f"No contact {contact_id!r} in this org.")
    return doc


async def delete_contact(*, db: Database, scope: TenantScope, contact_id: str) -> None:
    if not await ContactRepository(db).delete(scope, contact_id):
        raise ContactNotFound(f"No contact {contact_id!r} in this org.")
    await EventRepository(db).delete_for_user(scope, contact_id)
    await notify_contacts_changed(db=db, scope=scope, contact_ids=[contact_id], deleted=True)
