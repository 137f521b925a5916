"""The development identity provider, run as its own process and verified through JWKS."""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import jwt
import pytest

from vaccinera_contracts.roles import Assignment, Role
from vaccinera_devstack import tokens
from vaccinera_devstack.idp import directory
from vaccinera_devstack.idp.app import jwk_thumbprint
from vaccinera_devstack.idp.server import IdentityProviderServer
from vaccinera_devstack.process import free_port
from vaccinera_kit.auth import TokenVerifier

# RFC 7638 section 3.1: the published example key and its thumbprint.
RFC7638_N = (
    "0vx7agoebGcQSuuPiLJXZptN9nndrQmbXEps2aiAFbWhM78LhWx4cbbfAAtVT86zwu1RK7aPFFxuhDR1L6tSoc_BJECPe"
    "bWKRXjBZCiFV4n3oknjhMstn64tZ_2W-5JsGY4Hc5n9yBXArwl93lqt7_RN5w6Cf0h4QyQ5v-65YGjQR0_FDW2QvzqY3"
    "68QQMicAtaSqzs8KJZgnYb9c7d0zgdAZHzu6qMQvRL5hajrn1n91CbOpbISD08qNLyrdkt-bFTWhAI4vMQFh6WeZu0fM"
    "4lFd2NcRwr3XPksINHaQ-G_xBniIqbw0Ls1jF44-csFCur-kEgU8awapJzKnqDKgw"
)


@pytest.fixture(scope="module")
def idp(tmp_path_factory: pytest.TempPathFactory) -> Iterator[IdentityProviderServer]:
    base = tmp_path_factory.mktemp("idp")
    server = IdentityProviderServer(free_port(), base / "keys", base / "idp.log")
    server.start()
    try:
        server.wait_ready()
        yield server
    finally:
        server.stop()


@pytest.fixture(scope="module")
def http(idp: IdentityProviderServer) -> Iterator[httpx.Client]:
    with httpx.Client(base_url=idp.url, timeout=5.0) as client:
        yield client


def verify(idp: IdentityProviderServer, token: str) -> dict[str, Any]:
    key = jwt.PyJWKClient(idp.jwks_url).get_signing_key_from_jwt(token).key
    claims: dict[str, Any] = jwt.decode(
        token,
        key,
        algorithms=["RS256"],
        audience=tokens.AUDIENCE,
        issuer=tokens.ISSUER,
        options={"require": ["exp", "iat", "sub", "iss", "aud"]},
    )
    return claims


def login_staff(http: httpx.Client, hsa_id: str) -> str:
    response = http.post("/token/siths", json={"hsa_id": hsa_id})
    assert response.status_code == 200, response.text
    body = response.json()
    assert body["token_type"] == "Bearer"
    assert body["expires_in"] == 3600
    token: str = body["access_token"]
    return token


def login_citizen(http: httpx.Client, personnummer: str) -> httpx.Response:
    return http.post("/token/bankid", json={"personnummer": personnummer})


# --- AC-1: tokens verify against the published key -----------------------------------------------


def test_ac1_siths_token_verifies_against_jwks(
    idp: IdentityProviderServer, http: httpx.Client
) -> None:
    member = directory.first_staff_with(Role.DOCTOR)
    token = login_staff(http, member.hsa_id)

    claims = verify(idp, token)

    assert claims["kind"] == "staff"
    assert claims["amr"] == ["siths"]  # services refuse staff tokens of any other method
    assert claims["sub"] == member.hsa_id
    assert claims["hsa_id"] == member.hsa_id
    assert [Assignment.model_validate(a) for a in claims["assignments"]] == list(member.assignments)
    assert claims["exp"] - claims["iat"] == 3600
    assert member.name not in token  # names stay in the directory, out of tokens


async def test_ac1_service_verifier_accepts_idp_token_through_jwks(
    idp: IdentityProviderServer, http: httpx.Client
) -> None:
    member = directory.first_staff_with(Role.NURSE)
    verifier = TokenVerifier(issuer=tokens.ISSUER, audience=tokens.AUDIENCE, jwks_url=idp.jwks_url)

    principal = await verifier.verify(login_staff(http, member.hsa_id))

    assert principal.is_staff
    assert principal.hsa_id == member.hsa_id
    assert principal.assignments == member.assignments


def test_ac1_jwks_publishes_the_signing_key_with_its_thumbprint_as_kid(
    idp: IdentityProviderServer, http: httpx.Client
) -> None:
    (key,) = http.get("/jwks.json").json()["keys"]
    token = login_staff(http, directory.all_staff()[0].hsa_id)

    assert key["kty"] == "RSA"
    assert key["alg"] == "RS256"
    assert key["use"] == "sig"
    assert key["kid"] == jwk_thumbprint(key)
    assert jwt.get_unverified_header(token)["kid"] == key["kid"]
    assert "d" not in key  # the public half only


def test_ac1_jwk_thumbprint_matches_rfc7638_example() -> None:
    jwk = {"kty": "RSA", "n": RFC7638_N, "e": "AQAB", "alg": "RS256", "kid": "2011-04-29"}
    assert jwk_thumbprint(jwk) == "NzbLsXh8uDCcd-6MNwXF4W_7noWXFZAfHkxZsRGC9Xs"


def test_ac1_openid_configuration_points_at_jwks_and_token_endpoints(
    idp: IdentityProviderServer, http: httpx.Client
) -> None:
    config = http.get("/.well-known/openid-configuration").json()

    assert config["issuer"] == tokens.ISSUER
    assert config["jwks_uri"] == idp.jwks_url
    assert config["token_endpoint"] == f"{idp.url}/token/siths"
    assert config["bankid_token_endpoint"] == f"{idp.url}/token/bankid"


def test_ac1_token_signed_by_another_key_fails_jwks_verification(
    idp: IdentityProviderServer, tmp_path: Path
) -> None:
    (key,) = httpx.get(idp.jwks_url).json()["keys"]
    forged = tokens.mint(
        tokens.ensure_keys(tmp_path / "other"),
        tokens.citizen_claims("191212121212"),
        headers={"kid": key["kid"]},
    )
    with pytest.raises(jwt.InvalidSignatureError):
        verify(idp, forged)


@pytest.mark.parametrize(
    ("given", "canonical"),
    [
        ("191212121212", "191212121212"),
        ("198112189876", "198112189876"),
        ("8112189876", "198112189876"),
        ("19640823-3234", "196408233234"),
        ("640823-3234", "196408233234"),
    ],
)
def test_ac1_bankid_token_carries_canonical_personnummer(
    idp: IdentityProviderServer, http: httpx.Client, given: str, canonical: str
) -> None:
    response = login_citizen(http, given)
    assert response.status_code == 200, response.text

    claims = verify(idp, response.json()["access_token"])

    assert claims["kind"] == "citizen"
    assert claims["amr"] == ["bankid"]
    assert claims["personnummer"] == canonical
    assert canonical not in claims["sub"]


def test_ac1_bankid_accepts_any_valid_personnummer_not_only_demo_citizens(
    idp: IdentityProviderServer, http: httpx.Client
) -> None:
    demo = {c.personnummer for c in directory.citizens()}
    outsider = "195005209878"  # Luhn-valid, not in the demo directory
    assert outsider not in demo

    response = login_citizen(http, outsider)

    assert response.status_code == 200, response.text
    assert verify(idp, response.json()["access_token"])["personnummer"] == outsider


def test_ac1_unknown_hsa_id_is_404(http: httpx.Client) -> None:
    response = http.post("/token/siths", json={"hsa_id": "SE2321000016-9999"})

    assert response.status_code == 404
    body = response.json()
    assert body["status"] == 404
    assert body["code"] == "unknown_hsa_id"
    assert "/directory" in body["message"]


@pytest.mark.parametrize(
    "personnummer",
    [
        "191212121213",  # wrong check digit
        "1212121213",  # wrong check digit, 10 digits
        "19121312-1212",  # no 13th month
        "12345",  # not a personnummer at all
        "13R000000042",  # a reserve number: no BankID
        "197010632391",  # a samordningsnummer: no BankID
    ],
)
def test_ac1_invalid_personnummer_is_422(http: httpx.Client, personnummer: str) -> None:
    response = login_citizen(http, personnummer)

    assert response.status_code == 422
    body = response.json()
    assert body["status"] == 422
    assert body["code"] == "invalid_personnummer"
    assert body["message"]
    assert personnummer not in response.text  # the input is never echoed


def test_ac1_malformed_login_bodies_are_422_json(http: httpx.Client) -> None:
    for path, body in [("/token/siths", {}), ("/token/bankid", {"pnr": "191212121212"})]:
        response = http.post(path, json=body)
        assert response.status_code == 422
        assert response.json()["code"] == "validation_error"


def test_ac1_log_holds_paths_but_no_personnummer_or_names(
    idp: IdentityProviderServer, http: httpx.Client
) -> None:
    assert login_citizen(http, "200001012384").status_code == 200
    assert http.get("/directory").status_code == 200
    for member in directory.all_staff():
        login_staff(http, member.hsa_id)

    log = idp.log_file.read_text(encoding="utf-8")

    assert "/token/bankid" in log
    for citizen in directory.citizens():
        assert citizen.personnummer not in log
        assert citizen.personnummer[2:] not in log
        assert citizen.name not in log
    for member in directory.all_staff():
        assert member.name not in log
        assert member.family_name not in log


# --- AC-2: assignments at units of care providers -----------------------------------------------


def test_ac2_two_care_providers_and_at_least_three_units() -> None:
    providers = {p.id for p in directory.care_providers()}
    units = directory.units()

    assert len(providers) == 2
    assert {"provider-region", "provider-vardcentral-ab"} == providers
    assert len(units) >= 3
    assert sum(u.care_provider_id == "provider-region" for u in units) >= 3
    assert all(u.care_provider_id in providers for u in units)
    assert {u.id for u in units} >= {"unit-centrum", "unit-norrkoping", "unit-motala"}


def test_ac2_assignments_are_consistent_with_units_and_providers() -> None:
    unit_provider = {u.id: u.care_provider_id for u in directory.units()}
    hsa_ids = [s.hsa_id for s in directory.all_staff()]

    assert len(hsa_ids) == len(set(hsa_ids))
    for member in directory.all_staff():
        assert member.hsa_id.startswith("SE2321000016-")
        assert len(member.hsa_id.removeprefix("SE2321000016-")) == 4
        assert member.assignments
        assert len({a.id for a in member.assignments}) == len(member.assignments)
        for a in member.assignments:
            assert a.id == f"{a.unit_id}:{a.role.value}"
            assert unit_provider[a.unit_id] == a.care_provider_id


def test_ac2_demo_staff_include_multi_unit_and_multi_role_people() -> None:
    staff = directory.all_staff()

    assert any(len({a.unit_id for a in s.assignments}) >= 2 for s in staff)
    assert any(
        len({a.role for a in s.assignments if a.unit_id == unit}) >= 2
        for s in staff
        for unit in {a.unit_id for a in s.assignments}
    )


def test_ac2_directory_lists_staff_with_unit_and_provider_names(http: httpx.Client) -> None:
    listing = http.get("/directory").json()

    assert len(listing["care_providers"]) == 2
    assert len(listing["units"]) == len(directory.units())
    by_hsa = {s["hsa_id"]: s for s in listing["staff"]}
    assert set(by_hsa) == {s.hsa_id for s in directory.all_staff()}
    anna = by_hsa[directory.first_staff_with(Role.DOCTOR).hsa_id]
    assert anna["name"] == "Anna Lindqvist"
    first = anna["assignments"][0]
    assert first["unit_name"] == "Vaccinationsmottagningen Linköping"
    assert first["care_provider_name"] == "Region Östergötland"
    assert first["role_title_sv"] == "Läkare"


def test_ac2_staff_member_lookup() -> None:
    member = directory.all_staff()[0]
    assert directory.staff_member(member.hsa_id) == member
    assert directory.staff_member("SE2321000016-0000") is None


# --- AC-3: every role can be logged in as ---------------------------------------------------------


@pytest.mark.parametrize("role", list(Role))
def test_ac3_every_role_has_a_demo_staff_member(role: Role, http: httpx.Client) -> None:
    member = directory.first_staff_with(role)
    assert role in member.roles

    claims = jwt.decode(login_staff(http, member.hsa_id), options={"verify_signature": False})

    assert role.value in {a["role"] for a in claims["assignments"]}


def test_ac1_demo_citizens_are_valid_personnummer(http: httpx.Client) -> None:
    for citizen in directory.citizens():
        assert len(citizen.personnummer) == 12
        assert login_citizen(http, citizen.personnummer).status_code == 200


def test_issue9_a_service_gets_its_own_token_with_its_client_secret_only(
    idp: IdentityProviderServer, http: httpx.Client
) -> None:
    secret_file = tokens.ensure_client_secret(idp.keys_dir, "notifications")
    assert oct(secret_file.stat().st_mode & 0o777) == "0o600"
    secret = secret_file.read_text()
    grant = {"grant_type": "client_credentials"}
    r = http.post("/token", data=grant, auth=("notifications", secret))
    assert r.status_code == 200, r.text
    assert r.headers["cache-control"] == "no-store"
    claims = verify(idp, r.json()["access_token"])
    assert (claims["sub"], claims["kind"], claims["amr"]) == (
        "notifications",
        "service",
        ["client_credentials"],
    )
    assert "hsa_id" not in claims and "personnummer" not in claims
    # The kit reads it as a service principal.
    verifier = TokenVerifier(issuer=tokens.ISSUER, audience=tokens.AUDIENCE, jwks_url=idp.jwks_url)
    principal = asyncio.run(verifier.verify(r.json()["access_token"]))
    assert (principal.kind, principal.subject) == ("service", "notifications")
    # The secret in the form works too (client_secret_post).
    posted = {**grant, "client_id": "notifications", "client_secret": secret}
    assert http.post("/token", data=posted).status_code == 200

    for client, wrong in (("notifications", secret + "x"), ("booking", secret), ("../keys", "")):
        r = http.post("/token", data=grant, auth=(client, wrong))
        assert (r.status_code, r.json()["code"]) == (401, "invalid_client"), client
        assert secret not in r.text
    r = http.post("/token", data={"grant_type": "password"}, auth=("notifications", secret))
    assert (r.status_code, r.json()["code"]) == (400, "unsupported_grant_type")
