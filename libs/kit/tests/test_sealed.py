"""Sealed secrets (issue 9): only the key pair's owner opens them, only in their context."""

from __future__ import annotations

from pathlib import Path

import pytest

from vaccinera_kit.sealed import Opener, Sealer, SealError, generate_key_pair


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tuple[Sealer, Opener, Opener]:
    folder = tmp_path_factory.mktemp("sealed")
    generate_key_pair(folder / "a.pem", folder / "a.pub", bits=2048)
    generate_key_pair(folder / "b.pem", folder / "b.pub", bits=2048)
    assert oct((folder / "a.pem").stat().st_mode & 0o777) == "0o600"
    return (
        Sealer.from_file(folder / "a.pub"),
        Opener.from_file(folder / "a.pem"),
        Opener.from_file(folder / "b.pem"),
    )


def test_a_sealed_code_opens_with_its_key_in_its_context_only(
    keys: tuple[Sealer, Opener, Opener],
) -> None:
    sealer, opener, stranger = keys
    sealed = sealer.seal("042137", context="booking-1")
    assert "042137" not in sealed
    assert sealed.startswith(f"rsa-oaep-256.{sealer.key_id}.")
    assert sealer.seal("042137", context="booking-1") != sealed  # randomised padding
    assert opener.open(sealed, context="booking-1") == "042137"
    with pytest.raises(SealError, match="sealed to key"):
        stranger.open(sealed, context="booking-1")
    with pytest.raises(SealError) as refused:
        opener.open(sealed, context="booking-2")  # copied onto another booking
    assert "042137" not in str(refused.value)
    for garbage in ("", "042137", "rsa-oaep-256.x.y", f"rsa-oaep-256.{opener.key_id}.!!"):
        with pytest.raises(SealError):
            opener.open(garbage, context="booking-1")


def test_keys_of_the_wrong_kind_are_refused(tmp_path: Path) -> None:
    generate_key_pair(tmp_path / "k.pem", tmp_path / "k.pub", bits=2048)
    with pytest.raises(ValueError, match="public key"):
        Sealer((tmp_path / "k.pem").read_bytes())
    with pytest.raises(ValueError, match=r"private key|Could not deserialize"):
        Opener((tmp_path / "k.pub").read_bytes())
