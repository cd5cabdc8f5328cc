"""Errors of the membership feature."""

from __future__ import annotations

from audiences.errors import NotFound
from audiences.pagination import InvalidCursor as InvalidCursor


class MembershipStatusNotFound(NotFound):
    code = "membership_status_not_found"
    title = "No membership computation recorded"


class AudienceNotFound(NotFound):
    """A journey audience id unknown in this org (the same code the journeys feature uses)."""

    code = "audience_not_found"
    title = "Audience not found"
