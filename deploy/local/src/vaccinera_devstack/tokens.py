"""Development signing keys and tokens, standing in for the SITHS/BankID identity provider.

Local runs and tests sign tokens with a key made on the machine (never committed); services
verify them with the public half, exactly as they verify the real provider's tokens (AC-1).
"""

from __future__ import annotations

import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa

from vaccinera_contracts.roles import Assignment, Role

ISSUER = "vaccinera-dev-idp"
AUDIENCE = "vaccinera"


@dataclass(frozen=True)
class DevKeys:
    private_pem: Path
    public_pem: Path

    def private_key(self) -> bytes:
        return self.private_pem.read_bytes()


def ensure_keys(directory: Path) -> DevKeys:
    directory.mkdir(parents=True, exist_ok=True)
    keys = DevKeys(directory / "dev-idp-private.pem", directory / "dev-idp-public.pem")
    if keys.private_pem.exists() and keys.public_pem.exists():
        return keys
    key = rsa.generate_private_key(public_exponent=65537, key_size=2048)
    keys.private_pem.write_bytes(
        key.private_bytes(
            serialization.Encoding.PEM,
            serialization.PrivateFormat.PKCS8,
            serialization.NoEncryption(),
        )
    )
    keys.private_pem.chmod(0o600)
    keys.public_pem.write_bytes(
        key.public_key().public_bytes(
            serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
        )
    )
    return keys


def mint(
    keys: DevKeys, claims: dict[str, Any], *, ttl: int = 3600, now: float | None = None
) -> str:
    issued = int(now if now is not None else time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    return jwt.encode(payload, keys.private_key(), algorithm="RS256")


def staff_claims(hsa_id: str, assignments: list[Assignment]) -> dict[str, Any]:
    """A SITHS login: the HSA-id and the assignments from the HSA directory."""
    return {
        "sub": hsa_id,
        "kind": "staff",
        "hsa_id": hsa_id,
        "assignments": [a.model_dump(mode="json") for a in assignments],
    }


def citizen_claims(personnummer: str) -> dict[str, Any]:
    """A BankID login through the national portal."""
    return {
        "sub": f"citizen:{uuid.uuid5(uuid.NAMESPACE_OID, personnummer)}",
        "kind": "citizen",
        "personnummer": personnummer,
    }


def staff_token(
    keys: DevKeys,
    role: Role,
    *,
    unit_id: str = "unit-centrum",
    care_provider_id: str = "provider-region",
    hsa_id: str | None = None,
    ttl: int = 3600,
) -> str:
    """A token for one staff member holding one assignment: handy in tests and demos."""
    hsa = hsa_id or f"SE2321000000-{role.value}"
    assignment = Assignment(
        id=f"{unit_id}:{role.value}", role=role, unit_id=unit_id, care_provider_id=care_provider_id
    )
    return mint(keys, staff_claims(hsa, [assignment]), ttl=ttl)
