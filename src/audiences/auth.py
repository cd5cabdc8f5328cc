"""JWT → Principal, and `orgid` header → TenantScope (the only place a request gets one)."""

from __future__ import annotations

import datetime as dt
from typing import Annotated, Any

import jwt
from fastapi import Depends, Header, Request

from audiences.config import Settings
from audiences.errors import AppError, Forbidden, Unauthorized
from audiences.tenancy import ORG_ID_PATTERN, Principal, TenantScope, is_valid_org_id, issue_scope

SCOPES = ("audiences:read", "audiences:write", "data:write", "admin")
DEFAULT_SCOPES = " ".join(SCOPES)


class TokenVerifier:
    """Verifies bearer tokens. HS256 with a shared secret, or RS256 with a public key/JWKS;
    the accepted algorithm is fixed by configuration, never read from the token."""

    def __init__(self, settings: Settings) -> None:
        self._audience = settings.jwt_audience
        self._issuer = settings.jwt_issuer
        self._jwks: jwt.PyJWKClient | None = None
        self._key: Any
        if settings.jwt_jwks_url:
            self._jwks = jwt.PyJWKClient(settings.jwt_jwks_url)
            self._algorithms = ["RS256"]
            self._key = None
        elif settings.jwt_public_key:
            self._algorithms = ["RS256"]
            self._key = settings.jwt_public_key
        else:
            self._algorithms = ["HS256"]
            self._key = settings.resolved_jwt_secret()

    def verify(self, token: str) -> Principal:
        try:
            key = self._jwks.get_signing_key_from_jwt(token).key if self._jwks else self._key
            claims = jwt.decode(
                token,
                key,
                algorithms=self._algorithms,
                audience=self._audience,
                issuer=self._issuer,
                options={"require": ["exp", "sub"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized("The token has expired.", code="token_expired") from exc
        except jwt.PyJWTError as exc:
            raise Unauthorized("The token is not valid.", code="invalid_token") from exc
        orgs = claims.get("orgs")
        if not isinstance(orgs, list) or not all(isinstance(o, str) for o in orgs):
            raise Unauthorized("The token has no `orgs` claim (a list of org ids).", code="invalid_token")
        scope = claims.get("scope", DEFAULT_SCOPES)
        if not isinstance(scope, str):
            raise Unauthorized("The token's `scope` claim must be a string.", code="invalid_token")
        return Principal(subject=str(claims["sub"]), orgs=frozenset(orgs), scopes=frozenset(scope.split()))


def mint_token(
    settings: Settings,
    *,
    orgs: list[str],
    scopes: list[str] | None = None,
    ttl: dt.timedelta,
    subject: str = "dev",
) -> str:
    """A signed HS256 token for development and tests (`audiences token`)."""
    now = dt.datetime.now(dt.UTC)
    claims: dict[str, Any] = {
        "sub": subject,
        "orgs": orgs,
        "scope": " ".join(scopes) if scopes else DEFAULT_SCOPES,
        "iat": now,
        "exp": now + ttl,
    }
    if settings.jwt_audience:
        claims["aud"] = settings.jwt_audience
    if settings.jwt_issuer:
        claims["iss"] = settings.jwt_issuer
    return jwt.encode(claims, settings.resolved_jwt_secret(), algorithm="HS256")


def _verifier(request: Request) -> TokenVerifier:
    verifier: TokenVerifier = request.app.state.verifier
    return verifier


async def current_principal(
    request: Request, authorization: Annotated[str | None, Header()] = None
) -> Principal:
    if not authorization:
        raise Unauthorized("Send `Authorization: Bearer <token>`.", code="missing_token")
    scheme, _, token = authorization.partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Unauthorized("The Authorization header must be `Bearer <token>`.", code="invalid_token")
    return _verifier(request).verify(token.strip())


async def tenant_scope(
    principal: Annotated[Principal, Depends(current_principal)],
    orgid: Annotated[str | None, Header(description="The org (tenant) to act for.")] = None,
) -> TenantScope:
    if not orgid or not orgid.strip():
        raise AppError("Send the `orgid` header naming the org to act for.", code="orgid_required")
    if not is_valid_org_id(orgid):
        raise AppError(
            f"Org ids are 1-64 letters, digits, `_`, `.` or `-`, starting with a letter or digit "
            f"({ORG_ID_PATTERN.pattern}).",
            code="invalid_orgid",
        )
    if orgid not in principal.orgs:
        raise Forbidden("The token does not grant access to this org.", code="org_forbidden")
    return issue_scope(orgid, principal)


def require_scope(name: str) -> Any:
    """Dependency: the caller's token must carry scope `name` (or `admin`)."""

    async def check(scope: Annotated[TenantScope, Depends(tenant_scope)]) -> TenantScope:
        scopes = scope.principal.scopes
        if name not in scopes and "admin" not in scopes:
            raise Forbidden(f"The token lacks the `{name}` scope.", code="insufficient_scope")
        return scope

    return Depends(check)


Scope = Annotated[TenantScope, Depends(tenant_scope)]
ReadScope = Annotated[TenantScope, require_scope("audiences:read")]
WriteScope = Annotated[TenantScope, require_scope("audiences:write")]
DataWriteScope = Annotated[TenantScope, require_scope("data:write")]
AdminScope = Annotated[TenantScope, require_scope("admin")]
