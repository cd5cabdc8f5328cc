"""Streams the members of any audience as a platform's customer-list CSV.

Identifiers come from the stored contact, which ingestion already normalised (e-mail
trimmed and lower-cased, phone in E.164, country ISO alpha-2); `custom_audiences.hashing`
applies each platform's documented hashing. Contacts with neither e-mail nor phone are
skipped, and so are rows whose platform-identifying columns would be empty (a phone-only
contact in LinkedIn's e-mail-keyed file).
"""

from __future__ import annotations

import csv
import datetime as dt
import io
from collections.abc import AsyncIterator, Iterable
from dataclasses import dataclass

from audiences.contacts.repository import CONTACTS
from audiences.custom_audiences.hashing import (
    PLATFORM_FORMATS,
    PLATFORMS,
    Platform,
    PlatformFormat,
    hash_identity,
)
from audiences.db import Database
from audiences.errors import ErrorItem, ValidationFailed
from audiences.segments.resolve import resolve_audience
from audiences.tenancy import TenantScope

BATCH = 1_000
# Columns that identify a person in each platform's file (LinkedIn matches on e-mail only);
# a row with all of them empty cannot match anyone and is skipped.
IDENTIFYING_COLUMNS: dict[Platform, tuple[int, ...]] = {
    "facebook": (0, 1),
    "google": (0, 1),
    "tiktok": (0, 1),
    "linkedin": (0,),
}
IDENTIFIERS = {"email": 1, "phone": 1, "firstName": 1, "lastName": 1, "country": 1, "zip": 1, "_id": 0}


def parse_platform(value: str) -> Platform:
    for platform in PLATFORMS:
        if value == platform:
            return platform
    raise ValidationFailed(
        [
            ErrorItem(
                "unsupported_platform", "query.platform", f"platform must be one of {', '.join(PLATFORMS)}"
            )
        ]
    )


@dataclass(frozen=True, slots=True)
class Export:
    filename: str
    lines: AsyncIterator[str]


def csv_text(rows: Iterable[tuple[str, ...]]) -> str:
    buffer = io.StringIO()
    csv.writer(buffer, lineterminator="\n").writerows(rows)
    return buffer.getvalue()


def _text(value: object) -> str | None:
    return value.strip() if isinstance(value, str) and value.strip() else None


async def export_audience(
    *, db: Database, scope: TenantScope, audience_id: str, platform: str, as_of: dt.datetime, timeout_ms: int
) -> Export:
    """Resolve first (so a bad id or platform is still a problem+json), then stream."""
    fmt = PLATFORM_FORMATS[parse_platform(platform)]
    audience = await resolve_audience(
        db=db, scope=scope, audience_id=audience_id, as_of=as_of, timeout_ms=timeout_ms
    )
    cursor = db.collection(CONTACTS).find(
        scope.filter(audience.contact_filter),
        projection=IDENTIFIERS,
        sort=[("_id", 1)],
        timeout_ms=timeout_ms,
        batch_size=BATCH,
    )
    return Export(filename=f"{audience_id}-{fmt.platform}.csv", lines=_lines(fmt, cursor))


async def _lines(fmt: PlatformFormat, contacts: AsyncIterator[dict[str, object]]) -> AsyncIterator[str]:
    yield csv_text([fmt.header])
    batch: list[tuple[str, ...]] = []
    async for contact in contacts:
        email, phone = _text(contact.get("email")), _text(contact.get("phone"))
        if not email and not phone:
            continue
        country = _text(contact.get("country"))
        identity = hash_identity(
            email=email,
            phone=phone,
            first_name=_text(contact.get("firstName")),
            last_name=_text(contact.get("lastName")),
            country=country,
            zip_code=_text(contact.get("zip")),
        )
        row = fmt.row(identity)
        if any(row[i] for i in IDENTIFYING_COLUMNS[fmt.platform]):
            batch.append(row)
        if len(batch) >= BATCH:
            yield csv_text(batch)
            batch = []
    if batch:
        yield csv_text(batch)
