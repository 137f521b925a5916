"""AC-1..AC-5 against the requirements: every built operation is called on REAL objects of unit
A (a time book, the owner's patient record, bookings, a health declaration, blocks, consents,
batches, the owner's orders and doses) as each staff role acting at unit A, at unit B of the
same care provider and at unit C of another care provider, as the citizen who owns the data,
as another citizen and anonymously, through the gateway and directly at the service. What
is expected comes from ``tests/authorization_expected.csv``, written by hand from
REQUIREMENTS.md, never from ``vaccinera_contracts.access.MATRIX``: allowed is a 2xx, denied a
401 (no login) or 403, and anything else (a 404 for an object that exists, a 409 or 422 for a
well-formed call, any 5xx) fails."""

from __future__ import annotations

import asyncio
import csv
import io
import itertools
import random
import re
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from pathlib import Path
from typing import Any, Literal

import asyncpg
import httpx
import pytest
from pypdf import PdfReader

from tests.booking_support import DECLARATION, future_weekday, local, register_patients
from tests.conftest import citizen_headers, staff_headers
from vaccinera_contracts.access import MATRIX, Operation
from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform
from vaccinera_devstack.testing import eventually
from vaccinera_kit.database import plain_url

pytestmark = pytest.mark.infra

EXPECTED_FILE = Path(__file__).with_name("authorization_expected.csv")
PROVIDER, OTHER_PROVIDER = "provider-region", "provider-privat"
SEED = 90_901  # the synthetic register's persons of this test, unused by any other test
SMS_PATH = "/sms/v1/messages"
COMIRNATY = "vaccine-comirnaty"  # in the journal's catalogue from the start (JR-1)

# --- the expected table ------------------------------------------------------------------------

Scope = Literal["any", "provider", "unit", "unit-filter", "provider-filter"]
CitizenRule = Literal["own", "self", "any", "-"]


@dataclass(frozen=True)
class Rule:
    operation: str
    status: Literal["built", "pending"]
    roles: frozenset[Role]
    scope: Scope
    citizen: CitizenRule
    anonymous: bool
    source: str


def load_rules(path: Path = EXPECTED_FILE) -> dict[str, Rule]:
    lines = [ln for ln in path.read_text().splitlines() if ln.strip() and not ln.startswith("#")]
    header, *rows = list(csv.reader(lines))
    assert header == ["operation", "status", "roles", "scope", "citizen", "anonymous", "source"]
    rules: dict[str, Rule] = {}
    for row in rows:
        assert len(row) == len(header), row
        name, status, roles, scope, citizen, anonymous, source = (c.strip() for c in row)
        assert name not in rules, f"{name} twice in {path.name}"
        assert status in ("built", "pending"), row
        assert scope in ("any", "provider", "unit", "unit-filter", "provider-filter"), row
        assert citizen in ("own", "self", "any", "-"), row
        assert anonymous in ("yes", "-"), row
        assert source, f"{name}: cite the requirement"
        rules[name] = Rule(
            name,
            status,  # type: ignore[arg-type]
            frozenset(Role) if roles == "all" else frozenset(Role(r) for r in roles.split()),
            scope,  # type: ignore[arg-type]
            citizen,  # type: ignore[arg-type]
            anonymous == "yes",
            source,
        )
    return rules


RULES = load_rules()
OPS: dict[str, Operation] = {op.name: op for op in MATRIX}


# --- who calls -----------------------------------------------------------------------------------

Place = Literal["same_unit", "other_unit", "other_provider"]


@dataclass(frozen=True)
class Who:
    kind: Literal["anonymous", "citizen", "staff"]
    role: Role | None = None
    place: Place | None = None
    owner: bool = False

    def __str__(self) -> str:
        if self.kind == "staff":
            assert self.role is not None
            return f"{self.role.value}@{self.place}"
        if self.kind == "citizen":
            return "citizen:owner" if self.owner else "citizen:other"
        return "anonymous"


PRINCIPALS: list[Who] = [
    Who("anonymous"),
    Who("citizen", owner=True),
    Who("citizen", owner=False),
    *(
        Who("staff", role, place)
        for place, role in itertools.product(("same_unit", "other_unit", "other_provider"), Role)
    ),
]

Outcome = Literal["allowed", "denied", "filtered"]


def expected(rule: Rule, who: Who) -> Outcome:
    """What the table says ``who`` gets: allowed, denied, or (unit-filter, provider-filter)
    an answer without unit A's objects."""
    if rule.anonymous:
        return "allowed"
    if who.kind == "anonymous":
        return "denied"
    if who.kind == "citizen":
        ok = rule.citizen in ("self", "any") or (rule.citizen == "own" and who.owner)
        return "allowed" if ok else "denied"
    if who.role not in rule.roles:
        return "denied"
    if rule.scope == "any" or who.place == "same_unit":
        return "allowed"
    if rule.scope == "provider":
        return "allowed" if who.place == "other_unit" else "denied"
    if rule.scope == "provider-filter":
        return "allowed" if who.place == "other_unit" else "filtered"
    return "filtered" if rule.scope == "unit-filter" else "denied"


# --- the world: real objects at unit A ------------------------------------------------------------


@dataclass
class World:
    platform: Platform
    gw: httpx.AsyncClient
    units: dict[Place, str]
    owner_pnr: str
    other_pnr: str
    owner_id: str
    owner_mobile: str
    time_book_id: str = ""
    visit_type_id: str = ""
    rename_visit_type_id: str = ""
    # Unit A's stock: a batch of a vaccine, checked in by its stock administrator.
    batch: dict[str, Any] = field(default_factory=dict)
    # The journal: a vaccine of this test's own in the catalogue, and a batch of Comirnaty at
    # each unit (a dose is given from a batch of the nurse's own unit, JR-4), known to the
    # journal.
    suffix: str = ""
    vaccine_id: str = ""
    journal_batches: dict[Place, dict[str, Any]] = field(default_factory=dict)
    booking: dict[str, Any] = field(default_factory=dict)
    day: date = field(default_factory=date.today)
    free: Iterator[datetime] = field(default_factory=lambda: iter(()))
    pnr_pool: Iterator[str] = field(default_factory=lambda: iter(()))
    counter: Iterator[int] = field(default_factory=itertools.count)
    _headers: dict[str, dict[str, str]] = field(default_factory=dict)

    @property
    def unit(self) -> str:
        return self.units["same_unit"]

    def headers(self, who: Who) -> dict[str, str]:
        key = str(who)
        if key not in self._headers:
            if who.kind == "anonymous":
                self._headers[key] = {}
            elif who.kind == "citizen":
                pnr = self.owner_pnr if who.owner else self.other_pnr
                self._headers[key] = citizen_headers(self.platform, pnr)
            else:
                assert who.role is not None and who.place is not None
                unit = self.units[who.place]
                provider = OTHER_PROVIDER if who.place == "other_provider" else PROVIDER
                token = tokens.staff_token(
                    self.platform.keys, who.role, unit_id=unit, care_provider_id=provider
                )
                self._headers[key] = {"authorization": f"Bearer {token}"}
        return self._headers[key]

    def staff(self, role: Role = Role.NURSE) -> dict[str, str]:
        return self.headers(Who("staff", role, "same_unit"))

    @property
    def admin(self) -> dict[str, str]:
        return self.staff(Role.TIME_BOOK_ADMIN)

    async def ok(self, method: str, path: str, headers: dict[str, str], **kw: Any) -> Any:
        r = await self.gw.request(method, path, headers=headers, **kw)
        assert r.status_code in (200, 201), (method, path, r.status_code, r.text)
        return r.json()

    # Fresh objects, for calls that use up what they act on.

    async def new_booking(self) -> dict[str, Any]:
        """A booking of the owner at unit A, booked by a nurse there."""
        booking: dict[str, Any] = await self.ok(
            "POST",
            "/api/booking/bookings",
            self.staff(),
            json={
                "time_book_id": self.time_book_id,
                "visit_type_id": self.visit_type_id,
                "start": next(self.free).isoformat(),
                "patient_id": self.owner_id,
            },
        )
        return booking

    async def new_managed_booking(self) -> dict[str, Any]:
        """A booking and the code of its confirmation SMS, as the patient holds them."""
        booking = await self.new_booking()
        with self.platform.infra.standin("sms") as sms:

            async def texted() -> bool:
                return any(
                    booking["reference"] in r["body"]["text"] for r in sms.received(SMS_PATH)
                )

            await eventually(texted, timeout=30, interval=0.2)
            (text,) = {
                r["body"]["text"]
                for r in sms.received(SMS_PATH)
                if booking["reference"] in r["body"]["text"]
            }
        match = re.search(r"\bkod (\d+)", text)
        assert match, text
        return {**booking, "code": match.group(1)}

    async def new_visit_type(self) -> str:
        book = await self.ok(
            "POST",
            f"/api/booking/time-books/{self.time_book_id}/visit-types",
            self.admin,
            json={
                "name": f"Tillfällig {next(self.counter)}",
                "category": "Övrigt",
                "resource": "nurse",
                "duration_minutes": 5,
            },
        )
        return str(book["visit_types"][-1]["visit_type_id"])

    async def new_block(self) -> str:
        target = f"unit-blocked-{next(self.counter)}"
        blocks = await self.ok(
            "POST",
            f"/api/identity/patients/{self.owner_id}/blocks",
            self.staff(),
            json={"scope": "unit", "target_id": target},
        )
        return str(next(b["block_id"] for b in blocks["blocks"] if b["target_id"] == target))

    async def new_consent(self) -> str:
        provider = f"provider-consent-{next(self.counter)}"
        consents = await self.ok(
            "POST",
            f"/api/identity/patients/{self.owner_id}/consents",
            self.staff(),
            json={"care_provider_id": provider, "expires_at": _in_days(30)},
        )
        return str(
            next(c["consent_id"] for c in consents["consents"] if c["care_provider_id"] == provider)
        )

    async def new_reserve_patient(self) -> str:
        patient = await self.ok(
            "POST",
            "/api/identity/patients/reserve",
            self.staff(),
            json={"given_name": "Okänd", "family_name": f"Patient {next(self.counter)}"},
        )
        return str(patient["patient_id"])

    async def new_order(self) -> str:
        """An open order of dose 1 for a new patient, signed by unit A's doctor (JR-2)."""
        patient_id = await self.new_reserve_patient()
        ordered = await self.ok(
            "POST",
            f"/api/journal/patients/{patient_id}/orders",
            self.staff(Role.DOCTOR),
            json={"vaccine_id": COMIRNATY, "dose_numbers": [1]},
        )
        return str(ordered["orders"][0]["order_id"])

    async def new_dose(self) -> str:
        """A dose given at unit A from unit A's batch, to a new patient (JR-4)."""
        order_id = await self.new_order()
        given = await self.ok(
            "POST",
            f"/api/journal/orders/{order_id}/administration",
            self.staff(Role.NURSE),
            json={"batch_id": self.journal_batches["same_unit"]["batch_id"]},
        )
        return str(given["id"])

    def journal_batch(self, who: Who) -> str:
        """A batch of the caller's own unit (unit A's for citizens and no login)."""
        return str(self.journal_batches[who.place or "same_unit"]["batch_id"])

    async def restore_mobile(self) -> None:
        """The owner's mobile back (identity.remove_contact took it). The SMS sender asks
        identity for it when it sends (docs/decisions/0002), so it counts at once."""
        await self.ok(
            "PUT",
            f"/api/identity/patients/{self.owner_id}/contact",
            self.staff(),
            json={"mobile": self.owner_mobile},
        )

    async def questionnaire_version(self) -> int:
        q = await self.ok("GET", f"/api/booking/units/{self.unit}/questionnaire", {})
        return int(q["version"])


def _in_days(days: int) -> str:
    return (datetime.now(UTC) + timedelta(days=days)).isoformat()


# --- how each operation is called -----------------------------------------------------------------


@dataclass(frozen=True)
class Call:
    params: dict[str, str] = field(default_factory=dict)
    json: Any = None
    query: dict[str, str] | None = None
    headers: dict[str, str] = field(default_factory=dict)


Build = Callable[[World, Who, Any], Awaitable[Call]]


@dataclass(frozen=True)
class Case:
    build: Build
    # A new object for every call (the call uses it up), made before the calls.
    fresh: Callable[[World], Awaitable[Any]] | None = None
    # Fresh objects of one record (a patient, a time book) are made one at a time: concurrent
    # changes of one record answer 409 "changed meanwhile", rightly.
    one_by_one: bool = False
    # Calls change one shared record (a patient, the time book, the questionnaire): one at a
    # time, as concurrent changes of one record rightly answer 409 "changed meanwhile".
    serial: bool = False
    # For unit-filter and provider-filter: does the answer (JSON, or a printout's text) show
    # unit A's objects?
    shows_unit_a: Callable[[World, Any], bool] | None = None


def _call(
    params: Callable[[World], dict[str, str]] | None = None,
    json: Callable[[World, Who], Any] | None = None,
    query: Callable[[World], dict[str, str]] | None = None,
) -> Build:
    async def build(w: World, who: Who, _: Any) -> Call:
        return Call(
            params(w) if params else {},
            json(w, who) if json else None,
            query(w) if query else None,
        )

    return build


def _patient(w: World) -> dict[str, str]:
    return {"patient_id": w.owner_id}


def _book_params(w: World) -> dict[str, str]:
    return {"time_book_id": w.time_book_id}


def _booking_params(w: World) -> dict[str, str]:
    return {"booking_id": w.booking["booking_id"]}


def _unit(w: World) -> dict[str, str]:
    return {"unit_id": w.unit}


async def _declare(w: World, who: Who, _: Any) -> Call:
    body = {**DECLARATION, "version": await w.questionnaire_version()}
    if who.kind == "staff":
        body["patient_id"] = w.owner_id
    return Call(_unit(w), body)


async def _book(w: World, who: Who, _: Any) -> Call:
    body: dict[str, Any] = {
        "time_book_id": w.time_book_id,
        "visit_type_id": w.visit_type_id,
        "start": next(w.free).isoformat(),
    }
    if who.kind == "citizen":
        body["health_declaration"] = {**DECLARATION, "version": await w.questionnaire_version()}
    else:
        body["patient_id"] = w.owner_id
    return Call(json=body)


async def _rebook(w: World, who: Who, booking: dict[str, Any]) -> Call:
    return Call({"booking_id": booking["booking_id"]}, {"start": next(w.free).isoformat()})


async def _of_booking(w: World, who: Who, booking: dict[str, Any]) -> Call:
    return Call({"booking_id": booking["booking_id"]})


def _client(w: World) -> dict[str, str]:
    """Each call by code from an address of its own, as the gateway's trusted proxy (loopback
    in the local stack) names it: attempts are limited per client address (BK-2)."""
    n = next(w.counter)
    return {"X-Forwarded-For": f"198.51.{100 + n // 250 % 100}.{1 + n % 250}"}


async def _manage_rebook(w: World, who: Who, booking: dict[str, Any]) -> Call:
    body = {"reference": booking["reference"], "code": booking["code"]}
    return Call(json={**body, "start": next(w.free).isoformat()}, headers=_client(w))


async def _manage_cancel(w: World, who: Who, booking: dict[str, Any]) -> Call:
    body = {"reference": booking["reference"], "code": booking["code"]}
    return Call(json=body, headers=_client(w))


async def _mass_cancel(w: World, who: Who, booking: dict[str, Any]) -> Call:
    start = datetime.fromisoformat(booking["start"])
    body = {
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=5)).isoformat(),
        "message": "Vaccinleveransen uteblev.",
        "slots": "reopen",
    }
    return Call(_book_params(w), body)


async def _open_slots(w: World, who: Who, _: Any) -> Call:
    # Each call its own quarter of an hour of the doctor's column, on a day of its own.
    n = next(w.counter)
    day = w.day + timedelta(days=7 * (1 + n // 40))
    begin = datetime(2000, 1, 1, 6) + timedelta(minutes=15 * (n % 40))
    body = {
        "resource": "doctor",
        "columns": [1],
        "first_day": day.isoformat(),
        "last_day": day.isoformat(),
        "weekdays": [day.weekday()],
        "day_start": f"{begin:%H:%M}",
        "day_end": f"{begin + timedelta(minutes=15):%H:%M}",
        "slot_minutes": 15,
    }
    return Call(_book_params(w), body)


async def _time_block(w: World, who: Who, _: Any) -> Call:
    # On the day before the open days: the blocks close none of the times booked here.
    start = local(w.day - timedelta(days=1), 7) + timedelta(minutes=next(w.counter) % 900)
    body = {
        "resource": "nurse",
        "start": start.isoformat(),
        "end": (start + timedelta(minutes=1)).isoformat(),
        "label": "Möte",
    }
    return Call(_book_params(w), body)


async def _set_questionnaire(w: World, who: Who, _: Any) -> Call:
    current = await w.ok("GET", f"/api/booking/units/{w.unit}/questionnaire", {})
    return Call(_unit(w), {"questions": current["questions"]})


async def _change_identifier(w: World, who: Who, patient_id: str) -> Call:
    return Call({"patient_id": patient_id}, {"identifier": next(w.pnr_pool)})


async def _lift_block(w: World, who: Who, block_id: str) -> Call:
    return Call({**_patient(w), "block_id": block_id})


async def _revoke_consent(w: World, who: Who, consent_id: str) -> Call:
    return Call({**_patient(w), "consent_id": consent_id})


async def _delete_visit_type(w: World, who: Who, visit_type_id: str) -> Call:
    return Call({**_book_params(w), "visit_type_id": visit_type_id})


def _day(w: World) -> dict[str, str]:
    return {**_book_params(w), "day": w.day.isoformat()}


def _mass_booking(w: World) -> Awaitable[dict[str, Any]]:
    return w.new_booking()


# inventory (issue 10): unit A's batch, checked in by its stock administrator in ``world``.


def _batch_params(w: World) -> dict[str, str]:
    return {"batch_id": w.batch["batch_id"]}


def _delivery(w: World, who: Who) -> dict[str, Any]:
    return {
        "vaccine_id": w.batch["vaccine_id"],
        "vaccine_name": w.batch["vaccine_name"],
        "batch_number": f"AUTHZ{next(w.counter)}",
        "expires_on": (date.today() + timedelta(days=200)).isoformat(),
        "doses": 10,
    }


# journal (issue 10): the owner's dose 1 given at unit A and dose 2 ordered there (``world``);
# each new entry for a new patient, so no call meets a dose already ordered or given.


def _new_patient(w: World) -> Awaitable[str]:
    return w.new_reserve_patient()


async def _order(w: World, who: Who, patient_id: str) -> Call:
    body = {"vaccine_id": COMIRNATY, "dose_numbers": [1, 2], "patient_group": "Vårdpersonal"}
    return Call({"patient_id": patient_id}, body)


async def _void(w: World, who: Who, order_id: str) -> Call:
    return Call({"order_id": order_id}, {"reason": "Byte till mRNA-vaccin för dos 2"})


async def _administer(w: World, who: Who, order_id: str) -> Call:
    return Call({"order_id": order_id}, {"batch_id": w.journal_batch(who)})


async def _correct(w: World, who: Who, administration_id: str) -> Call:
    body = {"dose_number": 2, "reason": "Fel dosnummer signerat"}
    return Call({"administration_id": administration_id}, body)


async def _order_and_administer(w: World, who: Who, patient_id: str) -> Call:
    body = {"vaccine_id": COMIRNATY, "dose_number": 1, "batch_id": w.journal_batch(who)}
    return Call({"patient_id": patient_id}, body)


async def _historical(w: World, who: Who, patient_id: str) -> Call:
    body = {
        "vaccine_id": COMIRNATY,
        "dose_number": 1,
        "given_on": "2021-05-03",
        "country": "NO",
        "comment": "Given i Norge enligt vaccinationskort",
    }
    return Call({"patient_id": patient_id}, body)


def _new_vaccine(w: World, who: Who) -> dict[str, Any]:
    return {
        "vaccine_id": f"vaccine-authz-{w.suffix}-{next(w.counter)}",
        "name": "Authz-vaccin",
        "manufacturer": "Authz AB",
        "atc_code": "J07BN01",
        "doses_in_series": 2,
        "min_interval_days": 21,
    }


def _unit_a_entries(w: World, body: Any) -> bool:
    return any(e["unit_id"] == w.unit for e in [*body["vaccinations"], *body["orders"]])


def _unit_a_printed(w: World, text: Any) -> bool:
    # A dose given here prints "Given kl. HH:MM på enhet <unit>".
    return w.unit in text


CASES: dict[str, Case] = {
    # identity
    "identity.lookup_person": Case(_call(json=lambda w, _: {"identifier": w.owner_pnr})),
    "identity.register_patient": Case(
        _call(json=lambda w, _: {"identifier": w.owner_pnr}), serial=True
    ),
    "identity.register_reserve_patient": Case(
        _call(json=lambda w, _: {"given_name": "Okänd", "family_name": "Patient"})
    ),
    "identity.search_patient": Case(_call(json=lambda w, _: {"identifier": w.owner_pnr})),
    "identity.get_patient": Case(_call(_patient)),
    "identity.get_me": Case(_call()),
    "identity.register_me": Case(_call(json=lambda w, _: {}), serial=True),
    "identity.change_identifier": Case(_change_identifier, fresh=World.new_reserve_patient),
    "identity.set_contact": Case(
        _call(_patient, lambda w, _: {"mobile": w.owner_mobile}), serial=True
    ),
    # Last of the owner's contact changes: the mobile is put back after (see the test).
    "identity.remove_contact": Case(_call(_patient), serial=True),
    "identity.set_protection": Case(
        _call(_patient, lambda w, _: {"protected": False}), serial=True
    ),
    "identity.list_blocks": Case(_call(_patient)),
    "identity.set_block": Case(
        _call(
            _patient,
            lambda w, _: {"scope": "care_provider", "target_id": f"provider-{next(w.counter)}"},
        ),
        serial=True,
    ),
    "identity.lift_block": Case(_lift_block, fresh=World.new_block, one_by_one=True, serial=True),
    "identity.list_consents": Case(_call(_patient)),
    "identity.record_consent": Case(
        _call(
            _patient,
            lambda w, _: {"care_provider_id": "provider-y", "expires_at": _in_days(30)},
        ),
        serial=True,
    ),
    "identity.revoke_consent": Case(
        _revoke_consent, fresh=World.new_consent, one_by_one=True, serial=True
    ),
    "identity.access_log": Case(_call(_patient)),
    "identity.sms_recipients": Case(_call(json=lambda w, _: {"patient_ids": [w.owner_id]})),
    # notifications
    "notifications.list_messages": Case(
        _call(_patient), shows_unit_a=lambda w, body: bool(body["messages"])
    ),
    # booking
    "booking.whoami": Case(_call()),
    "booking.self_booking": Case(_call(_patient)),
    "booking.create_time_book": Case(
        _call(
            json=lambda w, _: {
                "unit_id": w.unit,
                "unit_name": "Enhet A",
                "name": "Extra",
                "resources": [{"resource": "nurse", "columns": 1}],
            }
        )
    ),
    "booking.list_time_books": Case(_call(_unit)),
    "booking.add_visit_type": Case(
        _call(
            _book_params,
            lambda w, _: {
                "name": "Influensavaccination",
                "category": "Influensa",
                "resource": "nurse",
                "duration_minutes": 5,
            },
        ),
        serial=True,
    ),
    "booking.rename_visit_type": Case(
        _call(
            lambda w: {**_book_params(w), "visit_type_id": w.rename_visit_type_id},
            lambda w, _: {"name": f"Omdöpt {next(w.counter)}"},
        ),
        serial=True,
    ),
    "booking.delete_visit_type": Case(
        _delete_visit_type, fresh=World.new_visit_type, one_by_one=True, serial=True
    ),
    "booking.open_slots": Case(_open_slots),
    "booking.add_time_block": Case(_time_block),
    "booking.set_day_note": Case(
        _call(_day, lambda w, who: {"text": f"Notering av {who}"}), serial=True
    ),
    "booking.day_view": Case(_call(_day)),
    "booking.capacity": Case(
        _call(_book_params, query=lambda w: {"from": w.day.isoformat(), "to": w.day.isoformat()})
    ),
    "booking.free_times": Case(
        _call(_book_params, query=lambda w: {"visit_type_id": w.visit_type_id})
    ),
    "booking.mass_cancel": Case(_mass_cancel, fresh=_mass_booking),
    "booking.book": Case(_book),
    "booking.get_booking": Case(_call(_booking_params)),
    "booking.patient_bookings": Case(
        _call(_patient), shows_unit_a=lambda w, body: any(b["unit_id"] == w.unit for b in body)
    ),
    "booking.rebook": Case(_rebook, fresh=World.new_booking),
    "booking.cancel": Case(_of_booking, fresh=World.new_booking),
    "booking.manage_rebook": Case(_manage_rebook, fresh=World.new_managed_booking),
    "booking.manage_cancel": Case(_manage_cancel, fresh=World.new_managed_booking),
    "booking.new_manage_code": Case(_of_booking, fresh=World.new_booking),
    "booking.register_arrival": Case(_call(_booking_params), serial=True),
    "booking.get_questionnaire": Case(_call(_unit)),
    "booking.set_questionnaire": Case(_set_questionnaire, serial=True),
    "booking.declare": Case(_declare),
    "booking.get_declaration": Case(_call(_booking_params)),
    # inventory
    "inventory.check_in": Case(_call(_unit, _delivery)),
    "inventory.stock": Case(_call(_unit)),
    "inventory.usable_batches": Case(_call(_unit)),
    "inventory.get_batch": Case(_call(_batch_params)),
    "inventory.discard": Case(
        _call(_batch_params, lambda w, _: {"doses": 1, "reason": "Tappad spruta"})
    ),
    "inventory.correct": Case(
        _call(_batch_params, lambda w, _: {"counted": 900, "reason": "Inventering"})
    ),
    "inventory.stock_discrepancies": Case(_call(_unit)),
    "inventory.set_low_stock_level": Case(
        _call(
            lambda w: {**_unit(w), "vaccine_id": w.batch["vaccine_id"]},
            lambda w, _: {"level": 5},
        )
    ),
    "inventory.quick_list": Case(_call(_unit)),
    "inventory.set_quick_list": Case(
        _call(
            _unit,
            lambda w, _: {
                "vaccines": [
                    {"vaccine_id": w.batch["vaccine_id"], "vaccine_name": w.batch["vaccine_name"]}
                ]
            },
        )
    ),
    "inventory.regional_overview": Case(_call(query=lambda w: {"by": "care_provider"})),
    # registry export
    "registry-export.control_report": Case(_call(_unit)),
    "registry-export.reports": Case(_call()),
    "registry-export.retry_report": Case(_call(lambda w: {"report_id": "1"})),
    "registry-export.start_run": Case(_call(json=lambda w, _: {})),
    "registry-export.coverage": Case(_call(query=lambda w: {"by": "unit"})),
    "registry-export.stock": Case(_call(query=lambda w: {"by": "care_provider"})),
    # journal
    "journal.catalogue": Case(_call()),
    "journal.add_vaccine": Case(_call(json=_new_vaccine)),
    "journal.change_vaccine": Case(
        _call(
            lambda w: {"vaccine_id": w.vaccine_id},
            lambda w, who: {"name": f"Authz-vaccin {next(w.counter)}"},
        )
    ),
    "journal.order": Case(_order, fresh=_new_patient),
    "journal.void_order": Case(_void, fresh=World.new_order),
    "journal.administer": Case(_administer, fresh=World.new_order),
    "journal.order_and_administer": Case(_order_and_administer, fresh=_new_patient),
    "journal.record_historical": Case(_historical, fresh=_new_patient),
    "journal.correct_administration": Case(_correct, fresh=World.new_dose),
    "journal.vaccinations": Case(_call(_patient), shows_unit_a=_unit_a_entries),
    "journal.shared_record": Case(_call(_patient)),
    "journal.print_history": Case(_call(_patient), shows_unit_a=_unit_a_printed),
    "journal.print_journal": Case(_call(_patient), shows_unit_a=_unit_a_printed),
}


# --- the table and the code name the same operations ----------------------------------------------


def test_ac3_the_expected_table_covers_every_operation() -> None:
    built = {name for name, rule in RULES.items() if rule.status == "built"}
    missing = sorted(set(OPS) - set(RULES))
    assert not missing, (
        f"operations without a row in {EXPECTED_FILE.name}: {missing}; write who may call "
        "them from the requirements"
    )
    assert not sorted(built - set(OPS)), "rows marked built that the code lacks"
    assert not sorted(set(OPS) & {n for n, r in RULES.items() if r.status == "pending"}), (
        "operations now built but marked pending"
    )
    assert set(CASES) == built, "every built operation needs a call in CASES"


# --- the matrix on real objects -------------------------------------------------------------------


@pytest.fixture(scope="module")
async def world(platform: Platform) -> World:
    from vaccinera_identity.population import SyntheticRegister

    suffix = f"{random.randrange(10**6):06d}"
    units: dict[Place, str] = {
        "same_unit": f"unit-authz-{suffix}-a",
        "other_unit": f"unit-authz-{suffix}-b",
        "other_provider": f"unit-authz-{suffix}-c",
    }
    people = SyntheticRegister().sample(2 + 3 * len(PRINCIPALS), seed=SEED, protected=False)
    gw = httpx.AsyncClient(base_url=platform.gateway_url, timeout=20)
    owner_id, _ = await register_patients(gw, platform, 2, seed=SEED)
    nurse = staff_headers(platform, Role.NURSE)
    contact = (await gw.get(f"/api/identity/patients/{owner_id}", headers=nurse)).json()
    w = World(
        platform,
        gw,
        units,
        owner_pnr=people[0].identifier,
        other_pnr=people[1].identifier,
        owner_id=owner_id,
        owner_mobile=contact["contact"]["mobile"],
        pnr_pool=iter(p.identifier for p in people[2:]),
        suffix=suffix,
    )
    assert contact["identifier"] == w.owner_pnr
    # Unit A's time book: a nurse resource of one column, open on three weekdays.
    book = await w.ok(
        "POST",
        "/api/booking/time-books",
        w.admin,
        json={
            "unit_id": w.unit,
            "unit_name": "Vaccinationsmottagningen A",
            "name": "Covid-19",
            "resources": [
                {"resource": "nurse", "columns": 1},
                {"resource": "doctor", "columns": 1},
            ],
        },
    )
    w.time_book_id = book["time_book_id"]
    w.visit_type_id = await w.new_visit_type()
    w.rename_visit_type_id = await w.new_visit_type()
    w.day = future_weekday(random.randrange(30, 200))
    days = [w.day]
    while len(days) < 4:
        days.append(future_weekday((days[-1] - date.today()).days + 1))
    for day in days:
        await w.ok(
            "POST",
            f"/api/booking/time-books/{w.time_book_id}/slots",
            w.admin,
            json={
                "resource": "nurse",
                "columns": [1],
                "first_day": day.isoformat(),
                "last_day": day.isoformat(),
                "weekdays": [day.weekday()],
                "day_start": "08:00",
                "day_end": "18:00",
                "slot_minutes": 5,
            },
        )
    w.free = iter(local(d, 8) + timedelta(minutes=5 * i) for d in days for i in range(120))
    # The owner's own booking with a health declaration, for the reads.
    r = await gw.post(
        "/api/booking/bookings",
        headers=citizen_headers(platform, w.owner_pnr),
        json={
            "time_book_id": w.time_book_id,
            "visit_type_id": w.visit_type_id,
            "start": next(w.free).isoformat(),
            "health_declaration": {**DECLARATION, "version": await w.questionnaire_version()},
        },
    )
    assert r.status_code == 201, r.text
    w.booking = r.json()
    # The owner's confirmation has reached them: their message history is not empty.
    await w.new_managed_booking()
    # Unit A's stock: a batch checked in by its stock administrator (inventory).
    w.batch = await w.ok(
        "POST",
        f"/api/inventory/units/{w.unit}/deliveries",
        w.staff(Role.STOCK_ADMIN),
        json={
            "vaccine_id": f"vaccine-authz-{suffix}",
            "vaccine_name": "Comirnaty",
            "batch_number": f"AUTHZ{suffix}",
            "expires_on": (date.today() + timedelta(days=200)).isoformat(),
            "doses": 1000,
        },
    )
    await _journal_world(w)
    return w


async def _journal_world(w: World) -> None:
    """The journal's objects: a vaccine of this test in the catalogue (added by a stock
    administrator, JR-1); a batch of Comirnaty at each unit, checked in there and known to the
    journal (the inventory's BatchCheckedIn); the owner's dose 1 ordered with dose 2 by unit A's
    doctor and given by its nurse (JR-2, JR-4), so reads have unit A's entries to show."""
    added = await w.ok(
        "POST",
        "/api/journal/vaccines",
        w.staff(Role.STOCK_ADMIN),
        json=_new_vaccine(w, Who("staff", Role.STOCK_ADMIN, "same_unit")),
    )
    w.vaccine_id = added["vaccine_id"]
    places: list[Place] = ["same_unit", "other_unit", "other_provider"]
    for n, place in enumerate(places):
        w.journal_batches[place] = await w.ok(
            "POST",
            f"/api/inventory/units/{w.units[place]}/deliveries",
            w.headers(Who("staff", Role.STOCK_ADMIN, place)),
            json={
                "vaccine_id": COMIRNATY,
                "vaccine_name": "Comirnaty",
                "batch_number": f"AUTHZJ{w.suffix}{n}",
                "expires_on": (date.today() + timedelta(days=200)).isoformat(),
                "doses": 200,
            },
        )
    batch_ids = [b["batch_id"] for b in w.journal_batches.values()]
    journal_db = await asyncpg.connect(plain_url(w.platform.infra.database_url("journal")))

    async def journal_knows_batches() -> bool:
        known = await journal_db.fetchval(
            "SELECT count(*) FROM batches WHERE batch_id = ANY($1::text[])", batch_ids
        )
        return bool(known == len(batch_ids))

    try:
        await eventually(journal_knows_batches, timeout=30, interval=0.2)
    finally:
        await journal_db.close()
    ordered = await w.ok(
        "POST",
        f"/api/journal/patients/{w.owner_id}/orders",
        w.staff(Role.DOCTOR),
        json={"vaccine_id": COMIRNATY, "dose_numbers": [1, 2]},
    )
    await w.ok(
        "POST",
        f"/api/journal/orders/{ordered['orders'][0]['order_id']}/administration",
        w.staff(Role.NURSE),
        json={"batch_id": w.journal_batch(Who("staff", Role.NURSE, "same_unit"))},
    )


def _answer(r: httpx.Response) -> Any:
    """The answer's body: its JSON, or a printout's text (PDF, JR-7)."""
    if r.headers.get("content-type", "").startswith("application/pdf"):
        pages = PdfReader(io.BytesIO(r.content)).pages
        return "\n".join(page.extract_text() for page in pages)
    return r.json()


async def _fresh(w: World, case: Case, n: int) -> list[Any]:
    if case.fresh is None:
        return [None] * n
    make = case.fresh
    if case.one_by_one:
        return [await make(w) for _ in range(n)]
    sem = asyncio.Semaphore(8)

    async def one() -> Any:
        async with sem:
            return await make(w)

    return list(await asyncio.gather(*(one() for _ in range(n))))


def _judge(w: World, rule: Rule, case: Case, who: Who, r: httpx.Response) -> str | None:
    """Why the answer breaks the table, or None."""
    want = expected(rule, who)
    status = r.status_code
    if want == "denied":
        denied = 401 if who.kind == "anonymous" else 403
        if status != denied:
            return f"expected {denied}"
        if not r.json().get("message"):
            return "a denial must say why"
        return None
    if not 200 <= status < 300:
        return "expected 2xx"
    if case.shows_unit_a is not None:
        shown = case.shows_unit_a(w, _answer(r))
        if want == "filtered" and shown:
            return "shows unit A's data to staff of another unit"
        if want == "allowed" and not shown:
            return "shows nothing of unit A: the filter check would prove nothing"
    return None


Mismatch = tuple[str, str, int, str, str]


async def _check_operation(
    client: httpx.AsyncClient, platform: Platform, world: World, name: str, who_calls: list[Who]
) -> list[Mismatch]:
    """Call one operation as each of ``who_calls``; the answers that break the table."""
    op, rule, case = OPS[name], RULES[name], CASES[name]
    via_gateway = client.base_url == httpx.URL(platform.gateway_url)
    base = f"/api/{op.service}" if via_gateway else platform.url(op.service)
    objects = await _fresh(world, case, len(who_calls))
    sem = asyncio.Semaphore(1 if case.serial else 10)
    mismatches: list[Mismatch] = []

    async def one(who: Who, obj: Any) -> None:
        async with sem:
            call = await case.build(world, who, obj)
            r = await client.request(
                op.method,
                base + op.path.format(**call.params),
                json=call.json,
                params=call.query,
                headers={**world.headers(who), **call.headers},
            )
        why = _judge(world, rule, case, who, r)
        if why is not None:
            mismatches.append((name, str(who), r.status_code, why, r.text[:160]))

    await asyncio.gather(*map(one, who_calls, objects))
    return mismatches


@pytest.mark.parametrize("via", ["gateway", "service"])
async def test_ac3_ac4_ac5_every_operation_every_role_every_unit(
    platform: Platform, world: World, via: str
) -> None:
    # At the service itself the gateway's check is not in front: every role acting at unit A,
    # the citizens and no login (the other units' answers come from the service either way).
    who_calls = [w for w in PRINCIPALS if via == "gateway" or w.place in (None, "same_unit")]
    names = sorted(CASES, key=lambda n: n == "identity.remove_contact")  # that one last
    mismatches: list[Mismatch] = []
    base_url = platform.gateway_url if via == "gateway" else ""
    async with httpx.AsyncClient(base_url=base_url, timeout=20) as client:
        for name in names:
            mismatches += await _check_operation(client, platform, world, name, who_calls)
    await world.restore_mobile()
    assert not mismatches, "\n".join(map(str, mismatches))


# --- more of AC-2 and AC-5 ------------------------------------------------------------------------


async def test_ac5_citizen_sees_only_own_data(platform: Platform, world: World) -> None:
    mine = citizen_headers(platform, world.other_pnr)
    gw = world.gw
    me = await gw.get("/api/identity/me", headers=mine)
    assert me.status_code == 200 and me.json()["patient_id"] != world.owner_id
    for path in (
        f"/api/identity/patients/{world.owner_id}",
        f"/api/identity/patients/{world.owner_id}/consents",
        f"/api/identity/patients/{world.owner_id}/access-log",
        f"/api/booking/bookings/{world.booking['booking_id']}",
    ):
        r = await gw.get(path, headers=mine)
        assert r.status_code == 403, path
        assert r.json()["code"] == "not_your_data"


async def test_ac2_assignment_switch_per_request_without_new_login(
    platform: Platform, world: World
) -> None:
    from vaccinera_contracts.roles import Assignment

    nurse_here = Assignment(id="a1", role=Role.NURSE, unit_id=world.unit, care_provider_id=PROVIDER)
    stock_there = Assignment(
        id="a2", role=Role.STOCK_ADMIN, unit_id="unit-motala", care_provider_id=PROVIDER
    )
    token = tokens.mint(
        platform.keys, tokens.staff_claims("SE2321000016-9999", [nurse_here, stock_there])
    )
    auth = {"authorization": f"Bearer {token}"}
    body = {"identifier": world.owner_pnr}
    gw = world.gw
    as_nurse = await gw.post(
        "/api/identity/patients/search", json=body, headers={**auth, "X-Vaccinera-Assignment": "a1"}
    )
    assert as_nurse.status_code == 200
    as_stock = await gw.put(
        f"/api/identity/patients/{world.owner_id}/protection",
        json={"protected": False},
        headers={**auth, "X-Vaccinera-Assignment": "a2"},
    )
    assert as_stock.status_code == 403
    assert "Lageradministratör" in as_stock.json()["message"]
    booking = f"/api/booking/bookings/{world.booking['booking_id']}"
    assert (
        await gw.get(booking, headers={**auth, "X-Vaccinera-Assignment": "a1"})
    ).status_code == 200
    # The same login acting at the other unit does not see unit A's booking (AC-5).
    assert (
        await gw.get(booking, headers={**auth, "X-Vaccinera-Assignment": "a2"})
    ).status_code == 403
    unnamed = await gw.post("/api/identity/patients/search", json=body, headers=auth)
    assert (unnamed.status_code, unnamed.json()["code"]) == (400, "assignment_required")
