"""A service's own token (issue 9): client credentials from the provider, kept until shortly
before it expires; the kit reads it as a service principal, never as a person."""

from __future__ import annotations

import base64
from pathlib import Path
from urllib.parse import parse_qs

import httpx
import pytest

from vaccinera_contracts.roles import Assignment, Role
from vaccinera_devstack import tokens
from vaccinera_kit.auth import principal_from_claims
from vaccinera_kit.errors import Unauthorized
from vaccinera_kit.service_token import ServiceToken, ServiceTokenError


def test_a_client_credentials_token_is_a_service_principal_and_nothing_more() -> None:
    principal = principal_from_claims(tokens.service_claims("notifications"))
    assert (principal.kind, principal.subject) == ("service", "notifications")
    assert principal.hsa_id is None and principal.personnummer is None
    assert not principal.is_staff and principal.active_assignment is None
    # A person's login cannot pass for a service, nor a service's for staff.
    a = Assignment(id="a", role=Role.NURSE, unit_id="u", care_provider_id="p")
    for forged in (
        {**tokens.citizen_claims("191212121212"), "kind": "service"},
        {**tokens.staff_claims("SE-1", [a]), "kind": "service"},
        {
            **tokens.service_claims("notifications"),
            "kind": "staff",
            "assignments": [a.model_dump()],
        },
        {**tokens.service_claims("notifications"), "amr": ["client_credentials", "siths"]},
    ):
        with pytest.raises(Unauthorized) as refused:
            principal_from_claims(forged)
        assert refused.value.code == "wrong_login_method", forged


async def test_the_token_is_fetched_once_kept_and_fetched_again_when_turned_down(
    tmp_path: Path,
) -> None:
    secret = tmp_path / "notifications.secret"
    secret.write_text("s3cret\n")
    asked: list[tuple[str, dict[str, list[str]]]] = []

    def provider(request: httpx.Request) -> httpx.Response:
        basic = request.headers["authorization"].removeprefix("Basic ")
        asked.append((base64.b64decode(basic).decode(), parse_qs(request.content.decode())))
        return httpx.Response(200, json={"access_token": f"t{len(asked)}", "expires_in": 3600})

    async with httpx.AsyncClient(transport=httpx.MockTransport(provider)) as http:
        token = ServiceToken(
            http, token_url="http://idp/token", client_id="notifications", secret_file=secret
        )
        assert await token.authorization() == "Bearer t1"
        assert await token.authorization() == "Bearer t1"  # kept
        token.invalidate()
        assert await token.authorization() == "Bearer t2"
    assert asked == [("notifications:s3cret", {"grant_type": ["client_credentials"]})] * 2


async def test_no_token_when_the_provider_refuses_or_is_down(tmp_path: Path) -> None:
    secret = tmp_path / "x.secret"
    secret.write_text("wrong")

    def refusing(_: httpx.Request) -> httpx.Response:
        return httpx.Response(401, json={"code": "invalid_client"})

    def down(request: httpx.Request) -> httpx.Response:
        raise httpx.ConnectError("refused", request=request)

    for handler in (refusing, down):
        async with httpx.AsyncClient(transport=httpx.MockTransport(handler)) as http:
            token = ServiceToken(
                http, token_url="http://idp/token", client_id="x", secret_file=secret
            )
            with pytest.raises(ServiceTokenError):
                await token.authorization()
