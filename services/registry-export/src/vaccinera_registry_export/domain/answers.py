"""What a receiver's answer means for a report (RX-5): acknowledged, worth retrying, or failed
for good.

- 2xx: acknowledged (a replay of an earlier acknowledgement is one too).
- 5xx, 408, 429, a timeout or no connection: the receiver could not take it now; retried with
  growing waits until it does.
- Any other 4xx: the receiver refuses this report as it is (an invalid resource, an unknown
  patient); sending it again unchanged would be refused again, so it waits for an operator,
  with the receiver's reason.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

RETRYABLE = frozenset({408, 425, 429})
# A receiver may quote the patient's identifier back; the ledger and the operator never see it.
_IDENTIFIER = re.compile(
    # personnummer and samordningsnummer, 10 or 12 digits, with or without - or +
    r"(?<!\d)(\d{6}|\d{8})[-+]?\d{4}(?!\d)"
    # reserve numbers: a region's letters among digits (ID-1, e.g. 13R000000042)
    r"|(?<![0-9A-Za-z])\d{2}[A-Z]{1,2}\d{6,10}(?![0-9A-Za-z])"
)


@dataclass(frozen=True)
class Acknowledged:
    receiver_ref: str | None


@dataclass(frozen=True)
class Retry:
    reason: str
    status: int | None = None


@dataclass(frozen=True)
class Failed:
    reason: str
    status: int | None = None


Outcome = Acknowledged | Retry | Failed


def _reason(status: int, body: Any) -> str:
    """The receiver's own words, without identifiers in them."""
    return _IDENTIFIER.sub("[identifier]", _words(status, body))


def _words(status: int, body: Any) -> str:
    """An OperationOutcome's diagnostics, else the body, short."""
    if isinstance(body, dict):
        issues = body.get("issue")
        if isinstance(issues, list) and issues:
            texts = [
                str(i.get("diagnostics") or i.get("code") or "")
                for i in issues
                if isinstance(i, dict)
            ]
            return f"{status}: " + "; ".join(t for t in texts if t)[:500]
        return f"{status}: {str(body)[:500]}"
    return f"{status}: {str(body or '')[:500]}"


def judge(status: int, body: Any) -> Outcome:
    if 200 <= status < 300:
        ref = body.get("id") if isinstance(body, dict) else None
        return Acknowledged(str(ref) if ref is not None else None)
    if status >= 500 or status in RETRYABLE:
        return Retry(_reason(status, body), status)
    return Failed(_reason(status, body), status)


def backoff(attempts: int) -> timedelta:
    """The wait before attempt ``attempts + 1``: 1, 2, 4 … seconds, at most five minutes."""
    return timedelta(seconds=min(2 ** max(attempts - 1, 0), 300))
