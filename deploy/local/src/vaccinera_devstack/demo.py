"""Demo data loaded by the start command, through the gateway like any client would."""

from __future__ import annotations

import httpx

from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens

# Skatteverket's published test personnummer (not real people).
DEMO_PATIENTS = ["19121212-1212", "189001019802", "196408233234", "198112189876"]


def load(gateway_url: str, keys: tokens.DevKeys) -> dict[str, str]:
    """Register the demo patients; returns identifier -> patient id."""
    headers = {"authorization": f"Bearer {tokens.staff_token(keys, Role.NURSE)}"}
    registered = {}
    with httpx.Client(base_url=gateway_url, headers=headers, timeout=30) as client:
        for identifier in DEMO_PATIENTS:
            response = client.post("/api/identity/patients", json={"identifier": identifier})
            response.raise_for_status()
            registered[identifier] = response.json()["patient_id"]
    return registered
