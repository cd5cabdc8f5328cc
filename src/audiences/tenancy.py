"""The tenant scope: the only value that lets a repository touch data.

`TenantScope` can be built only through `_issue_scope` here, which `auth.tenant_scope`
calls after the JWT and the `orgid` header have been checked. Repositories take a
`TenantScope` and add `orgId` to every filter and document themselves.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from typing import Any

_ISSUER = object()
# Storage keys join org and id as `<orgId>:<id>`; an org id without `:` (nor anything
# else outside this alphabet) keeps those keys from colliding across orgs.
ORG_ID_PATTERN = re.compile(r"[A-Za-z0-9][A-Za-z0-9_.-]{0,63}")


def is_valid_org_id(value: str) -> bool:
    return ORG_ID_PATTERN.fullmatch(value) is not None


@dataclass(frozen=True, slots=True)
class Principal:
    subject: str
    orgs: frozenset[str]
    scopes: frozenset[str]


@dataclass(frozen=True, slots=True)
class TenantScope:
    org_id: str
    principal: Principal
    _token: object = field(repr=False, compare=False, default=None)

    def __post_init__(self) -> None:
        if self._token is not _ISSUER:
            raise TypeError("TenantScope is issued by audiences.tenancy only")

    def filter(self, query: dict[str, Any] | None = None) -> dict[str, Any]:
        """`query` restricted to this org; `orgId` cannot be overridden by the caller."""
        scoped = dict(query or {})
        scoped["orgId"] = self.org_id
        return scoped

    def stamp(self, document: dict[str, Any]) -> dict[str, Any]:
        """`document` marked as belonging to this org."""
        stamped = dict(document)
        stamped["orgId"] = self.org_id
        return stamped


def issue_scope(org_id: str, principal: Principal) -> TenantScope:
    """Create a scope. Call only after authorisation (auth.py) or for trusted internal jobs
    such as the CLI demo loader and the membership sweep, which act for a named org."""
    return TenantScope(org_id, principal, _ISSUER)


SYSTEM_PRINCIPAL = Principal(subject="system", orgs=frozenset(), scopes=frozenset({"admin"}))


def system_scope(org_id: str) -> TenantScope:
    """Scope for background jobs (demo loader, sweep, recompute) acting for one org."""
    return issue_scope(org_id, SYSTEM_PRINCIPAL)
