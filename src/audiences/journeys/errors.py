"""Errors of the journey audiences and cohorts feature."""

from __future__ import annotations

from audiences.errors import Conflict, NotFound


class AudienceNotFound(NotFound):
    code = "audience_not_found"
    title = "Audience not found"


class CohortNotFound(NotFound):
    code = "cohort_not_found"
    title = "Cohort not found"


class SubjectNotFound(NotFound):
    code = "subject_not_found"
    title = "Subject not found"


class AudienceExists(Conflict):
    code = "audience_exists"
    title = "Audience already exists"


class CohortExists(Conflict):
    code = "cohort_exists"
    title = "Cohort already exists"


class CohortInUse(Conflict):
    code = "cohort_in_use"
    title = "Cohort in use"
