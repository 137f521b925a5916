"""Notifications' rules without I/O: NT-1 texts and reminder times, NT-2 send-time decisions,
NT-3 one mass message per patient, NT-4 deterministic ids and backoff."""

from __future__ import annotations

import re
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from vaccinera_contracts.events import BookingCancelled, BookingCreated, BookingRebooked, Visit
from vaccinera_notifications import domain
from vaccinera_notifications.domain import BookingState, Contact

TZ = ZoneInfo("Europe/Stockholm")
NOW = datetime(2026, 3, 1, 9, 0, tzinfo=UTC)
# Tuesday 3 March 2026, 14:30 in Stockholm (CET, UTC+1).
START = datetime(2026, 3, 3, 13, 30, tzinfo=UTC)
LEADS = [24.0, 2.0]
EVENT = "6f1c2d9e-0000-4000-8000-000000000001"
PERSONNUMMER = re.compile(r"\d{6,8}[-+]?\d{4}")
# The manage code 047110 as booking seals it (to notifications' key; opaque here).
SEALED = "rsa-oaep-256.0123456789abcdef.c2VhbGVk"


def visit(start: datetime = START, dose: int | None = 1) -> Visit:
    return Visit(
        unit_id="unit-centrum",
        unit_name="Vårdcentralen Centrum",
        time_book_id="tb-1",
        visit_type_id="vt-covid-1",
        visit_type_name="Covid-19 dos 1",
        dose=dose,
        start=start,
        end=start + timedelta(minutes=10),
    )


def created(v: Visit | None = None) -> BookingCreated:
    return BookingCreated(
        patient_id="p-1",
        booking_id="b-1",
        reference="VX7K2M",
        sealed_manage_code=SEALED,
        visit=v or visit(),
        booked_by="citizen",
    )


def test_nt1_confirmation_has_unit_time_reference_and_code_in_swedish() -> None:
    messages = domain.on_booking_scheduled(EVENT, created(), now=NOW, tz=TZ, lead_hours=LEADS)
    confirmation = messages[0]
    assert confirmation.kind == "confirmation"
    assert confirmation.message_id == f"{EVENT}:confirmation"
    assert confirmation.due_at == NOW
    # The code stays sealed beside the text; the sender puts it in when it sends.
    assert confirmation.sealed_code == SEALED
    assert domain.compose(confirmation.text, "047110") == (
        "Välkommen till Vårdcentralen Centrum tisdag 3 mars kl 14:30 för Covid-19 dos 1. "
        "Bokningsnummer VX7K2M, kod 047110. Avboka eller omboka på 1177.se eller med "
        "bokningsnumret och koden. /Vårdcentralen Centrum"
    )


def test_ac5_views_mask_the_manage_code_and_know_the_unit() -> None:
    messages = domain.on_booking_scheduled(EVENT, created(), now=NOW, tz=TZ, lead_hours=LEADS)
    assert {m.unit_id for m in messages} == {"unit-centrum"}
    assert "Bokningsnummer VX7K2M, kod ******." in domain.shown(messages[0].text)
    # A text stored before codes were sealed is masked too.
    assert domain.shown("Bokningsnummer VX7K2M, kod 047110. Avboka") == (
        "Bokningsnummer VX7K2M, kod ******. Avboka"
    )
    assert all(m.sealed_code is None for m in messages[1:])  # reminders have no code


def test_nt1_summer_time_is_shown_as_local_time() -> None:
    assert domain.when(datetime(2026, 7, 10, 6, 5, tzinfo=UTC), TZ) == ("fredag 10 juli", "08:05")


def test_nt1_texts_never_hold_name_identifier_or_patient_id() -> None:
    texts = [
        m.text
        for m in domain.on_booking_scheduled(EVENT, created(), now=NOW, tz=TZ, lead_hours=LEADS)
    ]
    for text in texts:
        assert "p-1" not in text
        assert not PERSONNUMMER.search(text)
    # Reminders never repeat the manage code: it reaches only the confirmation.
    assert all(domain.CODE_PLACEHOLDER not in t for t in texts[1:])


def test_nt1_reminders_24h_and_2h_before_dose_visits() -> None:
    messages = domain.on_booking_scheduled(EVENT, created(), now=NOW, tz=TZ, lead_hours=LEADS)
    reminders = [m for m in messages if m.kind == "reminder"]
    assert [m.due_at for m in reminders] == [
        START - timedelta(hours=24),
        START - timedelta(hours=2),
    ]
    assert [m.message_id for m in reminders] == [f"{EVENT}:reminder-24h", f"{EVENT}:reminder-2h"]
    assert all(m.visit_start == START and m.booking_id == "b-1" for m in reminders)
    assert reminders[0].text.startswith("Påminnelse: välkommen till Vårdcentralen Centrum tisdag")


@pytest.mark.parametrize("dose", [1, 2])
def test_nt1_dose_one_and_two_get_reminders(dose: int) -> None:
    messages = domain.on_booking_scheduled(
        EVENT, created(visit(dose=dose)), now=NOW, tz=TZ, lead_hours=LEADS
    )
    assert [m.kind for m in messages] == ["confirmation", "reminder", "reminder"]


@pytest.mark.parametrize("dose", [None, 3])
def test_nt1_other_visits_get_no_reminders(dose: int | None) -> None:
    messages = domain.on_booking_scheduled(
        EVENT, created(visit(dose=dose)), now=NOW, tz=TZ, lead_hours=LEADS
    )
    assert [m.kind for m in messages] == ["confirmation"]


def test_nt1_past_reminder_times_are_dropped() -> None:
    # Booked 5 hours ahead: the 24 h reminder is already past, the 2 h one is not.
    soon = NOW + timedelta(hours=5)
    messages = domain.on_booking_scheduled(
        EVENT, created(visit(start=soon)), now=NOW, tz=TZ, lead_hours=LEADS
    )
    assert [(m.kind, m.due_at) for m in messages] == [
        ("confirmation", NOW),
        ("reminder", soon - timedelta(hours=2)),
    ]
    # Booked one hour ahead: no reminder at all.
    later = domain.on_booking_scheduled(
        EVENT, created(visit(start=NOW + timedelta(hours=1))), now=NOW, tz=TZ, lead_hours=LEADS
    )
    assert [m.kind for m in later] == ["confirmation"]


def test_nt1_rebooking_gives_a_notice_and_reminders_for_the_new_time() -> None:
    new_start = START + timedelta(days=7)
    event = BookingRebooked(
        patient_id="p-1",
        booking_id="b-1",
        reference="VX7K2M",
        previous_start=START,
        visit=visit(start=new_start),
        rebooked_by="staff",
    )
    messages = domain.on_booking_scheduled(EVENT, event, now=NOW, tz=TZ, lead_hours=LEADS)
    assert [m.kind for m in messages] == ["rebooked", "reminder", "reminder"]
    assert messages[0].message_id == f"{EVENT}:rebooked"
    assert messages[0].text.startswith("Din tid är flyttad. Välkommen till Vårdcentralen Centrum")
    assert "tisdag 10 mars kl 14:30" in messages[0].text
    assert [m.visit_start for m in messages[1:]] == [new_start, new_start]


def test_nt1_cancellation_notice() -> None:
    event = BookingCancelled(
        patient_id="p-1",
        booking_id="b-1",
        reference="VX7K2M",
        visit=visit(),
        cancelled_by="citizen",
    )
    message = domain.on_booking_cancelled(EVENT, event, now=NOW, tz=TZ)
    assert message.kind == "cancelled"
    assert message.message_id == f"{EVENT}:cancelled"
    assert message.text == (
        "Din tid på Vårdcentralen Centrum tisdag 3 mars kl 14:30 för Covid-19 dos 1 är avbokad. "
        "Bokningsnummer VX7K2M. Boka en ny tid på 1177.se. /Vårdcentralen Centrum"
    )


def test_nt3_mass_cancellation_is_one_message_per_patient_with_the_units_text() -> None:
    def cancelled(booking_id: str, patient_id: str, event_id: str) -> domain.Message:
        event = BookingCancelled(
            patient_id=patient_id,
            booking_id=booking_id,
            reference="R",
            visit=visit(),
            cancelled_by="mass_cancellation",
            mass_cancellation_id="mc-1",
            message="  Vaccinet har inte kommit. Vi hör av oss med ny tid. /VC Centrum ",
        )
        return domain.on_booking_cancelled(event_id, event, now=NOW, tz=TZ)

    first = cancelled("b-1", "p-1", "e-1")
    second = cancelled("b-2", "p-1", "e-2")
    other = cancelled("b-3", "p-2", "e-3")
    assert first.message_id == second.message_id == "mass:mc-1:p-1"
    assert other.message_id == "mass:mc-1:p-2"
    assert first.kind == "mass_cancellation"
    # The unit's own words first, then which appointment: unit, day, time and reference.
    assert first.text == (
        "Vaccinet har inte kommit. Vi hör av oss med ny tid. /VC Centrum "
        "Avbokad tid: Vårdcentralen Centrum tisdag 3 mars kl 14:30, bokningsnummer R."
    )
    # Sent a moment later, so one SMS can name each of the patient's cancelled times.
    assert first.due_at > NOW


def test_nt3_mass_cancellation_without_a_text_gets_a_plain_notice() -> None:
    text = domain.mass_cancellation_text(visit(), "VB-ABC234", None, TZ)
    assert text.startswith("Din tid på Vårdcentralen Centrum är tyvärr avbokad")
    assert text.endswith("Vårdcentralen Centrum tisdag 3 mars kl 14:30, bokningsnummer VB-ABC234.")


def test_nt3_a_further_cancelled_appointment_is_named_with_its_day_time_and_reference() -> None:
    later = domain.also_cancelled(visit(START + timedelta(days=1)), "VB-XYZ789", TZ)
    assert later == " Även onsdag 4 mars kl 14:30, bokningsnummer VB-XYZ789."


def reminder(start: datetime = START) -> domain.Message:
    return domain.reminders(
        EVENT,
        patient_id="p-1",
        booking_id="b-1",
        reference="R",
        visit=visit(start=start),
        now=NOW,
        tz=TZ,
        lead_hours=[24],
    )[0]


WAIT = timedelta(seconds=5)
MOBILE = Contact(mobile="+46701234567", protected=False)
BOOKED = BookingState(start=START, cancelled=False)


def test_nt2_send_to_the_stored_mobile() -> None:
    assert domain.decide(reminder(), MOBILE, BOOKED, now=NOW, contact_wait=WAIT) == domain.Send(
        "+46701234567"
    )


def test_nt2_no_mobile_waits_briefly_then_skips() -> None:
    message = domain.on_booking_scheduled(EVENT, created(), now=NOW, tz=TZ, lead_hours=[])[0]
    soon = domain.decide(message, None, None, now=NOW, contact_wait=WAIT)
    assert soon == domain.Wait(NOW + timedelta(seconds=1))
    later = NOW + WAIT
    no_number = Contact(mobile=None, protected=False)
    assert domain.decide(message, None, None, now=later, contact_wait=WAIT) == domain.Skip(
        "no mobile number"
    )
    assert domain.decide(message, no_number, None, now=later, contact_wait=WAIT) == domain.Skip(
        "no mobile number"
    )


def test_nt2_protected_patient_is_never_texted() -> None:
    protected = Contact(mobile=None, protected=True)
    message = domain.on_booking_scheduled(EVENT, created(), now=NOW, tz=TZ, lead_hours=[])[0]
    assert domain.decide(message, protected, None, now=NOW, contact_wait=WAIT) == domain.Withdraw(
        "protected identity"
    )


@pytest.mark.parametrize(
    ("booking", "reason"),
    [
        (None, "booking unknown"),
        (BookingState(start=START, cancelled=True), "booking cancelled"),
        (BookingState(start=START + timedelta(days=1), cancelled=False), "booking moved"),
    ],
)
def test_nt2_reminder_of_a_cancelled_or_moved_booking_is_withdrawn(
    booking: BookingState | None, reason: str
) -> None:
    assert domain.decide(reminder(), MOBILE, booking, now=NOW, contact_wait=WAIT) == (
        domain.Withdraw(reason)
    )


def test_nt2_reminder_after_the_visit_started_is_withdrawn() -> None:
    late = START + timedelta(minutes=1)
    assert domain.decide(reminder(), MOBILE, BOOKED, now=late, contact_wait=WAIT) == (
        domain.Withdraw("visit already started")
    )


def test_nt4_ids_are_deterministic_per_trigger() -> None:
    one = domain.on_booking_scheduled(EVENT, created(), now=NOW, tz=TZ, lead_hours=LEADS)
    again = domain.on_booking_scheduled(
        EVENT, created(), now=NOW + timedelta(minutes=3), tz=TZ, lead_hours=LEADS
    )
    assert [m.message_id for m in one] == [m.message_id for m in again]


def test_nt4_backoff_doubles_and_is_capped() -> None:
    waits = [domain.backoff(n, base=0.5, cap=60).total_seconds() for n in range(1, 10)]
    assert waits == [0.5, 1, 2, 4, 8, 16, 32, 60, 60]


def test_nt4_retry_until_max_attempts_but_not_after_a_4xx() -> None:
    def retry(attempts: int, transient: bool = True) -> datetime | None:
        return domain.retry_at(
            attempts, transient=transient, max_attempts=3, now=NOW, base=1.0, cap=60.0
        )

    assert retry(1) == NOW + timedelta(seconds=1)
    assert retry(2) == NOW + timedelta(seconds=2)
    assert retry(3) is None
    assert retry(1, transient=False) is None
