"""JSON logs with personnummer, phone numbers and named personal fields masked.

Masking happens in the handler, so every logger (uvicorn's access log, FastStream, aiokafka)
is covered, not only our own calls.
"""

from __future__ import annotations

import logging
import re
import sys
from typing import Any

from pythonjsonlogger.json import JsonFormatter

# 10 or 12 digit personnummer/samordningsnummer, with or without separator.
_PERSONNUMMER = re.compile(r"(?<![\w.])(?:\d{2})?\d{6}[-+]?\d{4}(?![\w.])")
# Reserve numbers in the region format (see vaccinera_contracts.identifiers).
_RESERVNUMMER = re.compile(r"(?<!\w)\d{2}R\d{9}(?!\w)")
# Swedish mobile numbers in national or international form, and any E.164 number.
_PHONE = re.compile(r"(?:\+46|0046|(?<!\d)0)\s?7\d(?:[\s-]?\d){7}(?!\d)|\+\d{8,15}(?!\d)")

# PostgreSQL echoes the offending row or key values in an error's DETAIL (e.g. a CHECK on a
# protected person's contact columns): names, addresses, e-mail. The values go, the rest stays.
_PG_DETAIL_VALUES = re.compile(r"(DETAIL:\s+(?:Failing row contains|Key)\b).*")

SENSITIVE_KEYS = frozenset(
    {
        "name",
        "first_name",
        "last_name",
        "given_name",
        "family_name",
        "full_name",
        "address",
        "street",
        "phone",
        "mobile",
        "mobile_number",
        "email",
        "personnummer",
        "identifier",
    }
)
MASK = "***"


def mask_text(text: str) -> str:
    text = _PG_DETAIL_VALUES.sub(r"\1 [values hidden]", text)
    text = _PERSONNUMMER.sub("[personnummer]", text)
    text = _RESERVNUMMER.sub("[reservnummer]", text)
    return _PHONE.sub("[phone]", text)


class MaskingJsonFormatter(JsonFormatter):
    def process_log_record(self, log_data: dict[str, Any]) -> dict[str, Any]:
        return {key: _mask_value(key, value) for key, value in log_data.items()}

    def formatException(self, ei: Any) -> str:  # noqa: N802 - logging's name
        return mask_text(str(super().formatException(ei)))


def _mask_value(key: str, value: Any) -> Any:
    if key.lower() in SENSITIVE_KEYS:
        return MASK
    if isinstance(value, str):
        return mask_text(value)
    if isinstance(value, dict):
        return {k: _mask_value(str(k), v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_mask_value(key, v) for v in value]
    return value


def configure_logging(service: str, level: str = "INFO") -> None:
    """Route every logger to one JSON handler on stderr."""
    handler = logging.StreamHandler(sys.stderr)
    handler.setFormatter(
        MaskingJsonFormatter(
            "%(asctime)s %(levelname)s %(name)s %(message)s",
            rename_fields={"asctime": "time", "levelname": "level", "name": "logger"},
            static_fields={"service": service},
        )
    )
    root = logging.getLogger()
    root.handlers[:] = [handler]
    root.setLevel(level.upper())
    for name in ("uvicorn", "uvicorn.error", "uvicorn.access"):
        lg = logging.getLogger(name)
        lg.handlers[:] = []
        lg.propagate = True
    # aiokafka is chatty at INFO about group rebalances; keep warnings.
    logging.getLogger("aiokafka").setLevel(logging.WARNING)
    # httpx logs every request at INFO (the registry export sends thousands a run).
    logging.getLogger("httpx").setLevel(logging.WARNING)
