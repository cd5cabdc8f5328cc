"""Request and response bodies for custom audiences.

Create and patch bodies are validated per type by `validate.py` (so errors carry this
feature's codes and plain JSON paths); the models below define each type's fields.
"""

from __future__ import annotations

from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, StringConstraints, field_validator
from pydantic_core import PydanticCustomError

from audiences.contacts.fields import normalise_country

Name = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=200)]
Description = Annotated[str, StringConstraints(max_length=2000)]
Identifier = Annotated[str, StringConstraints(strip_whitespace=True, min_length=1, max_length=256)]
Ratio = Annotated[float, Field(ge=0.01, le=0.20, allow_inf_nan=False)]
WindowDays = Annotated[int, Field(ge=1, le=180)]
EventNames = Annotated[list[Identifier], Field(min_length=1, max_length=50)]


def _country(value: str | None) -> str | None:
    if value is None:
        return None
    try:
        return normalise_country(value)
    except ValueError as exc:
        raise PydanticCustomError("invalid_country", "country must be an ISO 3166-1 country code") from exc


class _Body(BaseModel):
    model_config = ConfigDict(extra="forbid")


class FileUploadCreate(_Body):
    type: Literal["file_upload"]
    name: Name
    description: Description | None = None


class CustomerMatchCreate(_Body):
    type: Literal["customer_match"]
    name: Name
    description: Description | None = None


class LookalikeCreate(_Body):
    type: Literal["lookalike"]
    name: Name
    description: Description | None = None
    seedAudienceId: Identifier
    ratio: Ratio
    country: str

    _check_country = field_validator("country")(_country)


class RetargetingPixelCreate(_Body):
    type: Literal["retargeting_pixel"]
    name: Name
    description: Description | None = None
    pixelId: Identifier
    eventNames: EventNames
    windowDays: WindowDays


CreateBody = FileUploadCreate | CustomerMatchCreate | LookalikeCreate | RetargetingPixelCreate


class UploadPatch(_Body):
    type: str | None = None
    name: Name | None = None
    description: Description | None = None


class LookalikePatch(UploadPatch):
    seedAudienceId: Identifier | None = None
    ratio: Ratio | None = None
    country: str | None = None

    _check_country = field_validator("country")(_country)


class RetargetingPixelPatch(UploadPatch):
    pixelId: Identifier | None = None
    eventNames: EventNames | None = None
    windowDays: WindowDays | None = None


PatchBody = UploadPatch | LookalikePatch | RetargetingPixelPatch

CREATE_EXAMPLES: dict[str, Any] = {
    "file_upload": {
        "summary": "A CSV list (upload rows with POST /custom/{id}/upload)",
        "value": {"type": "file_upload", "name": "Trade show 2026 leads"},
    },
    "customer_match": {
        "summary": "A list kept hashed for ad platforms",
        "value": {
            "type": "customer_match",
            "name": "Churned subscribers",
            "description": "Exported to Meta and Google every Monday",
        },
    },
    "lookalike": {
        "summary": "5% of German contacts most like the VIP segment",
        "value": {
            "type": "lookalike",
            "name": "VIP lookalike DE 5%",
            "seedAudienceId": "seg_vip",
            "ratio": 0.05,
            "country": "DE",
        },
    },
    "retargeting_pixel": {
        "summary": "Cart visitors of the last 30 days",
        "value": {
            "type": "retargeting_pixel",
            "name": "Cart abandoners 30d",
            "pixelId": "px_shop",
            "eventNames": ["add_to_cart", "checkout_started"],
            "windowDays": 30,
        },
    },
}

PATCH_EXAMPLES: dict[str, Any] = {
    "rename": {"summary": "Rename", "value": {"name": "VIP lookalike DE 10%"}},
    "lookalike": {"summary": "Widen a lookalike (recomputed)", "value": {"ratio": 0.1}},
    "retargeting_pixel": {"summary": "Longer window", "value": {"windowDays": 60}},
}


class FieldOut(BaseModel):
    name: str
    type: str
    required: bool
    description: str


class PlatformSync(BaseModel):
    platform: str
    syncsAs: str


class CustomTypeOut(BaseModel):
    type: str
    title: str
    description: str
    fields: list[FieldOut]
    membership: Literal["stored", "live"]
    uploadColumns: list[FieldOut] | None = Field(
        default=None, description="CSV columns POST /custom/{id}/upload understands (upload types)."
    )
    exportPlatforms: list[str] | None = Field(
        default=None, description="Platforms GET /custom/{id}/export can write (customer match)."
    )
    platforms: list[PlatformSync]


class CustomTypesOut(BaseModel):
    types: list[CustomTypeOut]


class CustomAudienceOut(BaseModel):
    """A custom audience. Type-specific fields appear only for their type."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "id": "cus_5kq2m8x1c9v3",
                    "type": "lookalike",
                    "name": "VIP lookalike DE 5%",
                    "description": None,
                    "seedAudienceId": "seg_vip",
                    "ratio": 0.05,
                    "country": "DE",
                    "membership": "stored",
                    "memberCount": 412,
                    "stats": {"eligible": 8240, "seedSize": 310},
                    "createdAt": "2026-04-24T12:00:00.000Z",
                    "updatedAt": "2026-04-24T12:00:00.000Z",
                    "computedAt": "2026-04-24T12:00:00.000Z",
                }
            ]
        }
    )

    id: str
    type: str
    name: str
    description: str | None
    seedAudienceId: str | None = None
    ratio: float | None = None
    country: str | None = None
    pixelId: str | None = None
    eventNames: list[str] | None = None
    windowDays: int | None = None
    membership: Literal["stored", "live"]
    memberCount: int | None = Field(
        description="Contacts stored as members; null for live audiences (use estimate-reach)."
    )
    stats: dict[str, Any] = Field(default_factory=dict)
    createdAt: str
    updatedAt: str
    computedAt: str | None = None


class CustomAudiencePage(BaseModel):
    items: list[CustomAudienceOut]
    nextCursor: str | None
    hasMore: bool


class InvalidRow(BaseModel):
    line: int = Field(description="Line of the file (the header is line 1).")
    code: str


class UploadReport(BaseModel):
    """What an upload did. `rows = matched + unmatched + duplicates + invalidCount`."""

    model_config = ConfigDict(
        json_schema_extra={
            "examples": [
                {
                    "uploadId": "upl_1a2b3c4d5e6f",
                    "rows": 5,
                    "matched": 3,
                    "unmatched": 1,
                    "duplicates": 0,
                    "invalid": [{"line": 4, "code": "invalid_email"}],
                    "invalidCount": 1,
                    "fieldErrors": {"phone": 1},
                    "columns": {"E-mail": "email", "Phone Number": "phone", "Country": "country"},
                    "ignoredColumns": ["Notes"],
                    "delimiter": ";",
                    "memberCount": 3,
                }
            ]
        }
    )

    uploadId: str
    rows: int = Field(description="Data rows read (blank lines are not rows).")
    matched: int = Field(description="Rows that matched a contact.")
    unmatched: int = Field(description="Rows kept hashed until a matching contact is ingested.")
    duplicates: int = Field(description="Rows whose identifier was already in this audience.")
    invalid: list[InvalidRow] = Field(description="The first 1,000 rows with no usable identifier.")
    invalidCount: int
    fieldErrors: dict[str, int] = Field(
        description="Values dropped from otherwise usable rows, by column (e.g. a bad phone)."
    )
    columns: dict[str, str] = Field(description="File header → field it was read as.")
    ignoredColumns: list[str]
    delimiter: str
    memberCount: int
