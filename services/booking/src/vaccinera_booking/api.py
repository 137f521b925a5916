"""Booking's HTTP API: time books (BK-1, BK-7, BK-8, BK-9), slots, bookings (BK-2..BK-6, BK-11)
and health declarations (BK-2, BK-12). Every route is one operation of the authorization matrix;
staff act only on their own unit (AC-5); patient data reads and writes go to the access log.

Each change is one unit of work: the rows, its events and its access record commit together.
"""

from __future__ import annotations

import asyncio
import time
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Annotated, Any
from urllib.parse import quote

import httpx
from fastapi import APIRouter, Depends, FastAPI, Query, Request, status
from sqlalchemy.exc import IntegrityError
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_booking import domain
from vaccinera_booking.schemas import (
    BookIn,
    BookingOut,
    CapacityDay,
    CapacityOut,
    CapacityVisitType,
    DayViewOut,
    DeclarationIn,
    DeclarationOut,
    FreeTime,
    FreeTimesOut,
    ManageIn,
    ManageRebookIn,
    MassCancellationIn,
    MassCancellationOut,
    NoteIn,
    OpenedOut,
    OpeningIn,
    QuestionnaireIn,
    QuestionnaireOut,
    RebookIn,
    RenameIn,
    SelfBookingOut,
    StandaloneDeclarationIn,
    TimeBlockIn,
    TimeBookIn,
    TimeBookOut,
    VisitTypeIn,
    VisitTypeOut,
)
from vaccinera_booking.settings import Settings
from vaccinera_booking.store import (
    NO_OVERLAPPING_SLOTS,
    Bookings,
    Declarations,
    Patients,
    Slots,
    StaleBooking,
    TimeBooks,
)
from vaccinera_contracts.access import Operation, Ops
from vaccinera_contracts.events import (
    ArrivalRegistered,
    BookingCancelled,
    BookingCreated,
    BookingRebooked,
    HealthDeclarationSubmitted,
    Visit,
)
from vaccinera_contracts.identifiers import IdentifierKind
from vaccinera_contracts.roles import Principal
from vaccinera_kit.access_log import AccessLog
from vaccinera_kit.app import Service
from vaccinera_kit.auth import authorize, ensure_own, ensure_unit
from vaccinera_kit.database import Database, is_unique_violation
from vaccinera_kit.errors import Conflict, DomainError, Forbidden, NotFound
from vaccinera_kit.idempotency import IdempotentCall
from vaccinera_kit.unit_of_work import UnitOfWork, UnitOfWorkFactory

router = APIRouter()
routers = (router,)
Doc = dict[str, Any]


class Ctx:
    """What a route needs from the running service, built once per request."""

    def __init__(self, request: Request) -> None:
        service: Service = request.app.state.service
        self.app: FastAPI = request.app
        self.settings: Settings = service.settings  # type: ignore[assignment]
        self.db: Database = service.db
        self.unit_of_work: UnitOfWorkFactory = service.unit_of_work
        self.access: AccessLog = service.access_log
        self.authorization = request.headers.get("authorization")
        self.request = request

    def idempotent(self, principal: Principal, operation: str, payload: Any) -> IdempotentCall:
        """This request's Idempotency-Key, if the client sent one (issue 7 item 9)."""
        return IdempotentCall(
            self.request,
            owner=f"{principal.kind}:{principal.subject}",
            operation=operation,
            payload=payload,
        )

    def read(self) -> AsyncConnection:
        """A connection for reads: ``async with ctx.read() as conn``."""
        return self.db.connect()

    @property
    def identity(self) -> httpx.AsyncClient:
        """One client per process for the rare calls to identity (keeps its connections)."""
        client: httpx.AsyncClient | None = getattr(self.app.state, "identity_client", None)
        if client is None:
            client = httpx.AsyncClient(base_url=self.settings.identity_url, timeout=5)
            self.app.state.identity_client = client
        return client


C = Annotated[Ctx, Depends(Ctx)]


def allowed(op: Operation) -> Any:
    return Depends(authorize(op))


def _now() -> datetime:
    return datetime.now(UTC)


def _aware(moment: datetime, field: str) -> datetime:
    if moment.tzinfo is None:
        raise domain.invalid(field, "timezone", "Give the time with a time zone, e.g. +01:00.")
    return moment.astimezone(UTC)


def _midnight(day: date) -> datetime:
    return datetime.combine(day, datetime.min.time(), domain.TZ).astimezone(UTC)


# --- patients --------------------------------------------------------------------------------


@router.get("/whoami", tags=["session"], summary=Ops.WHOAMI.summary)
async def whoami(principal: Annotated[Principal, allowed(Ops.WHOAMI)]) -> dict[str, str | None]:
    """The caller as this service verified them: what a client shows after login, and the
    cheapest authenticated call (the benchmark's HTTP ceiling). No database, no patient data."""
    active = principal.active_assignment
    return {
        "kind": principal.kind,
        "hsa_id": principal.hsa_id,
        "role": active.role.value if active else None,
        "unit_id": active.unit_id if active else None,
    }


@router.get(
    "/patients/{patient_id}/self-booking",
    response_model=SelfBookingOut,
    tags=["patients"],
    summary=Ops.SELF_BOOKING.summary,
)
async def self_booking(
    patient_id: str, ctx: C, principal: Annotated[Principal, allowed(Ops.SELF_BOOKING)]
) -> SelfBookingOut:
    """May this patient book online? (BK-2, ID-3)"""
    patient = await _known_patient(ctx, patient_id)
    if patient is None:
        raise NotFound(f"No patient {patient_id}.")
    ensure_own(principal, patient["identifier_value"])
    await ctx.access.record(principal, Ops.SELF_BOOKING, patient_id)
    kind = IdentifierKind(patient["identifier_kind"])
    verdict = domain.self_booking(kind, patient["protected"])
    return SelfBookingOut(
        patient_id=patient_id,
        identifier_kind=kind,
        protected=patient["protected"],
        self_booking_allowed=verdict.allowed,
        reason=verdict.reason,
    )


async def _known_patient(ctx: Ctx, patient_id: str) -> Doc | None:
    """The patient from booking's projection; on a miss (identity's event not consumed yet)
    from identity itself, once, remembered: no answer depends on consumer lag."""
    async with ctx.read() as conn:
        found = await Patients(conn).get(patient_id)
    if found is not None:
        return found
    return await _ask_identity(ctx, f"/patients/{quote(patient_id, safe='')}")


async def _ask_identity(ctx: Ctx, path: str) -> Doc | None:
    """Identity's answer about a patient, asked with the caller's own authorization (so
    identity applies its rules and logs the read); None if identity does not know them."""
    try:
        r = await ctx.identity.get(path, headers={"authorization": ctx.authorization or ""})
    except httpx.HTTPError as exc:
        raise DomainError(
            "Identity is not reachable right now; try again shortly.", code="identity_unavailable"
        ) from exc
    if r.status_code == 404:
        return None
    if r.status_code == 403:  # identity's own rules (e.g. a citizen asking for another)
        refusal = (
            r.json() if r.headers.get("content-type", "").startswith("application/json") else {}
        )
        raise Forbidden(
            str(refusal.get("message") or "You can only see and change your own details."),
            code=str(refusal.get("code") or "not_your_data"),
        )
    if r.status_code != 200:
        raise DomainError(
            "Identity could not answer right now; try again shortly.", code="identity_unavailable"
        )
    found = r.json()
    patient = {
        "patient_id": found["patient_id"],
        "identifier_kind": found["identifier_kind"],
        "identifier_value": found["identifier"],
        "protected": found["protected"],
    }
    async with ctx.unit_of_work() as uow:
        await Patients(uow.conn).learn(
            patient["patient_id"],
            patient["identifier_kind"],
            patient["identifier_value"],
            patient["protected"],
        )
    return patient


async def _patient_for(ctx: Ctx, principal: Principal, patient_id: str | None) -> Doc:
    """Staff name the patient; a citizen books for themselves and must be allowed to (BK-2)."""
    if principal.is_staff:
        if patient_id is None:
            raise domain.invalid("patient_id", "required", "Name the patient to book for.")
        patient = await _known_patient(ctx, patient_id)
        if patient is None:
            raise NotFound(
                f"No patient {patient_id}: add the patient first.", code="unknown_patient"
            )
        return patient
    if patient_id is not None:
        raise Forbidden("Citizens book for themselves only.", code="not_your_data")
    async with ctx.read() as conn:
        found = await Patients(conn).by_identifier(principal.personnummer or "")
    patient = found or await _learn_citizen(ctx)
    verdict = domain.self_booking(IdentifierKind(patient["identifier_kind"]), patient["protected"])
    if not verdict.allowed:
        raise Forbidden(verdict.reason or "", code="no_self_booking")
    return patient


async def _learn_citizen(ctx: Ctx) -> Doc:
    """Ask identity who the logged-in citizen is (a fresh, user-facing read)."""
    patient = await _ask_identity(ctx, "/me")
    if patient is None:
        raise Conflict(
            "You are not registered as a patient yet: register first (POST /api/identity/me).",
            code="not_registered",
        )
    return patient


# --- time books ------------------------------------------------------------------------------


async def _time_book(
    ctx: Ctx, time_book_id: str, principal: Principal, conn: AsyncConnection | None = None
) -> Doc:
    if conn is None:
        async with ctx.read() as own:
            doc = await TimeBooks(own).get(time_book_id)
    else:
        doc = await TimeBooks(conn).get(time_book_id)
    if doc is None:
        raise NotFound(f"No time book {time_book_id}.")
    ensure_unit(principal, doc["unit_id"])
    return doc


def _visit_types(doc: Doc) -> list[domain.VisitType]:
    return [domain.VisitType(**vt) for vt in doc["visit_types"]]


def _visit_type(doc: Doc, visit_type_id: str) -> domain.VisitType:
    for vt in _visit_types(doc):
        if vt.visit_type_id == visit_type_id:
            return vt
    raise domain.invalid("visit_type_id", "unknown", f"No visit type {visit_type_id} here.")


def _columns(doc: Doc, resource: str) -> int:
    return int(next((r["columns"] for r in doc["resources"] if r["resource"] == resource), 0))


def _time_book_out(doc: Doc, include_deleted: bool = True) -> TimeBookOut:
    return TimeBookOut(
        time_book_id=doc["time_book_id"],
        unit_id=doc["unit_id"],
        unit_name=doc["unit_name"],
        name=doc["name"],
        resources=[{"resource": r["resource"], "columns": r["columns"]} for r in doc["resources"]],
        visit_types=[
            VisitTypeOut(**vt) for vt in doc["visit_types"] if include_deleted or not vt["deleted"]
        ],
    )


@router.post(
    "/time-books",
    response_model=TimeBookOut,
    status_code=201,
    tags=["time books"],
    summary=Ops.CREATE_TIME_BOOK.summary,
)
async def create_time_book(
    body: TimeBookIn, ctx: C, principal: Annotated[Principal, allowed(Ops.CREATE_TIME_BOOK)]
) -> TimeBookOut:
    """A unit's time book ("tidbok") with its resources, each with parallel columns (BK-1)."""
    ensure_unit(principal, body.unit_id)
    if len({r.resource for r in body.resources}) != len(body.resources):
        raise domain.invalid("resources", "duplicate", "Each resource once.")
    doc: Doc = {
        "time_book_id": str(uuid.uuid4()),
        "unit_id": body.unit_id,
        "unit_name": body.unit_name,
        "name": body.name,
        "resources": [r.model_dump() for r in body.resources],
        "visit_types": [],
        "version": 1,
    }
    async with ctx.unit_of_work() as uow:
        await TimeBooks(uow.conn).add(doc, doc["resources"])
    return _time_book_out(doc)


@router.get(
    "/units/{unit_id}/time-books",
    response_model=list[TimeBookOut],
    tags=["time books"],
    summary=Ops.LIST_TIME_BOOKS.summary,
)
async def list_time_books(
    unit_id: str, ctx: C, principal: Annotated[Principal, allowed(Ops.LIST_TIME_BOOKS)]
) -> list[TimeBookOut]:
    ensure_unit(principal, unit_id)
    async with ctx.read() as conn:
        docs = await TimeBooks(conn).for_unit(unit_id)
    return [_time_book_out(d, include_deleted=principal.is_staff) for d in docs]


async def _claim_time_book(uow: UnitOfWork, doc: Doc) -> TimeBooks:
    """Visit types change only on the time book as it was read (optimistic lock)."""
    books = TimeBooks(uow.conn)
    if not await books.claim_version(doc["time_book_id"], doc["version"]):
        raise Conflict(
            "The time book changed meanwhile; reload and try again.", code="concurrent_change"
        )
    return books


@router.post(
    "/time-books/{time_book_id}/visit-types",
    response_model=TimeBookOut,
    status_code=201,
    tags=["time books"],
    summary=Ops.ADD_VISIT_TYPE.summary,
)
async def add_visit_type(
    time_book_id: str,
    body: VisitTypeIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.ADD_VISIT_TYPE)],
) -> TimeBookOut:
    doc = await _time_book(ctx, time_book_id, principal)
    if not _columns(doc, body.resource):
        raise domain.invalid(
            "resource", "unknown", f"This time book has no {body.resource} resource."
        )
    async with ctx.unit_of_work() as uow:
        books = await _claim_time_book(uow, doc)
        await books.add_visit_type(
            time_book_id, {"visit_type_id": str(uuid.uuid4()), **body.model_dump()}
        )
    return _time_book_out(await _time_book(ctx, time_book_id, principal))


@router.patch(
    "/time-books/{time_book_id}/visit-types/{visit_type_id}",
    response_model=TimeBookOut,
    tags=["time books"],
    summary=Ops.RENAME_VISIT_TYPE.summary,
)
async def rename_visit_type(
    time_book_id: str,
    visit_type_id: str,
    body: RenameIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.RENAME_VISIT_TYPE)],
) -> TimeBookOut:
    """Renaming is allowed; past bookings keep the name they were booked with (BK-7)."""
    doc = await _time_book(ctx, time_book_id, principal)
    _visit_type(doc, visit_type_id)
    async with ctx.unit_of_work() as uow:
        books = await _claim_time_book(uow, doc)
        await books.change_visit_type(visit_type_id, name=body.name)
    return _time_book_out(await _time_book(ctx, time_book_id, principal))


@router.delete(
    "/time-books/{time_book_id}/visit-types/{visit_type_id}",
    response_model=TimeBookOut,
    tags=["time books"],
    summary=Ops.DELETE_VISIT_TYPE.summary,
)
async def delete_visit_type(
    time_book_id: str,
    visit_type_id: str,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.DELETE_VISIT_TYPE)],
) -> TimeBookOut:
    """Refused while future bookings use it, naming them (BK-7): the FAQ's system moved such
    bookings silently and freed their slots, which caused double bookings."""
    doc = await _time_book(ctx, time_book_id, principal)
    _visit_type(doc, visit_type_id)
    async with ctx.unit_of_work() as uow:
        books = TimeBooks(uow.conn)
        # Waits for bookings in flight on this visit type; later ones see it deleted.
        await books.lock_visit_type(visit_type_id, exclusive=True)
        future = await Bookings(uow.conn).future_with_visit_type(visit_type_id, _now())
        if future:
            raise Conflict(
                f"{len(future)} future booking(s) use this visit type: rebook or cancel them "
                "first, or rename the visit type instead.",
                code="visit_type_in_use",
                extra={
                    "bookings": [
                        {"reference": b["reference"], "start": b["start"].isoformat()}
                        for b in future
                    ]
                },
            )
        await _claim_time_book(uow, doc)
        await books.change_visit_type(visit_type_id, deleted=True)
    return _time_book_out(await _time_book(ctx, time_book_id, principal))


def _overlap(count: int, example: domain.SlotSpec | None) -> Conflict:
    where = (
        f", e.g. column {example.column} at {example.start.astimezone(domain.TZ):%Y-%m-%d %H:%M}"
        if example
        else ""
    )
    return Conflict(
        f"{count or 'Some'} of the new times overlap times already open{where}. "
        "Nothing was opened.",
        code="overlapping_slots",
    )


@router.post(
    "/time-books/{time_book_id}/slots",
    response_model=OpenedOut,
    status_code=201,
    tags=["time books"],
    summary=Ops.OPEN_SLOTS.summary,
)
async def open_slots(
    time_book_id: str,
    body: OpeningIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.OPEN_SLOTS)],
) -> OpenedOut:
    """Open bookable times in bulk; refused whole if any overlaps an existing one (BK-1)."""
    doc = await _time_book(ctx, time_book_id, principal)
    columns = _columns(doc, body.resource)
    if not columns:
        raise domain.invalid(
            "resource", "unknown", f"This time book has no {body.resource} resource."
        )
    if any(not 0 <= d <= 6 for d in body.weekdays):
        raise domain.invalid("weekdays", "range", "Weekdays are 0 (Monday) to 6 (Sunday).")
    slots = domain.open_slots(
        domain.Opening(
            body.resource,
            body.columns,
            body.first_day,
            body.last_day,
            frozenset(body.weekdays),
            body.day_start,
            body.day_end,
            body.slot_minutes,
        ),
        columns,
        _now(),
    )
    # Checked first for an answer that names a clash; the exclusion constraint decides.
    async with ctx.read() as conn:
        existing = await Slots(conn).in_range(
            time_book_id, slots[0].start - timedelta(hours=4), slots[-1].end, body.resource
        )
    clashes = domain.overlaps(
        slots, [domain.SlotSpec(s["resource"], s["column"], s["start"], s["end"]) for s in existing]
    )
    if clashes:
        raise _overlap(len(clashes), clashes[0])
    try:
        async with ctx.unit_of_work() as uow:
            opened = await Slots(uow.conn).open(time_book_id, slots)
    except IntegrityError as exc:
        if is_unique_violation(exc, NO_OVERLAPPING_SLOTS):
            raise _overlap(0, None) from exc  # another opening won the race
        raise
    return OpenedOut(time_book_id=time_book_id, opened=opened)


def _block_out(block: Doc) -> Doc:
    return {
        "block_id": block["block_id"],
        "resource": block["resource"],
        "columns": block["columns"],
        "start": block["start"].astimezone(domain.TZ).isoformat(),
        "end": block["end"].astimezone(domain.TZ).isoformat(),
        "label": block["label"],
        "booked_inside": block["booked_inside"],
    }


@router.post(
    "/time-books/{time_book_id}/time-blocks",
    response_model=DayViewOut,
    status_code=201,
    tags=["time books"],
    summary=Ops.ADD_TIME_BLOCK.summary,
)
async def add_time_block(
    time_book_id: str,
    body: TimeBlockIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.ADD_TIME_BLOCK)],
) -> DayViewOut:
    """A labelled block ("blockering"): its free slots can no longer be booked."""
    doc = await _time_book(ctx, time_book_id, principal)
    start, end = _aware(body.start, "start"), _aware(body.end, "end")
    if end <= start:
        raise domain.invalid("end", "before_start", "The block ends before it starts.")
    async with ctx.unit_of_work() as uow:
        slots = Slots(uow.conn)
        booked = await slots.count_booked(time_book_id, start, end, body.resource, body.columns)
        await slots.close_free(time_book_id, start, end, body.label, body.resource, body.columns)
        await TimeBooks(uow.conn).add_time_block(
            {
                "block_id": str(uuid.uuid4()),
                "time_book_id": time_book_id,
                "resource": body.resource,
                "columns": body.columns,
                "start": start,
                "end": end,
                "label": body.label,
                "booked_inside": booked,
            }
        )
    return await _day_view(ctx, doc, start.astimezone(domain.TZ).date())


@router.put(
    "/time-books/{time_book_id}/notes/{day}",
    response_model=DayViewOut,
    tags=["time books"],
    summary=Ops.SET_DAY_NOTE.summary,
)
async def set_day_note(
    time_book_id: str,
    day: date,
    body: NoteIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.SET_DAY_NOTE)],
) -> DayViewOut:
    """A note on a day of the time book (BK-9)."""
    doc = await _time_book(ctx, time_book_id, principal)
    async with ctx.unit_of_work() as uow:
        await TimeBooks(uow.conn).set_note(
            time_book_id, day, body.text, principal.hsa_id or principal.subject
        )
    return await _day_view(ctx, doc, day)


@router.get(
    "/time-books/{time_book_id}/days/{day}",
    response_model=DayViewOut,
    tags=["time books"],
    summary=Ops.DAY_VIEW.summary,
)
async def day_view(
    time_book_id: str, day: date, ctx: C, principal: Annotated[Principal, allowed(Ops.DAY_VIEW)]
) -> DayViewOut:
    doc = await _time_book(ctx, time_book_id, principal)
    view = await _day_view(ctx, doc, day)
    patients = sorted({s["patient_id"] for s in view.slots if s.get("patient_id")})
    await ctx.access.record(principal, Ops.DAY_VIEW, *patients)
    return view


async def _day_view(ctx: Ctx, doc: Doc, day: date) -> DayViewOut:
    lo, hi = _midnight(day), _midnight(day + timedelta(days=1))
    async with ctx.read() as conn:
        rows = await Slots(conn).day(doc["time_book_id"], lo, hi)
        books = TimeBooks(conn)
        note = await books.note(doc["time_book_id"], day)
        blocks = await books.time_blocks(doc["time_book_id"], lo, hi)
    return DayViewOut(
        time_book_id=doc["time_book_id"],
        day=day,
        note=note,
        slots=[
            {
                "start": s["start"].isoformat(),
                "end": s["end"].isoformat(),
                "resource": s["resource"],
                "column": s["column"],
                "status": "booked" if s["booking_id"] else s["status"],
                "label": s["label"],
                "booking_id": s["booking_id"],
                "patient_id": s["patient_id"],
                "visit_type_name": s["visit_type_name"],
                "arrived": s["arrived_at"] is not None,
            }
            for s in rows
        ],
        time_blocks=[_block_out(b) for b in blocks],
    )


@router.get(
    "/time-books/{time_book_id}/capacity",
    response_model=CapacityOut,
    tags=["time books"],
    summary=Ops.CAPACITY.summary,
)
async def capacity(
    time_book_id: str,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.CAPACITY)],
    start: Annotated[date, Query(alias="from")],
    end: Annotated[date, Query(alias="to")],
) -> CapacityOut:
    """Opened, booked and free times per day and resource, and per day and visit type (BK-8),
    counted by one statement over the slots and the bookings that hold them, so exact while
    booking goes on."""
    doc = await _time_book(ctx, time_book_id, principal)
    if end < start or end - start > timedelta(days=366):
        raise domain.invalid("to", "range", "Give at most one year, 'to' not before 'from'.")
    async with ctx.read() as conn:
        rows = await Slots(conn).capacity(
            time_book_id, _midnight(start), _midnight(end + timedelta(days=1))
        )
    visit_types = _visit_types(doc)
    days, per_type = domain.capacity((domain.CapacityCount(**r) for r in rows), visit_types)
    names = {vt.visit_type_id: vt.name for vt in visit_types}
    booked_per_name: dict[str, int] = {}
    for v in per_type:
        if v.booked:
            name = names[v.visit_type_id]
            booked_per_name[name] = booked_per_name.get(name, 0) + v.booked
    return CapacityOut(
        time_book_id=time_book_id,
        days=[
            CapacityDay(
                day=d.day,
                resource=d.resource,
                opened=d.opened,
                booked=d.booked,
                closed=d.closed,
                free=d.free,
            )
            for d in days
        ],
        booked_per_visit_type=booked_per_name,
        visit_types=[
            CapacityVisitType(
                day=v.day,
                visit_type_id=v.visit_type_id,
                name=names[v.visit_type_id],
                booked=v.booked,
                free=v.free,
            )
            for v in per_type
        ],
    )


@router.get(
    "/time-books/{time_book_id}/free-times",
    response_model=FreeTimesOut,
    tags=["booking"],
    summary=Ops.FREE_TIMES.summary,
)
async def free_times(
    time_book_id: str,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.FREE_TIMES)],
    visit_type_id: str,
    start: Annotated[datetime | None, Query(alias="from")] = None,
    end: Annotated[datetime | None, Query(alias="to")] = None,
    limit: Annotated[int, Query(ge=1, le=500)] = 100,
) -> FreeTimesOut:
    doc = await _time_book(ctx, time_book_id, principal)
    visit_type = _visit_type(doc, visit_type_id)
    lo = max(_aware(start, "from") if start else _now(), _now())
    hi = _aware(end, "to") if end else lo + timedelta(days=28)
    times = await _free(ctx, time_book_id, visit_type, lo, hi, limit)
    return FreeTimesOut(time_book_id=time_book_id, visit_type_id=visit_type_id, times=times)


async def _free(
    ctx: Ctx,
    time_book_id: str,
    visit_type: domain.VisitType,
    lo: datetime,
    hi: datetime,
    limit: int,
) -> list[FreeTime]:
    async with ctx.read() as conn:
        rows = await Slots(conn).free_times(
            time_book_id,
            visit_type.resource,
            lo,
            hi,
            timedelta(minutes=visit_type.duration_minutes),
            limit,
        )
    return [FreeTime(start=r["start"], end=r["end"], free_columns=r["free_columns"]) for r in rows]


# --- bookings --------------------------------------------------------------------------------


async def _questionnaire(
    ctx: Ctx, unit_id: str, conn: AsyncConnection | None = None
) -> domain.Questionnaire:
    if conn is None:
        async with ctx.read() as own:
            doc = await Declarations(own).questionnaire(unit_id)
    else:
        doc = await Declarations(conn).questionnaire(unit_id)
    if doc is None:
        return domain.Questionnaire(unit_id, 0, domain.DEFAULT_QUESTIONS)
    return domain.Questionnaire(
        unit_id, doc["version"], tuple(domain.Question(**q) for q in doc["questions"])
    )


def _visit(doc: Doc, visit_type: domain.VisitType, start: datetime, end: datetime) -> Visit:
    return Visit(
        unit_id=doc["unit_id"],
        unit_name=doc["unit_name"],
        time_book_id=doc["time_book_id"],
        visit_type_id=visit_type.visit_type_id,
        visit_type_name=visit_type.name,
        dose=visit_type.dose,
        start=start,
        end=end,
    )


def _booking_out(b: Doc) -> BookingOut:
    return BookingOut(
        booking_id=b["booking_id"],
        reference=b["reference"],
        patient_id=b["patient_id"],
        unit_id=b["unit_id"],
        time_book_id=b["time_book_id"],
        visit_type_id=b["visit_type_id"],
        visit_type_name=b["visit_type_name"],
        start=b["start"],
        end=b["end"],
        column=b["column"],
        status=b["status"],
        booked_by=b["booked_by"],
        arrived_at=b.get("arrived_at"),
        cancelled_by=b.get("cancelled_by"),
    )


# Losers of a rush all ask for the next free times at once; they share one short-lived answer
# (computed once, awaited by the others) instead of each querying the time book. It is a hint:
# the next try may lose too.
_NEXT_FREE: dict[tuple[str, str, datetime], tuple[float, asyncio.Future[list[FreeTime]]]] = {}
_NEXT_FREE_SECONDS = 1.0


async def _taken(
    ctx: Ctx, time_book_id: str, visit_type: domain.VisitType, start: datetime
) -> domain.BookingTaken:
    key = (time_book_id, visit_type.visit_type_id, start)
    cached = _NEXT_FREE.get(key)
    if cached is None or cached[0] <= time.monotonic():
        if len(_NEXT_FREE) > 10_000:
            _NEXT_FREE.clear()
        future: asyncio.Future[list[FreeTime]] = asyncio.get_running_loop().create_future()
        _NEXT_FREE[key] = (time.monotonic() + _NEXT_FREE_SECONDS, future)
        try:
            future.set_result(
                await _free(
                    ctx,
                    time_book_id,
                    visit_type,
                    start,
                    start + timedelta(days=ctx.settings.next_free_days),
                    5,
                )
            )
        except Exception as exc:
            _NEXT_FREE.pop(key, None)
            future.set_exception(exc)
            raise
        later = future.result()
    else:
        later = await asyncio.shield(cached[1])
    return domain.BookingTaken(
        "That time was just taken in every column. Choose one of the next free times.",
        extra={"next_free_times": [t.start.isoformat() for t in later]},
    )


def _no_candidates(start: datetime) -> DomainError:
    if start <= _now():
        return domain.invalid("start", "in_past", "This time has already passed.")
    return domain.invalid("start", "no_such_time", "No time is open then for this visit type.")


async def _candidates(
    uow: UnitOfWork, doc: Doc, visit_type: domain.VisitType, start: datetime
) -> tuple[domain.VisitType, list[Doc]]:
    """The open slots at ``start`` for the visit type, column 1 first, under the visit type's
    shared lock; the visit type as it is now (a delete may have just committed, BK-7)."""
    await TimeBooks(uow.conn).lock_visit_type(visit_type.visit_type_id)
    candidates = await Slots(uow.conn).candidates(
        doc["time_book_id"],
        visit_type.resource,
        start,
        _columns(doc, visit_type.resource),
        visit_type.visit_type_id,
    )
    if candidates and candidates[0]["visit_type_deleted"] and not visit_type.deleted:
        visit_type = domain.VisitType(**{**vars(visit_type), "deleted": True})
    return visit_type, candidates


@router.post(
    "/bookings",
    response_model=BookingOut,
    status_code=201,
    tags=["booking"],
    summary=Ops.BOOK.summary,
)
async def book(
    body: BookIn, ctx: C, principal: Annotated[Principal, allowed(Ops.BOOK)]
) -> BookingOut:
    """Book a time: the first free column at that time is taken; a lost race gets 409 with the
    next free times (BK-4). Citizens answer the health declaration in the same request (BK-2).
    The booking, its declaration and their events are one unit of work; a retry with the same
    Idempotency-Key gets this booking back instead of a second one."""
    call = ctx.idempotent(principal, "book", body.model_dump(mode="json"))
    if (answer := await call.previous(ctx.db)) is not None:
        return BookingOut.model_validate(answer)
    async with ctx.read() as conn:
        doc = await _time_book(ctx, body.time_book_id, principal, conn)
        visit_type = _visit_type(doc, body.visit_type_id)
        start = _aware(body.start, "start")
        questionnaire = await _questionnaire(ctx, doc["unit_id"], conn)
    # Outside the read: a patient booking has not seen yet is asked of identity.
    patient = await _patient_for(ctx, principal, body.patient_id)
    if principal.kind == "citizen" and body.health_declaration is None:
        raise domain.invalid(
            "health_declaration", "required", "Answer the health declaration when you book."
        )
    if body.health_declaration is not None:
        domain.check_answers(
            questionnaire, body.health_declaration.version, body.health_declaration.answers
        )
    booking_id = str(uuid.uuid4())
    code = domain.new_manage_code()
    booked_by = "citizen" if principal.kind == "citizen" else "staff"
    booked: Doc | None = None
    async with ctx.unit_of_work() as uow:
        if (answer := await call.claim(uow)) is not None:
            return BookingOut.model_validate(answer)
        visit_type, candidates = await _candidates(uow, doc, visit_type, start)
        if not candidates:
            raise _no_candidates(start)
        for slot in candidates:
            domain.check_bookable(visit_type, slot["resource"], slot["start"], slot["end"], _now())
            if slot["taken"]:
                continue
            row = {
                "booking_id": booking_id,
                "reference": domain.new_reference(),
                "code_hash": domain.code_hash(booking_id, code),
                "patient_id": patient["patient_id"],
                "unit_id": doc["unit_id"],
                "time_book_id": doc["time_book_id"],
                "visit_type_id": visit_type.visit_type_id,
                "visit_type_name": visit_type.name,
                "dose": visit_type.dose,
                "slot_id": slot["slot_id"],
                "column": slot["column"],
                "start": slot["start"],
                "end": slot["end"],
                "status": "booked",
                "booked_by": booked_by,
                "created_at": _now(),
                "version": 1,
            }
            if await Bookings(uow.conn).take(row):
                booked = row
                break
        if booked is not None:
            uow.publish(
                BookingCreated(
                    patient_id=patient["patient_id"],
                    booking_id=booking_id,
                    reference=booked["reference"],
                    manage_code=code,
                    visit=_visit(doc, visit_type, booked["start"], booked["end"]),
                    booked_by=booked_by,
                ),
                ctx.access.event(principal, Ops.BOOK, patient["patient_id"]),
            )
            if body.health_declaration is not None:
                await _store_declaration(
                    uow,
                    patient["patient_id"],
                    doc["unit_id"],
                    booking_id,
                    questionnaire,
                    body.health_declaration,
                )
            out = _booking_out(booked)
            await call.remember(uow, out.model_dump(mode="json"), 201)
            return out
        # Every column taken: roll back (the key too, so a retry tries again).
        uow.rollback_only()
    raise await _taken(ctx, doc["time_book_id"], visit_type, start)


async def _store_declaration(
    uow: UnitOfWork,
    patient_id: str,
    unit_id: str,
    booking_id: str | None,
    questionnaire: domain.Questionnaire,
    body: DeclarationIn,
) -> Doc:
    declaration = {
        "declaration_id": str(uuid.uuid4()),
        "patient_id": patient_id,
        "unit_id": unit_id,
        "booking_id": booking_id,
        "version": questionnaire.version,
        "submitted_at": _now(),
        "answers": body.answers,
        "questions": [vars(q) for q in questionnaire.questions],
    }
    await Declarations(uow.conn).add(declaration)
    uow.publish(
        HealthDeclarationSubmitted(
            patient_id=patient_id,
            declaration_id=declaration["declaration_id"],
            unit_id=unit_id,
            booking_id=booking_id,
            questionnaire_version=questionnaire.version,
        )
    )
    return declaration


async def _booking(ctx: Ctx, booking_id: str, principal: Principal) -> Doc:
    async with ctx.read() as conn:
        b = await Bookings(conn).get(booking_id)
        if b is None:
            raise NotFound(f"No booking {booking_id}.")
        ensure_unit(principal, b["unit_id"])
        if principal.kind == "citizen":
            patient = await Patients(conn).get(b["patient_id"])
            ensure_own(principal, patient["identifier_value"] if patient else None)
    return b


@router.get(
    "/bookings/{booking_id}",
    response_model=BookingOut,
    tags=["booking"],
    summary=Ops.GET_BOOKING.summary,
)
async def get_booking(
    booking_id: str, ctx: C, principal: Annotated[Principal, allowed(Ops.GET_BOOKING)]
) -> BookingOut:
    b = await _booking(ctx, booking_id, principal)
    await ctx.access.record(principal, Ops.GET_BOOKING, b["patient_id"])
    return _booking_out(b)


@router.get(
    "/patients/{patient_id}/bookings",
    response_model=list[BookingOut],
    tags=["booking"],
    summary=Ops.PATIENT_BOOKINGS.summary,
)
async def patient_bookings(
    patient_id: str, ctx: C, principal: Annotated[Principal, allowed(Ops.PATIENT_BOOKINGS)]
) -> list[BookingOut]:
    """Staff see the bookings at the unit they act for (AC-5); a citizen sees all their own."""
    if principal.kind == "citizen":
        patient = await _known_patient(ctx, patient_id)
        ensure_own(principal, patient["identifier_value"] if patient else None)
        unit = None
    else:
        assert principal.active_assignment is not None
        unit = principal.active_assignment.unit_id
    async with ctx.read() as conn:
        found = await Bookings(conn).for_patient(patient_id, unit)
    await ctx.access.record(principal, Ops.PATIENT_BOOKINGS, patient_id)
    return [_booking_out(b) for b in found]


async def _rebook(
    ctx: Ctx,
    b: Doc,
    principal: Principal | None,
    start: datetime,
    time_book_id: str | None,
    by: str,
    op: Operation,
    call: IdempotentCall | None = None,
) -> BookingOut:
    async with ctx.read() as conn:
        doc = await TimeBooks(conn).get(time_book_id or b["time_book_id"])
    if doc is None or doc["unit_id"] != b["unit_id"]:
        raise domain.invalid("time_book_id", "unknown", "Rebook within the same unit's time books.")
    visit_type = (
        _visit_type(doc, b["visit_type_id"])
        if doc["time_book_id"] == b["time_book_id"]
        else next(
            (vt for vt in _visit_types(doc) if vt.name == b["visit_type_name"] and not vt.deleted),
            None,
        )
    )
    if visit_type is None:
        raise domain.invalid(
            "time_book_id", "no_visit_type", "That time book lacks this visit type."
        )
    start = _aware(start, "start")
    moved: Doc | None = None
    try:
        async with ctx.unit_of_work() as uow:
            if call is not None and (answer := await call.claim(uow)) is not None:
                return BookingOut.model_validate(answer)
            visit_type, found = await _candidates(uow, doc, visit_type, start)
            candidates = [s for s in found if s["slot_id"] != b["slot_id"]]
            if not candidates:
                raise domain.invalid(
                    "start", "no_such_time", "No time is open then for this visit type."
                )
            for slot in candidates:
                domain.check_bookable(
                    visit_type, slot["resource"], slot["start"], slot["end"], _now()
                )
                if slot["taken"]:
                    continue
                changes = {
                    "slot_id": slot["slot_id"],
                    "time_book_id": doc["time_book_id"],
                    "visit_type_id": visit_type.visit_type_id,
                    "column": slot["column"],
                    "start": slot["start"],
                    "end": slot["end"],
                }
                if await Bookings(uow.conn).move(b, changes):
                    moved = {**b, **changes}
                    break
            if moved is not None:
                uow.publish(
                    BookingRebooked(
                        patient_id=b["patient_id"],
                        booking_id=b["booking_id"],
                        reference=b["reference"],
                        previous_start=b["start"],
                        visit=_visit(doc, visit_type, moved["start"], moved["end"]),
                        rebooked_by="citizen" if by == "citizen" else "staff",
                    )
                )
                if principal is not None:
                    uow.publish(ctx.access.event(principal, op, b["patient_id"]))
                out = _booking_out(moved)
                if call is not None:
                    await call.remember(uow, out.model_dump(mode="json"))
                return out
            uow.rollback_only()  # every column taken: nothing changes, the key is not kept
    except StaleBooking as exc:
        raise Conflict(
            "The booking changed meanwhile; reload it.", code="concurrent_change"
        ) from exc
    raise await _taken(ctx, doc["time_book_id"], visit_type, start)


async def _cancel(
    ctx: Ctx,
    b: Doc,
    principal: Principal | None,
    by: str,
    op: Operation,
    call: IdempotentCall | None = None,
) -> BookingOut:
    async with ctx.read() as conn:
        doc = await TimeBooks(conn).get(b["time_book_id"])
    assert doc is not None
    visit_type = _visit_type(doc, b["visit_type_id"])
    try:
        async with ctx.unit_of_work() as uow:
            if call is not None and (answer := await call.claim(uow)) is not None:
                return BookingOut.model_validate(answer)
            updated = await Bookings(uow.conn).change(
                b, status="cancelled", cancelled_by=by, cancelled_at=_now()
            )
            uow.publish(
                BookingCancelled(
                    patient_id=b["patient_id"],
                    booking_id=b["booking_id"],
                    reference=b["reference"],
                    visit=_visit(doc, visit_type, b["start"], b["end"]),
                    cancelled_by=by,
                )
            )
            if principal is not None:
                uow.publish(ctx.access.event(principal, op, b["patient_id"]))
            out = _booking_out(updated)
            if call is not None:
                await call.remember(uow, out.model_dump(mode="json"))
    except StaleBooking as exc:
        raise Conflict("The booking was already cancelled or changed.", code="not_active") from exc
    return out


@router.post(
    "/bookings/{booking_id}/rebook",
    response_model=BookingOut,
    tags=["booking"],
    summary=Ops.REBOOK.summary,
)
async def rebook(
    booking_id: str, body: RebookIn, ctx: C, principal: Annotated[Principal, allowed(Ops.REBOOK)]
) -> BookingOut:
    """Move a booking (BK-5); a retry with the same Idempotency-Key answers as the first."""
    call = ctx.idempotent(principal, "rebook", [booking_id, body.model_dump(mode="json")])
    if (answer := await call.previous(ctx.db)) is not None:
        return BookingOut.model_validate(answer)
    b = await _booking(ctx, booking_id, principal)
    if b["status"] != "booked":
        raise Conflict("Only an active booking can be rebooked.", code="not_active")
    return await _rebook(
        ctx,
        b,
        principal,
        body.start,
        body.time_book_id,
        "citizen" if principal.kind == "citizen" else "staff",
        Ops.REBOOK,
        call,
    )


@router.post(
    "/bookings/{booking_id}/cancel",
    response_model=BookingOut,
    tags=["booking"],
    summary=Ops.CANCEL.summary,
)
async def cancel(
    booking_id: str, ctx: C, principal: Annotated[Principal, allowed(Ops.CANCEL)]
) -> BookingOut:
    """Cancel a booking (BK-5); a retry with the same Idempotency-Key answers as the first."""
    call = ctx.idempotent(principal, "cancel", booking_id)
    if (answer := await call.previous(ctx.db)) is not None:
        return BookingOut.model_validate(answer)
    b = await _booking(ctx, booking_id, principal)
    if b["status"] != "booked":
        raise Conflict("The booking is already cancelled.", code="not_active")
    by = "citizen" if principal.kind == "citizen" else "staff"
    return await _cancel(ctx, b, principal, by, Ops.CANCEL, call)


async def _by_code(ctx: Ctx, body: ManageIn) -> Doc:
    """A patient without BankID (reserve number) manages the booking with the reference and
    code from the confirmation SMS (BK-2); guessing is stopped after a few tries."""
    async with ctx.read() as conn:
        b = await Bookings(conn).by_reference(body.reference.strip().upper())
    wrong = NotFound("No booking with that reference and code.", code="unknown_booking")
    if b is None:
        raise wrong
    if b["code_failures"] >= domain.MAX_CODE_ATTEMPTS:
        raise Forbidden("Too many wrong codes: call the unit to change the booking.", code="locked")
    if domain.code_hash(b["booking_id"], body.code) != b["code_hash"]:
        async with ctx.unit_of_work() as uow:
            await Bookings(uow.conn).count_code_failure(b["booking_id"])
        raise wrong
    if b["status"] != "booked":
        raise Conflict("The booking is already cancelled.", code="not_active")
    return b


@router.post(
    "/manage/rebook", response_model=BookingOut, tags=["booking"], summary=Ops.MANAGE_REBOOK.summary
)
async def manage_rebook(body: ManageRebookIn, ctx: C) -> BookingOut:
    b = await _by_code(ctx, body)
    return await _rebook(ctx, b, None, body.start, None, "citizen", Ops.MANAGE_REBOOK)


@router.post(
    "/manage/cancel", response_model=BookingOut, tags=["booking"], summary=Ops.MANAGE_CANCEL.summary
)
async def manage_cancel(body: ManageIn, ctx: C) -> BookingOut:
    b = await _by_code(ctx, body)
    return await _cancel(ctx, b, None, "citizen", Ops.MANAGE_CANCEL)


@router.post(
    "/bookings/{booking_id}/arrival",
    response_model=BookingOut,
    tags=["booking"],
    summary=Ops.REGISTER_ARRIVAL.summary,
)
async def register_arrival(
    booking_id: str, ctx: C, principal: Annotated[Principal, allowed(Ops.REGISTER_ARRIVAL)]
) -> BookingOut:
    """Optional arrival registration (BK-11)."""
    b = await _booking(ctx, booking_id, principal)
    if b["arrived_at"]:
        return _booking_out(b)
    now = _now()
    try:
        async with ctx.unit_of_work() as uow:
            updated = await Bookings(uow.conn).change(b, arrived_at=now)
            uow.publish(
                ArrivalRegistered(
                    patient_id=b["patient_id"], booking_id=b["booking_id"], arrived_at=now
                ),
                ctx.access.event(principal, Ops.REGISTER_ARRIVAL, b["patient_id"]),
            )
    except StaleBooking as exc:
        raise Conflict("The booking is not active.", code="not_active") from exc
    return _booking_out(updated)


@router.post(
    "/time-books/{time_book_id}/mass-cancellations",
    response_model=MassCancellationOut,
    status_code=201,
    tags=["booking"],
    summary=Ops.MASS_CANCEL.summary,
)
async def mass_cancel(
    time_book_id: str,
    body: MassCancellationIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.MASS_CANCEL)],
) -> MassCancellationOut:
    """Cancel every booking of the time book in the range with the unit's message, e.g. when a
    vaccine delivery failed (BK-6); each patient gets one SMS (NT-3). The freed times are
    closed or reopened as chosen. All of it is one unit of work."""
    doc = await _time_book(ctx, time_book_id, principal)
    start, end = _aware(body.start, "start"), _aware(body.end, "end")
    if end <= start:
        raise domain.invalid("end", "before_start", "The range ends before it starts.")
    mass_id = str(uuid.uuid4())
    now = _now()
    async with ctx.unit_of_work() as uow:
        bookings = Bookings(uow.conn)
        await bookings.add_mass_cancellation(
            {
                "mass_cancellation_id": mass_id,
                "time_book_id": time_book_id,
                "start": start,
                "end": end,
                "message": body.message,
                "slots": body.slots,
                "created_by": principal.hsa_id,
            }
        )
        cancelled = await bookings.cancel_range(
            time_book_id,
            start,
            end,
            cancelled_by="mass_cancellation",
            cancelled_at=now,
            mass_cancellation_id=mass_id,
        )
        for b in cancelled:
            uow.publish(
                BookingCancelled(
                    patient_id=b["patient_id"],
                    booking_id=b["booking_id"],
                    reference=b["reference"],
                    visit=_visit(doc, _visit_type(doc, b["visit_type_id"]), b["start"], b["end"]),
                    cancelled_by="mass_cancellation",
                    mass_cancellation_id=mass_id,
                    message=body.message,
                ),
                ctx.access.event(principal, Ops.MASS_CANCEL, b["patient_id"]),
            )
        if body.slots == "close":
            await Slots(uow.conn).close_free(time_book_id, start, end, "Inställt")
    return MassCancellationOut(
        mass_cancellation_id=mass_id,
        cancelled=len(cancelled),
        patients=len({b["patient_id"] for b in cancelled}),
        slots=body.slots,
    )


# --- health declarations ---------------------------------------------------------------------


@router.get(
    "/units/{unit_id}/questionnaire",
    response_model=QuestionnaireOut,
    tags=["health declaration"],
    summary=Ops.GET_QUESTIONNAIRE.summary,
)
async def get_questionnaire(unit_id: str, ctx: C) -> QuestionnaireOut:
    q = await _questionnaire(ctx, unit_id)
    return QuestionnaireOut(
        unit_id=unit_id, version=q.version, questions=[vars(x) for x in q.questions]
    )


@router.put(
    "/units/{unit_id}/questionnaire",
    response_model=QuestionnaireOut,
    tags=["health declaration"],
    summary=Ops.SET_QUESTIONNAIRE.summary,
)
async def set_questionnaire(
    unit_id: str,
    body: QuestionnaireIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.SET_QUESTIONNAIRE)],
) -> QuestionnaireOut:
    """A new version of the unit's questions; declarations keep the version they answered."""
    ensure_unit(principal, unit_id)
    if len({q.question_id for q in body.questions}) != len(body.questions):
        raise domain.invalid("questions", "duplicate", "Each question id once.")
    questions = [q.model_dump() for q in body.questions]
    async with ctx.unit_of_work() as uow:
        version = await Declarations(uow.conn).set_questionnaire(
            unit_id, questions, principal.hsa_id or principal.subject
        )
    return QuestionnaireOut(unit_id=unit_id, version=version, questions=questions)


@router.post(
    "/units/{unit_id}/health-declarations",
    response_model=DeclarationOut,
    status_code=status.HTTP_201_CREATED,
    tags=["health declaration"],
    summary=Ops.DECLARE.summary,
)
async def declare(
    unit_id: str,
    body: StandaloneDeclarationIn,
    ctx: C,
    principal: Annotated[Principal, allowed(Ops.DECLARE)],
) -> DeclarationOut:
    """A health declaration without a booking, through the unit's link (BK-12), e.g. for staff
    vaccination. Not for reserve-number patients."""
    ensure_unit(principal, unit_id)
    patient = await _patient_for(ctx, principal, body.patient_id)
    if IdentifierKind(patient["identifier_kind"]) is IdentifierKind.RESERVNUMMER:
        raise domain.invalid(
            "patient_id",
            "reserve_number",
            "Patients with a reserve number fill in the declaration at the visit.",
        )
    questionnaire = await _questionnaire(ctx, unit_id)
    domain.check_answers(questionnaire, body.version, body.answers)
    async with ctx.unit_of_work() as uow:
        declaration = await _store_declaration(
            uow, patient["patient_id"], unit_id, None, questionnaire, body
        )
        uow.publish(ctx.access.event(principal, Ops.DECLARE, patient["patient_id"]))
    return _declaration_out(declaration)


@router.get(
    "/bookings/{booking_id}/health-declaration",
    response_model=DeclarationOut,
    tags=["health declaration"],
    summary=Ops.GET_DECLARATION.summary,
)
async def get_declaration(
    booking_id: str, ctx: C, principal: Annotated[Principal, allowed(Ops.GET_DECLARATION)]
) -> DeclarationOut:
    b = await _booking(ctx, booking_id, principal)
    async with ctx.read() as conn:
        d = await Declarations(conn).for_booking(booking_id)
    if d is None:
        raise NotFound("No health declaration was given with this booking.")
    await ctx.access.record(principal, Ops.GET_DECLARATION, b["patient_id"])
    return _declaration_out(d)


def _declaration_out(d: Doc) -> DeclarationOut:
    return DeclarationOut(
        declaration_id=d["declaration_id"],
        patient_id=d["patient_id"],
        unit_id=d["unit_id"],
        booking_id=d["booking_id"],
        version=d["version"],
        submitted_at=d["submitted_at"],
        answers=d["answers"],
        questions=d["questions"],
    )
