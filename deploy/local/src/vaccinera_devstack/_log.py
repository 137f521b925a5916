"""One short stderr line per infrastructure step; nothing else is ever printed."""

from __future__ import annotations

import sys


def step(component: str, message: str) -> None:
    print(f"{component}: {message}", file=sys.stderr, flush=True)
