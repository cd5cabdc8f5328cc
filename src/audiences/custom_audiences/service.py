"""Custom audiences: CRUD, uploads, lookalike computation, hashed exports, and resolving a
custom audience id to a contact filter so segment routes accept it.

Importing this module registers the `AudienceSource` (with `segments.resolve`) and the
ingest listener that matches uploaded rows to contacts ingested later.
"""

from __future__ import annotations

import base64
import binascii
import csv
import datetime as dt
import io
import secrets
from collections.abc import AsyncIterator
from typing import Any

from audiences.clock import format_instant
from audiences.contacts.fields import normalise_country
from audiences.custom_audiences.catalog import TYPES, UPLOAD_COLUMNS, CustomType, FieldSpec
from audiences.custom_audiences.csvfile import ByteSource
from audiences.custom_audiences.errors import CustomAudienceNotFound, OperationNotSupported
from audiences.custom_audiences.hashing import PLATFORM_FORMATS, PLATFORMS, HashedIdentity, Platform
from audiences.custom_audiences.lookalike import LookalikeRanker, LookalikeResult
from audiences.custom_audiences.repository import CustomAudienceRepository
from audiences.custom_audiences.upload import (
    HASHED_ROW_FIELDS,
    match_ingested_contacts,
    unpack_rows,
    upload_rows,
)
from audiences.custom_audiences.validate import FIELD_CODES, custom_type_of, validate_create, validate_patch
from audiences.db import Database
from audiences.documents import jsonable
from audiences.errors import ErrorItem, ValidationFailed
from audiences.ingest_hooks import on_contacts_changed
from audiences.segments.resolve import (
    ResolvedAudience,
    SegmentNotFound,
    register_audience_source,
    resolve_audience,
)
from audiences.tenancy import TenantScope

ID_PREFIX = "cus_"
DEFINITION_FIELDS: dict[CustomType, tuple[str, ...]] = {
    "file_upload": (),
    "customer_match": (),
    "lookalike": ("seedAudienceId", "ratio", "country"),
    "retargeting_pixel": ("pixelId", "eventNames", "windowDays"),
}


def new_audience_id() -> str:
    return ID_PREFIX + secrets.token_hex(6)


# --- presentation -----------------------------------------------------------------------


def _field(spec: FieldSpec) -> dict[str, Any]:
    return {"name": spec.name, "type": spec.type, "required": spec.required, "description": spec.description}


def custom_types() -> list[dict[str, Any]]:
    out: list[dict[str, Any]] = []
    for spec in TYPES.values():
        entry: dict[str, Any] = {
            "type": spec.type,
            "title": spec.title,
            "description": spec.description,
            "fields": [_field(f) for f in spec.fields],
            "membership": spec.membership,
            "platforms": [{"platform": p, "syncsAs": spec.syncs_as[p]} for p in PLATFORMS],
        }
        if spec.accepts_upload:
            entry["uploadColumns"] = [_field(f) for f in UPLOAD_COLUMNS]
        if spec.exports_hashes:
            entry["exportPlatforms"] = list(PLATFORMS)
        out.append(entry)
    return out


def public_audience(doc: dict[str, Any]) -> dict[str, Any]:
    spec = TYPES[doc["type"]]
    out: dict[str, Any] = {
        "id": doc["id"],
        "type": doc["type"],
        "name": doc["name"],
        "description": doc.get("description"),
    }
    out.update(doc.get("definition", {}))
    out["membership"] = spec.membership
    out["memberCount"] = int(doc.get("memberCount", 0)) if spec.membership == "stored" else None
    if spec.accepts_upload:
        out["stats"] = {
            "rows": int(doc.get("rowCount", 0)),
            "pending": int(doc.get("pendingCount", 0)),
            "uploads": int(doc.get("uploadCount", 0)),
        }
        if doc.get("lastUploadAt"):
            out["stats"]["lastUploadAt"] = format_instant(doc["lastUploadAt"])
    else:
        out["stats"] = jsonable(doc.get("stats", {}))
    out["createdAt"] = format_instant(doc["createdAt"])
    out["updatedAt"] = format_instant(doc["updatedAt"])
    if doc.get("computedAt"):
        out["computedAt"] = format_instant(doc["computedAt"])
    return out


# --- reading ------------------------------------------------------------------------------


async def get_audience_document(
    *, db: Database, scope: TenantScope, audience_id: str, timeout_ms: int
) -> dict[str, Any]:
    doc = await CustomAudienceRepository(db).get(scope, audience_id, timeout_ms=timeout_ms)
    if doc is None:
        raise CustomAudienceNotFound(f"No custom audience {audience_id!r} in this org.")
    return doc


def _encode_cursor(last_id: str) -> str:
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _decode_cursor(cursor: str) -> str:
    invalid = ValidationFailed(
        [ErrorItem("invalid_cursor", "cursor", "The cursor is not one this API returned.")]
    )
    try:
        last_id = base64.b64decode(cursor + "=" * (-len(cursor) % 4), altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError) as exc:
        raise invalid from exc
    if not last_id.startswith(ID_PREFIX):
        raise invalid
    return last_id


async def list_audiences(
    *, db: Database, scope: TenantScope, kind: str | None, cursor: str | None, limit: int, timeout_ms: int
) -> tuple[list[dict[str, Any]], str | None]:
    if kind is not None:
        custom_type_of({"type": kind})
    after = _decode_cursor(cursor) if cursor else None
    docs = await CustomAudienceRepository(db).page(
        scope, kind=kind, after=after, limit=limit + 1, timeout_ms=timeout_ms
    )
    more = len(docs) > limit
    docs = docs[:limit]
    return [public_audience(d) for d in docs], (_encode_cursor(docs[-1]["id"]) if more else None)


# --- lookalike ----------------------------------------------------------------------------


async def _seed(
    *, db: Database, scope: TenantScope, seed_id: str, self_id: str, as_of: dt.datetime, timeout_ms: int
) -> ResolvedAudience:
    if seed_id == self_id:
        raise ValidationFailed(
            [ErrorItem("seed_is_self", "seedAudienceId", "A lookalike cannot seed itself")]
        )
    try:
        return await resolve_audience(
            db=db, scope=scope, audience_id=seed_id, as_of=as_of, timeout_ms=timeout_ms
        )
    except SegmentNotFound as exc:
        raise ValidationFailed(
            [
                ErrorItem(
                    "seed_audience_not_found",
                    "seedAudienceId",
                    f"No segment or custom audience {seed_id!r} in this org",
                )
            ]
        ) from exc


async def _rank_lookalike(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    definition: dict[str, Any],
    as_of: dt.datetime,
    timeout_ms: int,
) -> LookalikeResult:
    seed = await _seed(
        db=db,
        scope=scope,
        seed_id=definition["seedAudienceId"],
        self_id=audience_id,
        as_of=as_of,
        timeout_ms=timeout_ms,
    )
    ranker = LookalikeRanker(
        CustomAudienceRepository(db),
        scope,
        seed_filter=seed.contact_filter,
        country=definition["country"],
        as_of=as_of,
        timeout_ms=timeout_ms,
    )
    result = await ranker.rank(float(definition["ratio"]))
    if result.seed_size == 0:
        raise ValidationFailed(
            [ErrorItem("seed_audience_empty", "seedAudienceId", "The seed audience has no members")]
        )
    return result


async def _store_lookalike(
    repo: CustomAudienceRepository,
    scope: TenantScope,
    audience_id: str,
    result: LookalikeResult,
    now: dt.datetime,
    timeout_ms: int,
) -> dict[str, Any]:
    # Replace by difference, so readers never see the audience empty halfway through.
    wanted = set(result.member_ids)
    current = {cid async for cid in repo.member_ids(scope, audience_id, timeout_ms=timeout_ms)}
    await repo.remove_members(scope, audience_id, sorted(current - wanted))
    await repo.add_members(scope, audience_id, sorted(wanted - current), source="lookalike", at=now)
    return {
        "memberCount": len(result.member_ids),
        "computedAt": now,
        "stats": {"eligible": result.eligible, "seedSize": result.seed_size},
    }


# --- writing ------------------------------------------------------------------------------


async def create_audience(
    *, db: Database, scope: TenantScope, body: dict[str, Any], now: dt.datetime, timeout_ms: int
) -> dict[str, Any]:
    spec = validate_create(body)
    kind: CustomType = spec.type
    audience_id = new_audience_id()
    definition = spec.model_dump(include=set(DEFINITION_FIELDS[kind]))
    document: dict[str, Any] = {
        "type": kind,
        "name": spec.name,
        "description": spec.description,
        "definition": definition,
        "memberCount": 0,
        "rowCount": 0,
        "pendingCount": 0,
        "uploadCount": 0,
        "stats": {},
        "createdAt": now,
        "updatedAt": now,
    }
    repo = CustomAudienceRepository(db)
    result = None
    if kind == "lookalike":
        result = await _rank_lookalike(
            db=db,
            scope=scope,
            audience_id=audience_id,
            definition=definition,
            as_of=now,
            timeout_ms=timeout_ms,
        )
    await repo.insert(scope, audience_id, document)
    document["id"] = audience_id
    if result is not None:
        computed = await _store_lookalike(repo, scope, audience_id, result, now, timeout_ms)
        await repo.update(scope, audience_id, set_fields=computed)
        document.update(computed)
    return public_audience(document)


async def update_audience(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    body: dict[str, Any],
    now: dt.datetime,
    timeout_ms: int,
) -> dict[str, Any]:
    current = await get_audience_document(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    kind: CustomType = current["type"]
    changes = validate_patch(kind, body).model_dump(exclude_unset=True, exclude={"type"})
    nulls = [name for name, value in changes.items() if value is None and name != "description"]
    if nulls:
        raise ValidationFailed(
            [ErrorItem(FIELD_CODES.get(n, "invalid_value"), n, f"`{n}` cannot be null") for n in nulls]
        )
    set_fields: dict[str, Any] = {"updatedAt": now}
    set_fields.update({k: v for k, v in changes.items() if k in ("name", "description")})
    definition = {**current.get("definition", {})}
    definition.update({k: v for k, v in changes.items() if k in DEFINITION_FIELDS[kind]})
    set_fields["definition"] = definition
    repo = CustomAudienceRepository(db)
    if kind == "lookalike" and definition != current.get("definition"):
        result = await _rank_lookalike(
            db=db,
            scope=scope,
            audience_id=audience_id,
            definition=definition,
            as_of=now,
            timeout_ms=timeout_ms,
        )
        set_fields.update(await _store_lookalike(repo, scope, audience_id, result, now, timeout_ms))
    updated = await repo.update(scope, audience_id, set_fields=set_fields)
    if updated is None:
        raise CustomAudienceNotFound(f"No custom audience {audience_id!r} in this org.")
    return public_audience(updated)


async def refresh_audience(
    *, db: Database, scope: TenantScope, audience_id: str, now: dt.datetime, timeout_ms: int
) -> dict[str, Any]:
    current = await get_audience_document(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    if not TYPES[current["type"]].refreshable:
        raise OperationNotSupported(
            f"A {current['type']} audience has nothing to recompute: "
            + (
                "it is evaluated live at each read."
                if current["type"] == "retargeting_pixel"
                else "upload rows."
            )
        )
    repo = CustomAudienceRepository(db)
    result = await _rank_lookalike(
        db=db,
        scope=scope,
        audience_id=audience_id,
        definition=current["definition"],
        as_of=now,
        timeout_ms=timeout_ms,
    )
    set_fields = {
        "updatedAt": now,
        **await _store_lookalike(repo, scope, audience_id, result, now, timeout_ms),
    }
    updated = await repo.update(scope, audience_id, set_fields=set_fields)
    if updated is None:
        raise CustomAudienceNotFound(f"No custom audience {audience_id!r} in this org.")
    return public_audience(updated)


async def delete_audience(*, db: Database, scope: TenantScope, audience_id: str) -> None:
    if not await CustomAudienceRepository(db).delete(scope, audience_id):
        raise CustomAudienceNotFound(f"No custom audience {audience_id!r} in this org.")


# --- uploads and exports ---------------------------------------------------------------------


def _default_region(value: str | None) -> str | None:
    if value is None or not value.strip():
        return None
    try:
        return normalise_country(value)
    except ValueError as exc:
        raise ValidationFailed(
            [
                ErrorItem(
                    "invalid_default_region", "defaultRegion", "defaultRegion must be an ISO 3166-1 country"
                )
            ]
        ) from exc


async def upload_csv(
    *,
    db: Database,
    scope: TenantScope,
    audience_id: str,
    source: ByteSource,
    default_region: str | None,
    now: dt.datetime,
    timeout_ms: int,
) -> dict[str, Any]:
    region = _default_region(default_region)
    audience = await get_audience_document(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    if not TYPES[audience["type"]].accepts_upload:
        raise OperationNotSupported(
            f"A {audience['type']} audience does not take uploads; use file_upload or customer_match."
        )
    tally, upload = await upload_rows(
        db=db,
        scope=scope,
        audience=audience,
        source=source,
        default_region=region,
        now=now,
        timeout_ms=timeout_ms,
    )
    after = await get_audience_document(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    return {
        "uploadId": tally.upload_id,
        "rows": tally.rows,
        "matched": tally.matched,
        "unmatched": tally.unmatched,
        "duplicates": tally.duplicates,
        "invalid": tally.invalid,
        "invalidCount": tally.invalid_count,
        "fieldErrors": dict(sorted(tally.dropped.items())),
        "columns": upload.columns,
        "ignoredColumns": upload.ignored,
        "delimiter": upload.delimiter,
        "memberCount": int(after.get("memberCount", 0)),
    }


def export_platform(value: str) -> Platform:
    for platform in PLATFORMS:
        if value == platform:
            return platform
    raise ValidationFailed(
        [ErrorItem("unknown_platform", "platform", f"`platform` must be one of {', '.join(PLATFORMS)}")]
    )


def _identity(row: dict[str, str]) -> HashedIdentity:
    values = {attribute: row.get(short) for short, attribute in HASHED_ROW_FIELDS.items()}
    return HashedIdentity(email=row.get("e"), phone=row.get("p"), **values)


async def export_hashed_rows(
    *, db: Database, scope: TenantScope, audience_id: str, platform: str, timeout_ms: int
) -> AsyncIterator[str]:
    """The audience's uploaded rows as `platform`'s hashed customer-list CSV, one chunk of
    rows at a time. Checks run before the first byte, so errors are still problem+json."""
    fmt = PLATFORM_FORMATS[export_platform(platform)]
    audience = await get_audience_document(db=db, scope=scope, audience_id=audience_id, timeout_ms=timeout_ms)
    if not TYPES[audience["type"]].exports_hashes:
        raise OperationNotSupported(
            f"A {audience['type']} audience keeps no platform hashes; "
            "only customer_match audiences export them."
        )
    repo = CustomAudienceRepository(db)

    async def lines() -> AsyncIterator[str]:
        buffer = io.StringIO()
        writer = csv.writer(buffer, lineterminator="\n")
        writer.writerow(fmt.header)
        yield buffer.getvalue()
        async for batch in repo.row_batches(
            scope, audience_id, projection={"rows": 1}, timeout_ms=timeout_ms
        ):
            buffer.seek(0)
            buffer.truncate()
            writer.writerows(fmt.row(_identity(row)) for row in unpack_rows(batch["rows"]))
            yield buffer.getvalue()

    return lines()


# --- usable wherever a segment id is ---------------------------------------------------------


async def contact_filter(
    *, db: Database, scope: TenantScope, audience: dict[str, Any], as_of: dt.datetime, timeout_ms: int
) -> dict[str, Any]:
    """A filter over contacts selecting the audience's members at `as_of`."""
    repo = CustomAudienceRepository(db)
    if TYPES[audience["type"]].membership == "live":
        definition = audience["definition"]
        pixel_id = str(definition["pixelId"])
        # Pixels are often numeric ids; events may carry them as numbers or strings.
        pixel_ids: list[str | int] = [pixel_id, int(pixel_id)] if pixel_id.isdecimal() else [pixel_id]
        ids = await repo.pixel_user_ids(
            scope,
            pixel_ids=pixel_ids,
            event_names=definition["eventNames"],
            since=as_of - dt.timedelta(days=int(definition["windowDays"])),
            until=as_of,
            timeout_ms=timeout_ms,
        )
    else:
        ids = [cid async for cid in repo.member_ids(scope, str(audience["id"]), timeout_ms=timeout_ms)]
    return {"id": {"$in": ids}}


class CustomAudienceSource:
    """Answers `resolve_audience` for `cus_…` ids."""

    async def resolve(
        self, *, db: Database, scope: TenantScope, audience_id: str, as_of: dt.datetime, timeout_ms: int
    ) -> ResolvedAudience | None:
        if not audience_id.startswith(ID_PREFIX):
            return None
        doc = await CustomAudienceRepository(db).get(scope, audience_id, timeout_ms=timeout_ms)
        if doc is None:
            return None
        return ResolvedAudience(
            id=audience_id,
            name=str(doc["name"]),
            kind=str(doc["type"]),
            contact_filter=await contact_filter(
                db=db, scope=scope, audience=doc, as_of=as_of, timeout_ms=timeout_ms
            ),
            definition=public_audience(doc),
        )


register_audience_source(CustomAudienceSource())
on_contacts_changed(match_ingested_contacts)
