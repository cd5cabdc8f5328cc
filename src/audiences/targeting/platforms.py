"""What each ad platform lets an audience be targeted by, as its API documents it.

Only values a platform publishes in its API reference are listed (age buckets, gender
codes, device enums...). Values a platform keys by its own ids (Meta interest ids, Google
geo target constants, LinkedIn geo URNs) are not copied here: each facet names the API
field, the documented lookup that resolves a name or code to the platform's id, and the
service fills the facet from the shipped reference data (locations, languages, the IAB
taxonomy). Sources are listed per facet and in docs/targeting.md.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

from audiences.targeting.locations import LocationType


class Platform(StrEnum):
    FACEBOOK = "facebook"
    GOOGLE = "google"
    TIKTOK = "tiktok"
    LINKEDIN = "linkedin"


@dataclass(frozen=True, slots=True)
class Source:
    title: str
    url: str


@dataclass(frozen=True, slots=True)
class Choice:
    """One documented value: `value` is exactly what the platform's API takes."""

    value: str | int
    name: str
    min_age: int | None = None
    max_age: int | None = None  # None: open-ended ("65+")
    criterion_id: int | None = None  # Google Ads criterion id of the value


@dataclass(frozen=True, slots=True)
class LocationKind:
    type: LocationType
    field: str
    value_format: str


@dataclass(frozen=True, slots=True)
class Facet:
    """One dimension of a platform's targeting (age, gender, locations...)."""

    key: str
    name: str
    field: str
    sources: tuple[Source, ...]
    choices: tuple[Choice, ...] = ()
    min_age: int | None = None  # free age range (Meta): bounds the API accepts
    max_age: int | None = None
    value_format: str | None = None
    lookup: str | None = None  # the documented call that resolves a name or code to an id
    location_kinds: tuple[LocationKind, ...] = ()


@dataclass(frozen=True, slots=True)
class PlatformProfile:
    platform: Platform
    name: str
    api: str
    facets: tuple[Facet, ...]

    def facet(self, key: str) -> Facet:
        return next(f for f in self.facets if f.key == key)


# Facet keys the service fills from shipped data.
AGE, GENDER, LOCATIONS, LANGUAGES, INTERESTS = "age", "gender", "locations", "languages", "interests"
DEVICES, OPERATING_SYSTEMS = "devices", "operatingSystems"

_META_BASIC = Source(
    "Meta Marketing API: Basic targeting",
    "https://developers.facebook.com/docs/marketing-api/audiences/reference/basic-targeting",
)
_META_RESTRICTIONS = Source(
    "Meta Marketing API: Targeting restrictions",
    "https://developers.facebook.com/docs/marketing-api/audiences/reference/targeting-restrictions",
)
_META_SEARCH = Source(
    "Meta Marketing API: Targeting search",
    "https://developers.facebook.com/docs/marketing-api/audiences/reference/targeting-search",
)
_META_TARGETING = Source(
    "Meta Graph API reference: Targeting",
    "https://developers.facebook.com/docs/graph-api/reference/targeting",
)
_META_ADVANCED = Source(
    "Meta Marketing API: Advanced targeting and placement",
    "https://developers.facebook.com/docs/marketing-api/audiences/reference/advanced-targeting",
)

FACEBOOK = PlatformProfile(
    platform=Platform.FACEBOOK,
    name="Meta (Facebook, Instagram)",
    api="Meta Marketing API, ad set `targeting` spec",
    facets=(
        Facet(
            AGE,
            "Age",
            "targeting.age_min, targeting.age_max",
            (_META_RESTRICTIONS, _META_BASIC),
            min_age=13,
            max_age=65,
            value_format="Whole years; age_max 65 means 65 and older.",
        ),
        Facet(
            GENDER,
            "Gender",
            "targeting.genders",
            (_META_BASIC,),
            choices=(Choice(1, "Male"), Choice(2, "Female")),
            value_format="Omit the field to target all genders.",
        ),
        Facet(
            LOCATIONS,
            "Locations",
            "targeting.geo_locations",
            (_META_SEARCH, _META_BASIC),
            lookup='GET /search?type=adgeolocation&location_types=["region"|"city"]&q=<name>',
            location_kinds=(
                LocationKind(LocationType.COUNTRY, "geo_locations.countries", "ISO 3166-1 alpha-2 code (DE)"),
                LocationKind(
                    LocationType.REGION, "geo_locations.regions", "Meta region key (lookup by name)"
                ),
                LocationKind(LocationType.CITY, "geo_locations.cities", "Meta city key (lookup by name)"),
                LocationKind(LocationType.ZIP, "geo_locations.zips", "US:<zip> (platformKeys.facebook)"),
            ),
        ),
        Facet(
            LANGUAGES,
            "Languages",
            "targeting.locales",
            (_META_SEARCH,),
            lookup="GET /search?type=adlocale&q=<language name>",
            value_format="Meta locale key (lookup by language name)",
        ),
        Facet(
            INTERESTS,
            "Interests",
            "targeting.flexible_spec[].interests",
            (_META_SEARCH,),
            lookup="GET /search?type=adinterest&q=<interest name>",
            value_format="Meta interest id (lookup by the IAB category name)",
        ),
        Facet(
            DEVICES,
            "Devices",
            "targeting.device_platforms",
            (_META_TARGETING,),
            choices=(
                Choice("mobile", "Mobile"),
                Choice("desktop", "Desktop"),
                Choice("connected_tv", "Connected TV"),
            ),
        ),
        Facet(
            OPERATING_SYSTEMS,
            "Operating systems",
            "targeting.user_os",
            (_META_ADVANCED,),
            choices=(Choice("iOS", "iOS"), Choice("Android", "Android")),
        ),
    ),
)

_GOOGLE_AGE = Source(
    "Google Ads API: AgeRangeTypeEnum",
    "https://developers.google.com/google-ads/api/reference/rpc/latest/AgeRangeTypeEnum.AgeRangeType",
)
_GOOGLE_GENDER = Source(
    "Google Ads API: GenderTypeEnum",
    "https://developers.google.com/google-ads/api/reference/rpc/latest/GenderTypeEnum.GenderType",
)
_GOOGLE_CODES = Source(
    "Google Ads API: Codes and formats (demographic criterion ids)",
    "https://developers.google.com/google-ads/api/data/codes-formats",
)
_GOOGLE_LOCATIONS = Source(
    "Google Ads API: Location targeting",
    "https://developers.google.com/google-ads/api/docs/targeting/location-targeting",
)
_GOOGLE_LANGUAGE = Source(
    "Google Ads API: LanguageConstant",
    "https://developers.google.com/google-ads/api/reference/rpc/latest/LanguageConstant",
)
_GOOGLE_INTEREST = Source(
    "Google Ads API: UserInterest",
    "https://developers.google.com/google-ads/api/reference/rpc/latest/UserInterest",
)
_GOOGLE_DEVICE = Source(
    "Google Ads API: DeviceEnum",
    "https://developers.google.com/google-ads/api/reference/rpc/latest/DeviceEnum.Device",
)
_GOOGLE_OS = Source(
    "Google Ads API: OperatingSystemVersionConstant",
    "https://developers.google.com/google-ads/api/reference/rpc/latest/OperatingSystemVersionConstant",
)

GOOGLE = PlatformProfile(
    platform=Platform.GOOGLE,
    name="Google Ads",
    api="Google Ads API, ad group and campaign criteria",
    facets=(
        Facet(
            AGE,
            "Age",
            "AdGroupCriterion.age_range.type",
            (_GOOGLE_AGE, _GOOGLE_CODES),
            choices=(
                Choice("AGE_RANGE_18_24", "18-24", 18, 24, 503001),
                Choice("AGE_RANGE_25_34", "25-34", 25, 34, 503002),
                Choice("AGE_RANGE_35_44", "35-44", 35, 44, 503003),
                Choice("AGE_RANGE_45_54", "45-54", 45, 54, 503004),
                Choice("AGE_RANGE_55_64", "55-64", 55, 64, 503005),
                Choice("AGE_RANGE_65_UP", "65+", 65, None, 503006),
                Choice("AGE_RANGE_UNDETERMINED", "Unknown", None, None, 503999),
            ),
        ),
        Facet(
            GENDER,
            "Gender",
            "AdGroupCriterion.gender.type",
            (_GOOGLE_GENDER, _GOOGLE_CODES),
            choices=(
                Choice("MALE", "Male", criterion_id=10),
                Choice("FEMALE", "Female", criterion_id=11),
                Choice("UNDETERMINED", "Unknown", criterion_id=20),
            ),
        ),
        Facet(
            LOCATIONS,
            "Locations",
            "CampaignCriterion.location.geo_target_constant",
            (_GOOGLE_LOCATIONS,),
            lookup="GeoTargetConstantService.SuggestGeoTargetConstants(location names, country code)",
            value_format="geoTargetConstants/<criterion id>",
            location_kinds=(
                LocationKind(LocationType.COUNTRY, "geo_target_constant", "Country (lookup by ISO code)"),
                LocationKind(LocationType.REGION, "geo_target_constant", "State / region (lookup by name)"),
                LocationKind(LocationType.CITY, "geo_target_constant", "City (lookup by name)"),
                LocationKind(LocationType.ZIP, "geo_target_constant", "Postal code (lookup by ZIP)"),
            ),
        ),
        Facet(
            LANGUAGES,
            "Languages",
            "CampaignCriterion.language.language_constant",
            (_GOOGLE_LANGUAGE,),
            lookup="GAQL: SELECT language_constant.id FROM language_constant "
            "WHERE language_constant.code = '<code>'",
            value_format="languageConstants/<id> (lookup by ISO 639-1 code)",
        ),
        Facet(
            INTERESTS,
            "Interests",
            "AdGroupCriterion.user_interest.user_interest_category",
            (_GOOGLE_INTEREST,),
            lookup="GAQL: SELECT user_interest.user_interest_id, user_interest.name FROM user_interest",
            value_format="customers/<customer id>/userInterests/<id> (lookup by the IAB category name)",
        ),
        Facet(
            DEVICES,
            "Devices",
            "CampaignCriterion.device.type",
            (_GOOGLE_DEVICE,),
            choices=(
                Choice("MOBILE", "Mobile devices with full browsers"),
                Choice("TABLET", "Tablets with full browsers"),
                Choice("DESKTOP", "Computers"),
                Choice("CONNECTED_TV", "Smart TVs and game consoles"),
                Choice("OTHER", "Other device types"),
            ),
        ),
        Facet(
            OPERATING_SYSTEMS,
            "Operating systems",
            "CampaignCriterion.operating_system_version.operating_system_version_constant",
            (_GOOGLE_OS,),
            lookup="GAQL: SELECT operating_system_version_constant.id, "
            "operating_system_version_constant.name FROM operating_system_version_constant",
            value_format="operatingSystemVersionConstants/<id>",
        ),
    ),
)

_TIKTOK_ADGROUP = Source(
    "TikTok API for Business: Create an ad group",
    "https://business-api.tiktok.com/portal/docs/create-an-ad-group-reference/v1.3",
)
_TIKTOK_REGION = Source(
    "TikTok API for Business: Get available locations (tool/region)",
    "https://ads.tiktok.com/marketing_api/docs?id=1737189539571713",
)
_TIKTOK_LANGUAGE = Source(
    "TikTok API for Business: Get languages (tool/language)",
    "https://ads.tiktok.com/marketing_api/docs?id=1737188554152962",
)
_TIKTOK_INTEREST = Source(
    "TikTok API for Business: Get interest categories (tool/interest_category)",
    "https://ads.tiktok.com/marketing_api/docs?id=1737174348712961",
)
_TIKTOK_DEVICE = Source(
    "TikTok API for Business: Get device models (tool/device_model)",
    "https://ads.tiktok.com/marketing_api/docs?id=1737172880570369",
)

TIKTOK = PlatformProfile(
    platform=Platform.TIKTOK,
    name="TikTok",
    api="TikTok API for Business v1.3, ad group targeting",
    facets=(
        Facet(
            AGE,
            "Age",
            "age_groups",
            (_TIKTOK_ADGROUP,),
            choices=(
                Choice("AGE_13_17", "13-17", 13, 17),
                Choice("AGE_18_24", "18-24", 18, 24),
                Choice("AGE_25_34", "25-34", 25, 34),
                Choice("AGE_35_44", "35-44", 35, 44),
                Choice("AGE_45_54", "45-54", 45, 54),
                Choice("AGE_55_100", "55+", 55, None),
            ),
        ),
        Facet(
            GENDER,
            "Gender",
            "gender",
            (_TIKTOK_ADGROUP,),
            choices=(
                Choice("GENDER_UNLIMITED", "All"),
                Choice("GENDER_MALE", "Male"),
                Choice("GENDER_FEMALE", "Female"),
            ),
        ),
        Facet(
            LOCATIONS,
            "Locations",
            "location_ids",
            (_TIKTOK_REGION, _TIKTOK_ADGROUP),
            lookup="GET /open_api/v1.3/tool/region/",
            value_format="TikTok location id (lookup by name)",
            location_kinds=(
                LocationKind(LocationType.COUNTRY, "location_ids", "TikTok location id (lookup by name)"),
                LocationKind(LocationType.REGION, "location_ids", "TikTok location id (lookup by name)"),
                LocationKind(LocationType.CITY, "location_ids", "TikTok location id (lookup by name)"),
            ),
        ),
        Facet(
            LANGUAGES,
            "Languages",
            "languages",
            (_TIKTOK_LANGUAGE, _TIKTOK_ADGROUP),
            lookup="GET /open_api/v1.3/tool/language/",
            value_format="Language code (en)",
        ),
        Facet(
            INTERESTS,
            "Interests",
            "interest_category_ids",
            (_TIKTOK_INTEREST,),
            lookup="GET /open_api/v1.3/tool/interest_category/",
            value_format="TikTok interest category id (lookup by the IAB category name)",
        ),
        Facet(
            DEVICES,
            "Device models",
            "device_model_ids",
            (_TIKTOK_DEVICE,),
            lookup="GET /open_api/v1.3/tool/device_model/",
            value_format="TikTok device model id",
        ),
        Facet(
            OPERATING_SYSTEMS,
            "Operating systems",
            "operating_systems",
            (_TIKTOK_ADGROUP,),
            choices=(Choice("ANDROID", "Android"), Choice("IOS", "iOS")),
        ),
    ),
)

_LINKEDIN_TARGETING = Source(
    "LinkedIn Marketing API: Ad targeting",
    "https://learn.microsoft.com/en-us/linkedin/marketing/integrations/ads/advertising-targeting/ads-targeting",
)
_LINKEDIN_FACETS = Source(
    "LinkedIn Marketing API: targeting facets (age ranges, genders)",
    "https://learn.microsoft.com/en-us/linkedin/shared/references/v2/ads/targeting-facets",
)
_LINKEDIN_CRITERIA = Source(
    "LinkedIn Marketing API: targetingCriteria",
    "https://learn.microsoft.com/en-us/linkedin/shared/references/v2/ads/targeting-criteria",
)
_LINKEDIN_ENTITIES = "GET /rest/adTargetingEntities?q=adTargetingFacet&facet=urn:li:adTargetingFacet:"

LINKEDIN = PlatformProfile(
    platform=Platform.LINKEDIN,
    name="LinkedIn",
    api="LinkedIn Marketing API, campaign `targetingCriteria`",
    facets=(
        Facet(
            AGE,
            "Age",
            "urn:li:adTargetingFacet:ageRanges",
            (_LINKEDIN_FACETS, _LINKEDIN_CRITERIA),
            choices=(
                Choice("urn:li:ageRange:(18,24)", "18-24", 18, 24),
                Choice("urn:li:ageRange:(25,34)", "25-34", 25, 34),
                Choice("urn:li:ageRange:(35,54)", "35-54", 35, 54),
                Choice("urn:li:ageRange:(55,2147483647)", "55+", 55, None),
            ),
        ),
        Facet(
            GENDER,
            "Gender",
            "urn:li:adTargetingFacet:genders",
            (_LINKEDIN_FACETS, _LINKEDIN_CRITERIA),
            choices=(Choice("urn:li:gender:MALE", "Male"), Choice("urn:li:gender:FEMALE", "Female")),
        ),
        Facet(
            LOCATIONS,
            "Locations",
            "urn:li:adTargetingFacet:locations",
            (_LINKEDIN_TARGETING,),
            lookup="GET /rest/adTargetingEntities?q=typeahead"
            "&facet=urn:li:adTargetingFacet:locations&query=<name>",
            value_format="urn:li:geo:<id> (lookup by name)",
            location_kinds=(
                LocationKind(LocationType.COUNTRY, "urn:li:adTargetingFacet:locations", "urn:li:geo:<id>"),
                LocationKind(LocationType.REGION, "urn:li:adTargetingFacet:locations", "urn:li:geo:<id>"),
                LocationKind(LocationType.CITY, "urn:li:adTargetingFacet:locations", "urn:li:geo:<id>"),
            ),
        ),
        Facet(
            LANGUAGES,
            "Interface languages",
            "urn:li:adTargetingFacet:interfaceLocales",
            (_LINKEDIN_TARGETING,),
            lookup=_LINKEDIN_ENTITIES + "interfaceLocales",
            value_format="urn:li:locale:<language>_<COUNTRY> (en_US)",
        ),
        Facet(
            INTERESTS,
            "Member interests",
            "urn:li:adTargetingFacet:interests",
            (_LINKEDIN_TARGETING,),
            lookup=_LINKEDIN_ENTITIES + "interests",
            value_format="LinkedIn interest URN (lookup by the IAB category name)",
        ),
    ),
)

PROFILES: dict[Platform, PlatformProfile] = {p.platform: p for p in (FACEBOOK, GOOGLE, TIKTOK, LINKEDIN)}
