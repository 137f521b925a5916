"""Notification rules, free of I/O."""

from __future__ import annotations

from typing import Any


def contact_update(*, protected: bool, mobile: str | None, email: str | None) -> dict[str, Any]:
    """Keep the patient's contact details, unless the patient is protected (ID-3, NT-2)."""
    if protected:
        return {"$set": {"mobile": None, "email": None}}
    return {"$set": {"mobile": mobile, "email": email}}


def protection_update(protected: bool) -> dict[str, Any]:
    """Protected identity purges every contact detail at once (ID-3)."""
    if protected:
        return {"$set": {"protected": True, "mobile": None, "email": None}}
    return {"$set": {"protected": False}}
