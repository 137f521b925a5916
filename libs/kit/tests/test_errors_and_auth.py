"""One error model: every 4xx names the field or rule that failed, never echoes the input;
tokens are verified and the active assignment chosen per request (AC-1, AC-2)."""

import asyncio
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import Depends, FastAPI
from pydantic import BaseModel, Field
from sqlalchemy.exc import DBAPIError

from vaccinera_contracts.roles import Assignment, Principal, Role
from vaccinera_devstack import tokens
from vaccinera_kit.auth import (
    ASSIGNMENT_HEADER,
    TokenVerifier,
    principal_from_claims,
    require_staff,
    with_active_assignment,
)
from vaccinera_kit.errors import Conflict, TooManyRequests, Unauthorized
from vaccinera_kit.web import install_error_handlers


class Body(BaseModel):
    mobile: str = Field(pattern=r"^\+\d{8,15}$")
    doses: int = Field(ge=1)


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tokens.DevKeys:
    return tokens.ensure_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def app(keys: tokens.DevKeys) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    app.state.token_verifier = TokenVerifier(
        issuer=tokens.ISSUER, audience=tokens.AUDIENCE, public_key_file=Path(keys.public_pem)
    )

    @app.post("/things")
    async def create(body: Body) -> dict[str, str]:
        raise Conflict("Slot already taken.", extra={"next_free": ["09:05"]})

    @app.get("/busy")
    async def busy() -> dict[str, str]:
        raise TooManyRequests("Too many attempts: wait a while.", retry_after=2.2)

    @app.get("/stored/{value}")
    async def stored(value: str, sqlstate: str) -> dict[str, str]:
        class DriverError(Exception):
            pass

        error = DriverError("invalid byte sequence")
        error.sqlstate = sqlstate  # type: ignore[attr-defined]
        raise DBAPIError("SELECT", {}, error)

    nurse_only = Depends(require_staff(Role.NURSE))

    @app.get("/nurse")
    async def nurse(p: Annotated[Principal, nurse_only]) -> dict[str, str | None]:
        assert p.active_assignment is not None
        return {"unit": p.active_assignment.unit_id}

    return app


async def call(app: FastAPI, method: str, url: str, **kw: object) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.request(method, url, **kw)  # type: ignore[arg-type]


async def test_validation_error_names_fields_without_echoing_input(app: FastAPI) -> None:
    r = await call(app, "POST", "/things", json={"mobile": "0701234567", "doses": 0})
    assert r.status_code == 422
    body = r.json()
    assert body["code"] == "validation_error"
    assert {d["field"] for d in body["details"]} == {"mobile", "doses"}
    assert "0701234567" not in r.text


async def test_malformed_json_is_a_clear_422(app: FastAPI) -> None:
    r = await call(
        app, "POST", "/things", content=b"{not json", headers={"content-type": "application/json"}
    )
    assert r.status_code == 422
    assert r.json()["details"][0]["rule"] == "json_invalid"


async def test_text_the_database_cannot_store_is_a_422_other_database_errors_a_500(
    app: FastAPI,
) -> None:
    for sqlstate in ("22021", "22P05"):  # NUL in text; \u0000 in JSON
        r = await call(app, "GET", f"/stored/%00?sqlstate={sqlstate}")
        assert (r.status_code, r.json()["code"]) == (422, "invalid_text")
    r = await call(app, "GET", "/stored/x?sqlstate=57014")  # e.g. a cancelled statement
    assert (r.status_code, r.json()["code"]) == (500, "internal_error")


async def test_too_many_requests_says_when_to_try_again(app: FastAPI) -> None:
    r = await call(app, "GET", "/busy")
    assert (r.status_code, r.json()["code"]) == (429, "too_many_requests")
    assert r.headers["retry-after"] == "3"  # whole seconds, rounded up
    assert r.json()["retry_after_seconds"] == 3


async def test_domain_error_keeps_its_status_and_extra(app: FastAPI) -> None:
    r = await call(app, "POST", "/things", json={"mobile": "+46701234567", "doses": 1})
    assert r.status_code == 409
    assert r.json()["next_free"] == ["09:05"]


async def test_ac1_missing_invalid_and_expired_tokens_are_401(
    app: FastAPI, keys: tokens.DevKeys, tmp_path: Path
) -> None:
    assert (await call(app, "GET", "/nurse")).status_code == 401
    r = await call(app, "GET", "/nurse", headers={"authorization": "Bearer not-a-jwt"})
    assert (r.status_code, r.json()["code"]) == (401, "token_invalid")
    expired = tokens.staff_token(keys, Role.NURSE, ttl=-10)
    r = await call(app, "GET", "/nurse", headers={"authorization": f"Bearer {expired}"})
    assert (r.status_code, r.json()["code"]) == (401, "token_expired")
    other = tokens.ensure_keys(tmp_path / "other")  # signed by someone else
    forged = tokens.staff_token(other, Role.NURSE)
    r = await call(app, "GET", "/nurse", headers={"authorization": f"Bearer {forged}"})
    assert r.status_code == 401


def _bearer(token: str) -> dict[str, str]:
    return {"authorization": f"Bearer {token}"}


async def test_ac1_staff_token_without_the_siths_method_is_401(
    app: FastAPI, keys: tokens.DevKeys
) -> None:
    """Staff log in with SITHS only: a staff token naming no method, or another, is refused."""
    a = Assignment(id="a", role=Role.NURSE, unit_id="u", care_provider_id="p")
    for amr in (None, [], ["pwd"], "otp"):
        claims = {**tokens.staff_claims("SE-1", [a]), "amr": amr}
        if amr is None:
            del claims["amr"]
        r = await call(app, "GET", "/nurse", headers=_bearer(tokens.mint(keys, claims)))
        assert (r.status_code, r.json()["code"]) == (401, "wrong_login_method"), amr
        assert "SITHS" in r.json()["message"]


async def test_ac1_citizen_flow_token_claiming_staff_is_401(
    app: FastAPI, keys: tokens.DevKeys
) -> None:
    """A BankID login cannot become a staff login by saying kind=staff (AC-1)."""
    a = Assignment(id="a", role=Role.NURSE, unit_id="u", care_provider_id="p")
    forged = (
        # The citizen flow's claims with the kind and an assignment made up.
        {**tokens.citizen_claims("191212121212"), "kind": "staff", "assignments": [a.model_dump()]},
        # Staff claims, but BankID as the method; or both methods at once.
        {**tokens.staff_claims("SE-1", [a]), "amr": ["bankid"]},
        {**tokens.staff_claims("SE-1", [a]), "amr": ["bankid", "siths"]},
    )
    for claims in forged:
        r = await call(app, "GET", "/nurse", headers=_bearer(tokens.mint(keys, claims)))
        assert (r.status_code, r.json()["code"]) == (401, "wrong_login_method"), claims
    # And a citizen must have logged in with BankID.
    citizen = {**tokens.citizen_claims("191212121212"), "amr": ["siths"]}
    with pytest.raises(Unauthorized) as refused:
        principal_from_claims(citizen)
    assert refused.value.code == "wrong_login_method"
    unknown_kind = {**tokens.staff_claims("SE-1", [a]), "kind": "robot"}
    with pytest.raises(Unauthorized) as refused:
        principal_from_claims(unknown_kind)
    assert refused.value.code == "token_invalid"


async def test_ac1_siths_staff_and_bankid_citizen_tokens_pass(
    app: FastAPI, keys: tokens.DevKeys
) -> None:
    r = await call(app, "GET", "/nurse", headers=_bearer(tokens.staff_token(keys, Role.NURSE)))
    assert r.status_code == 200
    citizen = principal_from_claims(tokens.citizen_claims("191212121212"))
    assert (citizen.kind, citizen.personnummer) == ("citizen", "191212121212")
    a = Assignment(id="a", role=Role.NURSE, unit_id="u", care_provider_id="p")
    # The method may come as a single string, and with further methods beside it (e.g. pin).
    staff = principal_from_claims({**tokens.staff_claims("SE-1", [a]), "amr": ["siths", "pin"]})
    assert staff.is_staff
    assert principal_from_claims({**tokens.staff_claims("SE-1", [a]), "amr": "siths"}).is_staff


async def test_ac1_a_token_accepted_once_is_refused_when_it_expires(
    app: FastAPI, keys: tokens.DevKeys
) -> None:
    """Verified tokens are remembered, but never beyond their expiry."""
    short = tokens.staff_token(keys, Role.NURSE, ttl=2)
    headers = {"authorization": f"Bearer {short}"}
    assert (await call(app, "GET", "/nurse", headers=headers)).status_code == 200
    assert (await call(app, "GET", "/nurse", headers=headers)).status_code == 200
    await asyncio.sleep(2.5)
    r = await call(app, "GET", "/nurse", headers=headers)
    assert (r.status_code, r.json()["code"]) == (401, "token_expired")


async def test_ac3_wrong_role_is_403_with_swedish_title(app: FastAPI, keys: tokens.DevKeys) -> None:
    token = tokens.staff_token(keys, Role.BOOKING_ONLY)
    r = await call(app, "GET", "/nurse", headers={"authorization": f"Bearer {token}"})
    assert r.status_code == 403
    assert "Endast bokning" in r.json()["message"]
    citizen = tokens.mint(keys, tokens.citizen_claims("191212121212"))
    r = await call(app, "GET", "/nurse", headers={"authorization": f"Bearer {citizen}"})
    assert r.status_code == 403


async def test_ac2_assignment_is_chosen_per_request(app: FastAPI, keys: tokens.DevKeys) -> None:
    a = Assignment(id="a", role=Role.NURSE, unit_id="unit-a", care_provider_id="p")
    b = Assignment(id="b", role=Role.NURSE, unit_id="unit-b", care_provider_id="p")
    token = tokens.mint(keys, tokens.staff_claims("SE-1", [a, b]))
    auth = {"authorization": f"Bearer {token}"}
    r = await call(app, "GET", "/nurse", headers={**auth, ASSIGNMENT_HEADER: "b"})
    assert r.json() == {"unit": "unit-b"}
    r = await call(app, "GET", "/nurse", headers={**auth, ASSIGNMENT_HEADER: "a"})
    assert r.json() == {"unit": "unit-a"}
    r = await call(app, "GET", "/nurse", headers=auth)
    assert (r.status_code, r.json()["code"]) == (400, "assignment_required")
    r = await call(app, "GET", "/nurse", headers={**auth, ASSIGNMENT_HEADER: "someone-elses"})
    assert r.status_code == 403


def test_ac2_single_assignment_is_the_default() -> None:
    a = Assignment(id="a", role=Role.DOCTOR, unit_id="u", care_provider_id="p")
    p = Principal(kind="staff", subject="s", assignments=(a,))
    assert with_active_assignment(p, None).active_assignment == a
