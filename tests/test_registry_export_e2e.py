"""Registry export over the real platform, with the NVR and NPÖ stand-ins (RX-1..RX-5, ID-4):
a given dose reaches NPÖ at once and NVR once per run, as a valid FHIR R4 Immunization;
history never leaves; a new identifier is reported again as a new version, once; a receiver's
503s are retried until it takes the report, its 400 is shown to the operator with the reason
and retried by hand; two replicas, one killed with SIGKILL mid-run, still deliver every dose
of a 1,000-dose run exactly once."""

from __future__ import annotations

import asyncio
import os
import random
import signal
import sys
import uuid
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import asyncpg
import httpx
import pytest
from aiokafka import AIOKafkaProducer

from tests.journal_support import (
    COMIRNATY,
    Unit,
    check_in,
    give,
    new_unit,
    ordered,
    patients,
)
from vaccinera_contracts.events import DoseAdministered, PatientRegistered
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier
from vaccinera_devstack import tokens
from vaccinera_devstack.platform import Platform, wait_ready
from vaccinera_devstack.process import ManagedProcess, free_port
from vaccinera_devstack.standins.client import StandIn
from vaccinera_devstack.testing import eventually, publish
from vaccinera_kit.database import plain_url
from vaccinera_registry_export.settings import Settings as RegistrySettings

pytestmark = pytest.mark.infra

# The registers' FHIR bases: NVR takes batch Bundles at the base, NPÖ single creates.
NVR_PATH, NPO_PATH = "/nvr/fhir", "/npo/fhir"
PERSONNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.3"
VERSION_SYSTEM = "urn:vaccinera:dose-version"


# --- fixtures and helpers ----------------------------------------------------------------------


@pytest.fixture(scope="module")
async def ledger(platform: Platform) -> AsyncIterator[asyncpg.Connection]:
    """The registry export's own database: the report ledger."""
    conn = await asyncpg.connect(plain_url(platform.infra.database_url("registry-export")))
    yield conn
    await conn.close()


@pytest.fixture(scope="module")
def nvr(platform: Platform) -> Iterator[StandIn]:
    with platform.infra.standin("nvr") as standin:
        yield standin
        standin.behave()


@pytest.fixture(scope="module")
def npo(platform: Platform) -> Iterator[StandIn]:
    with platform.infra.standin("npo") as standin:
        yield standin
        standin.behave()


@pytest.fixture(scope="module")
async def producer(platform: Platform) -> AsyncIterator[AIOKafkaProducer]:
    kafka = AIOKafkaProducer(
        bootstrap_servers=platform.infra.kafka_bootstrap, acks="all", enable_idempotence=True
    )
    await kafka.start()
    yield kafka
    await kafka.stop()


def operator(platform: Platform) -> dict[str, str]:
    """The registry operators' client (client credentials): no person, no AC-3 role."""
    token = tokens.mint(platform.keys, tokens.service_claims("registry-operator"))
    return {"authorization": f"Bearer {token}"}


def _version(resource: Any) -> str:
    """The dose version an Immunization carries (its identifier)."""
    body = resource if isinstance(resource, dict) else {}
    return next(
        (i["value"] for i in body.get("identifier", ()) if i.get("system") == VERSION_SYSTEM), ""
    )


def version_of(record: dict[str, Any]) -> str:
    """The dose version a stand-in's record of a single create carries."""
    return _version(record["body"])


def creates(standin: StandIn, base: str) -> list[tuple[str, dict[str, Any], bool]]:
    """Every Immunization the receiver created, as (dose version, resource, made anew): a
    single POST answered 201 that was not a replay, or a batch Bundle's entry answered 201.
    Re-sent reports answered with what the receiver held (200, or a replay) are not anew."""
    made: list[tuple[str, dict[str, Any], bool]] = []
    for record in standin.received(base):
        body = record["body"] if isinstance(record["body"], dict) else {}
        if body.get("resourceType") == "Bundle":
            answers = (record.get("reply") or {}).get("entry") or []
            for entry, answer in zip(body.get("entry") or [], answers, strict=False):
                status = str(answer.get("response", {}).get("status", ""))
                resource = entry.get("resource") or {}
                made.append((_version(resource), resource, status.startswith("201")))
        elif body.get("resourceType") == "Immunization" and not record["rejected"]:
            made.append((_version(body), body, record["status"] == 201 and not record["replayed"]))
    return made


def created(standin: StandIn, base: str, administration_id: str) -> list[dict[str, Any]]:
    """The resources the receiver created for the dose: one per version reported."""
    return [
        resource
        for version, resource, anew in creates(standin, base)
        if anew and version.startswith(administration_id + ".")
    ]


async def nvr_run(gw: httpx.AsyncClient, platform: Platform, ledger: asyncpg.Connection) -> None:
    """An operator's NVR run, waited for until it finished."""
    r = await gw.post("/api/registry-export/runs", headers=operator(platform), json={})
    assert r.status_code == 202, r.text
    run_id = r.json()["run_id"]

    async def finished() -> bool:
        done = await ledger.fetchval("SELECT finished_at FROM runs WHERE run_id = $1", run_id)
        return done is not None

    await eventually(finished, timeout=60, interval=0.2)


async def give_dose(
    gw: httpx.AsyncClient, platform: Platform, journal_db: asyncpg.Connection, patient_id: str
) -> dict[str, Any]:
    unit = Unit(platform, new_unit())
    batch = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    r = await give(gw, unit.nurse, await ordered(gw, unit, patient_id), batch["batch_id"])
    assert r.status_code == 201, r.text
    dose: dict[str, Any] = r.json()
    return dose


async def acknowledged(
    ledger: asyncpg.Connection, administration_id: str, receiver: str, version: int = 1
) -> None:
    async def done() -> bool:
        state = await ledger.fetchval(
            "SELECT state FROM reports WHERE administration_id = $1 AND receiver = $2 "
            "AND version = $3",
            administration_id,
            receiver,
            version,
        )
        return bool(state == "acknowledged")

    await eventually(done, timeout=60, interval=0.2)


# --- a dose, both receivers ------------------------------------------------------------------------


async def test_rx1_rx2_a_given_dose_reaches_npo_at_once_and_nvr_once_per_run(
    gw: httpx.AsyncClient,
    platform: Platform,
    journal_db: asyncpg.Connection,
    ledger: asyncpg.Connection,
    nvr: StandIn,
    npo: StandIn,
) -> None:
    (patient_id,) = await patients(gw, platform, 1)
    person = (
        await gw.get(f"/api/identity/patients/{patient_id}", headers=Unit(platform, "u").nurse)
    ).json()
    dose = await give_dose(gw, platform, journal_db, patient_id)
    administration_id = dose["id"]

    # NPÖ gets it as it happens (RX-2), not nightly.
    await acknowledged(ledger, administration_id, "npo")
    (resource,) = created(npo, NPO_PATH, administration_id)
    (sent,) = [r for r in npo.received(NPO_PATH) if version_of(r) == f"{administration_id}.v1"]
    assert resource["resourceType"] == "Immunization"
    assert resource["patient"]["identifier"] == {
        "system": PERSONNUMMER_OID,
        "value": person["identifier"],
    }
    assert resource["lotNumber"] == dose["batch_number"]
    assert resource["protocolApplied"] == [{"doseNumberPositiveInt": 1}]
    assert {"system": "http://www.whocc.no/atc", "code": "J07BN01", "display": "Comirnaty"} in (
        resource["vaccineCode"]["coding"]
    )
    assert resource["occurrenceDateTime"].startswith(dose["administered_at"][:16])
    assert sent["headers"]["idempotency-key"] == f"{administration_id}.v1"

    # NVR waits for its nightly run (RX-1); an operator's run sends it, once.
    assert created(nvr, NVR_PATH, administration_id) == []
    await nvr_run(gw, platform, ledger)
    assert len(created(nvr, NVR_PATH, administration_id)) == 1
    await nvr_run(gw, platform, ledger)
    assert len(created(nvr, NVR_PATH, administration_id)) == 1
    # The operator sees it acknowledged by both, without the patient's identifier.
    r = await gw.get(
        "/api/registry-export/reports", headers=operator(platform), params={"limit": 500}
    )
    assert r.status_code == 200, r.text
    mine = [x for x in r.json()["reports"] if x["administration_id"] == administration_id]
    assert sorted((x["receiver"], x["state"]) for x in mine) == [
        ("npo", "acknowledged"),
        ("nvr", "acknowledged"),
    ]
    assert person["identifier"] not in r.text
    # Staff and citizens may not see the operator's view.
    r = await gw.get("/api/registry-export/reports", headers=Unit(platform, "u").nurse)
    assert r.status_code == 403


async def test_jr5_rx3_a_historical_dose_never_reaches_nvr_and_is_in_the_control_report(
    gw: httpx.AsyncClient,
    platform: Platform,
    ledger: asyncpg.Connection,
    nvr: StandIn,
    npo: StandIn,
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    r = await gw.post(
        f"/api/journal/patients/{patient_id}/historical-doses",
        headers=unit.nurse,
        json={
            "vaccine_id": COMIRNATY,
            "dose_number": 1,
            "given_on": "2021-06-01",
            "country": "DE",
            "comment": "Given i Tyskland, enligt patientens intyg",
        },
    )
    assert r.status_code == 201, r.text
    history_id = r.json()["id"]

    async def in_report() -> bool:
        r = await gw.get(
            f"/api/registry-export/units/{unit.unit_id}/control-report",
            headers=unit.medical_secretary,
        )
        assert r.status_code == 200, r.text
        return any(e["historical_dose_id"] == history_id for e in r.json()["entries"])

    await eventually(in_report, timeout=30)
    report = (
        await gw.get(
            f"/api/registry-export/units/{unit.unit_id}/control-report", headers=unit.nurse
        )
    ).json()
    (entry,) = report["entries"]
    assert (entry["comment"], entry["country"], entry["dose_number"]) == (
        "Given i Tyskland, enligt patientens intyg",
        "DE",
        1,
    )
    # Another unit's staff do not read this unit's control report (AC-5).
    elsewhere = Unit(platform, new_unit())
    r = await gw.get(
        f"/api/registry-export/units/{unit.unit_id}/control-report", headers=elsewhere.nurse
    )
    assert r.status_code == 403
    # Never a report of it, to either receiver, even after a run.
    await nvr_run(gw, platform, ledger)
    assert (
        await ledger.fetchval(
            "SELECT count(*) FROM reports WHERE administration_id = $1", history_id
        )
        == 0
    )
    assert not [r for r in nvr.received(NVR_PATH) if history_id in str(r["body"])]  # any form
    assert not [r for r in npo.received(NPO_PATH) if history_id in str(r["body"])]


async def test_id4_rx1_a_new_identifier_reports_the_dose_again_as_a_new_version_once(
    gw: httpx.AsyncClient,
    platform: Platform,
    journal_db: asyncpg.Connection,
    ledger: asyncpg.Connection,
    nvr: StandIn,
    npo: StandIn,
) -> None:
    from vaccinera_identity.population import SyntheticRegister

    unit = Unit(platform, new_unit())
    r = await gw.post(
        "/api/identity/patients/reserve",
        headers=unit.nurse,
        json={"given_name": "Okänd", "family_name": "Patient"},
    )
    assert r.status_code == 201, r.text
    patient_id, reserve = r.json()["patient_id"], r.json()["identifier"]
    dose = await give_dose(gw, platform, journal_db, patient_id)
    administration_id = dose["id"]
    await acknowledged(ledger, administration_id, "npo")
    await nvr_run(gw, platform, ledger)
    await acknowledged(ledger, administration_id, "nvr")
    (first,) = created(nvr, NVR_PATH, administration_id)
    assert first["patient"]["identifier"]["value"] == reserve
    assert first["patient"]["identifier"]["system"] not in (
        PERSONNUMMER_OID,
        SAMORDNINGSNUMMER_OID,
    )

    # The reserve-number patient gets a samordningsnummer (ID-4).
    (person,) = SyntheticRegister().sample(
        1, seed=random.randrange(10**9), protected=False, coordination=True
    )
    changed = await gw.put(
        f"/api/identity/patients/{patient_id}/identifier",
        headers=unit.nurse,
        json={"identifier": person.identifier},
    )
    assert changed.status_code == 200, changed.text
    await acknowledged(ledger, administration_id, "npo", version=2)
    await nvr_run(gw, platform, ledger)
    await acknowledged(ledger, administration_id, "nvr", version=2)
    await nvr_run(gw, platform, ledger)
    for standin, path in ((nvr, NVR_PATH), (npo, NPO_PATH)):
        versions = Counter(_version(r) for r in created(standin, path, administration_id))
        assert versions == {f"{administration_id}.v1": 1, f"{administration_id}.v2": 1}
        (again,) = [
            r for r in created(standin, path, administration_id) if _version(r).endswith("v2")
        ]
        assert again["patient"]["identifier"] == {
            "system": SAMORDNINGSNUMMER_OID,
            "value": person.identifier,
        }


# --- failures ----------------------------------------------------------------------------------


async def test_rx5_503_three_times_then_200_is_delivered_once(
    gw: httpx.AsyncClient,
    platform: Platform,
    journal_db: asyncpg.Connection,
    ledger: asyncpg.Connection,
    npo: StandIn,
) -> None:
    (patient_id,) = await patients(gw, platform, 1)
    unit = Unit(platform, new_unit())
    batch = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    order_id = await ordered(gw, unit, patient_id)
    npo.behave(fail_next=3, fail_status=503)
    try:
        r = await give(gw, unit.nurse, order_id, batch["batch_id"])
        assert r.status_code == 201, r.text
        administration_id = r.json()["id"]
        await acknowledged(ledger, administration_id, "npo")
    finally:
        npo.behave()
    assert len(created(npo, NPO_PATH, administration_id)) == 1
    attempts = await ledger.fetchval(
        "SELECT attempts FROM reports WHERE administration_id = $1 AND receiver = 'npo'",
        administration_id,
    )
    refused = [r for r in npo.rejected(NPO_PATH) if version_of(r).startswith(administration_id)]
    assert attempts == len(refused) + 1
    assert len(refused) >= 1


async def test_rx5_a_refused_report_is_shown_failed_with_the_reason_and_retried_by_hand(
    gw: httpx.AsyncClient,
    platform: Platform,
    journal_db: asyncpg.Connection,
    ledger: asyncpg.Connection,
    nvr: StandIn,
) -> None:
    (patient_id,) = await patients(gw, platform, 1)
    await nvr_run(gw, platform, ledger)  # nothing else due: the refusal is this dose's
    dose = await give_dose(gw, platform, journal_db, patient_id)
    administration_id = dose["id"]
    await acknowledged(ledger, administration_id, "npo")
    nvr.behave(fail_next=1, fail_status=400)
    try:
        await nvr_run(gw, platform, ledger)
    finally:
        nvr.behave()
    row = await ledger.fetchrow(
        "SELECT report_id, state, answer_status, answer, attempts FROM reports "
        "WHERE administration_id = $1 AND receiver = 'nvr'",
        administration_id,
    )
    # Refused for good: not retried by itself (the next run leaves it alone).
    assert (row["state"], row["answer_status"], row["attempts"]) == ("failed", 400, 1)
    assert "400" in row["answer"]
    await nvr_run(gw, platform, ledger)
    assert created(nvr, NVR_PATH, administration_id) == []
    r = await gw.get(
        "/api/registry-export/reports",
        headers=operator(platform),
        params={"receiver": "nvr", "state": "failed"},
    )
    assert row["report_id"] in [x["report_id"] for x in r.json()["reports"]]
    # The operator sends it again once its cause is fixed.
    retried = await gw.post(
        f"/api/registry-export/reports/{row['report_id']}/retry", headers=operator(platform)
    )
    assert retried.status_code == 204, retried.text
    again = await gw.post(
        f"/api/registry-export/reports/{row['report_id']}/retry", headers=operator(platform)
    )
    assert again.status_code == 409
    await nvr_run(gw, platform, ledger)
    await acknowledged(ledger, administration_id, "nvr")
    assert len(created(nvr, NVR_PATH, administration_id)) == 1


async def test_rx5_two_replicas_one_killed_mid_run_every_dose_reported_exactly_once(
    platform: Platform,
    gw: httpx.AsyncClient,
    ledger: asyncpg.Connection,
    producer: AIOKafkaProducer,
    nvr: StandIn,
    npo: StandIn,
) -> None:
    doses = 1000
    # A second replica beside the platform's, taking over a dead replica's run quickly.
    port = free_port()
    env = {
        **platform.service_env("registry-export"),
        "VACCINERA_HTTP_PORT": str(port),
        "VACCINERA_OTEL_EXPORTER": "none",
        "VACCINERA_RUN_LEASE_SECONDS": "3",
    }
    replica = ManagedProcess(
        "registry-export-1",
        [sys.executable, "-m", "vaccinera_registry_export.main"],
        platform.base_dir / "logs" / "registry-export-1.log",
        env=env,
    )
    replica.start()
    platform_replica = platform.processes["registry-export"]
    try:
        await asyncio.to_thread(wait_ready, replica, f"http://127.0.0.1:{port}", 60)
        # 1,000 doses of 1,000 patients, as identity and the journal publish them.
        prefix = f"rx5-{uuid.uuid4().hex[:6]}"
        ids = [f"{prefix}-{i:04d}" for i in range(doses)]
        registered = [
            PatientRegistered(
                patient_id=f"p-{a}",
                identifier=PatientIdentifier(
                    kind=IdentifierKind.PERSONNUMMER, value=f"19{random.randrange(10**10):010d}"
                ),
                identifier_kind=IdentifierKind.PERSONNUMMER,
                protected=False,
            )
            for a in ids
        ]
        given = [
            DoseAdministered(
                patient_id=f"p-{a}",
                administration_id=a,
                vaccine_id=COMIRNATY,
                vaccine_name="Comirnaty",
                atc_code="J07BN01",
                dose_number=1,
                batch_id="b-rx5",
                batch_number="FK0001",
                unit_id="unit-rx5",
                care_provider_id="provider-region",
                administered_at=datetime.now(UTC) - timedelta(hours=1),
                vaccinator_hsa_id="SE2321000016-rx5",
            )
            for a in ids
        ]
        await publish(producer, *registered, by="identity")
        await publish(producer, *given, by="journal")

        async def all_in_ledger() -> bool:
            n = await ledger.fetchval(
                "SELECT count(*) FROM reports WHERE receiver = 'nvr' AND administration_id LIKE $1",
                prefix + "%",
            )
            return bool(n == doses)

        await eventually(all_in_ledger, timeout=120, interval=0.5)
        # Slow answers, so the kill finds a batch in flight.
        nvr.behave(delay_ms=400)
        r = await gw.post("/api/registry-export/runs", headers=operator(platform), json={})
        assert r.status_code == 202, r.text

        def sent_of_ours() -> int:
            return sum(1 for v, _, _ in creates(nvr, NVR_PATH) if v.startswith(prefix))

        async def some_sent() -> bool:
            return sent_of_ours() >= 250

        await eventually(some_sent, timeout=120, interval=0.2)
        # Whichever replica runs it: both die at once, mid-batch.
        for process in (replica, platform_replica):
            assert process.pid is not None
            os.kill(process.pid, signal.SIGKILL)
        killed_after = sent_of_ours()
        await asyncio.sleep(1)
        replica.start()
        platform_replica.start()
        await asyncio.to_thread(wait_ready, replica, f"http://127.0.0.1:{port}", 60)
        await asyncio.to_thread(wait_ready, platform_replica, platform.url("registry-export"), 60)

        async def all_acknowledged() -> bool:
            n = await ledger.fetchval(
                "SELECT count(*) FROM reports WHERE receiver = 'nvr' AND state = 'acknowledged' "
                "AND administration_id LIKE $1",
                prefix + "%",
            )
            return bool(n == doses)

        # The run whose replica died is taken over once its lease runs out (3 s here).
        await eventually(all_acknowledged, timeout=180, interval=0.5)
    finally:
        nvr.behave()
        replica.stop()

    for standin, path in ((nvr, NVR_PATH), (npo, NPO_PATH)):
        ours = [(v, anew) for v, _, anew in creates(standin, path) if v.startswith(prefix)]
        made = Counter(v for v, anew in ours if anew)
        assert set(made) == {f"{a}.v1" for a in ids}, path  # none missing
        assert set(made.values()) == {1}, path  # none created twice
    # A resend is a report the killed replica had sent but not yet recorded: at most the
    # batches a run keeps in flight.
    resent = sum(1 for v, _, anew in creates(nvr, NVR_PATH) if v.startswith(prefix) and not anew)
    defaults = RegistrySettings.model_fields
    in_flight = int(defaults["batch_size"].default) * int(defaults["nvr_parallel_batches"].default)
    assert resent <= in_flight, f"{resent} resent, at most {in_flight} were in flight"
    print(f"\n{doses} doses; both replicas killed after {killed_after} NVR sends, {resent} resent")


async def test_rx1_a_corrected_dose_is_reported_again_as_a_new_version(
    gw: httpx.AsyncClient,
    platform: Platform,
    journal_db: asyncpg.Connection,
    ledger: asyncpg.Connection,
    nvr: StandIn,
    npo: StandIn,
) -> None:
    unit = Unit(platform, new_unit())
    (patient_id,) = await patients(gw, platform, 1)
    signed = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    actual = await check_in(gw, journal_db, unit, COMIRNATY, "Comirnaty", 5)
    r = await give(gw, unit.nurse, await ordered(gw, unit, patient_id), signed["batch_id"])
    assert r.status_code == 201, r.text
    administration_id = r.json()["id"]
    await acknowledged(ledger, administration_id, "npo")
    corrected = await gw.post(
        f"/api/journal/administrations/{administration_id}/corrections",
        headers=unit.nurse,
        json={"batch_id": actual["batch_id"], "reason": "Fel batch signerad"},
    )
    assert corrected.status_code == 200, corrected.text
    # NPÖ had version 1; it gets version 2 with the right batch.
    await acknowledged(ledger, administration_id, "npo", version=2)
    lots = {_version(r): r["lotNumber"] for r in created(npo, NPO_PATH, administration_id)}
    assert lots == {
        f"{administration_id}.v1": signed["batch_number"],
        f"{administration_id}.v2": actual["batch_number"],
    }
    # NVR had not had it yet: it gets only the corrected version, once.
    await nvr_run(gw, platform, ledger)
    await acknowledged(ledger, administration_id, "nvr", version=2)
    (sent,) = created(nvr, NVR_PATH, administration_id)
    assert (_version(sent), sent["lotNumber"]) == (
        f"{administration_id}.v2",
        actual["batch_number"],
    )
