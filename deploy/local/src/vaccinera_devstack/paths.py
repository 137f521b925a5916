"""Where the devstack keeps downloads and where the repository lives."""

from __future__ import annotations

import fcntl
import os
from collections.abc import Iterator
from contextlib import contextmanager
from functools import cache
from pathlib import Path

_CACHE_ENV = "VACCINERA_CACHE"


def cache_dir() -> Path:
    """Shared cache for jars and binaries: kept across runs so only the first run downloads."""
    configured = os.environ.get(_CACHE_ENV)
    path = Path(configured) if configured else Path.home() / ".cache" / "vaccinera"
    path.mkdir(parents=True, exist_ok=True)
    return path


@cache
def repo_root() -> Path:
    """The uv workspace root, found by walking up from this file (works from any cwd)."""
    for parent in Path(__file__).resolve().parents:
        pyproject = parent / "pyproject.toml"
        if pyproject.is_file() and "[tool.uv.workspace]" in pyproject.read_text():
            return parent
    raise RuntimeError(f"no uv workspace root above {__file__}")


def devstack_dir() -> Path:
    """deploy/local: holds the Maven pom that pins the Kafka jars."""
    return Path(__file__).resolve().parents[2]


@contextmanager
def cache_lock(name: str) -> Iterator[None]:
    """Serialise first-run builds between concurrent sessions (e.g. CI and a developer)."""
    lock_dir = cache_dir() / "locks"
    lock_dir.mkdir(exist_ok=True)
    with (lock_dir / f"{name}.lock").open("w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)
