"""Development key pair for sealing the booking's manage code (issue 9): booking seals each
code to notifications' public key; only notifications' SMS sender holds the private key.

Made on the machine at first start (never committed), like the identity provider's signing
key (``tokens.ensure_keys``); a deployment takes both halves from its secret store.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from vaccinera_kit.sealed import generate_key_pair


@dataclass(frozen=True)
class SealingKeys:
    private_pem: Path  # notifications only
    public_pem: Path  # booking


def ensure_manage_code_keys(directory: Path) -> SealingKeys:
    keys = SealingKeys(directory / "manage-code-private.pem", directory / "manage-code-public.pem")
    if not (keys.private_pem.exists() and keys.public_pem.exists()):
        generate_key_pair(keys.private_pem, keys.public_pem)
    return keys
