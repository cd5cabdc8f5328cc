"""Request and response bodies of `/api/collection/index`."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field, GetJsonSchemaHandler, model_validator
from pydantic.json_schema import JsonSchemaValue
from pydantic_core import CoreSchema


class IndexField(BaseModel):
    """`{"field": "lastSeenAt", "order": -1}`, or the string `"-lastSeenAt"`."""

    model_config = ConfigDict(extra="forbid")

    field: str = Field(description="A field path such as `country` or `address.city`.")
    order: Literal[1, -1] = Field(default=1, description="1 ascending, -1 descending.")

    @model_validator(mode="before")
    @classmethod
    def from_string(cls, value: Any) -> Any:
        if isinstance(value, str):
            return {"field": value[1:], "order": -1} if value.startswith("-") else {"field": value}
        return value

    @classmethod
    def __get_pydantic_json_schema__(
        cls, core_schema: CoreSchema, handler: GetJsonSchemaHandler
    ) -> JsonSchemaValue:
        # The document must admit the string form `from_string` accepts.
        as_object = handler(core_schema)
        return {"anyOf": [as_object, {"type": "string", "description": '`"name"`, or `"-name"` descending.'}]}


class IndexRequest(BaseModel):
    """An index on `collection`, always prefixed by `orgId` (every query is per org)."""

    model_config = ConfigDict(
        extra="forbid",
        json_schema_extra={
            "examples": [
                {"collection": "contacts", "fields": ["country"]},
                {"collection": "contacts", "fields": ["tags", "-lastEmailOpenedAt"]},
                {"collection": "events", "fields": [{"field": "properties.plan", "order": 1}]},
            ]
        },
    )

    collection: str = Field(description="`contacts` or `events`.")
    fields: list[IndexField] = Field(
        description='Field paths after `orgId`, as strings (`"-name"` sorts descending) or '
        "`{field, order}` objects."
    )
    unique: bool = Field(default=False, strict=True, description="Unique within an org (MongoDB only).")


class IndexKey(BaseModel):
    field: str
    order: int


class IndexOut(BaseModel):
    collection: str
    name: str
    keys: list[IndexKey] = Field(description="The key pattern, `orgId` first.")
    unique: bool
    source: Literal["builtin", "requested"] = Field(
        description="`builtin`: the service needs it; `requested`: created through this API by this org."
    )
    status: Literal["ready", "missing"] = Field(description="`missing`: requested but no longer present.")
    created: bool | None = Field(default=None, description="POST only: false when it already existed.")


class IndexList(BaseModel):
    items: list[IndexOut]
