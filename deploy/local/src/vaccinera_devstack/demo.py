"""Demo data loaded by the start command, through the gateway like any client would."""

from __future__ import annotations

import httpx

from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.idp import directory
from vaccinera_identity.population import SyntheticRegister


def load(gateway_url: str, keys: tokens.DevKeys) -> dict[str, str]:
    """Register the demo citizens (who can log in with BankID at the development identity
    provider), a few persons of the synthetic population register and one reserve-number
    patient. Returns identifier -> patient id."""
    headers = {"authorization": f"Bearer {tokens.demo_staff_token(keys, Role.NURSE)}"}
    bodies: list[dict[str, str]] = []
    for citizen in directory.citizens():
        given, _, family = citizen.name.partition(" ")
        bodies.append(
            {"identifier": citizen.personnummer, "given_name": given, "family_name": family}
        )
    # Names of register persons come from the register; protected ones need typed names.
    for person in SyntheticRegister().sample(5, seed=2026, protected=False):
        bodies.append({"identifier": person.identifier})
    for person in SyntheticRegister().sample(1, seed=2026, protected=True):
        bodies.append(
            {"identifier": person.identifier, "given_name": "Skyddad", "family_name": "Person"}
        )
    registered = {}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=30) as client:
        for body in bodies:
            response = client.post("/api/identity/patients", json=body)
            response.raise_for_status()
            registered[response.json()["identifier"]] = response.json()["patient_id"]
        reserve = client.post(
            "/api/identity/patients/reserve", json={"given_name": "Okänd", "family_name": "Patient"}
        )
        reserve.raise_for_status()
        registered[reserve.json()["identifier"]] = reserve.json()["patient_id"]
    return registered
