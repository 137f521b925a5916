"""Verified principals: signed tokens (JWT) and the active assignment (AC-1, AC-2, AC-3).

The gateway verifies every token, and every service verifies it again where the data lives:
a token is never trusted because it came from inside.
"""

from __future__ import annotations

import asyncio
import time
from collections.abc import Awaitable, Callable, Iterable
from pathlib import Path
from typing import Annotated, Any

import jwt
from fastapi import Depends, Header, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import ValidationError

from vaccinera_contracts.access import Operation
from vaccinera_contracts.roles import LOGIN_METHODS, Assignment, Principal, Role
from vaccinera_kit.errors import BadRequest, Forbidden, Unauthorized
from vaccinera_kit.settings import HttpSettings

ASSIGNMENT_HEADER = "X-Vaccinera-Assignment"
ALGORITHMS = ["RS256", "ES256"]
# Verified tokens kept per process (each a few hundred bytes).
VERIFIED_TOKENS = 10_000


class TokenVerifier:
    def __init__(
        self,
        *,
        issuer: str,
        audience: str,
        public_key_file: Path | None = None,
        jwks_url: str | None = None,
    ) -> None:
        self.issuer = issuer
        self.audience = audience
        self._key: Any = public_key_file.read_text() if public_key_file else None
        self._jwks = jwt.PyJWKClient(jwks_url, cache_keys=True) if jwks_url else None
        # Keys by "kid", in this process: a known key costs no thread hop (measured: the hop
        # to PyJWKClient per request made the gateway's thread pool the queue of a rush).
        self._jwks_keys: dict[str, Any] = {}
        # Tokens verified here, until they expire: a signature is checked once per token and
        # process, not once per request (measured: RS256 verification was 18 % of the
        # gateway's CPU in a rush). The same bytes always carry the same claims.
        self._verified: dict[str, tuple[Principal, float]] = {}

    @classmethod
    def from_settings(cls, settings: HttpSettings) -> TokenVerifier:
        return cls(
            issuer=settings.jwt_issuer,
            audience=settings.jwt_audience,
            public_key_file=settings.jwt_public_key_file,
            jwks_url=settings.jwks_url,
        )

    @property
    def configured(self) -> bool:
        return self._key is not None or self._jwks is not None

    async def verify(self, token: str) -> Principal:
        if not self.configured:
            raise Unauthorized("This service has no identity provider configured.")
        known = self._verified.get(token)
        if known is not None:
            if known[1] > time.time():
                return known[0]
            del self._verified[token]
            raise Unauthorized("Your login has expired. Log in again.", code="token_expired")
        principal, expires = await self._verify(token)
        if len(self._verified) >= VERIFIED_TOKENS:
            self._verified.clear()  # bounded: many logins at once cannot grow it
        self._verified[token] = (principal, expires)
        return principal

    async def _verify(self, token: str) -> tuple[Principal, float]:
        try:
            key = self._key
            if self._jwks is not None:
                key = await self._jwks_key(token)
            claims = jwt.decode(
                token,
                key,
                algorithms=ALGORITHMS,
                audience=self.audience,
                issuer=self.issuer,
                options={"require": ["exp", "iat", "sub", "iss", "aud"]},
            )
        except jwt.ExpiredSignatureError as exc:
            raise Unauthorized(
                "Your login has expired. Log in again.", code="token_expired"
            ) from exc
        except (jwt.PyJWTError, ValueError) as exc:
            raise Unauthorized("The login token is not valid.", code="token_invalid") from exc
        return principal_from_claims(claims), float(claims["exp"])

    async def _jwks_key(self, token: str) -> Any:
        assert self._jwks is not None
        kid = str(jwt.get_unverified_header(token).get("kid", ""))
        key = self._jwks_keys.get(kid)
        if key is None:
            # PyJWKClient fetches over blocking HTTP: only for a key this process has not seen.
            key = (await asyncio.to_thread(self._jwks.get_signing_key_from_jwt, token)).key
            if len(self._jwks_keys) < 100:  # a flood of made-up kids cannot grow it
                self._jwks_keys[kid] = key
        return key


def principal_from_claims(claims: dict[str, Any]) -> Principal:
    ensure_login_method(claims)
    try:
        return Principal(
            kind=claims.get("kind", ""),
            subject=claims["sub"],
            hsa_id=claims.get("hsa_id"),
            assignments=tuple(Assignment.model_validate(a) for a in claims.get("assignments", ())),
            personnummer=claims.get("personnummer"),
        )
    except (KeyError, ValidationError) as exc:
        raise Unauthorized("The login token lacks who you are.", code="token_invalid") from exc


def ensure_login_method(claims: dict[str, Any]) -> None:
    """Staff log in with SITHS only, citizens with BankID only (AC-1): the token's ``amr``
    (RFC 8176) must name the method of its ``kind``, and not the other kind's. A token of the
    citizen flow that claims to be staff, or one naming no method, is refused."""
    kind = claims.get("kind")
    required = LOGIN_METHODS.get(kind) if isinstance(kind, str) else None
    if required is None:
        raise Unauthorized("The login token lacks who you are.", code="token_invalid")
    amr = claims.get("amr")
    methods = {amr} if isinstance(amr, str) else set(amr) if isinstance(amr, list) else set()
    others = set(LOGIN_METHODS.values()) - {required}
    if required not in methods or methods & others:
        how = {"staff": "a SITHS card", "citizen": "BankID"}.get(str(kind), "client credentials")
        raise Unauthorized(
            f"This login was not made with {how}: log in again with {how}.",
            code="wrong_login_method",
        )


def bearer_token(request: Request) -> str | None:
    header = request.headers.get("authorization", "")
    scheme, _, token = header.partition(" ")
    if scheme.lower() != "bearer" or not token:
        return None
    return token.strip()


def with_active_assignment(principal: Principal, requested: str | None) -> Principal:
    """Pick the assignment this request acts in (AC-2): switching is per request."""
    if not principal.is_staff:
        return principal
    if requested:
        assignment = principal.assignment(requested)
        if assignment is None:
            raise Forbidden(
                f"You do not hold the assignment {requested!r}. Choose one of your own.",
                code="unknown_assignment",
            )
    elif len(principal.assignments) == 1:
        assignment = principal.assignments[0]
    elif not principal.assignments:
        raise Forbidden("You hold no assignment in the HSA directory.", code="no_assignment")
    else:
        raise BadRequest(
            f"You hold several assignments: name the one you act in with {ASSIGNMENT_HEADER}.",
            code="assignment_required",
        )
    return principal.model_copy(update={"active_assignment": assignment})


_bearer = HTTPBearer(auto_error=False, description="A token from the identity provider.")


async def authenticate(
    request: Request,
    credentials: Annotated[HTTPAuthorizationCredentials | None, Depends(_bearer)],
    assignment: Annotated[
        str | None,
        Header(
            alias=ASSIGNMENT_HEADER,
            description="Staff: the id of the assignment (uppdrag) this request acts in.",
        ),
    ] = None,
) -> Principal:
    verifier: TokenVerifier = request.app.state.token_verifier
    if credentials is None or credentials.scheme.lower() != "bearer":
        raise Unauthorized("Log in first: this needs a bearer token.", code="token_missing")
    principal = await verifier.verify(credentials.credentials)
    return with_active_assignment(principal, assignment)


CurrentPrincipal = Annotated[Principal, Depends(authenticate)]


def require_staff(*roles: Role) -> Callable[[Principal], Awaitable[Principal]]:
    """A dependency admitting staff whose active assignment has one of ``roles`` (any if none)."""
    allowed = frozenset(roles)

    async def check(principal: CurrentPrincipal) -> Principal:
        if not principal.is_staff or principal.active_assignment is None:
            raise Forbidden("Only staff logged in with SITHS may do this.", code="staff_only")
        if allowed and principal.active_assignment.role not in allowed:
            raise Forbidden(
                f"Your assignment as {principal.active_assignment.role.display_name_sv} "
                f"does not allow this. Allowed: {_names(allowed)}.",
                code="role_not_allowed",
            )
        return principal

    return check


def _names(roles: Iterable[Role]) -> str:
    return ", ".join(sorted(r.display_name_sv for r in roles))


def authorize(op: Operation) -> Callable[..., Awaitable[Principal]]:
    """A dependency admitting exactly who the authorization matrix admits for ``op``."""

    async def check(principal: CurrentPrincipal) -> Principal:
        if not op.allows(principal):
            raise Forbidden(op.denial(principal), code="not_allowed")
        return principal

    check.__name__ = f"authorize_{op.name.replace('.', '_')}"
    return check


def ensure_own(principal: Principal, personnummer: str | None) -> None:
    """Citizens act on their own data only (AC-5): staff pass, a citizen must be the patient."""
    if principal.kind == "citizen" and (
        personnummer is None or principal.personnummer != personnummer
    ):
        raise Forbidden("You can only see and change your own details.", code="not_your_data")


def ensure_unit(principal: Principal, unit_id: str) -> None:
    """Staff see and change a unit's bookings only acting in an assignment at that unit (AC-5)."""
    if principal.kind != "staff":
        return
    active = principal.active_assignment
    if active is None or active.unit_id != unit_id:
        raise Forbidden(
            "This belongs to another unit: switch to an assignment at that unit.",
            code="other_unit",
        )
