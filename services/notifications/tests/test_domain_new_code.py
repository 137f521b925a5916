"""BK-2, issue 9: a new manage code that staff issue reaches the patient by SMS, the way the
first one did: at once, the code sealed until the sender puts it in, never shown on a screen."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from vaccinera_contracts.events import ManageCodeIssued, Visit
from vaccinera_notifications import domain

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
START = datetime(2026, 3, 3, 13, 30, tzinfo=UTC)  # Tuesday 3 March, 14:30 in Stockholm
EVENT = "6f1c2d9e-0000-4000-8000-000000000002"
SEALED = "rsa-oaep-256.0123456789abcdef.bmV3"


def issued() -> ManageCodeIssued:
    return ManageCodeIssued(
        patient_id="p-1",
        booking_id="b-1",
        reference="VB-X7K2MA",
        sealed_manage_code=SEALED,
        visit=Visit(
            unit_id="unit-centrum",
            unit_name="Vårdcentralen Centrum",
            time_book_id="tb-1",
            visit_type_id="vt-covid-1",
            visit_type_name="Covid-19 dos 1",
            dose=1,
            start=START,
            end=START + timedelta(minutes=10),
        ),
        issued_by="staff",
    )


def test_bk2_a_new_code_is_texted_at_once_with_the_code_sealed_beside_it() -> None:
    message = domain.on_manage_code_issued(EVENT, issued(), now=NOW, tz=TZ)
    assert message.message_id == f"{EVENT}:confirmation"  # one per event: a redelivery adds none
    assert (message.kind, message.due_at, message.unit_id) == ("confirmation", NOW, "unit-centrum")
    assert (message.patient_id, message.booking_id) == ("p-1", "b-1")
    assert message.sealed_code == SEALED
    assert domain.compose(message.text, "204816") == (
        "Ny kod för din tid på Vårdcentralen Centrum tisdag 3 mars kl 14:30: bokningsnummer "
        "VB-X7K2MA, kod 204816. Den tidigare koden gäller inte längre. /Vårdcentralen Centrum"
    )
    assert "204816" not in domain.shown(domain.compose(message.text, "204816"))
    assert domain.CODE_MASK in domain.shown(message.text)
