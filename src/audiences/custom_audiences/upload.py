"""CSV uploads into file-upload and customer-match audiences, and matching rows later.

An upload is read in chunks of `CHUNK_ROWS` records. Each chunk is parsed and normalised in
a worker thread (CPU work off the event loop), deduplicated against the identities already
in the audience, matched to contacts with one `$in` lookup per identifier kind, and written
as one document of hashed rows plus the new members. Memory is one chunk plus ~8 bytes per
identity already in the audience (`SeenKeys`).

Rows that match nobody stay in their chunk document with their hashed identifiers listed
in `pendingKeys`; `match_ingested_contacts` (an ingest listener) looks the hashes of
changed contacts up there and turns the rows it finds into members.

A stored row is a JSON array laid out as `ROW_LAYOUT` (trailing nulls dropped): the hashed
identifiers `e` (e-mail), `p` (E.164 phone), `x` (external id), then for customer match the
other platform formats (see `HASHED_ROW_FIELDS`).
"""

from __future__ import annotations

import asyncio
import datetime as dt
import json
import secrets
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any

from audiences.config import get_settings
from audiences.custom_audiences.catalog import TYPES
from audiences.custom_audiences.csvfile import ByteSource, CsvUpload
from audiences.custom_audiences.matching import SeenKeys, UploadRow, identity_keys, normalise_row
from audiences.custom_audiences.repository import CustomAudienceRepository
from audiences.db import Database
from audiences.tenancy import TenantScope

CHUNK_ROWS = 1000
INVALID_LISTED = 1000
# Precedence when a row's identifiers point at different contacts.
MATCH_ORDER = ("x", "e", "p")
ROW_LAYOUT = ("e", "p", "x", "pm", "fm", "lm", "fg", "lg", "ct", "z")
# Stored row fields (short, there are millions) → `HashedIdentity` attribute.
HASHED_ROW_FIELDS = {
    "pm": "phone_meta",
    "fm": "first_name_meta",
    "lm": "last_name_meta",
    "fg": "first_name_google",
    "lg": "last_name_google",
    "ct": "country",
    "z": "zip",
}


@dataclass(frozen=True, slots=True)
class PreparedRow:
    """A usable row with its hashed identifiers and what will be stored for it."""

    row: UploadRow
    keys: dict[str, str]
    stored: dict[str, str]
    digest: int


@dataclass(slots=True)
class ParsedChunk:
    rows: list[PreparedRow]
    records: int
    invalid: list[tuple[int, str]]
    dropped: Counter[str]
    done: bool


def stored_row(row: UploadRow, keys: dict[str, str], *, with_platform_hashes: bool) -> dict[str, str]:
    stored = dict(keys)
    if with_platform_hashes:
        hashed = row.hashed()
        for short, attribute in HASHED_ROW_FIELDS.items():
            value = getattr(hashed, attribute)
            if value is not None:
                stored[short] = value
    return stored


def parse_chunk(
    upload: CsvUpload, *, default_region: str | None, platform_hashes: bool, limit: int = CHUNK_ROWS
) -> ParsedChunk:
    """Read, normalise and hash the next `limit` records (CPU work: run it in a thread)."""
    records, done = upload.records(limit)
    chunk = ParsedChunk([], len(records), [], Counter(), done)
    for line, values in records:
        outcome = normalise_row(line, values, default_region=default_region)
        if outcome.row is None:
            chunk.invalid.append((line, outcome.invalid_code or "invalid_row"))
            continue
        keys = outcome.row.keys()
        stored = stored_row(outcome.row, keys, with_platform_hashes=platform_hashes)
        chunk.rows.append(PreparedRow(outcome.row, keys, stored, SeenKeys.digest(row_identity(keys))))
        chunk.dropped.update(outcome.dropped)
    return chunk


@dataclass(slots=True)
class UploadTally:
    upload_id: str
    rows: int = 0
    matched: int = 0
    unmatched: int = 0
    duplicates: int = 0
    invalid: list[dict[str, Any]] = field(default_factory=list)
    invalid_count: int = 0
    dropped: Counter[str] = field(default_factory=Counter)
    members_added: int = 0

    def count_parsed(self, chunk: ParsedChunk) -> None:
        self.rows += chunk.records
        self.invalid_count += len(chunk.invalid)
        room = INVALID_LISTED - len(self.invalid)
        self.invalid += [{"line": line, "code": code} for line, code in chunk.invalid[: max(room, 0)]]
        self.dropped.update(chunk.dropped)


def pack_rows(rows: Sequence[dict[str, str]]) -> str:
    packed = []
    for row in rows:
        values = [row.get(name) for name in ROW_LAYOUT]
        while values and values[-1] is None:
            values.pop()
        packed.append(values)
    return json.dumps(packed, separators=(",", ":"))


def unpack_rows(text: str) -> list[dict[str, str]]:
    return [
        {name: value for name, value in zip(ROW_LAYOUT, values, strict=False) if value is not None}
        for values in json.loads(text)
    ]


def row_identity(row: dict[str, str]) -> str:
    return row.get("e") or row.get("p") or row["x"]


async def match_rows(
    repo: CustomAudienceRepository, scope: TenantScope, rows: Sequence[UploadRow], *, timeout_ms: int
) -> list[str | None]:
    """The contact each row matches (external id, then e-mail, then phone), or None."""
    by_kind = {
        "x": await repo.contact_ids_by(
            scope, "id", [r.external_id for r in rows if r.external_id], timeout_ms=timeout_ms
        ),
        "e": await repo.contact_ids_by(
            scope, "email", [r.email for r in rows if r.email], timeout_ms=timeout_ms
        ),
        "p": await repo.contact_ids_by(
            scope, "phone", [r.phone for r in rows if r.phone], timeout_ms=timeout_ms
        ),
    }
    matched: list[str | None] = []
    for row in rows:
        plain = {"x": row.external_id, "e": row.email, "p": row.phone}
        found = None
        for kind in MATCH_ORDER:
            value = plain[kind]
            if value is not None and value in by_kind[kind]:
                found = by_kind[kind][value]
                break
        matched.append(found)
    return matched


async def _seen_identities(
    repo: CustomAudienceRepository, scope: TenantScope, audience_id: str, *, timeout_ms: int
) -> SeenKeys:
    seen = SeenKeys()
    async for batch in repo.row_batches(scope, audience_id, projection={"rows": 1}, timeout_ms=timeout_ms):
        seen.add_all(SeenKeys.digest(row_identity(row)) for row in unpack_rows(batch["rows"]))
    return seen


async def upload_rows(
    *,
    db: Database,
    scope: TenantScope,
    audience: dict[str, Any],
    source: ByteSource,
    default_region: str | None,
    now: dt.datetime,
    timeout_ms: int,
) -> tuple[UploadTally, CsvUpload]:
    """Read `source` (a binary CSV stream) into `audience`; returns the tally and the header
    mapping. Counters on the audience document are updated at the end."""
    repo = CustomAudienceRepository(db)
    audience_id = str(audience["id"])
    platform_hashes = TYPES[audience["type"]].exports_hashes
    upload = await asyncio.to_thread(CsvUpload.open, source)
    seen = await _seen_identities(repo, scope, audience_id, timeout_ms=timeout_ms)
    seq = await repo.last_row_seq(scope, audience_id, timeout_ms=timeout_ms)
    tally = UploadTally(upload_id="upl_" + secrets.token_hex(6))
    stored = 0
    while True:
        chunk = await asyncio.to_thread(
            parse_chunk, upload, default_region=default_region, platform_hashes=platform_hashes
        )
        tally.count_parsed(chunk)
        fresh: list[PreparedRow] = []
        digests: set[int] = set()
        for prepared in chunk.rows:
            if prepared.digest in digests or prepared.digest in seen:
                tally.duplicates += 1
                continue
            digests.add(prepared.digest)
            fresh.append(prepared)
        if fresh:
            contacts = await match_rows(repo, scope, [p.row for p in fresh], timeout_ms=timeout_ms)
            seq += 1
            pending = sorted(
                {
                    key
                    for p, cid in zip(fresh, contacts, strict=True)
                    if cid is None
                    for key in p.keys.values()
                }
            )
            await repo.insert_rows(
                scope,
                {
                    "_id": f"{scope.org_id}:{audience_id}:{seq:09d}",
                    "audienceId": audience_id,
                    "uploadId": tally.upload_id,
                    "seq": seq,
                    "rows": pack_rows([p.stored for p in fresh]),
                    "matches": {str(i): cid for i, cid in enumerate(contacts) if cid is not None},
                    "pendingKeys": pending,
                    "createdAt": now,
                },
            )
            matched = [cid for cid in contacts if cid is not None]
            tally.matched += len(matched)
            tally.unmatched += len(fresh) - len(matched)
            tally.members_added += await repo.add_members(
                scope, audience_id, matched, source="upload", at=now
            )
            seen.add_all(digests)
            stored += len(fresh)
        if chunk.done:
            break
    await repo.update(
        scope,
        audience_id,
        set_fields={"updatedAt": now, "lastUploadAt": now},
        inc={
            "memberCount": tally.members_added,
            "rowCount": stored,
            "pendingCount": tally.unmatched,
            "uploadCount": 1,
        },
    )
    return tally, upload


def _row_match(row: dict[str, str], owners: dict[str, str]) -> str | None:
    for kind in MATCH_ORDER:
        key = row.get(kind)
        if key is not None and key in owners:
            return owners[key]
    return None


async def _drop_deleted_members(
    repo: CustomAudienceRepository, scope: TenantScope, contact_ids: Sequence[str], *, timeout_ms: int
) -> None:
    memberships = await repo.memberships(scope, contact_ids, timeout_ms=timeout_ms)
    if not memberships:
        return
    members = sorted({str(m["contactId"]) for m in memberships})
    alive = {
        str(c["id"]) for c in await repo.contacts_by_ids(scope, members, fields=(), timeout_ms=timeout_ms)
    }
    gone = [m for m in memberships if m["contactId"] not in alive]
    await repo.delete_members(scope, [m["_id"] for m in gone])
    for audience_id, count in sorted(Counter(str(m["audienceId"]) for m in gone).items()):
        await repo.update(scope, audience_id, set_fields={}, inc={"memberCount": -count})


async def match_ingested_contacts(
    *,
    db: Database,
    scope: TenantScope,
    contact_ids: Sequence[str],
    fields: frozenset[str],
    created: frozenset[str],
    deleted: bool,
) -> None:
    """Ingest listener: rows waiting for these contacts become members; deleted contacts
    leave every custom audience. Batches that add no identifier (no new contact, no e-mail
    or phone written) cost one small query."""
    repo = CustomAudienceRepository(db)
    timeout_ms = get_settings().query_timeout_ms
    if deleted:
        if await repo.any_stored_members(scope, timeout_ms=timeout_ms):
            await _drop_deleted_members(repo, scope, contact_ids, timeout_ms=timeout_ms)
        return
    identifiers_written = bool(fields & {"email", "phone"})
    if not (identifiers_written or created) or not await repo.any_pending_rows(scope, timeout_ms=timeout_ms):
        return
    changed = contact_ids if identifiers_written else sorted(created)
    contacts = await repo.contacts_by_ids(scope, changed, fields=("email", "phone"), timeout_ms=timeout_ms)
    if not contacts:
        return
    owners: dict[str, str] = {}
    for contact in contacts:  # in id order: with shared identifiers the smallest id wins
        email, phone = contact.get("email"), contact.get("phone")
        keys = identity_keys(
            email=email if isinstance(email, str) else None,
            phone=phone if isinstance(phone, str) else None,
            external_id=str(contact["id"]),
        )
        for key in keys.values():
            owners.setdefault(key, str(contact["id"]))
    found: dict[str, list[str]] = {}
    settled_rows: Counter[str] = Counter()
    for batch in await repo.batches_pending(scope, sorted(owners), timeout_ms=timeout_ms):
        rows = unpack_rows(batch["rows"])
        done = {int(i) for i in batch.get("matches", {})}
        matches = {i: cid for i, row in enumerate(rows) if i not in done and (cid := _row_match(row, owners))}
        still_waiting = {
            row[kind]
            for i, row in enumerate(rows)
            if i not in done and i not in matches
            for kind in MATCH_ORDER
            if kind in row
        }
        settled = sorted(set(batch.get("pendingKeys", [])) - still_waiting)
        if not matches and not settled:
            continue
        await repo.mark_rows_matched(scope, batch["_id"], matches=matches, settled_keys=settled)
        found.setdefault(batch["audienceId"], []).extend(matches.values())
        settled_rows[batch["audienceId"]] += len(matches)
    for audience_id, members in sorted(found.items()):
        added = await repo.add_members(scope, audience_id, members, source="ingest", at=None)
        await repo.update(
            scope,
            audience_id,
            set_fields={},
            inc={"memberCount": added, "pendingCount": -settled_rows[audience_id]},
        )
