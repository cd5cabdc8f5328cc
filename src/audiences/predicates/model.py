"""The journey predicate language as a typed tree (seed 003, CONTRACT §8).

A predicate is one of four leaves (`event_fired`, `event_not_fired`, `attribute`,
`in_cohort`) or three composites (`and`, `or`, `not`), discriminated by `kind`. Models
are strict: unknown keys, wrong JSON types and unknown kinds are errors. `validate.py`
turns pydantic's errors into the API's codes; this module only states the shapes.

Stored predicates are kept exactly as the caller sent them; these models are what the
compiler and the evaluator read, never what is saved.
"""

from __future__ import annotations

import datetime as dt
from functools import cached_property
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator
from pydantic.alias_generators import to_camel
from pydantic_core import PydanticCustomError

from audiences.predicates.operators import OPERATORS, Operand, OperandError, OperatorName
from audiences.values import is_valid_unicode

MAX_DEPTH = 20
MAX_NODES = 200
MAX_DAYS = 3650
MAX_AT_LEAST = 1_000_000
MAX_NAME = 256
RESERVED_ROOTS = frozenset({"_id", "orgId"})
DAY = dt.timedelta(days=1)


class _Strict(BaseModel):
    model_config = ConfigDict(
        extra="forbid", strict=True, frozen=True, alias_generator=to_camel, populate_by_name=True
    )


class EverWindow(_Strict):
    """Any time up to `asOf`."""

    type: Literal["ever"]

    def start(self, as_of: dt.datetime) -> dt.datetime | None:
        return None

    @property
    def days(self) -> int | None:
        return None

    def label(self) -> str:
        return "ever"


class LastNDaysWindow(_Strict):
    """`asOf - days*24h <= ts <= asOf`."""

    type: Literal["last_n_days"]
    days: int = Field(ge=1, le=MAX_DAYS)

    def start(self, as_of: dt.datetime) -> dt.datetime | None:
        return as_of - self.days * DAY

    def label(self) -> str:
        return f"last {self.days} day{'s' if self.days != 1 else ''}"


Window = Annotated[EverWindow | LastNDaysWindow, Field(discriminator="type")]
EVER = EverWindow(type="ever")


def _event_name(value: str) -> str:
    if not value.strip():
        raise PydanticCustomError("event_name_required", "eventName must be a non-empty string")
    if len(value) > MAX_NAME:
        raise PydanticCustomError("invalid_event_name", f"eventName is longer than {MAX_NAME} characters")
    if not is_valid_unicode(value):
        raise PydanticCustomError("invalid_event_name", "eventName must be valid Unicode")
    return value


class EventFired(_Strict):
    """The subject fired `eventName` at least `atLeast` times (default 1) in `window`."""

    kind: Literal["event_fired"]
    event_name: str
    window: Window = EVER
    at_least: int = Field(default=1, ge=1, le=MAX_AT_LEAST)

    @field_validator("event_name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _event_name(value)


class EventNotFired(_Strict):
    """The subject did not fire `eventName` in `window`."""

    kind: Literal["event_not_fired"]
    event_name: str
    window: Window = EVER

    @field_validator("event_name")
    @classmethod
    def _check_name(cls, value: str) -> str:
        return _event_name(value)


_UNSET: Any = object()


class Attribute(_Strict):
    """A contact field (`fieldPath`, dotted for nested objects) compared by `operator`."""

    kind: Literal["attribute"]
    field_path: str
    operator: OperatorName
    # Any JSON: its shape is checked per operator (exists/not_exists ignore it).
    value: Any = Field(default=_UNSET, validate_default=True)

    @field_validator("field_path")
    @classmethod
    def _check_path(cls, value: str) -> str:
        if not value.strip():
            raise PydanticCustomError("field_path_required", "fieldPath must be a non-empty string")
        parts = value.split(".")
        if len(value) > MAX_NAME or any(
            not p or p.startswith("$") or "\x00" in p or not is_valid_unicode(p) for p in parts
        ):
            raise PydanticCustomError(
                "invalid_field_path",
                "fieldPath must be dot-separated field names, none empty or starting with $",
            )
        if parts[0] in RESERVED_ROOTS:
            raise PydanticCustomError(
                "invalid_field_path", f"`{parts[0]}` is internal and cannot be filtered"
            )
        return value

    @field_validator("value", mode="plain")
    @classmethod
    def _check_value(cls, value: Any, info: ValidationInfo) -> Any:
        operator = info.data.get("operator")
        if operator is None:  # the operator itself is invalid and reported
            return value
        try:
            OPERATORS[operator].prepare(None if value is _UNSET else value)
        except OperandError as problem:
            raise PydanticCustomError(problem.code, problem.message) from None
        return value

    @cached_property
    def operand(self) -> Operand:
        """The value made ready to compare (prepared once per parsed predicate)."""
        return OPERATORS[self.operator].prepare(None if self.value is _UNSET else self.value)

    @property
    def has_value(self) -> bool:
        return self.value is not _UNSET


class InCohort(_Strict):
    """The subject is in cohort `cohortId` (static list or nested predicate)."""

    kind: Literal["in_cohort"]
    cohort_id: str = Field(min_length=1, max_length=MAX_NAME)


class And(_Strict):
    kind: Literal["and"]
    clauses: list[Predicate] = Field(min_length=1)


class Or(_Strict):
    kind: Literal["or"]
    clauses: list[Predicate] = Field(min_length=1)


class Not(_Strict):
    kind: Literal["not"]
    clause: Predicate


Leaf = EventFired | EventNotFired | Attribute | InCohort
Node = Leaf | And | Or | Not
Predicate = Annotated[Node, Field(discriminator="kind")]
EventLeaf = EventFired | EventNotFired

KINDS = ("event_fired", "event_not_fired", "attribute", "in_cohort", "and", "or", "not")
WINDOW_TYPES = ("ever", "last_n_days")

for _model in (And, Or, Not):
    _model.model_rebuild()


def children(node: Node) -> list[Node]:
    """The direct sub-predicates of a composite (none for leaves)."""
    if isinstance(node, And | Or):
        return list(node.clauses)
    if isinstance(node, Not):
        return [node.clause]
    return []
