"""Sealed secrets: a short secret encrypted to one recipient's public key, so it can travel in
events and rest in databases that only the recipient can read (issue 9: the booking's manage
code, sealed by booking to notifications, opened by the SMS sender alone).

RSA-OAEP with SHA-256 (RFC 8017). The OAEP label binds a sealed value to its context (the
booking id): copied onto another booking it no longer opens. The text form is
``rsa-oaep-256.<key id>.<base64url ciphertext>``; the key id (the first 16 hex digits of the
SHA-256 of the public key's DER) says which key pair sealed it, so a rotated key is recognised
rather than failing obscurely. Keys are PEM files: PKCS#8 private, SubjectPublicKeyInfo public.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
from pathlib import Path

from cryptography.hazmat.primitives import hashes, serialization
from cryptography.hazmat.primitives.asymmetric import padding, rsa

SCHEME = "rsa-oaep-256"


class SealError(Exception):
    """The value cannot be opened here: malformed, sealed to another key, or to another
    context. The message never holds the secret."""


def key_id(public_key: rsa.RSAPublicKey) -> str:
    der = public_key.public_bytes(
        serialization.Encoding.DER, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return hashlib.sha256(der).hexdigest()[:16]


def _oaep(context: str) -> padding.OAEP:
    return padding.OAEP(
        mgf=padding.MGF1(algorithm=hashes.SHA256()),
        algorithm=hashes.SHA256(),
        label=context.encode(),
    )


class Sealer:
    """Seals secrets to the recipient's public key (it cannot open them)."""

    def __init__(self, public_key_pem: bytes) -> None:
        key = serialization.load_pem_public_key(public_key_pem)
        if not isinstance(key, rsa.RSAPublicKey):
            raise ValueError("a sealing key must be an RSA public key")
        self._key = key
        self.key_id = key_id(key)

    @classmethod
    def from_file(cls, path: Path) -> Sealer:
        return cls(path.read_bytes())

    def seal(self, secret: str, *, context: str) -> str:
        sealed = self._key.encrypt(secret.encode(), _oaep(context))
        encoded = base64.urlsafe_b64encode(sealed).rstrip(b"=").decode("ascii")
        return f"{SCHEME}.{self.key_id}.{encoded}"


class Opener:
    """Opens what was sealed to its key pair."""

    def __init__(self, private_key_pem: bytes) -> None:
        key = serialization.load_pem_private_key(private_key_pem, password=None)
        if not isinstance(key, rsa.RSAPrivateKey):
            raise ValueError("an opening key must be an RSA private key")
        self._key = key
        self.key_id = key_id(key.public_key())

    @classmethod
    def from_file(cls, path: Path) -> Opener:
        return cls(path.read_bytes())

    def open(self, sealed: str, *, context: str) -> str:
        scheme, _, rest = sealed.partition(".")
        kid, _, encoded = rest.partition(".")
        if scheme != SCHEME or not encoded:
            raise SealError("not a sealed value")
        if kid != self.key_id:
            raise SealError(f"sealed to key {kid}, this is key {self.key_id}")
        try:
            ciphertext = base64.urlsafe_b64decode(encoded + "=" * (-len(encoded) % 4))
            return self._key.decrypt(ciphertext, _oaep(context)).decode()
        except (ValueError, binascii.Error, UnicodeDecodeError) as exc:
            raise SealError("the sealed value does not open with this key and context") from exc


def generate_pem_pair(*, bits: int = 3072) -> tuple[bytes, bytes]:
    """A new key pair as PEM bytes: (private PKCS#8, public SubjectPublicKeyInfo)."""
    key = rsa.generate_private_key(public_exponent=65537, key_size=bits)
    private = key.private_bytes(
        serialization.Encoding.PEM,
        serialization.PrivateFormat.PKCS8,
        serialization.NoEncryption(),
    )
    public = key.public_key().public_bytes(
        serialization.Encoding.PEM, serialization.PublicFormat.SubjectPublicKeyInfo
    )
    return private, public


def generate_key_pair(private_pem: Path, public_pem: Path, *, bits: int = 3072) -> None:
    """A new key pair as PEM files (the private one readable by its owner only): for local
    runs and tests; a deployment takes its keys from its secret store."""
    private, public = generate_pem_pair(bits=bits)
    private_pem.parent.mkdir(parents=True, exist_ok=True)
    private_pem.touch(mode=0o600)
    private_pem.chmod(0o600)
    private_pem.write_bytes(private)
    public_pem.write_bytes(public)
