"""The registry export's ledger, reports and runs over the real PostgreSQL (RX-1, RX-2, RX-5,
ID-4):

- a dose and its patient's registration, in either order and at once from two connections,
  end with exactly one pending report per receiver (NVR, NPÖ); a redelivered event changes
  nothing;
- a new identifier makes version 2 of each of the patient's doses, reported under the new
  identifier, and supersedes the old version's reports not yet acknowledged (those
  acknowledged stay);
- two senders claiming at once never get the same report and together get all;
- a report settles as acknowledged, to retry later, or failed; an operator's retry revives a
  failed report only;
- two senders draining at once send each version once, with its stable key, one by one or in
  FHIR batch Bundles; a silent or busy receiver is retried until it takes the report; each
  report settles by its own answer, a refusal with the receiver's reason, identifiers
  redacted, and waits for an operator; an invalid resource is never sent;
- doses entered by hand are never reported, and are listed per unit and period (RX-3);
- at most one nightly run waits, however many replicas schedule it; a run whose replica
  stopped renewing its lease is taken over, a live one is not.

Every test starts from an empty ledger in a database of this module's own."""

from __future__ import annotations

import asyncio
import json
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Awaitable, Callable, Coroutine
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import httpx
import pytest
from sqlalchemy import func, select, text, update
from sqlalchemy.ext.asyncio import AsyncConnection

from vaccinera_contracts.events import DoseAdministered, HistoricalDoseRecorded
from vaccinera_devstack.infra import Infrastructure
from vaccinera_kit import migrations
from vaccinera_kit.database import Database
from vaccinera_kit.outbox import Outbox
from vaccinera_kit.unit_of_work import UnitOfWorkFactory
from vaccinera_registry_export import tables
from vaccinera_registry_export.domain import Acknowledged, Failed, Retry
from vaccinera_registry_export.services.sending import Sender
from vaccinera_registry_export.store import (
    SCHEDULE,
    Claimed,
    ControlReport,
    Ledger,
    Reports,
    Runs,
)

pytestmark = pytest.mark.infra

SCRIPTS = Path(tables.__file__).parent / "migrations"
RECEIVERS = {"nvr", "npo"}
RESERVNUMMER, PERSONNUMMER = "13R000000042", "191212121212"
NIGHT = timedelta(days=1)
LEASE = timedelta(seconds=30)
# How long a statement that should wait for another transaction is given to show it does not.
BLOCKED = 0.3


@pytest.fixture(scope="module")
async def db(infra: Infrastructure) -> AsyncIterator[Database]:
    database = Database(
        infra.database_url(f"registry-export-store-{uuid.uuid4().hex[:6]}"),
        pool_size=20,
        max_overflow=0,
    )
    await migrations.upgrade(database, SCRIPTS, tables.metadata)
    yield database
    await database.dispose()


@pytest.fixture(autouse=True)
async def empty(db: Database) -> None:
    async with db.engine.begin() as conn:
        await conn.execute(
            text("TRUNCATE doses, patients, reports, runs, historical_doses RESTART IDENTITY")
        )


def now() -> datetime:
    return datetime.now(UTC)


def given(
    patient_id: str, administration_id: str | None = None, batch_number: str = "FA4598"
) -> DoseAdministered:
    return DoseAdministered(
        patient_id=patient_id,
        administration_id=administration_id or f"a-{uuid.uuid4()}",
        vaccine_id="vaccine-comirnaty",
        vaccine_name="Comirnaty",
        atc_code="J07BN01",
        dose_number=1,
        batch_id="b-1",
        batch_number=batch_number,
        unit_id="unit-centrum",
        care_provider_id="provider-region",
        administered_at=now(),
        vaccinator_hsa_id="SE-nurse",
    )


Work = Callable[[AsyncConnection], Awaitable[Any]]


async def tx(db: Database, work: Work) -> Any:
    """``work`` in a transaction of its own, committed."""
    async with db.engine.begin() as conn:
        return await work(conn)


def dose_given(event: DoseAdministered, at: datetime | None = None) -> Work:
    return lambda c: Ledger(c).given(event, at or now())


def registered(patient_id: str, identifier: str = PERSONNUMMER, kind: str = "personnummer") -> Work:
    return lambda c: Ledger(c).identified(patient_id, identifier, kind, now(), changed=False)


def changed(patient_id: str, identifier: str, kind: str) -> Work:
    return lambda c: Ledger(c).identified(patient_id, identifier, kind, now(), changed=True)


async def reports_of(db: Database, *administration_ids: str) -> list[Any]:
    r = tables.reports.c
    async with db.connect() as conn:
        statement = select(tables.reports).order_by(r.administration_id, r.version, r.receiver)
        if administration_ids:
            statement = statement.where(r.administration_id.in_(administration_ids))
        return list(await conn.execute(statement))


async def version_of(db: Database, administration_id: str) -> int:
    async with db.connect() as conn:
        version = await conn.scalar(
            select(tables.doses.c.version).where(
                tables.doses.c.administration_id == administration_id
            )
        )
    assert version is not None
    return int(version)


def pending_per_receiver(rows: list[Any]) -> Counter[str]:
    return Counter(r.receiver for r in rows if r.state == "pending")


async def one_pending_per_receiver(db: Database, administration_id: str) -> None:
    rows = await reports_of(db, administration_id)
    assert pending_per_receiver(rows) == {"nvr": 1, "npo": 1}, rows
    assert len(rows) == 2


async def claim(
    db: Database, receiver: str, at: datetime, limit: int = 100, **kw: Any
) -> list[Claimed]:
    async with db.engine.begin() as conn:
        claimed: list[Claimed] = await Reports(conn).claim(receiver, at, limit, **kw)
        return claimed


async def settle(db: Database, claimed: Claimed, outcome: Any, at: datetime) -> None:
    await tx(db, lambda c: Reports(c).settle(claimed, outcome, at))


def retried(report_id: int, at: datetime) -> Work:
    """An operator's retry; the report's state before."""
    return lambda c: Reports(c).retry(report_id, at)


async def second_waits_for_first(db: Database, first: Work, second: Work) -> None:
    """``first`` in a transaction left open; ``second`` in another must wait for it (not see
    half of it, not run past it) until it commits."""
    async with db.engine.connect() as one, db.engine.connect() as two:
        await one.begin()
        await first(one)

        async def other() -> None:
            async with two.begin():
                await second(two)

        waiting = asyncio.create_task(other())
        await asyncio.sleep(BLOCKED)
        assert not waiting.done(), "the second transaction did not wait for the first"
        await one.commit()
        await asyncio.wait_for(waiting, 10)


# --- a report per dose and receiver, once (RX-1, RX-2, RX-5) ---------------------------------


async def test_rx5_a_dose_of_a_patient_not_yet_known_waits_without_a_report(
    db: Database,
) -> None:
    event = given("p-unknown")
    await tx(db, dose_given(event))
    assert await reports_of(db, event.administration_id) == []


@pytest.mark.parametrize("dose_first", [True, False], ids=["dose first", "registration first"])
async def test_rx1_rx2_rx5_dose_and_registration_in_either_order_one_pending_report_each(
    db: Database, dose_first: bool
) -> None:
    event = given("p-1")
    works = [dose_given(event), registered("p-1")]
    for work in works if dose_first else reversed(works):
        await tx(db, work)
    await one_pending_per_receiver(db, event.administration_id)
    rows = await reports_of(db, event.administration_id)
    assert {(r.version, r.identifier, r.identifier_kind) for r in rows} == {
        (1, PERSONNUMMER, "personnummer")
    }


@pytest.mark.parametrize("dose_first", [True, False], ids=["dose first", "registration first"])
async def test_rx5_dose_and_registration_at_once_from_two_connections(
    db: Database, dose_first: bool
) -> None:
    """Each transaction would miss the other's uncommitted row: the second waits for the
    first (the patient's lock) and then sees it."""
    event = given("p-2")
    works = [dose_given(event), registered("p-2")]
    first, second = works if dose_first else works[::-1]
    await second_waits_for_first(db, first, second)
    await one_pending_per_receiver(db, event.administration_id)


async def test_rx5_many_patients_doses_and_registrations_all_at_once(db: Database) -> None:
    """30 patients, each with two doses and a registration, every event in a transaction of
    its own on its own connection, all at once: every dose gets one report per receiver."""
    events = [given(f"p-many-{i}") for i in range(30) for _ in range(2)]
    works = [dose_given(e) for e in events] + [registered(f"p-many-{i}") for i in range(30)]

    async def run(work: Work) -> None:
        await tx(db, work)

    gate = asyncio.Semaphore(15)  # the pool's size, with room for the fixture

    async def gated(work: Work) -> None:
        async with gate:
            await run(work)

    await asyncio.gather(*(gated(w) for w in works[::2] + works[1::2]))
    rows = await reports_of(db)
    per_dose = Counter((r.administration_id, r.receiver) for r in rows if r.state == "pending")
    assert len(per_dose) == 2 * len(events)
    assert set(per_dose.values()) == {1}


async def test_rx5_redelivered_events_change_nothing(db: Database) -> None:
    event = given("p-3")
    await tx(db, registered("p-3"))
    await tx(db, dose_given(event))
    before = await reports_of(db, event.administration_id)
    for _ in range(2):
        await tx(db, dose_given(event))
        await tx(db, registered("p-3"))
    assert await reports_of(db, event.administration_id) == before
    assert await version_of(db, event.administration_id) == 1
    # Nor once the reports are acknowledged.
    for receiver in RECEIVERS:
        for c in await claim(db, receiver, now()):
            await settle(db, c, Acknowledged(f"{receiver}-1"), now())
    acknowledged = await reports_of(db, event.administration_id)
    await tx(db, dose_given(event))
    await tx(db, registered("p-3"))
    assert await reports_of(db, event.administration_id) == acknowledged


# --- a new identifier (ID-4) -------------------------------------------------------------------


async def test_id4_a_new_identifier_makes_version_2_and_supersedes_what_was_not_acknowledged(
    db: Database,
) -> None:
    sent, failed, waiting = given("p-4"), given("p-4"), given("p-4")
    other = given("p-other")
    await tx(db, registered("p-4", RESERVNUMMER, "reservnummer"))
    await tx(db, registered("p-other"))
    for e in (sent, failed, waiting, other):
        await tx(db, dose_given(e))
    # NPÖ took ``sent``; NVR refused ``failed``; everything else still waits.
    for c in await claim(db, "npo", now()):
        if c.dose.administration_id == sent.administration_id:
            await settle(db, c, Acknowledged("npo-1"), now())
    for c in await claim(db, "nvr", now()):
        if c.dose.administration_id == failed.administration_id:
            await settle(db, c, Failed("400: unknown patient", 400), now())
    other_before = await reports_of(db, other.administration_id)

    await tx(db, changed("p-4", PERSONNUMMER, "personnummer"))

    for e in (sent, failed, waiting):
        assert await version_of(db, e.administration_id) == 2
        rows = await reports_of(db, e.administration_id)
        v1 = {r.receiver: r for r in rows if r.version == 1}
        v2 = {r.receiver: r for r in rows if r.version == 2}
        # Every dose reported again, to both receivers, under the new identifier.
        assert set(v2) == RECEIVERS
        assert {(r.state, r.identifier, r.identifier_kind) for r in v2.values()} == {
            ("pending", PERSONNUMMER, "personnummer")
        }
        # The old version's reports keep the identifier they were (to be) sent under.
        assert {r.identifier for r in v1.values()} == {RESERVNUMMER}
        expected = {"nvr": "superseded", "npo": "superseded"}
        if e is sent:
            expected["npo"] = "acknowledged"
        assert {k: r.state for k, r in v1.items()} == expected
    assert (await reports_of(db, sent.administration_id))[0].receiver_ref == "npo-1"
    # Another patient's doses are not touched.
    assert await reports_of(db, other.administration_id) == other_before
    assert await version_of(db, other.administration_id) == 1


async def test_id4_a_dose_given_after_the_change_is_version_1_under_the_new_identifier(
    db: Database,
) -> None:
    await tx(db, registered("p-5", RESERVNUMMER, "reservnummer"))
    await tx(db, changed("p-5", "199001722380", "samordningsnummer"))
    event = given("p-5")
    await tx(db, dose_given(event))
    rows = await reports_of(db, event.administration_id)
    assert {(r.receiver, r.version, r.identifier, r.state) for r in rows} == {
        (receiver, 1, "199001722380", "pending") for receiver in RECEIVERS
    }


async def test_id4_a_second_change_supersedes_version_2_and_a_redelivered_dose_changes_nothing(
    db: Database,
) -> None:
    event = given("p-6")
    await tx(db, registered("p-6", RESERVNUMMER, "reservnummer"))
    await tx(db, dose_given(event))
    await tx(db, changed("p-6", "199001722380", "samordningsnummer"))
    await tx(db, changed("p-6", PERSONNUMMER, "personnummer"))
    await tx(db, dose_given(event))
    rows = await reports_of(db, event.administration_id)
    assert await version_of(db, event.administration_id) == 3
    assert Counter((r.version, r.state) for r in rows) == {
        (1, "superseded"): 2,
        (2, "superseded"): 2,
        (3, "pending"): 2,
    }
    assert {r.identifier for r in rows if r.version == 3} == {PERSONNUMMER}


async def test_id4_a_change_waits_for_a_sender_holding_the_old_report(db: Database) -> None:
    """A v1 report being sent (claimed, its row locked) is not superseded under the sender:
    the change waits, and a report the receiver took stays acknowledged."""
    event = given("p-7")
    await tx(db, registered("p-7", RESERVNUMMER, "reservnummer"))
    await tx(db, dose_given(event))

    async def sending(conn: AsyncConnection) -> None:
        (c,) = [
            c
            for c in await Reports(conn).claim("nvr", now(), 100)
            if c.dose.administration_id == event.administration_id
        ]
        await Reports(conn).settle(c, Acknowledged("nvr-9"), now())

    await second_waits_for_first(db, sending, changed("p-7", PERSONNUMMER, "personnummer"))
    rows = await reports_of(db, event.administration_id)
    assert {(r.receiver, r.version, r.state) for r in rows} == {
        ("nvr", 1, "acknowledged"),
        ("npo", 1, "superseded"),
        ("nvr", 2, "pending"),
        ("npo", 2, "pending"),
    }


# --- claims (RX-5) -----------------------------------------------------------------------------


async def _doses(
    db: Database, n: int, patient: str = "p-claims", batch_number: str = "FA4598"
) -> list[str]:
    await tx(db, registered(patient))
    events = [given(patient, batch_number=batch_number) for _ in range(n)]
    at = now()

    async def all_given(conn: AsyncConnection) -> None:
        for e in events:
            await Ledger(conn).given(e, at)

    await tx(db, all_given)
    return [e.administration_id for e in events]


async def test_rx5_a_claimed_report_is_skipped_by_a_second_sender(db: Database) -> None:
    ids = await _doses(db, 40)
    at = now()
    async with db.engine.connect() as one, db.engine.connect() as two:
        await one.begin()
        await two.begin()
        first = await Reports(one).claim("nvr", at, 25)
        second = await Reports(two).claim("nvr", at, 25)
        third = await Reports(two).claim("nvr", at, 25)  # its own: still locked by it
        await one.rollback()
        await two.rollback()
    a = {c.report_id for c in first}
    b = {c.report_id for c in second}
    assert (len(a), len(b)) == (25, 15)
    assert not a & b
    assert {c.dose.administration_id for c in first + second} == set(ids)
    assert {c.receiver for c in first + second} == {"nvr"}
    assert {c.report_id for c in third} <= b


async def test_rx5_two_senders_claiming_at_once_share_all_reports_without_overlap(
    db: Database,
) -> None:
    ids = await _doses(db, 60)
    at = now()
    for _ in range(5):
        async with db.engine.connect() as one, db.engine.connect() as two:
            await one.begin()
            await two.begin()
            got = await asyncio.gather(
                Reports(one).claim("npo", at, 60), Reports(two).claim("npo", at, 60)
            )
            await one.rollback()
            await two.rollback()
        a, b = ({c.report_id for c in g} for g in got)
        assert not a & b
        assert len(a) + len(b) == 60
        assert {c.dose.administration_id for g in got for c in g} == set(ids)


async def test_rx5_a_claim_is_per_receiver_and_due_first_first(db: Database) -> None:
    ids = await _doses(db, 3)
    at = now()
    nvr = await claim(db, "nvr", at)
    assert [c.receiver for c in nvr] == ["nvr"] * 3
    assert {c.dose.administration_id for c in nvr} == set(ids)
    # Not yet due: nothing.
    assert await claim(db, "nvr", at - timedelta(minutes=1)) == []
    assert await claim(db, "npo", at, limit=2) != []
    assert len(await claim(db, "npo", at, limit=2)) == 2


# --- settling a report (RX-5) ------------------------------------------------------------------


async def test_rx5_an_acknowledged_report_keeps_the_receivers_id_and_is_never_claimed_again(
    db: Database,
) -> None:
    (administration_id,) = await _doses(db, 1)
    at = now()
    (c,) = await claim(db, "nvr", at)
    await settle(db, c, Acknowledged("nvr-4711"), at)
    (row,) = [r for r in await reports_of(db, administration_id) if r.receiver == "nvr"]
    assert (row.state, row.receiver_ref, row.attempts) == ("acknowledged", "nvr-4711", 1)
    assert row.acknowledged_at == at
    assert await claim(db, "nvr", at + timedelta(days=30)) == []


async def test_rx5_a_retry_is_due_later_with_one_more_attempt(db: Database) -> None:
    (administration_id,) = await _doses(db, 1)
    at = now()
    (c,) = await claim(db, "nvr", at)
    # Not retries only: the first attempt has not been made.
    assert await claim(db, "nvr", at, retries_only=True) == []
    await settle(db, c, Retry("503: busy", 503), at)
    (row,) = [r for r in await reports_of(db, administration_id) if r.receiver == "nvr"]
    assert (row.state, row.attempts, row.answer_status) == ("pending", 1, 503)
    assert "busy" in row.answer
    assert row.due_at > at
    # Not before it is due again; then again, with its attempts counted.
    assert await claim(db, "nvr", at) == []
    (again,) = await claim(db, "nvr", row.due_at, retries_only=True)
    assert (again.report_id, again.attempts) == (c.report_id, 1)
    await settle(db, again, Retry("503: still busy", 503), row.due_at)
    (row2,) = [r for r in await reports_of(db, administration_id) if r.receiver == "nvr"]
    assert row2.attempts == 2
    assert row2.due_at - row.due_at >= row.due_at - at  # the wait does not shrink


async def test_rx5_a_failed_report_keeps_the_reason_and_waits_for_an_operator(
    db: Database,
) -> None:
    (administration_id,) = await _doses(db, 1)
    at = now()
    (c,) = await claim(db, "npo", at)
    await settle(db, c, Failed("400: lotNumber unknown", 400), at)
    (row,) = [r for r in await reports_of(db, administration_id) if r.receiver == "npo"]
    assert (row.state, row.attempts, row.answer_status) == ("failed", 1, 400)
    assert "lotNumber unknown" in row.answer
    assert await claim(db, "npo", at + timedelta(days=30)) == []


async def test_rx5_retry_makes_a_failed_report_pending_and_nothing_else(db: Database) -> None:
    ids = await _doses(db, 4)
    at = now()
    claimed = {c.dose.administration_id: c for c in await claim(db, "nvr", at)}
    failed, acked, still = ids[0], ids[1], ids[2]
    await settle(db, claimed[failed], Failed("400: no", 400), at)
    await settle(db, claimed[acked], Acknowledged("nvr-1"), at)
    await settle(db, claimed[still], Retry("503: busy", 503), at)
    # The fourth stays pending.
    before = {(r.report_id, r.state) for r in await reports_of(db)}
    by_id = {r.administration_id: r for r in await reports_of(db) if r.receiver == "nvr"}

    later = at + timedelta(seconds=5)
    assert await tx(db, retried(by_id[failed].report_id, later)) == "failed"
    assert failed in {c.dose.administration_id for c in await claim(db, "nvr", later)}
    for administration_id, state in ((acked, "acknowledged"), (ids[3], "pending")):
        report_id = by_id[administration_id].report_id
        assert await tx(db, retried(report_id, later)) == state
    assert await tx(db, retried(10**9, later)) is None
    after = {(r.report_id, r.state) for r in await reports_of(db)}
    assert after - before == {(by_id[failed].report_id, "pending")}

    # A superseded report is never revived.
    await tx(db, changed("p-claims", "199001722380", "samordningsnummer"))
    superseded = [r for r in await reports_of(db) if r.state == "superseded"]
    assert superseded
    for r in superseded:
        assert await tx(db, retried(r.report_id, later)) == "superseded"
    assert {r.state for r in await reports_of(db) if r.version == 1} <= {
        "acknowledged",
        "superseded",
    }


# --- sending (RX-1, RX-2, RX-5) ----------------------------------------------------------------

RECEIVER_URL = "http://receiver.test/fhir"
Handler = Callable[[httpx.Request], Coroutine[None, None, httpx.Response]]
# A receiver's answer to one report: its status and body (an Immunization with the
# receiver's id, or an OperationOutcome).
Answer = tuple[int, dict[str, Any]]
# Each report on its own (NPÖ), or as FHIR batch Bundles of a few (NVR's runs).
BUNDLES = pytest.mark.parametrize("bundle_size", [1, 4], ids=["one by one", "bundles of 4"])


def sender(db: Database, handler: Handler, receiver: str = "nvr", bundle_size: int = 1) -> Sender:
    return Sender(
        receiver=receiver,
        url=RECEIVER_URL,
        client=httpx.AsyncClient(transport=httpx.MockTransport(handler)),
        unit_of_work=UnitOfWorkFactory(db, Outbox(producer="registry-export"), lambda: None),
        reserve_number_system="urn:oid:1.2.752.97.3.1.3",
        batch_size=10,
        concurrency=4,
        bundle_size=bundle_size,
    )


def created(ref: str) -> Answer:
    return 201, {"resourceType": "Immunization", "id": ref}


def refused(status: int, diagnostics: str) -> Answer:
    return status, {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": "invalid", "diagnostics": diagnostics}],
    }


def _key(resource: dict[str, Any], conditional: str) -> str:
    """The report's idempotency key: the resource's one identifier, also its conditional
    create's."""
    assert resource["resourceType"] == "Immunization"
    (identifier,) = resource["identifier"]
    assert identifier["value"] in conditional
    return str(identifier["value"])


def posted_keys(request: httpx.Request) -> list[str]:
    """The keys of the reports a request carries: one Immunization, or a batch Bundle's."""
    assert request.method == "POST"
    body = json.loads(request.content)
    if body["resourceType"] == "Bundle":
        assert str(request.url) == RECEIVER_URL
        assert body["type"] == "batch"
        keys = []
        for entry in body["entry"]:
            assert (entry["request"]["method"], entry["request"]["url"]) == ("POST", "Immunization")
            keys.append(_key(entry["resource"], entry["request"]["ifNoneExist"]))
        return keys
    assert str(request.url) == f"{RECEIVER_URL}/Immunization"
    key = _key(body, request.headers["If-None-Exist"])
    assert request.headers["Idempotency-Key"] == key
    return [key]


def respond(request: httpx.Request, answer: Callable[[str], Answer]) -> httpx.Response:
    """Each report of the request answered by ``answer``: on its own, or as the entries of a
    batch-response Bundle, in order."""
    keys = posted_keys(request)
    if json.loads(request.content)["resourceType"] != "Bundle":
        status, body = answer(keys[0])
        return httpx.Response(status, json=body)
    entries = []
    for key in keys:
        status, body = answer(key)
        response: dict[str, Any] = {"status": f"{status} {'Created' if status < 300 else 'Error'}"}
        if status < 300:
            response["location"] = f"Immunization/{body['id']}/_history/1"
        else:
            response["outcome"] = body
        entries.append({"response": response})
    return httpx.Response(
        200, json={"resourceType": "Bundle", "type": "batch-response", "entry": entries}
    )


async def make_due(db: Database) -> None:
    """Time passes: every retry is due."""
    await tx(
        db,
        lambda c: c.execute(
            update(tables.reports)
            .where(tables.reports.c.state == "pending")
            .values(due_at=now() - timedelta(seconds=1))
        ),
    )


async def nvr_reports(db: Database) -> list[Any]:
    return [r for r in await reports_of(db) if r.receiver == "nvr"]


@BUNDLES
async def test_rx5_two_senders_draining_at_once_send_each_version_once(
    db: Database, bundle_size: int
) -> None:
    ids = await _doses(db, 120)
    posted: list[str] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        keys = posted_keys(request)
        posted.extend(keys)
        await asyncio.sleep(0.002)
        return respond(request, lambda key: created(f"nvr-{key}"))

    one, two = (sender(db, receiver, bundle_size=bundle_size) for _ in range(2))
    tallies = await asyncio.gather(one.drain(), two.drain())
    assert sum(t.sent for t in tallies) == 120
    assert len(posted) == len(set(posted)) == 120
    rows = await nvr_reports(db)
    assert {r.administration_id for r in rows} == set(ids)
    assert {r.state for r in rows} == {"acknowledged"}
    assert all(r.receiver_ref == f"nvr-{r.administration_id}.v1" for r in rows), rows[:3]
    assert {r.attempts for r in rows} == {1}
    # Acknowledged is final: nothing is sent again; NPÖ's reports are still to send.
    assert (await one.drain()).sent == 0
    assert len(posted) == 120
    assert pending_per_receiver(await reports_of(db)) == {"npo": 120}


@BUNDLES
async def test_rx5_a_silent_or_busy_receiver_is_retried_until_it_takes_the_report(
    db: Database, bundle_size: int
) -> None:
    ids = await _doses(db, 5)
    tries: Counter[str] = Counter()

    async def receiver(request: httpx.Request) -> httpx.Response:
        keys = posted_keys(request)
        tries.update(keys)
        attempt = max(tries[k] for k in keys)
        if attempt == 1:
            raise httpx.ConnectTimeout("no answer", request=request)
        if attempt == 2:
            status, body = refused(503, "Service unavailable")
            return httpx.Response(status, json=body)
        return respond(request, lambda key: created(f"nvr-{key}"))

    s = sender(db, receiver, bundle_size=bundle_size)
    first = await s.drain()
    assert (first.sent, first.failed, first.retried) == (0, 0, 5)
    for attempts in (1, 2):
        rows = await nvr_reports(db)
        assert {(r.state, r.attempts) for r in rows} == {("pending", attempts)}
        assert all(r.due_at > r.created_at for r in rows)
        assert await claim(db, "nvr", now()) == []  # due later, not now
        await make_due(db)
        await s.drain(retries_only=True)
    rows = await nvr_reports(db)
    assert {(r.state, r.attempts) for r in rows} == {("acknowledged", 3)}
    assert {r.administration_id for r in rows} == set(ids)
    # The same version, with the same key, each time.
    assert len(tries) == 5
    assert set(tries.values()) == {3}


@BUNDLES
async def test_rx5_each_report_settles_by_its_own_answer(db: Database, bundle_size: int) -> None:
    """Taken, busy, refused (quoting the patient's personnummer): acknowledged, due again
    later, failed with the receiver's reason without the identifier."""
    taken, busy, bad = await _doses(db, 3)
    answers = {
        f"{taken}.v1": created("nvr-taken"),
        f"{busy}.v1": refused(503, "Try again later"),
        f"{bad}.v1": refused(422, f"Patient {PERSONNUMMER} is not in the population register"),
    }

    async def receiver(request: httpx.Request) -> httpx.Response:
        return respond(request, answers.__getitem__)

    tally = await sender(db, receiver, bundle_size=bundle_size).drain()
    assert (tally.sent, tally.retried, tally.failed) == (1, 1, 1)
    rows = {r.administration_id: r for r in await nvr_reports(db)}
    assert (rows[taken].state, rows[taken].receiver_ref) == ("acknowledged", "nvr-taken")
    assert (rows[busy].state, rows[busy].answer_status) == ("pending", 503)
    assert rows[busy].due_at > rows[busy].created_at
    assert (rows[bad].state, rows[bad].answer_status) == ("failed", 422)
    assert "is not in the population register" in rows[bad].answer
    assert PERSONNUMMER not in rows[bad].answer
    assert PERSONNUMMER[2:] not in rows[bad].answer


async def test_rx5_a_refused_report_waits_for_an_operator_and_is_sent_again_by_hand(
    db: Database,
) -> None:
    assert len(await _doses(db, 1)) == 1
    answers = [refused(400, "Unknown batch"), created("nvr-1")]
    posted: list[str] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        posted.extend(posted_keys(request))
        return respond(request, lambda key: answers[len(posted) - 1])

    s = sender(db, receiver)
    assert (await s.drain()).failed == 1
    (row,) = await nvr_reports(db)
    assert row.state == "failed"
    # Not sent again on its own, however long it waits.
    await make_due(db)
    assert (await s.drain()).settled == 0
    assert await tx(db, retried(row.report_id, now())) == "failed"
    assert (await s.drain()).sent == 1
    (row,) = await nvr_reports(db)
    assert (row.state, row.receiver_ref) == ("acknowledged", "nvr-1")
    assert posted == [posted[0]] * 2  # the same version, the same key


@BUNDLES
async def test_rx5_an_invalid_resource_is_never_sent(db: Database, bundle_size: int) -> None:
    await tx(db, registered("p-invalid"))
    valid, invalid = given("p-invalid"), given("p-invalid", batch_number="")
    for e in (valid, invalid):
        await tx(db, dose_given(e))
    posted: list[str] = []

    async def receiver(request: httpx.Request) -> httpx.Response:
        posted.extend(posted_keys(request))
        return respond(request, lambda key: created(f"nvr-{key}"))

    tally = await sender(db, receiver, bundle_size=bundle_size).drain()
    assert (tally.sent, tally.failed) == (1, 1)
    assert posted == [f"{valid.administration_id}.v1"]
    rows = {r.administration_id: r for r in await nvr_reports(db)}
    assert rows[valid.administration_id].state == "acknowledged"
    assert rows[invalid.administration_id].state == "failed"
    assert "lotNumber" in rows[invalid.administration_id].answer
    assert PERSONNUMMER not in rows[invalid.administration_id].answer


# --- doses entered by hand (RX-3, JR-5) --------------------------------------------------------


def history(unit_id: str, recorded_at: datetime, comment: str) -> HistoricalDoseRecorded:
    return HistoricalDoseRecorded(
        patient_id="p-history",
        historical_dose_id=f"h-{uuid.uuid4()}",
        vaccine_id="vaccine-comirnaty",
        vaccine_name="Comirnaty",
        dose_number=1,
        given_on=(recorded_at - timedelta(days=60)).date(),
        country="DK",
        comment=comment,
        unit_id=unit_id,
        care_provider_id="provider-region",
        recorded_at=recorded_at,
        recorded_by_hsa_id="SE-doctor",
    )


def recorded(event: HistoricalDoseRecorded) -> Work:
    return lambda c: ControlReport(c).recorded(event)


async def test_rx3_jr5_doses_entered_by_hand_are_listed_per_unit_and_period_never_reported(
    db: Database,
) -> None:
    at = now()
    await tx(db, registered("p-history"))
    entries = [
        history("unit-centrum", at - timedelta(days=40), "Given i Köpenhamn, 2021"),
        history("unit-centrum", at - timedelta(days=10), "Intyg från Danmark"),
        history("unit-centrum", at - timedelta(days=1), "Pappersintyg"),
        history("unit-norr", at - timedelta(days=5), "Another unit's"),
        history("unit-centrum", at, "Recorded as the period ends"),
    ]
    for e in entries + entries[1:2]:  # one redelivered
        await tx(db, recorded(e))
    async with db.connect() as conn:
        rows = await ControlReport(conn).of_unit("unit-centrum", at - timedelta(days=30), at)
    assert [r.comment for r in rows] == ["Intyg från Danmark", "Pappersintyg"]
    assert [r.historical_dose_id for r in rows] == [
        entries[1].historical_dose_id,
        entries[2].historical_dose_id,
    ]
    assert await reports_of(db) == []


# --- NVR runs (RX-1) ---------------------------------------------------------------------------


async def waiting_scheduled(db: Database) -> list[Any]:
    r = tables.runs.c
    async with db.connect() as conn:
        return list(
            await conn.execute(
                select(tables.runs).where(r.requested_by == SCHEDULE, r.started_at.is_(None))
            )
        )


async def test_rx1_schedule_next_from_two_connections_at_once_makes_one_waiting_run(
    db: Database,
) -> None:
    at = now()
    await second_waits_for_first(
        db,
        lambda c: Runs(c).schedule_next("nvr", at, NIGHT),
        lambda c: Runs(c).schedule_next("nvr", at, NIGHT),
    )
    assert len(await waiting_scheduled(db)) == 1
    # And many replicas at once, and again.
    for _ in range(3):
        await asyncio.gather(
            *(tx(db, lambda c: Runs(c).schedule_next("nvr", at, NIGHT)) for _ in range(8))
        )
    (run,) = await waiting_scheduled(db)
    assert run.receiver == "nvr"
    assert run.requested_at == at + NIGHT


async def test_rx1_an_operators_run_does_not_stand_in_for_the_nightly_one(db: Database) -> None:
    at = now()
    await tx(db, lambda c: Runs(c).request("nvr", "SE-operator", at))
    await tx(db, lambda c: Runs(c).schedule_next("nvr", at, NIGHT))
    assert len(await waiting_scheduled(db)) == 1
    async with db.connect() as conn:
        assert await conn.scalar(select(func.count()).select_from(tables.runs)) == 2


async def test_rx1_the_next_night_is_one_interval_after_the_last_scheduled_start(
    db: Database,
) -> None:
    at = now()
    await tx(db, lambda c: Runs(c).schedule_next("nvr", at - NIGHT, NIGHT))
    run = await tx(db, lambda c: Runs(c).start_due("nvr", at, LEASE))
    assert run is not None
    assert run.requested_by == SCHEDULE
    await tx(db, lambda c: Runs(c).finish(run.run_id, 10, 0, at + timedelta(minutes=5)))
    await tx(db, lambda c: Runs(c).schedule_next("nvr", at + timedelta(minutes=5), NIGHT))
    (next_run,) = await waiting_scheduled(db)
    assert next_run.requested_at == at + NIGHT


async def test_rx1_a_run_not_yet_due_does_not_start(db: Database) -> None:
    at = now()
    await tx(db, lambda c: Runs(c).schedule_next("nvr", at, NIGHT))
    assert await tx(db, lambda c: Runs(c).start_due("nvr", at, LEASE)) is None
    assert await tx(db, lambda c: Runs(c).start_due("npo", at + NIGHT, LEASE)) is None
    assert await tx(db, lambda c: Runs(c).start_due("nvr", at + NIGHT, LEASE)) is not None


async def test_rx1_a_run_with_a_stale_heartbeat_is_taken_over_a_fresh_one_is_not(
    db: Database,
) -> None:
    at = now()
    run_id = await tx(db, lambda c: Runs(c).request("nvr", "SE-operator", at))
    started = await tx(db, lambda c: Runs(c).start_due("nvr", at, LEASE))
    assert started is not None
    assert started.run_id == run_id
    # Renewed within the lease: another replica leaves it.
    await tx(db, lambda c: Runs(c).heartbeat(run_id, at + LEASE / 2))
    assert await tx(db, lambda c: Runs(c).start_due("nvr", at + LEASE, LEASE)) is None
    # Not renewed for longer than the lease: the replica died; the run is taken over.
    late = at + LEASE / 2 + LEASE + timedelta(seconds=1)
    taken = await tx(db, lambda c: Runs(c).start_due("nvr", late, LEASE))
    assert taken is not None
    assert taken.run_id == run_id
    async with db.connect() as conn:
        row = (await conn.execute(select(tables.runs).where(tables.runs.c.run_id == run_id))).one()
    assert row.started_at == at  # when it began, not when it was taken over
    assert row.heartbeat_at == late
    # The new holder's heartbeat is fresh: nobody takes it from it.
    assert await tx(db, lambda c: Runs(c).start_due("nvr", late + LEASE / 2, LEASE)) is None
    # A finished run is never taken over, however old.
    await tx(db, lambda c: Runs(c).finish(run_id, 3, 0, late))
    assert await tx(db, lambda c: Runs(c).start_due("nvr", late + 10 * LEASE, LEASE)) is None


async def test_rx1_two_replicas_starting_at_once_one_gets_the_run(db: Database) -> None:
    at = now()
    await tx(db, lambda c: Runs(c).request("nvr", "SE-operator", at))
    async with db.engine.connect() as one, db.engine.connect() as two:
        await one.begin()
        await two.begin()
        got = await asyncio.gather(
            Runs(one).start_due("nvr", at, LEASE), Runs(two).start_due("nvr", at, LEASE)
        )
        await one.commit()
        await two.commit()
    assert sorted(g is None for g in got) == [False, True]
