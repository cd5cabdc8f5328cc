"""Typing of well-known contact fields: what a stored contact looks like.

Free-form fields are kept as given once `values.check_value` has accepted them (finite
numbers, 64-bit integers, valid Unicode, within the `AUDIENCES_MAX_*` limits). Well-known
ones are checked and normalised so that filters and ad exports can rely on them: e-mail
lower-cased, phone in E.164, country as ISO 3166-1 alpha-2, tags a list of strings, and
every `*At` / `*Date` field (plus `birthDate`) a real date.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Callable
from typing import Any

import phonenumbers
import pycountry
from email_validator import EmailNotValidError, validate_email

from audiences.clock import parse_instant
from audiences.values import DEFAULT_LIMITS, ValueLimits, ValueProblem, check_value

RESERVED = frozenset({"_id", "orgId"})
# A refused field is a refused value: one exception type, one shape of row reject.
FieldProblem = ValueProblem


def is_date_field(name: str) -> bool:
    return (name.endswith(("At", "Date")) and len(name) > 2) or name == "birthDate"


def normalise_email(value: object) -> str:
    """Trimmed, syntax-checked (no DNS), lower-cased as the ad platforms require."""
    if not isinstance(value, str):
        raise ValueError("must be a string")
    try:
        checked = validate_email(value.strip(), check_deliverability=False)
    except EmailNotValidError as exc:
        raise ValueError(str(exc)) from exc
    return checked.normalized.lower()


def normalise_phone(value: object, *, region: str | None = None) -> str:
    """E.164 (`+14155550123`); local formats need `region` (the contact's country)."""
    if not isinstance(value, str | int):
        raise ValueError("must be a string")
    try:
        parsed = phonenumbers.parse(str(value), region)
    except phonenumbers.NumberParseException as exc:
        raise ValueError(str(exc)) from exc
    if not phonenumbers.is_possible_number(parsed):
        raise ValueError("not a possible phone number")
    return phonenumbers.format_number(parsed, phonenumbers.PhoneNumberFormat.E164)


def normalise_country(value: object) -> str:
    """ISO 3166-1 alpha-2, upper case; alpha-3 and exact English names are accepted too."""
    if not isinstance(value, str) or not value.strip():
        raise ValueError("must be an ISO 3166-1 country code")
    text = value.strip()
    found = None
    if len(text) == 2:
        found = pycountry.countries.get(alpha_2=text.upper())
    elif len(text) == 3:
        found = pycountry.countries.get(alpha_3=text.upper())
    if found is None:
        try:
            found = pycountry.countries.lookup(text)
        except LookupError:
            found = None
    if found is None:
        raise ValueError(f"unknown country {text!r}")
    return str(found.alpha_2)


def _date(value: object) -> dt.datetime:
    if isinstance(value, dt.datetime):
        return value
    if not isinstance(value, str):
        raise ValueError("must be an ISO-8601 date string")
    return parse_instant(value)


def _tags(value: object) -> list[str]:
    if isinstance(value, str):
        return [value]
    if not isinstance(value, list) or not all(isinstance(t, str) for t in value):
        raise ValueError("must be a list of strings")
    return list(dict.fromkeys(t.strip() for t in value if t.strip()))


def _string(value: object) -> str:
    if not isinstance(value, str):
        raise ValueError("must be a string")
    return value.strip()


_TYPED: dict[str, tuple[str, Callable[[object], Any]]] = {
    "email": ("invalid_email", normalise_email),
    "country": ("invalid_country", normalise_country),
    "tags": ("invalid_tags", _tags),
    "firstName": ("invalid_string", _string),
    "lastName": ("invalid_string", _string),
    "city": ("invalid_string", _string),
}


def _check_names(value: object, path: str, depth: int, max_depth: int) -> None:
    if depth > max_depth:
        raise FieldProblem("too_deep", path, f"nesting deeper than {max_depth} levels")
    if isinstance(value, dict):
        for key, inner in value.items():
            if not key or key.startswith("$") or "." in key or "\x00" in key:
                raise FieldProblem(
                    "invalid_field_name",
                    f"{path}.{key}",
                    "field names may not be empty, start with $, or contain . or NUL",
                )
            _check_names(inner, f"{path}.{key}", depth + 1, max_depth)
    elif isinstance(value, list):
        for i, inner in enumerate(value):
            _check_names(inner, f"{path}[{i}]", depth + 1, max_depth)


def normalise_contact_fields(
    fields: dict[str, Any], *, path: str = "", limits: ValueLimits = DEFAULT_LIMITS
) -> dict[str, Any]:
    """Return the fields typed for storage, or raise `FieldProblem` for the first bad one."""
    check_value(fields, path=path, limits=limits)
    out: dict[str, Any] = {}
    for name, value in fields.items():
        where = f"{path}.{name}" if path else name
        if name in RESERVED:
            raise FieldProblem("reserved_field", where, f"`{name}` is set by the service")
        _check_names({name: value}, path or "", 0, limits.max_depth)
        if value is None:
            out[name] = None
            continue
        try:
            if name in _TYPED:
                out[name] = _TYPED[name][1](value)
            elif name == "phone":
                out[name] = value  # normalised below, once the country is known
            elif is_date_field(name):
                out[name] = _date(value)
            else:
                out[name] = value
        except ValueError as exc:
            code = _TYPED[name][0] if name in _TYPED else "invalid_date"
            raise FieldProblem(code, where, f"{name} {exc}") from exc
    if out.get("phone") is not None:
        try:
            out["phone"] = normalise_phone(out["phone"], region=out.get("country"))
        except ValueError as exc:
            raise FieldProblem("invalid_phone", f"{path}.phone" if path else "phone", f"phone {exc}") from exc
    return out
