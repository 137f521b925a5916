"""The authorization matrix: every API operation and who may call it (AC-3, AC-4, AC-5).

One table for the whole platform. The gateway checks it before forwarding and every service
checks it again where the data lives. ``docs/roles.md`` shows it for unit managers; a test calls
every operation with every role and asserts exactly this table.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, field
from functools import cached_property
from typing import Literal

from vaccinera_contracts.roles import Principal, Role

ALL_STAFF = frozenset(Role)
# Staff who work with the patient's record: may change identity data, protection, blocks and
# consents. Booking-only staff and the time book and stock administrators may not.
RECORD_STAFF = frozenset(
    {
        Role.DOCTOR,
        Role.NURSE_PRESCRIBER,
        Role.NURSE,
        Role.ASSISTANT_NURSE,
        Role.MEDICAL_SECRETARY,
    }
)
# Who may book, rebook and cancel for patients (BK-3): everyone but the stock administrators.
BOOKERS = ALL_STAFF - {Role.STOCK_ADMIN}
TIME_BOOK_ADMINS = frozenset({Role.TIME_BOOK_ADMIN})
# Who sees the bookings of the unit they act at (AC-5): every role, as the FAQ says ("Du kan se
# bokningar inom en enhet oavsett vilken roll du loggar in som").
UNIT_BOOKING_READERS = ALL_STAFF
# Mass cancellation when a delivery fails (BK-6).
MASS_CANCELLERS = frozenset({Role.TIME_BOOK_ADMIN, Role.DOCTOR, Role.NURSE_PRESCRIBER, Role.NURSE})
# Clinical staff who read health declarations before vaccinating.
CLINICIANS = frozenset({Role.DOCTOR, Role.NURSE_PRESCRIBER, Role.NURSE})
# Who may read a patient's access log ("loggutdrag").
ACCESS_LOG_READERS = frozenset(
    {Role.DOCTOR, Role.NURSE_PRESCRIBER, Role.NURSE, Role.MEDICAL_SECRETARY}
)

# Inventory (IN-1..IN-6): the unit's stock administrator ("saldoansvarig") checks in,
# discards, corrects, sets low-stock levels and the quick list, and sees the region's
# overview; every role at the unit reads its stock and quick list (they plan times and
# vaccinations by it); the clinicians pick batches for an administration.
STOCK_ADMINS = frozenset({Role.STOCK_ADMIN})

# Journal (JR-1..JR-9). Doctors and nurses with prescribing rights order ("Signera
# ordination"); nurses and nurses with prescribing rights give the dose ("Signera
# administrering"); the record roles read the journal; only the clinicians print it (AC-4) or
# enter history. The regional catalogue has no role of its own in AC-3: reading until decided,
# the stock administrators, who already name the vaccines of the stock, keep it.
PRESCRIBERS = frozenset({Role.DOCTOR, Role.NURSE_PRESCRIBER})
VACCINATORS = frozenset({Role.NURSE, Role.NURSE_PRESCRIBER})
JOURNAL_READERS = RECORD_STAFF
PRINTERS = CLINICIANS
CATALOGUE_KEEPERS = STOCK_ADMINS

# Registry export (RX-1..RX-5). The control report of doses entered by hand (RX-3) is checked
# at the unit by those who keep its records. The reports to NVR and NPÖ are watched and
# retried by the region's registry operators, whom AC-3 gives no role (and no super-user may
# exist): they act through their own client ("registry-operator", client credentials), which
# sees report states and the receivers' answers, never a patient's identifier.
CONTROL_REPORT_READERS = frozenset(
    {Role.DOCTOR, Role.NURSE_PRESCRIBER, Role.NURSE, Role.MEDICAL_SECRETARY}
)
REGISTRY_OPERATOR = frozenset({"registry-operator"})
# RX-4: the statistics serve regional infection control, which AC-3 gives no role either.
# Reading until the region decides: as the regional stock overview (IN-5), the stock
# administrators of any unit; and the registry operators' client, which runs the registry
# export's reports for the region. Aggregates only: no patient is named in them.
STATISTICS_READERS = STOCK_ADMINS
BATCH_PICKERS = frozenset({Role.DOCTOR, Role.NURSE_PRESCRIBER, Role.NURSE, Role.STOCK_ADMIN})


@dataclass(frozen=True)
class Operation:
    """One API operation: where it lives and who may call it."""

    name: str
    service: str
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"]
    path: str
    summary: str
    staff: frozenset[Role] = field(default_factory=frozenset)
    # A citizen (BankID) may call it for their own data only.
    citizen: bool = False
    anonymous: bool = False
    purpose: str = "care"
    # Vaccinera services (by name) that may call it for themselves, with a client-credentials
    # token: service-to-service operations, open to no person.
    services: frozenset[str] = field(default_factory=frozenset)

    @property
    def action(self) -> Literal["read", "write"]:
        return "read" if self.method == "GET" else "write"

    @cached_property
    def _pattern(self) -> re.Pattern[str]:
        regex = re.sub(
            r"\{(\w+)\}",
            r"(?P<\1>[^/]+)",
            re.escape(self.path).replace(r"\{", "{").replace(r"\}", "}"),
        )
        return re.compile(f"^{regex}$")

    def matches(self, method: str, path: str) -> bool:
        return method.upper() == self.method and self._pattern.match(path) is not None

    def allows(self, principal: Principal | None) -> bool:
        if self.anonymous:
            return True
        if principal is None:
            return False
        if principal.kind == "service":
            return principal.subject in self.services
        if principal.kind == "citizen":
            return self.citizen
        active = principal.active_assignment
        return active is not None and active.role in self.staff

    def denial(self, principal: Principal | None) -> str:
        """Why ``principal`` may not do this, in words a person understands."""
        if principal is None:
            return "Log in first."
        if principal.kind == "service" or (self.services and not (self.staff or self.citizen)):
            allowed = ", ".join(sorted(self.services)) or "no service"
            return f"Only Vaccinera's own services may do this ({allowed}), not a person."
        if principal.kind == "citizen":
            return "This is for care staff only."
        if not self.staff:
            return "This is for the patient only, logged in with BankID."
        role = principal.active_assignment.role if principal.active_assignment else None
        allowed = ", ".join(sorted(r.display_name_sv for r in self.staff))
        who = f"as {role.display_name_sv}" if role else "without an assignment"
        return f"You may not {self.summary.lower()} {who}. Allowed: {allowed}."


def _op(
    name: str,
    method: Literal["GET", "POST", "PUT", "PATCH", "DELETE"],
    path: str,
    summary: str,
    staff: frozenset[Role] = frozenset(),
    *,
    citizen: bool = False,
    anonymous: bool = False,
    purpose: str = "care",
    services: frozenset[str] = frozenset(),
) -> Operation:
    service = name.split(".", 1)[0]
    return Operation(
        name, service, method, path, summary, staff, citizen, anonymous, purpose, services
    )


class Ops:
    """Every operation by name; services use these in their route dependencies."""

    # identity
    LOOKUP_PERSON = _op(
        "identity.lookup_person",
        "POST",
        "/persons/lookup",
        "Look up a person in the population register",
        ALL_STAFF,
    )
    REGISTER_PATIENT = _op(
        "identity.register_patient", "POST", "/patients", "Add a patient", ALL_STAFF
    )
    REGISTER_RESERVE_PATIENT = _op(
        "identity.register_reserve_patient",
        "POST",
        "/patients/reserve",
        "Add a patient with a new reserve number",
        ALL_STAFF,
    )
    SEARCH_PATIENT = _op(
        "identity.search_patient",
        "POST",
        "/patients/search",
        "Find a patient by identifier",
        ALL_STAFF,
    )
    GET_PATIENT = _op(
        "identity.get_patient",
        "GET",
        "/patients/{patient_id}",
        "See a patient's details",
        ALL_STAFF,
        citizen=True,
    )
    GET_ME = _op("identity.get_me", "GET", "/me", "See your own details", citizen=True)
    REGISTER_ME = _op(
        "identity.register_me", "POST", "/me", "Register yourself as a patient", citizen=True
    )
    CHANGE_IDENTIFIER = _op(
        "identity.change_identifier",
        "PUT",
        "/patients/{patient_id}/identifier",
        "Change a patient's identifier",
        RECORD_STAFF,
    )
    SET_CONTACT = _op(
        "identity.set_contact",
        "PUT",
        "/patients/{patient_id}/contact",
        "Add or change contact details",
        ALL_STAFF,
        citizen=True,
    )
    REMOVE_CONTACT = _op(
        "identity.remove_contact",
        "DELETE",
        "/patients/{patient_id}/contact",
        "Remove contact details",
        ALL_STAFF,
        citizen=True,
    )
    SET_PROTECTION = _op(
        "identity.set_protection",
        "PUT",
        "/patients/{patient_id}/protection",
        "Mark or unmark protected identity",
        RECORD_STAFF,
    )
    LIST_BLOCKS = _op(
        "identity.list_blocks",
        "GET",
        "/patients/{patient_id}/blocks",
        "See a patient's blocks",
        RECORD_STAFF,
        citizen=True,
    )
    SET_BLOCK = _op(
        "identity.set_block",
        "POST",
        "/patients/{patient_id}/blocks",
        "Register a block",
        RECORD_STAFF,
    )
    LIFT_BLOCK = _op(
        "identity.lift_block",
        "DELETE",
        "/patients/{patient_id}/blocks/{block_id}",
        "Lift a block",
        RECORD_STAFF,
    )
    LIST_CONSENTS = _op(
        "identity.list_consents",
        "GET",
        "/patients/{patient_id}/consents",
        "See a patient's consents",
        RECORD_STAFF,
        citizen=True,
    )
    RECORD_CONSENT = _op(
        "identity.record_consent",
        "POST",
        "/patients/{patient_id}/consents",
        "Record consent to shared record access",
        RECORD_STAFF,
    )
    REVOKE_CONSENT = _op(
        "identity.revoke_consent",
        "DELETE",
        "/patients/{patient_id}/consents/{consent_id}",
        "Revoke a consent",
        RECORD_STAFF,
    )
    ACCESS_LOG = _op(
        "identity.access_log",
        "GET",
        "/patients/{patient_id}/access-log",
        "See who accessed a patient's data",
        ACCESS_LOG_READERS,
        citizen=True,
        purpose="log review",
    )
    # Where to send an SMS (issue 9, ID-3): the SMS sender asks at send time, for one claimed
    # batch at once; identity answers each patient's mobile, "protected" or "none". Contact
    # data travels in no event and notifications keeps no copy.
    SMS_RECIPIENTS = _op(
        "identity.sms_recipients",
        "POST",
        "/sms-recipients",
        "Look up where to text patients (the notifications service only)",
        services=frozenset({"notifications"}),
        purpose="SMS delivery",
    )
    # notifications
    LIST_MESSAGES = _op(
        "notifications.list_messages",
        "GET",
        "/patients/{patient_id}/messages",
        "See the text messages sent to a patient",
        ALL_STAFF,
        citizen=True,
    )
    # booking
    WHOAMI = _op(
        "booking.whoami",
        "GET",
        "/whoami",
        "Who is calling: kind, HSA-id and active assignment (reads no patient data)",
        ALL_STAFF,
        citizen=True,
    )
    SELF_BOOKING = _op(
        "booking.self_booking",
        "GET",
        "/patients/{patient_id}/self-booking",
        "See whether a patient may book online",
        ALL_STAFF,
        citizen=True,
    )
    CREATE_TIME_BOOK = _op(
        "booking.create_time_book", "POST", "/time-books", "Create a time book", TIME_BOOK_ADMINS
    )
    LIST_TIME_BOOKS = _op(
        "booking.list_time_books",
        "GET",
        "/units/{unit_id}/time-books",
        "See a unit's time books and visit types",
        ALL_STAFF,
        citizen=True,
    )
    ADD_VISIT_TYPE = _op(
        "booking.add_visit_type",
        "POST",
        "/time-books/{time_book_id}/visit-types",
        "Add a visit type",
        TIME_BOOK_ADMINS,
    )
    RENAME_VISIT_TYPE = _op(
        "booking.rename_visit_type",
        "PATCH",
        "/time-books/{time_book_id}/visit-types/{visit_type_id}",
        "Rename a visit type",
        TIME_BOOK_ADMINS,
    )
    DELETE_VISIT_TYPE = _op(
        "booking.delete_visit_type",
        "DELETE",
        "/time-books/{time_book_id}/visit-types/{visit_type_id}",
        "Delete a visit type",
        TIME_BOOK_ADMINS,
    )
    OPEN_SLOTS = _op(
        "booking.open_slots",
        "POST",
        "/time-books/{time_book_id}/slots",
        "Open bookable times",
        TIME_BOOK_ADMINS,
    )
    ADD_TIME_BLOCK = _op(
        "booking.add_time_block",
        "POST",
        "/time-books/{time_book_id}/time-blocks",
        "Block time in the time book",
        TIME_BOOK_ADMINS,
    )
    SET_DAY_NOTE = _op(
        "booking.set_day_note",
        "PUT",
        "/time-books/{time_book_id}/notes/{day}",
        "Write the day's note in the time book",
        ALL_STAFF,
    )
    DAY_VIEW = _op(
        "booking.day_view",
        "GET",
        "/time-books/{time_book_id}/days/{day}",
        "See a day in the time book",
        UNIT_BOOKING_READERS,
    )
    CAPACITY = _op(
        "booking.capacity",
        "GET",
        "/time-books/{time_book_id}/capacity",
        "See opened, booked and free times",
        ALL_STAFF,
    )
    FREE_TIMES = _op(
        "booking.free_times",
        "GET",
        "/time-books/{time_book_id}/free-times",
        "Search free times",
        BOOKERS,
        citizen=True,
    )
    MASS_CANCEL = _op(
        "booking.mass_cancel",
        "POST",
        "/time-books/{time_book_id}/mass-cancellations",
        "Cancel all bookings in a time range",
        MASS_CANCELLERS,
    )
    BOOK = _op("booking.book", "POST", "/bookings", "Book a time", BOOKERS, citizen=True)
    GET_BOOKING = _op(
        "booking.get_booking",
        "GET",
        "/bookings/{booking_id}",
        "See a booking",
        UNIT_BOOKING_READERS,
        citizen=True,
    )
    PATIENT_BOOKINGS = _op(
        "booking.patient_bookings",
        "GET",
        "/patients/{patient_id}/bookings",
        "See a patient's bookings",
        UNIT_BOOKING_READERS,
        citizen=True,
    )
    REBOOK = _op(
        "booking.rebook",
        "POST",
        "/bookings/{booking_id}/rebook",
        "Rebook a time",
        BOOKERS,
        citizen=True,
    )
    CANCEL = _op(
        "booking.cancel",
        "POST",
        "/bookings/{booking_id}/cancel",
        "Cancel a booking",
        BOOKERS,
        citizen=True,
    )
    MANAGE_REBOOK = _op(
        "booking.manage_rebook",
        "POST",
        "/manage/rebook",
        "Rebook with the reference and code from the SMS",
        anonymous=True,
    )
    MANAGE_CANCEL = _op(
        "booking.manage_cancel",
        "POST",
        "/manage/cancel",
        "Cancel with the reference and code from the SMS",
        anonymous=True,
    )
    # A new code by SMS, e.g. once wrong codes locked the booking (the old code stops working).
    NEW_MANAGE_CODE = _op(
        "booking.new_manage_code",
        "POST",
        "/bookings/{booking_id}/manage-code",
        "Send the patient a new booking code",
        BOOKERS,
    )
    REGISTER_ARRIVAL = _op(
        "booking.register_arrival",
        "POST",
        "/bookings/{booking_id}/arrival",
        "Register the patient's arrival",
        BOOKERS,
    )
    GET_QUESTIONNAIRE = _op(
        "booking.get_questionnaire",
        "GET",
        "/units/{unit_id}/questionnaire",
        "See the unit's health declaration questions",
        anonymous=True,
    )
    SET_QUESTIONNAIRE = _op(
        "booking.set_questionnaire",
        "PUT",
        "/units/{unit_id}/questionnaire",
        "Change the unit's health declaration questions",
        TIME_BOOK_ADMINS,
    )
    DECLARE = _op(
        "booking.declare",
        "POST",
        "/units/{unit_id}/health-declarations",
        "Fill in a health declaration without a booking",
        CLINICIANS,
        citizen=True,
    )
    GET_DECLARATION = _op(
        "booking.get_declaration",
        "GET",
        "/bookings/{booking_id}/health-declaration",
        "Read the health declaration of a visit",
        CLINICIANS,
    )
    # inventory (issue 10)
    CHECK_IN = _op(
        "inventory.check_in",
        "POST",
        "/units/{unit_id}/deliveries",
        "Check in a vaccine delivery",
        STOCK_ADMINS,
    )
    STOCK = _op(
        "inventory.stock",
        "GET",
        "/units/{unit_id}/stock",
        "See the unit's vaccine stock and low-stock warnings",
        ALL_STAFF,
    )
    USABLE_BATCHES = _op(
        "inventory.usable_batches",
        "GET",
        "/units/{unit_id}/usable-batches",
        "See the batches that can be used now",
        BATCH_PICKERS,
    )
    GET_BATCH = _op(
        "inventory.get_batch",
        "GET",
        "/batches/{batch_id}",
        "See a batch and its history",
        ALL_STAFF,
    )
    DISCARD = _op(
        "inventory.discard",
        "POST",
        "/batches/{batch_id}/discards",
        "Register discarded doses",
        STOCK_ADMINS,
    )
    CORRECT_STOCK = _op(
        "inventory.correct",
        "POST",
        "/batches/{batch_id}/corrections",
        "Correct a batch's balance after a count",
        STOCK_ADMINS,
    )
    STOCK_DISCREPANCIES = _op(
        "inventory.stock_discrepancies",
        "GET",
        "/units/{unit_id}/discrepancies",
        "See administrations the stock did not cover",
        STOCK_ADMINS,
    )
    SET_LOW_STOCK_LEVEL = _op(
        "inventory.set_low_stock_level",
        "PUT",
        "/units/{unit_id}/low-stock-levels/{vaccine_id}",
        "Set the unit's low-stock level of a vaccine",
        STOCK_ADMINS,
    )
    QUICK_LIST = _op(
        "inventory.quick_list",
        "GET",
        "/units/{unit_id}/quick-list",
        "See the unit's quick-vaccination list",
        ALL_STAFF,
    )
    SET_QUICK_LIST = _op(
        "inventory.set_quick_list",
        "PUT",
        "/units/{unit_id}/quick-list",
        "Change the unit's quick-vaccination list",
        STOCK_ADMINS,
    )
    REGIONAL_OVERVIEW = _op(
        "inventory.regional_overview",
        "GET",
        "/overview",
        "See stock and consumption per unit, care provider or region",
        STOCK_ADMINS,
    )
    # journal (issue 10)
    CATALOGUE = _op("journal.catalogue", "GET", "/vaccines", "See the vaccine catalogue", ALL_STAFF)
    ADD_VACCINE = _op(
        "journal.add_vaccine",
        "POST",
        "/vaccines",
        "Add a vaccine to the catalogue",
        CATALOGUE_KEEPERS,
    )
    CHANGE_VACCINE = _op(
        "journal.change_vaccine",
        "PATCH",
        "/vaccines/{vaccine_id}",
        "Rename or change a vaccine of the catalogue",
        CATALOGUE_KEEPERS,
    )
    ORDER = _op(
        "journal.order",
        "POST",
        "/patients/{patient_id}/orders",
        "Order a vaccination (Signera ordination)",
        PRESCRIBERS,
    )
    VOID_ORDER = _op(
        "journal.void_order",
        "POST",
        "/orders/{order_id}/void",
        "Void an order",
        PRESCRIBERS,
    )
    ADMINISTER = _op(
        "journal.administer",
        "POST",
        "/orders/{order_id}/administration",
        "Give an ordered dose (Signera administrering)",
        VACCINATORS,
    )
    ORDER_AND_ADMINISTER = _op(
        "journal.order_and_administer",
        "POST",
        "/patients/{patient_id}/administrations",
        "Order and give a dose in one signed step",
        frozenset({Role.NURSE_PRESCRIBER}),
    )
    CORRECT_ADMINISTRATION = _op(
        "journal.correct_administration",
        "POST",
        "/administrations/{administration_id}/corrections",
        "Correct a given dose's batch or dose number",
        VACCINATORS,
    )
    RECORD_HISTORICAL = _op(
        "journal.record_historical",
        "POST",
        "/patients/{patient_id}/historical-doses",
        "Record a dose given elsewhere",
        CLINICIANS,
    )
    VACCINATIONS = _op(
        "journal.vaccinations",
        "GET",
        "/patients/{patient_id}/vaccinations",
        "See the patient's orders and vaccinations",
        JOURNAL_READERS,
        citizen=True,
    )
    SHARED_RECORD = _op(
        "journal.shared_record",
        "GET",
        "/patients/{patient_id}/shared-record",
        "See other care providers' vaccinations (shared record access)",
        CLINICIANS,
    )
    PRINT_HISTORY = _op(
        "journal.print_history",
        "GET",
        "/patients/{patient_id}/printouts/history",
        "Print the vaccination history",
        PRINTERS,
    )
    PRINT_JOURNAL = _op(
        "journal.print_journal",
        "GET",
        "/patients/{patient_id}/printouts/journal",
        "Print the vaccination journal",
        PRINTERS,
    )
    # registry export (issue 11)
    CONTROL_REPORT = _op(
        "registry-export.control_report",
        "GET",
        "/units/{unit_id}/control-report",
        "See the doses entered as history, with their comments",
        CONTROL_REPORT_READERS,
    )
    REPORTS = _op(
        "registry-export.reports",
        "GET",
        "/reports",
        "See the reports to NVR and NPÖ and their state",
        services=REGISTRY_OPERATOR,
        purpose="registry reporting",
    )
    RETRY_REPORT = _op(
        "registry-export.retry_report",
        "POST",
        "/reports/{report_id}/retry",
        "Send a failed report again",
        services=REGISTRY_OPERATOR,
        purpose="registry reporting",
    )
    START_RUN = _op(
        "registry-export.start_run",
        "POST",
        "/runs",
        "Report to NVR now",
        services=REGISTRY_OPERATOR,
        purpose="registry reporting",
    )
    COVERAGE = _op(
        "registry-export.coverage",
        "GET",
        "/statistics/coverage",
        "See vaccination coverage per unit, care provider, region, municipality or age band",
        STATISTICS_READERS,
        services=REGISTRY_OPERATOR,
        purpose="infection control statistics",
    )
    STATISTICS_STOCK = _op(
        "registry-export.stock",
        "GET",
        "/statistics/stock",
        "See stock and consumption for infection control",
        STATISTICS_READERS,
        services=REGISTRY_OPERATOR,
        purpose="infection control statistics",
    )


MATRIX: tuple[Operation, ...] = tuple(
    value for value in vars(Ops).values() if isinstance(value, Operation)
)

# Reachable through the gateway without the matrix: liveness and readiness of each service.
PUBLIC_PATHS = frozenset({"/health", "/ready"})


def find_operation(service: str, method: str, path: str) -> Operation | None:
    for op in MATRIX:
        if op.service == service and op.matches(method, path):
            return op
    return None


def matrix_markdown() -> str:
    """The matrix as one table for ``docs/roles.md``: operations down, roles across."""
    roles = list(Role)
    header = [
        "What",
        "Service",
        *(r.display_name_sv for r in roles),
        "Patient (BankID)",
        "Anyone",
        "Client (no person)",
    ]
    lines = [
        "| " + " | ".join(header) + " |",
        "|" + "---|" * len(header),
    ]
    for op in MATRIX:
        cells = [op.summary, op.service, *("✓" if r in op.staff else "" for r in roles)]
        cells.append("own data" if op.citizen else "")
        cells.append("✓" if op.anonymous else "")
        cells.append(", ".join(sorted(op.services)))
        lines.append("| " + " | ".join(cells) + " |")
    return "\n".join(lines) + "\n"
