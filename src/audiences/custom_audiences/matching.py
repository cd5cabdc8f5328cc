"""Upload rows: normalising one row, its identity keys, and remembering which were seen.

A row is usable when it has at least one identifier (e-mail, phone, external id) that
normalises. Bad values in a usable row are dropped and counted per column; a row with no
usable identifier is invalid and reported with the first problem's code.

A row's *identity* is its e-mail if it has one, else its phone, else its external id; two
rows with the same identity in one audience are duplicates.
"""

from __future__ import annotations

from array import array
from bisect import bisect_left
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from heapq import merge

from audiences.contacts.fields import normalise_country
from audiences.custom_audiences.hashing import (
    HashedIdentity,
    email_sha256,
    hash_identity,
    normalise_email,
    normalise_phone,
    phone_sha256,
    sha256_hex,
)

MAX_EXTERNAL_ID = 256
MAX_VALUE = 1024

# A file repeats a handful of countries over and over; pycountry lookups are not free.
_country = lru_cache(maxsize=1024)(normalise_country)


@dataclass(frozen=True, slots=True)
class UploadRow:
    line: int
    email: str | None
    phone: str | None  # E.164
    external_id: str | None
    first_name: str | None
    last_name: str | None
    country: str | None  # ISO alpha-2
    zip_code: str | None

    def keys(self) -> dict[str, str]:
        """Hashed identifiers by kind: `e` e-mail, `p` phone (E.164), `x` external id."""
        return identity_keys(email=self.email, phone=self.phone, external_id=self.external_id)

    def hashed(self) -> HashedIdentity:
        return hash_identity(
            email=self.email,
            phone=self.phone,
            first_name=self.first_name,
            last_name=self.last_name,
            country=self.country,
            zip_code=self.zip_code,
        )


def external_id_key(external_id: str) -> str:
    # Prefixed so an external id spelled like an e-mail never collides with that e-mail's hash.
    return sha256_hex("externalId:" + external_id)


def identity_keys(*, email: str | None, phone: str | None, external_id: str | None) -> dict[str, str]:
    keys: dict[str, str] = {}
    if email:
        keys["e"] = email_sha256(email)
    if phone:
        keys["p"] = phone_sha256(phone)
    if external_id:
        keys["x"] = external_id_key(external_id)
    return keys


@dataclass(frozen=True, slots=True)
class RowOutcome:
    row: UploadRow | None
    invalid_code: str | None
    dropped: tuple[str, ...]  # columns whose values were dropped from a usable row


def _clean(value: str | None) -> str | None:
    if value is None:
        return None
    text = value.strip()
    return text or None


def normalise_row(line: int, values: Mapping[str, str], *, default_region: str | None) -> RowOutcome:
    """One CSV record (column field → raw text) as an `UploadRow`, or why it cannot be used."""
    raw = {name: _clean(text) for name, text in values.items()}
    if any(text is not None and ("\ufffd" in text or len(text) > MAX_VALUE) for text in raw.values()):
        return RowOutcome(None, "invalid_encoding" if _has_replacement(raw) else "value_too_long", ())
    problems: list[tuple[str, str]] = []

    country = None
    if raw.get("country"):
        try:
            country = _country(raw["country"])
        except ValueError:
            problems.append(("country", "invalid_country"))

    email = None
    if raw.get("email"):
        try:
            email = normalise_email(raw["email"])
        except ValueError:
            problems.append(("email", "invalid_email"))

    phone = None
    if raw.get("phone"):
        try:
            phone = normalise_phone(raw["phone"], region=country or default_region)
        except ValueError:
            problems.append(("phone", "invalid_phone"))

    external_id = raw.get("externalId")
    if external_id is not None and len(external_id) > MAX_EXTERNAL_ID:
        problems.append(("externalId", "invalid_external_id"))
        external_id = None

    if not (email or phone or external_id):
        identifier_problems = [code for column, code in problems if column != "country"]
        return RowOutcome(None, identifier_problems[0] if identifier_problems else "missing_identifier", ())
    row = UploadRow(
        line=line,
        email=email,
        phone=phone,
        external_id=external_id,
        first_name=raw.get("firstName"),
        last_name=raw.get("lastName"),
        country=country,
        zip_code=raw.get("zip"),
    )
    return RowOutcome(row, None, tuple(column for column, _ in problems))


def _has_replacement(raw: Mapping[str, str | None]) -> bool:
    return any(text is not None and "\ufffd" in text for text in raw.values())


class SeenKeys:
    """The identities already in an audience, at 8 bytes each.

    Keys are the first 64 bits of the identity's SHA-256, kept in a few sorted `array('Q')`
    runs that are merged as they grow (each run at most half the one before), so lookups are
    a handful of bisections and memory stays at ~8 bytes per row (8 MB per million rows)
    instead of a Python set's ~70. Two different identities share a 64-bit prefix with
    probability ~n²/2⁶⁵ (3·10⁻⁸ for a million rows).
    """

    def __init__(self) -> None:
        self._runs: list[array[int]] = []

    @staticmethod
    def digest(identity_hex: str) -> int:
        return int(identity_hex[:16], 16)

    def __contains__(self, digest: int) -> bool:
        for run in self._runs:
            at = bisect_left(run, digest)
            if at < len(run) and run[at] == digest:
                return True
        return False

    def __len__(self) -> int:
        return sum(len(run) for run in self._runs)

    def add_all(self, digests: Iterable[int]) -> None:
        run = array("Q", sorted(set(digests)))
        if not run:
            return
        self._runs.append(run)
        while len(self._runs) > 1 and len(self._runs[-2]) <= 2 * len(self._runs[-1]):
            newer = self._runs.pop()
            older = self._runs.pop()
            self._runs.append(array("Q", merge(older, newer)))
