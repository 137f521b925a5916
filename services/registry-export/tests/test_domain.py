"""The registry export's domain without I/O, written from the requirements and HL7 FHIR R4: a
given dose as the ``Immunization`` both national receivers take (RX-1, RX-2), its patient named
by identifier with the OID of the identifier's kind (ID-1), a stable identifier per dose
version and a new one for a new version (RX-5, ID-4); an invalid dose is refused before it
leaves, without the patient's identifier in the reason; and what a receiver's answer means
for the report: acknowledged, retried with a growing and capped wait, or failed with the
receiver's reason, identifiers redacted (RX-5, ID-3/ID-7: the operator sees no patient)."""

from __future__ import annotations

import dataclasses
import re
from datetime import UTC, datetime, timedelta, timezone
from typing import Any

import pytest
from fhir.resources.R4B.immunization import Immunization

from vaccinera_registry_export.domain import (
    Acknowledged,
    DoseVersion,
    Failed,
    InvalidResource,
    Retry,
    backoff,
    immunization,
    judge,
    version_key,
)

# OIDs from Inera's register: Skatteverket's personnummer and samordningsnummer, and a
# region's own system for its reserve numbers (configured).
PERSONNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.1"
SAMORDNINGSNUMMER_OID = "urn:oid:1.2.752.129.2.1.3.3"
REGION_RESERVE_OID = "urn:oid:1.2.752.97.3.1.3"
OTHER_REGION_RESERVE_OID = "urn:oid:1.2.752.74.9.1"
# The WHO ATC classification's system URI, as FHIR names it.
ATC_SYSTEM = "http://www.whocc.no/atc"

PERSONNUMMER = "191212121212"
SAMORDNINGSNUMMER = "199001722380"  # day of birth 12 + 60
RESERVNUMMER = "13R000000042"
GIVEN_AT = datetime(2021, 5, 10, 11, 0, tzinfo=timezone(timedelta(hours=2)))

DOSE = DoseVersion(
    administration_id="adm-7f3c",
    version=1,
    identifier=PERSONNUMMER,
    identifier_kind="personnummer",
    vaccine_id="vaccine-comirnaty",
    vaccine_name="Comirnaty",
    atc_code="J07BN01",
    dose_number=2,
    batch_number="FA4598",
    unit_id="SE2321000016-unit1",
    administered_at=GIVEN_AT,
    vaccinator_hsa_id="SE2321000016-nurse1",
)


def dose(**changes: Any) -> DoseVersion:
    return dataclasses.replace(DOSE, **changes)


def resource(d: DoseVersion = DOSE, system: str = REGION_RESERVE_OID) -> dict[str, Any]:
    return immunization(d, system)


def codings(r: dict[str, Any]) -> list[dict[str, Any]]:
    return list(r["vaccineCode"].get("coding", []))


# --- the Immunization (RX-1, RX-2) -----------------------------------------------------------


def test_rx1_rx2_a_given_dose_is_a_valid_completed_fhir_r4_immunization() -> None:
    r = resource()
    assert r["resourceType"] == "Immunization"
    # Validated here too, by the FHIR model itself, and JSON-ready (no Python objects).
    parsed = Immunization.model_validate(r)
    assert parsed.status == "completed"
    # Recorded by the one who gave it, not from hearsay.
    assert r["primarySource"] is True


@pytest.mark.parametrize(
    ("kind", "identifier", "system"),
    [
        ("personnummer", PERSONNUMMER, PERSONNUMMER_OID),
        ("samordningsnummer", SAMORDNINGSNUMMER, SAMORDNINGSNUMMER_OID),
        ("reservnummer", RESERVNUMMER, REGION_RESERVE_OID),
    ],
)
def test_rx1_id1_the_patient_is_named_by_identifier_with_the_oid_of_its_kind(
    kind: str, identifier: str, system: str
) -> None:
    r = resource(dose(identifier=identifier, identifier_kind=kind))
    patient = r["patient"]
    # A logical reference (Reference.identifier): the receivers hold no Patient of ours.
    assert patient["identifier"] == {"system": system, "value": identifier}
    assert "reference" not in patient


def test_rx1_id1_a_reserve_number_has_the_configured_regions_oid() -> None:
    r = resource(
        dose(identifier=RESERVNUMMER, identifier_kind="reservnummer"),
        OTHER_REGION_RESERVE_OID,
    )
    assert r["patient"]["identifier"]["system"] == OTHER_REGION_RESERVE_OID


@pytest.mark.parametrize("kind", ["personnummer", "samordningsnummer"])
def test_rx1_id1_national_identifiers_keep_the_national_oid_whatever_the_region(kind: str) -> None:
    r = resource(dose(identifier_kind=kind), OTHER_REGION_RESERVE_OID)
    assert r["patient"]["identifier"]["system"] != OTHER_REGION_RESERVE_OID
    assert r["patient"]["identifier"]["system"] in {PERSONNUMMER_OID, SAMORDNINGSNUMMER_OID}


def test_rx1_lot_number_is_the_batch_number() -> None:
    assert resource(dose(batch_number="EW2239"))["lotNumber"] == "EW2239"


@pytest.mark.parametrize("number", [1, 2, 3, 5])
def test_rx1_protocol_applied_carries_the_dose_number(number: int) -> None:
    r = resource(dose(dose_number=number))
    assert r["protocolApplied"][0]["doseNumberPositiveInt"] == number


def test_rx1_occurrence_is_the_moment_given_with_its_time_zone() -> None:
    r = resource()
    given = r["occurrenceDateTime"]
    # FHIR R4 dateTime: with a time, the time zone SHALL be given.
    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d(\.\d+)?(Z|[+-]\d\d:\d\d)", given)
    assert datetime.fromisoformat(given.replace("Z", "+00:00")) == GIVEN_AT
    at_utc = resource(dose(administered_at=GIVEN_AT.astimezone(UTC)))["occurrenceDateTime"]
    assert datetime.fromisoformat(at_utc.replace("Z", "+00:00")) == GIVEN_AT


def test_rx1_vaccine_code_has_the_atc_code_when_the_catalogue_knows_it() -> None:
    atc = [c for c in codings(resource()) if c.get("system") == ATC_SYSTEM]
    assert [c["code"] for c in atc] == ["J07BN01"]
    assert resource()["vaccineCode"]["text"] == "Comirnaty"


def test_rx1_without_an_atc_code_no_atc_coding_but_the_vaccine_is_still_named() -> None:
    r = resource(dose(atc_code=None))
    assert all(c.get("system") != ATC_SYSTEM for c in codings(r))
    # The receiver can still tell which vaccine: text or another coding.
    assert r["vaccineCode"].get("text") == "Comirnaty" or codings(r)


def test_rx1_the_unit_and_vaccinator_are_performers_by_hsa_id() -> None:
    actors = [p["actor"]["identifier"]["value"] for p in resource()["performer"]]
    assert set(actors) == {"SE2321000016-unit1", "SE2321000016-nurse1"}


def test_rx1_the_resource_names_no_one_but_by_identifier() -> None:
    """Only the identifier names the patient: no name, no address, no contained Patient."""
    text = str(resource())
    assert text.count(PERSONNUMMER) == 1
    assert "contained" not in resource()


# --- one identifier per dose version (RX-5, ID-4) --------------------------------------------


def _version_identifiers(r: dict[str, Any]) -> list[dict[str, Any]]:
    return list(r.get("identifier", []))


def test_rx5_the_same_version_is_the_same_identifier_and_the_same_resource() -> None:
    assert version_key(DOSE) == version_key(dose())
    assert resource() == resource(dose())
    ids = _version_identifiers(resource())
    assert len(ids) == 1
    assert ids[0]["value"] == version_key(DOSE)
    assert ids[0]["system"]


def test_rx5_id4_a_new_version_is_a_new_identifier() -> None:
    v2 = dose(version=2, identifier=SAMORDNINGSNUMMER, identifier_kind="samordningsnummer")
    assert version_key(v2) != version_key(DOSE)
    assert _version_identifiers(resource(v2)) != _version_identifiers(resource())
    assert resource(v2)["patient"]["identifier"]["value"] == SAMORDNINGSNUMMER


def test_rx5_another_dose_is_another_identifier() -> None:
    assert version_key(dose(administration_id="adm-8a1d")) != version_key(DOSE)


def test_rx5_id3_the_version_identifier_does_not_carry_the_patients_identifier() -> None:
    """It travels as the receiver's idempotency key, in headers that get logged."""
    for d in (DOSE, dose(identifier=RESERVNUMMER, identifier_kind="reservnummer", version=2)):
        assert d.identifier not in version_key(d)


# --- an invalid dose is refused before it leaves -----------------------------------------------


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"batch_number": ""}, "lotNumber"),
        ({"dose_number": 0}, "doseNumberPositiveInt"),
        ({"dose_number": -1}, "doseNumberPositiveInt"),
        ({"unit_id": ""}, "performer"),
        ({"administered_at": GIVEN_AT.replace(tzinfo=None)}, "occurrenceDateTime"),
    ],
    ids=["empty batch number", "dose number 0", "negative dose number", "no unit", "no zone"],
)
def test_rx5_an_invalid_dose_is_refused_naming_the_field_not_the_patient(
    changes: dict[str, Any], field: str
) -> None:
    for identifier, kind in (
        (PERSONNUMMER, "personnummer"),
        (SAMORDNINGSNUMMER, "samordningsnummer"),
        (RESERVNUMMER, "reservnummer"),
    ):
        # Refused also after a valid resource of the same kind.
        resource(dose(identifier=identifier, identifier_kind=kind))
        with pytest.raises(InvalidResource) as refused:
            resource(dose(identifier=identifier, identifier_kind=kind, **changes))
        message = str(refused.value)
        assert field in message
        assert identifier not in message
        assert identifier[2:] not in message  # nor its ten-digit form


def test_rx5_an_empty_patient_identifier_is_refused() -> None:
    with pytest.raises(InvalidResource, match="patient"):
        resource(dose(identifier=""))


# --- what a receiver's answer means (RX-5) -----------------------------------------------------


def outcome(diagnostics: str, code: str = "invalid") -> dict[str, Any]:
    return {
        "resourceType": "OperationOutcome",
        "issue": [{"severity": "error", "code": code, "diagnostics": diagnostics}],
    }


@pytest.mark.parametrize("status", [200, 201, 202, 299])
def test_rx5_a_2xx_is_acknowledged_with_the_receivers_id(status: int) -> None:
    answer = judge(status, {"resourceType": "Immunization", "id": "nvr-4711"})
    assert answer == Acknowledged("nvr-4711")


def test_rx5_a_2xx_without_a_body_is_still_acknowledged() -> None:
    assert isinstance(judge(201, None), Acknowledged)
    assert isinstance(judge(204, ""), Acknowledged)


@pytest.mark.parametrize("status", [500, 502, 503, 504, 408, 429])
def test_rx5_server_errors_timeouts_and_throttling_are_retried(status: int) -> None:
    answer = judge(status, outcome("Try again later", code="transient"))
    assert isinstance(answer, Retry)
    assert answer.status == status


@pytest.mark.parametrize("status", [400, 401, 403, 404, 409, 412, 422])
def test_rx5_other_4xx_fail_with_the_receivers_diagnostics(status: int) -> None:
    answer = judge(status, outcome("Immunization.lotNumber: unknown batch"))
    assert isinstance(answer, Failed)
    assert answer.status == status
    assert "Immunization.lotNumber: unknown batch" in answer.reason


def test_rx5_every_issue_of_the_outcome_is_in_the_reason() -> None:
    body = {
        "resourceType": "OperationOutcome",
        "issue": [
            {"severity": "error", "code": "invalid", "diagnostics": "lotNumber missing"},
            {"severity": "error", "code": "required", "diagnostics": "vaccineCode unknown"},
        ],
    }
    answer = judge(422, body)
    assert isinstance(answer, Failed)
    assert "lotNumber missing" in answer.reason
    assert "vaccineCode unknown" in answer.reason


def test_rx5_a_plain_text_refusal_is_kept_as_the_reason() -> None:
    answer = judge(400, "Bad request: missing lotNumber")
    assert isinstance(answer, Failed)
    assert "missing lotNumber" in answer.reason


@pytest.mark.parametrize(
    "quoted",
    [
        "191212121212",
        "19121212-1212",
        "121212-1212",
        "1212121212",
        "121212+1212",  # a hundred years or older
        "199001722380",  # samordningsnummer
        "900172-2380",
    ],
)
@pytest.mark.parametrize("status", [400, 503])
def test_rx5_id3_a_personnummer_the_receiver_quotes_is_redacted(quoted: str, status: int) -> None:
    answer = judge(status, outcome(f"Patient {quoted} not found in the population register"))
    assert isinstance(answer, Failed | Retry)
    assert quoted not in answer.reason
    assert not re.search(r"\d{6}[-+]?\d{4}", answer.reason)
    # The rest of the receiver's words stay.
    assert "not found in the population register" in answer.reason


def test_rx5_id3_a_reserve_number_the_receiver_quotes_is_redacted() -> None:
    answer = judge(400, outcome(f"Unknown patient {RESERVNUMMER}"))
    assert RESERVNUMMER not in answer.reason  # type: ignore[union-attr]


def test_rx5_the_wait_before_a_retry_grows_and_is_capped() -> None:
    waits = [backoff(n) for n in range(1, 40)]
    assert all(w > timedelta(0) for w in waits)
    assert waits == sorted(waits)  # never shorter than the one before
    assert waits[5] > waits[0]  # it does grow
    cap = waits[-1]
    # Capped: after some attempts it stops growing, and stays short enough to deliver the
    # same night.
    assert waits[-10:] == [cap] * 10
    assert cap <= timedelta(hours=1)
    assert backoff(1_000) == cap


@pytest.mark.parametrize(
    "changes",
    [
        {},
        {"atc_code": None},
        {"identifier_kind": "samordningsnummer", "identifier": "194107810911"},
        {"identifier_kind": "reservnummer", "identifier": "13R000000042"},
        {"batch_number": 'FK"1\\\\2', "vaccine_name": "Vaxzevria åäö", "dose_number": 3},
    ],
)
def test_rx1_a_bundle_entry_is_the_validated_resource_as_a_conditional_create(
    changes: dict[str, Any],
) -> None:
    """The bytes a run sends for a dose are exactly the resource ``immunization`` builds and
    validates, in a batch entry that creates it only once per dose version (RX-5) — for the
    first dose of each shape (validated whole) and for every later one (written from parts)."""
    import orjson

    from vaccinera_registry_export.domain import DOSE_VERSION_SYSTEM, bundle_entry

    for n in range(2):
        version = dose(**changes, administration_id=f"a-entry-{n}-{len(changes)}")
        entry = orjson.loads(bundle_entry(version, "urn:oid:1.2.752.97.3.1.3"))
        assert entry["resource"] == immunization(version, "urn:oid:1.2.752.97.3.1.3")
        assert entry["request"] == {
            "method": "POST",
            "url": "Immunization",
            "ifNoneExist": f"identifier={DOSE_VERSION_SYSTEM}|{version_key(version)}",
        }


def test_rx1_a_bundle_entry_refuses_an_invalid_value_like_the_resource() -> None:
    from vaccinera_registry_export.domain import bundle_entry

    bundle_entry(dose(), "urn:oid:1.2.752.97.3.1.3")  # the shape is known from here on
    with pytest.raises(InvalidResource):
        bundle_entry(dose(batch_number=" "), "urn:oid:1.2.752.97.3.1.3")
