"""The development identity provider: SITHS logins for demo staff, BankID logins for citizens.

Tokens are signed with the machine's dev key (`tokens.ensure_keys`) and carry a `kid` equal to
the RFC 7638 thumbprint of the key published at /jwks.json, so services verify them through
JWKS exactly as they would the real provider's (AC-1). Personnummer travel only in POST
bodies, never in a URL, so the access log (method, path, status) holds no personal data.
"""

from __future__ import annotations

import base64
import hmac
import re
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

from fastapi import FastAPI, Request, Response
from pydantic import BaseModel, ConfigDict, Field

from vaccinera_contracts.identifiers import IdentifierError, IdentifierKind, parse_identifier
from vaccinera_devstack import tokens
from vaccinera_devstack.idp import directory
from vaccinera_kit.errors import BadRequest, DomainError, ErrorDetail, NotFound, Unauthorized
from vaccinera_kit.web import install_error_handlers

TOKEN_TYPE = "Bearer"
CLIENT_ID = re.compile(r"[a-z][a-z0-9-]{0,39}")
jwk_thumbprint = tokens.jwk_thumbprint
public_jwk = tokens.public_jwk


# --- keys -------------------------------------------------------------------------------------


# --- request and response bodies ----------------------------------------------------------------


class SithsLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    hsa_id: str = Field(min_length=1, max_length=64)


class BankIdLogin(BaseModel):
    model_config = ConfigDict(extra="forbid")

    personnummer: str = Field(min_length=1, max_length=32)


class TokenResponse(BaseModel):
    access_token: str
    token_type: str = TOKEN_TYPE
    expires_in: int


class DirectoryProvider(BaseModel):
    id: str
    name: str


class DirectoryUnit(BaseModel):
    id: str
    name: str
    care_provider_id: str
    care_provider_name: str


class DirectoryAssignment(BaseModel):
    id: str
    role: str
    role_title_sv: str
    unit_id: str
    unit_name: str
    care_provider_id: str
    care_provider_name: str


class DirectoryStaff(BaseModel):
    hsa_id: str
    name: str
    assignments: list[DirectoryAssignment]


class DirectoryCitizen(BaseModel):
    personnummer: str
    name: str


class DirectoryListing(BaseModel):
    care_providers: list[DirectoryProvider]
    units: list[DirectoryUnit]
    staff: list[DirectoryStaff]
    citizens: list[DirectoryCitizen]


class InvalidPersonnummer(DomainError):
    status = 422
    code = "invalid_personnummer"


# --- the app ------------------------------------------------------------------------------------


def _provider_name(provider_id: str) -> str:
    provider = directory.care_provider(provider_id)
    return provider.name if provider is not None else provider_id


def _unit_name(unit_id: str) -> str:
    unit = directory.unit(unit_id)
    return unit.name if unit is not None else unit_id


def directory_listing() -> DirectoryListing:
    return DirectoryListing(
        care_providers=[
            DirectoryProvider(id=p.id, name=p.name) for p in directory.care_providers()
        ],
        units=[
            DirectoryUnit(
                id=u.id,
                name=u.name,
                care_provider_id=u.care_provider_id,
                care_provider_name=_provider_name(u.care_provider_id),
            )
            for u in directory.units()
        ],
        staff=[
            DirectoryStaff(
                hsa_id=s.hsa_id,
                name=s.name,
                assignments=[
                    DirectoryAssignment(
                        id=a.id,
                        role=a.role.value,
                        role_title_sv=a.role.display_name_sv,
                        unit_id=a.unit_id,
                        unit_name=_unit_name(a.unit_id),
                        care_provider_id=a.care_provider_id,
                        care_provider_name=_provider_name(a.care_provider_id),
                    )
                    for a in s.assignments
                ],
            )
            for s in directory.all_staff()
        ],
        citizens=[
            DirectoryCitizen(personnummer=c.personnummer, name=c.name) for c in directory.citizens()
        ],
    )


def canonical_personnummer(raw: str) -> str:
    """12 digits from a Luhn-valid 10- or 12-digit personnummer; raise InvalidPersonnummer.

    Messages never repeat the input. Samordningsnummer and reserve numbers are refused: a
    BankID is only issued on a personnummer.
    """
    try:
        identifier = parse_identifier(raw)
    except IdentifierError as exc:
        raise InvalidPersonnummer(
            f"Not a valid personnummer. {exc.message}",
            details=[ErrorDetail(field="personnummer", rule=exc.rule, message=exc.message)],
        ) from exc
    if identifier.kind is not IdentifierKind.PERSONNUMMER:
        message = f"BankID needs a personnummer, not a {identifier.kind.value}."
        raise InvalidPersonnummer(
            message,
            details=[ErrorDetail(field="personnummer", rule="not_personnummer", message=message)],
        )
    return identifier.value


def client_credentials(
    authorization: str, body: bytes, clients: Path | None
) -> tuple[str, dict[str, Any]]:
    """The service client a client-credentials request (RFC 6749 section 4.4) proves to be,
    and its claims. The client authenticates with HTTP Basic (``client_secret_basic``) or with
    ``client_id`` and ``client_secret`` in the form; its secret must equal the one on file."""
    form = {k: v[0] for k, v in parse_qs(body.decode(errors="replace")).items()}
    if form.get("grant_type") != "client_credentials":
        raise BadRequest(
            "Only grant_type=client_credentials is served here.", code="unsupported_grant_type"
        )
    client_id, secret = form.get("client_id", ""), form.get("client_secret", "")
    scheme, _, encoded = authorization.partition(" ")
    if scheme.lower() == "basic":
        try:
            client_id, _, secret = base64.b64decode(encoded).decode().partition(":")
        except ValueError:
            client_id, secret = "", ""
    expected = None
    if clients is not None and CLIENT_ID.fullmatch(client_id):
        path = clients / f"{client_id}.secret"
        expected = path.read_text().strip() if path.exists() else None
    if expected is None or not hmac.compare_digest(expected.encode(), secret.encode()):
        raise Unauthorized("Unknown client or wrong secret.", code="invalid_client")
    return client_id, tokens.service_claims(client_id)


def create_app(
    keys: tokens.DevKeys, *, token_ttl: int = 3600, clients: Path | None = None
) -> FastAPI:
    """The identity provider signing with `keys`; tokens live `token_ttl` seconds. Service
    clients (client credentials) are those with a secret in `clients`."""
    jwk = public_jwk(keys)
    signing_headers = {"kid": jwk["kid"]}
    listing = directory_listing()

    app = FastAPI(title="vaccinera development identity provider", docs_url=None, redoc_url=None)
    install_error_handlers(app)

    def issue(claims: dict[str, Any], response: Response) -> TokenResponse:
        response.headers["Cache-Control"] = "no-store"
        token = tokens.mint(keys, claims, ttl=token_ttl, headers=signing_headers)
        return TokenResponse(access_token=token, expires_in=token_ttl)

    @app.get("/health")
    async def health() -> dict[str, str]:
        return {"status": "ok"}

    @app.get("/.well-known/openid-configuration")
    async def openid_configuration(request: Request) -> dict[str, Any]:
        base = str(request.base_url).rstrip("/")
        return {
            "issuer": tokens.ISSUER,
            "jwks_uri": f"{base}/jwks.json",
            "token_endpoint": f"{base}/token/siths",
            # Vaccinera's services, for themselves (client credentials).
            "service_token_endpoint": f"{base}/token",
            "siths_token_endpoint": f"{base}/token/siths",
            "bankid_token_endpoint": f"{base}/token/bankid",
            "directory_endpoint": f"{base}/directory",
            "id_token_signing_alg_values_supported": ["RS256"],
            "token_endpoint_auth_methods_supported": ["none"],
            "service_token_endpoint_auth_methods_supported": [
                "client_secret_basic",
                "client_secret_post",
            ],
            "claims_supported": [
                "iss",
                "aud",
                "sub",
                "iat",
                "exp",
                "jti",
                "kind",
                "amr",
                "hsa_id",
                "assignments",
                "personnummer",
            ],
        }

    @app.get("/jwks.json")
    async def jwks() -> dict[str, list[dict[str, str]]]:
        return {"keys": [jwk]}

    @app.get("/directory")
    async def demo_directory() -> DirectoryListing:
        return listing

    # Plain `def`: minting reads the key file, so these run in the thread pool.
    @app.post("/token/siths")
    def siths_token(login: SithsLogin, response: Response) -> TokenResponse:
        member = directory.staff_member(login.hsa_id.strip())
        if member is None:
            raise NotFound(
                "No demo staff member has that HSA-id; GET /directory lists whom you can "
                "log in as.",
                code="unknown_hsa_id",
            )
        return issue(tokens.staff_claims(member.hsa_id, list(member.assignments)), response)

    @app.post("/token")
    async def service_token(request: Request, response: Response) -> TokenResponse:
        """A Vaccinera service's own token (client credentials): ``kind`` service, ``sub``
        its name."""
        _, claims = client_credentials(
            request.headers.get("authorization", ""), await request.body(), clients
        )
        return issue(claims, response)

    @app.post("/token/bankid")
    def bankid_token(login: BankIdLogin, response: Response) -> TokenResponse:
        personnummer = canonical_personnummer(login.personnummer)
        return issue(tokens.citizen_claims(personnummer), response)

    return app
