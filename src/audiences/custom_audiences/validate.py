"""Checking create and patch bodies: every problem at once, each with a code and a JSON path.

The body's `type` picks the model; pydantic's error kinds are mapped to this feature's codes
by field (a table), so `ratio: 0.5` is `invalid_ratio` at `ratio`, not `less_than_equal`.
"""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel, ValidationError

from audiences.custom_audiences.catalog import TYPES, CustomType
from audiences.custom_audiences.schemas import (
    CreateBody,
    CustomerMatchCreate,
    FileUploadCreate,
    LookalikeCreate,
    LookalikePatch,
    PatchBody,
    RetargetingPixelCreate,
    RetargetingPixelPatch,
    UploadPatch,
)
from audiences.errors import ErrorItem, ValidationFailed, json_path

CREATE_MODELS: dict[CustomType, type[CreateBody]] = {
    "file_upload": FileUploadCreate,
    "customer_match": CustomerMatchCreate,
    "lookalike": LookalikeCreate,
    "retargeting_pixel": RetargetingPixelCreate,
}

PATCH_MODELS: dict[CustomType, type[PatchBody]] = {
    "file_upload": UploadPatch,
    "customer_match": UploadPatch,
    "lookalike": LookalikePatch,
    "retargeting_pixel": RetargetingPixelPatch,
}

# pydantic error kinds that mean the same thing whatever the field.
KIND_CODES = {"missing": "field_required", "extra_forbidden": "unknown_field"}

# Everything else is "this field's value is wrong", named after the field.
FIELD_CODES = {
    "name": "invalid_name",
    "description": "invalid_description",
    "seedAudienceId": "invalid_seed_audience_id",
    "ratio": "invalid_ratio",
    "country": "invalid_country",
    "pixelId": "invalid_pixel_id",
    "eventNames": "invalid_event_names",
    "windowDays": "invalid_window_days",
}


def _items(exc: ValidationError) -> list[ErrorItem]:
    items: list[ErrorItem] = []
    for err in exc.errors():
        loc = [p if isinstance(p, int) else str(p) for p in err["loc"]]
        field = str(loc[0]) if loc else ""
        code = KIND_CODES.get(err["type"]) or FIELD_CODES.get(field, "invalid_value")
        message = err["msg"] if not field else f"{field}: {err['msg']}"
        items.append(ErrorItem(code, json_path(loc), message))
    return items


def _validated[M: BaseModel](model: type[M], body: dict[str, Any]) -> M:
    try:
        return model.model_validate(body)
    except ValidationError as exc:
        raise ValidationFailed(_items(exc)) from exc


def custom_type_of(body: dict[str, Any]) -> CustomType:
    kind = body.get("type")
    if kind is None:
        raise ValidationFailed([ErrorItem("field_required", "type", "`type` is required")])
    for known in TYPES:
        if kind == known:
            return known
    raise ValidationFailed(
        [ErrorItem("unknown_custom_type", "type", f"`type` must be one of {', '.join(TYPES)}")]
    )


def validate_create(body: dict[str, Any]) -> CreateBody:
    return _validated(CREATE_MODELS[custom_type_of(body)], body)


def validate_patch(kind: CustomType, body: dict[str, Any]) -> PatchBody:
    patch = _validated(PATCH_MODELS[kind], body)
    if patch.type is not None and patch.type != kind:
        raise ValidationFailed(
            [ErrorItem("type_immutable", "type", "The type of a custom audience cannot change")]
        )
    return patch
