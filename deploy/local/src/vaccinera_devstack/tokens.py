"""Development signing keys and tokens, standing in for the SITHS/BankID identity provider.

Local runs and tests sign tokens with a key made on the machine (never committed); services
verify them with the public half, exactly as they verify the real provider's tokens (AC-1).
"""

from __future__ import annotations

import base64
import functools
import hashlib
import json
import secrets
import time
import uuid
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import jwt
from cryptography.hazmat.primitives import serialization
from cryptography.hazmat.primitives.asymmetric import rsa
from jwt.algorithms import RSAAlgorithm

from vaccinera_contracts.roles import BANKID, CLIENT_CREDENTIALS, SITHS, Assignment, Role

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


def jwk_thumbprint(jwk: dict[str, Any]) -> str:
    """RFC 7638 SHA-256 thumbprint of an RSA public JWK (only e, kty and n count)."""
    required = {"e": jwk["e"], "kty": jwk["kty"], "n": jwk["n"]}
    canonical = json.dumps(required, separators=(",", ":"), sort_keys=True).encode("ascii")
    digest = hashlib.sha256(canonical).digest()
    return base64.urlsafe_b64encode(digest).rstrip(b"=").decode("ascii")


@functools.cache
def public_jwk(keys: DevKeys) -> dict[str, str]:
    """The dev public key as a JWK with kid (its thumbprint), alg and use."""
    key = serialization.load_pem_public_key(keys.public_pem.read_bytes())
    if not isinstance(key, rsa.RSAPublicKey):
        raise ValueError(f"{keys.public_pem} does not hold an RSA public key")
    raw = RSAAlgorithm.to_jwk(key, as_dict=True)
    jwk = {"kty": "RSA", "n": str(raw["n"]), "e": str(raw["e"])}
    return {**jwk, "kid": jwk_thumbprint(jwk), "alg": "RS256", "use": "sig"}


def mint(
    keys: DevKeys,
    claims: dict[str, Any],
    *,
    ttl: int = 3600,
    now: float | None = None,
    headers: dict[str, Any] | None = None,
) -> str:
    """Sign `claims` (plus iss/aud/iat/exp/jti); `headers` adds JOSE header fields, e.g. a kid."""
    issued = int(now if now is not None else time.time())
    payload = {
        "iss": ISSUER,
        "aud": AUDIENCE,
        "iat": issued,
        "exp": issued + ttl,
        "jti": str(uuid.uuid4()),
        **claims,
    }
    # Always name the key, as the provider's JWKS does, so JWKS-based verifiers find it.
    headers = {"kid": public_jwk(keys)["kid"], **(headers or {})}
    return jwt.encode(payload, keys.private_key(), algorithm="RS256", headers=headers)


def staff_claims(hsa_id: str, assignments: list[Assignment]) -> dict[str, Any]:
    """A SITHS login: the HSA-id and the assignments from the HSA directory; ``amr`` names the
    method, which services require of staff (AC-1)."""
    return {
        "sub": hsa_id,
        "kind": "staff",
        "amr": [SITHS],
        "hsa_id": hsa_id,
        "assignments": [a.model_dump(mode="json") for a in assignments],
    }


def citizen_claims(personnummer: str) -> dict[str, Any]:
    """A BankID login through the national portal (``amr``: BankID)."""
    return {
        "sub": f"citizen:{uuid.uuid5(uuid.NAMESPACE_OID, personnummer)}",
        "kind": "citizen",
        "amr": [BANKID],
        "personnummer": personnummer,
    }


def service_claims(client_id: str) -> dict[str, Any]:
    """A Vaccinera service acting for itself (client credentials, no person): ``sub`` is its
    name."""
    return {"sub": client_id, "kind": "service", "amr": [CLIENT_CREDENTIALS]}


def clients_dir(keys_dir: Path) -> Path:
    """Where the development provider keeps each service client's secret (``<id>.secret``)."""
    return keys_dir / "clients"


def ensure_client_secret(keys_dir: Path, client_id: str) -> Path:
    """The file holding ``client_id``'s secret (made on first use, owner-readable only): the
    provider compares with it, and the service alone is given its path."""
    path = clients_dir(keys_dir) / f"{client_id}.secret"
    if not path.exists():
        path.parent.mkdir(parents=True, exist_ok=True)
        path.touch(mode=0o600)
        path.write_text(secrets.token_urlsafe(32))
    return path


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


def demo_staff_token(
    keys: DevKeys, role: Role, *, unit_id: str | None = None, ttl: int = 3600
) -> str:
    """A token for the first demo staff member (``idp.directory``) holding ``role`` (at
    ``unit_id`` if given), as the development identity provider would issue it. With a unit,
    the token carries just that assignment, so no assignment header is needed."""
    from vaccinera_devstack.idp import directory

    for member in directory.all_staff():
        matching = [
            a
            for a in member.assignments
            if a.role == role and (unit_id is None or a.unit_id == unit_id)
        ]
        if matching:
            chosen = matching[:1] if unit_id is not None else list(member.assignments)
            return mint(keys, staff_claims(member.hsa_id, chosen), ttl=ttl)
    raise LookupError(f"no demo staff member is {role.value} at {unit_id or 'any unit'}")
