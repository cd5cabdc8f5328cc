"""Normalising and hashing customer identifiers the way each ad platform documents it, and the
CSV layout each platform accepts for a hashed customer list.

Reusable outside custom audiences: an ads export of any audience builds a `HashedIdentity`
with `hash_identity(...)` from a contact's stored (already normalised) fields and writes
rows with `PLATFORM_FORMATS[platform]`. Sources for every rule are in
docs/custom-audiences.md ("Hashing"); the short version:

- e-mail, all platforms: trimmed, syntax-checked without DNS (`email-validator`), lower-cased,
  then SHA-256 as lower-case hex.
- phone: parsed with `phonenumbers` to E.164. Google and TikTok hash E.164 *with* the `+`;
  Meta hashes the digits with the country code and *no* `+`.
- names: Meta lower-cases and drops punctuation; Google lower-cases and drops whitespace.
- country and ZIP: Google and LinkedIn want them in clear; Meta hashes them (lower-case
  ISO alpha-2; ZIP lower-case without spaces, US ZIPs cut to 5 digits).
"""

from __future__ import annotations

import hashlib
import unicodedata
from collections.abc import Callable
from dataclasses import dataclass
from typing import Literal

import phonenumbers

from audiences.contacts import fields

Platform = Literal["facebook", "google", "tiktok", "linkedin"]
PLATFORMS: tuple[Platform, ...] = ("facebook", "google", "tiktok", "linkedin")


def sha256_hex(text: str) -> str:
    """Lower-case hex SHA-256 of the UTF-8 bytes (the form every platform expects)."""
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def normalise_email(value: object) -> str:
    """Trimmed, checked with `email_validator.validate_email(check_deliverability=False)` and
    lower-cased — the same function contacts are stored with, so uploads match them.
    Raises ValueError."""
    return fields.normalise_email(value)


def normalise_phone(value: object, *, region: str | None) -> str:
    """E.164 (`+14155550123`); numbers in national format need `region` (ISO alpha-2).

    Parsed with `phonenumbers` like stored contacts are, and stricter in one way: a number
    that is only dialable locally (no area code, such as `12` in Germany) is refused, since
    no platform can match it. Raises ValueError."""
    if not isinstance(value, str | int) or isinstance(value, bool):
        raise ValueError("must be a string")
    try:
        parsed = phonenumbers.parse(str(value), region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if phonenumbers.is_possible_number_with_reason(parsed) != phonenumbers.ValidationResult.IS_POSSIBLE:
        raise ValueError("not a complete phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def email_sha256(email: str) -> str:
    """SHA-256 of an already normalised e-mail (identical for Meta, Google, TikTok, LinkedIn)."""
    return sha256_hex(email)


def phone_sha256(e164: str) -> str:
    """Google / TikTok: SHA-256 of the E.164 number including the leading `+`."""
    return sha256_hex(e164)


def meta_phone_sha256(e164: str) -> str:
    """Meta: SHA-256 of the digits with the country code, no `+`, no leading zeros."""
    return sha256_hex(e164.lstrip("+").lstrip("0"))


def meta_name(value: str) -> str:
    """Meta FN/LN: lower-case, letters and digits only (no punctuation or spaces), UTF-8."""
    text = unicodedata.normalize("NFC", value).lower()
    return "".join(ch for ch in text if unicodedata.category(ch)[0] in "LN")


def google_name(value: str) -> str:
    """Google First/Last Name: lower-case with all whitespace removed."""
    return "".join(unicodedata.normalize("NFC", value).lower().split())


def meta_zip(zip_code: str, country: str | None) -> str:
    """Meta ZIP: lower-case, no spaces or dashes; US ZIPs keep only the first 5 digits."""
    text = "".join(zip_code.lower().split()).replace("-", "")
    return text[:5] if country == "US" else text


@dataclass(frozen=True, slots=True)
class HashedIdentity:
    """One person's identifiers as the platforms want them. Hashes are lower-case hex."""

    email: str | None = None  # SHA-256 of the normalised e-mail
    phone: str | None = None  # SHA-256 of E.164 with `+` (Google, TikTok)
    phone_meta: str | None = None  # SHA-256 of E.164 digits without `+` (Meta)
    first_name_meta: str | None = None
    last_name_meta: str | None = None
    first_name_google: str | None = None
    last_name_google: str | None = None
    country: str | None = None  # ISO 3166-1 alpha-2, clear text (Google and LinkedIn want it so)
    zip: str | None = None  # trimmed, clear text (Google wants it so)


def _hash_or_none(value: str | None, normalise: Callable[[str], str]) -> str | None:
    if not value:
        return None
    normalised = normalise(value)
    return sha256_hex(normalised) if normalised else None


def hash_identity(
    *,
    email: str | None = None,
    phone: str | None = None,
    first_name: str | None = None,
    last_name: str | None = None,
    country: str | None = None,
    zip_code: str | None = None,
) -> HashedIdentity:
    """Hash identifiers that are already normalised: `email` by `normalise_email`, `phone` in
    E.164, `country` ISO alpha-2. Names and ZIP are given as typed."""
    zip_text = zip_code.strip() if zip_code and zip_code.strip() else None
    return HashedIdentity(
        email=email_sha256(email) if email else None,
        phone=phone_sha256(phone) if phone else None,
        phone_meta=meta_phone_sha256(phone) if phone else None,
        first_name_meta=_hash_or_none(first_name, meta_name),
        last_name_meta=_hash_or_none(last_name, meta_name),
        first_name_google=_hash_or_none(first_name, google_name),
        last_name_google=_hash_or_none(last_name, google_name),
        country=country or None,
        zip=zip_text,
    )


@dataclass(frozen=True, slots=True)
class PlatformFormat:
    """A platform's customer-list CSV: its documented header and how a row is filled."""

    platform: Platform
    header: tuple[str, ...]
    row: Callable[[HashedIdentity], tuple[str, ...]]
    source: str


def _text(value: str | None) -> str:
    return value or ""


def _facebook_row(who: HashedIdentity) -> tuple[str, ...]:
    return (
        _text(who.email),
        _text(who.phone_meta),
        _text(who.first_name_meta),
        _text(who.last_name_meta),
        sha256_hex(meta_zip(who.zip, who.country)) if who.zip else "",
        sha256_hex(who.country.lower()) if who.country else "",
    )


def _google_row(who: HashedIdentity) -> tuple[str, ...]:
    return (
        _text(who.email),
        _text(who.phone),
        _text(who.first_name_google),
        _text(who.last_name_google),
        _text(who.country),
        _text(who.zip),
    )


def _tiktok_row(who: HashedIdentity) -> tuple[str, ...]:
    return (_text(who.email), _text(who.phone))


def _linkedin_row(who: HashedIdentity) -> tuple[str, ...]:
    # LinkedIn's contact template also has name, job and company columns; names are not kept
    # in clear text here and LinkedIn takes them only unhashed, so those stay empty.
    return (_text(who.email), "", "", "", "", _text(who.country), "")


PLATFORM_FORMATS: dict[Platform, PlatformFormat] = {
    "facebook": PlatformFormat(
        "facebook",
        ("email", "phone", "fn", "ln", "zip", "country"),
        _facebook_row,
        "https://developers.facebook.com/docs/marketing-api/audiences/guides/custom-audiences",
    ),
    "google": PlatformFormat(
        "google",
        ("Email", "Phone", "First Name", "Last Name", "Country", "Zip"),
        _google_row,
        "https://support.google.com/google-ads/answer/7659867",
    ),
    "tiktok": PlatformFormat(
        "tiktok",
        ("Email_SHA256", "Phone_SHA256"),
        _tiktok_row,
        "https://ads.tiktok.com/help/article/list-of-supported-ids-and-formats-for-a-customer-file",
    ),
    "linkedin": PlatformFormat(
        "linkedin",
        ("email", "firstname", "lastname", "jobtitle", "employeecompany", "country", "googleaid"),
        _linkedin_row,
        "https://www.linkedin.com/help/lms/answer/a1489764",
    ),
}
