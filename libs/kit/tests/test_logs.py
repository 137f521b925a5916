"""Logs never contain a personnummer, a phone number or a named personal field."""

import io
import json
import logging

import pytest

from vaccinera_kit.logs import MaskingJsonFormatter, mask_text


@pytest.mark.parametrize(
    "secret",
    [
        "19121212-1212",
        "191212121212",
        "121212-1212",
        "121212+1212",
        "1212121212",
        "13R000000042",
        "+46701234567",
        "070-123 45 67",
        "0701234567",
    ],
)
def test_personnummer_and_phone_numbers_are_masked(secret: str) -> None:
    masked = mask_text(f"GET /api/identity/patients/{secret} HTTP/1.1 200")
    assert secret not in masked
    assert "GET /api/identity/patients/" in masked


@pytest.mark.parametrize(
    "detail",
    [
        "DETAIL:  Failing row contains (p-1, personnummer, 191212121212, t, Kim, Hemlig, "
        "2026-11-27 10:00:00+00, null, kim@example.se, Storgatan 1, 582 22, Linköping).",
        "DETAIL:  Key (email)=(kim@example.se) already exists.",
    ],
)
def test_postgres_error_details_lose_their_values(detail: str) -> None:
    masked = mask_text(f'new row violates check constraint "x"\n{detail}\nnext line')
    for secret in ("Hemlig", "kim@example.se", "Storgatan"):
        assert secret not in masked
    assert masked.startswith('new row violates check constraint "x"\nDETAIL:')
    assert masked.endswith("\nnext line")


def test_ordinary_numbers_and_dates_survive() -> None:
    text = "2026-11-27T10:15:00 booked 50 slots in 3 columns, port 19092"
    assert mask_text(text) == text


def test_json_lines_mask_messages_args_and_sensitive_fields() -> None:
    stream = io.StringIO()
    handler = logging.StreamHandler(stream)
    handler.setFormatter(MaskingJsonFormatter("%(levelname)s %(name)s %(message)s"))
    logger = logging.getLogger("test.masking")
    logger.handlers[:] = [handler]
    logger.propagate = False
    logger.warning(
        "patient %s called from %s",
        "19121212-1212",
        "+46701234567",
        extra={"full_name": "Tolvan Tolvansson", "unit": "unit-centrum"},
    )
    line = json.loads(stream.getvalue())
    blob = json.dumps(line)
    assert "19121212-1212" not in blob
    assert "+46701234567" not in blob
    assert "Tolvan" not in blob
    assert line["unit"] == "unit-centrum"
