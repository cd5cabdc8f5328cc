"""The four custom audience types: what each needs, how its members are known, where it syncs.

One table drives `GET /custom-types`, body validation and which operations a type allows.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from audiences.custom_audiences.hashing import Platform

CustomType = Literal["file_upload", "customer_match", "lookalike", "retargeting_pixel"]


@dataclass(frozen=True, slots=True)
class FieldSpec:
    name: str
    type: str
    required: bool
    description: str


@dataclass(frozen=True, slots=True)
class TypeSpec:
    type: CustomType
    title: str
    description: str
    fields: tuple[FieldSpec, ...]
    # How membership is known: "stored" (member ids kept) or "live" (a query at each read).
    membership: Literal["stored", "live"]
    accepts_upload: bool
    exports_hashes: bool
    refreshable: bool
    syncs_as: dict[Platform, str]


COMMON_FIELDS = (
    FieldSpec("name", "string", True, "Display name, 1–200 characters."),
    FieldSpec("description", "string", False, "Free text, up to 2,000 characters."),
)

UPLOAD_COLUMNS = (
    FieldSpec("email", "string", False, "E-mail; matched against contacts' `email` after normalising."),
    FieldSpec("phone", "string", False, "Phone in any format; parsed to E.164 with the row's country."),
    FieldSpec("firstName", "string", False, "Hashed for customer match exports only."),
    FieldSpec("lastName", "string", False, "Hashed for customer match exports only."),
    FieldSpec("country", "string", False, "ISO 3166-1 country; the default region for local phones."),
    FieldSpec("zip", "string", False, "Postal code; kept for customer match exports only."),
    FieldSpec("externalId", "string", False, "Your contact id; matched against contacts' `id`."),
)

_LIST_SYNC: dict[Platform, str] = {
    "facebook": "Customer list Custom Audience",
    "google": "Customer Match list",
    "tiktok": "Customer File audience",
    "linkedin": "Contact list (Matched Audiences)",
}

TYPES: dict[CustomType, TypeSpec] = {
    "file_upload": TypeSpec(
        type="file_upload",
        title="File upload",
        description=(
            "A list of people uploaded as CSV, matched to contacts by e-mail, phone or external id. "
            "Rows that match nobody yet are kept hashed and join when such a contact is ingested."
        ),
        fields=COMMON_FIELDS,
        membership="stored",
        accepts_upload=True,
        exports_hashes=False,
        refreshable=False,
        syncs_as=_LIST_SYNC,
    ),
    "customer_match": TypeSpec(
        type="customer_match",
        title="Customer match",
        description=(
            "Like a file upload, and also keeps each row's identifiers SHA-256-hashed in every ad "
            "platform's format, exportable with GET /custom/{id}/export?platform=."
        ),
        fields=COMMON_FIELDS,
        membership="stored",
        accepts_upload=True,
        exports_hashes=True,
        refreshable=False,
        syncs_as=_LIST_SYNC,
    ),
    "lookalike": TypeSpec(
        type="lookalike",
        title="Lookalike",
        description=(
            "The `ratio` share of the org's contacts in `country` most similar to a seed audience "
            "(any segment or custom audience id), excluding the seed. Computed on creation and on "
            "POST /custom/{id}/refresh; see docs/lookalike.md."
        ),
        fields=(
            *COMMON_FIELDS,
            FieldSpec("seedAudienceId", "string", True, "Id of a segment or custom audience."),
            FieldSpec("ratio", "number", True, "Share of eligible contacts to include, 0.01–0.20."),
            FieldSpec("country", "string", True, "ISO 3166-1 alpha-2 country of the contacts to rank."),
        ),
        membership="stored",
        accepts_upload=False,
        exports_hashes=False,
        refreshable=True,
        syncs_as=_LIST_SYNC,
    ),
    "retargeting_pixel": TypeSpec(
        type="retargeting_pixel",
        title="Retargeting pixel",
        description=(
            "Contacts with one of `eventNames` carrying `properties.pixelId` in the last "
            "`windowDays` days. Live: evaluated at each read, like a dynamic segment."
        ),
        fields=(
            *COMMON_FIELDS,
            FieldSpec("pixelId", "string", True, "The pixel id events carry in `properties.pixelId`."),
            FieldSpec("eventNames", "array[string]", True, "1–50 event names, e.g. `page_view`."),
            FieldSpec("windowDays", "integer", True, "Look-back window in days, 1–180."),
        ),
        membership="live",
        accepts_upload=False,
        exports_hashes=False,
        refreshable=False,
        syncs_as={
            "facebook": "Website Custom Audience (Meta Pixel) or customer list",
            "google": "Website visitors segment (Google tag) or Customer Match list",
            "tiktok": "Website Custom Audience (TikTok Pixel) or Customer File",
            "linkedin": "Website retargeting (Insight Tag) or contact list",
        },
    ),
}
