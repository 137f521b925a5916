"""A given dose as the HL7 FHIR R4 ``Immunization`` both national receivers take (RX-1, RX-2),
checked against the FHIR model (``fhir.resources``, R4B: Immunization is the same as R4's)
before it leaves.

Every resource is built by ``immunization`` from the same typed fields, so resources differ
only in their values and in which optional parts they hold (the identifier's kind, an ATC
code). The first resource of each such shape is validated whole with ``fhir.resources``; every
resource's values are checked with the rules of their FHIR primitive types (``fhir_core``'s
own patterns: string, code, dateTime, positiveInt). That is the same check, at a tenth of the
cost, which a run of a million doses needs (docs/performance.md).

The patient is named by identifier only, with the OID of its kind: personnummer and
samordningsnummer are national (Skatteverket); a reserve number is the region's own. The
performer is the unit (its HSA-id). The resource carries a stable identifier per dose version:
the receiver's idempotency key and FHIR conditional create (``If-None-Exist``) both use it.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from typing import Any

import orjson
from fhir.resources.R4B.immunization import Immunization
from fhir_core.types import DateTime
from pydantic import ValidationError

# urn:oid systems of the patient identifiers (Inera's OID register).
IDENTIFIER_SYSTEMS: dict[str, str] = {
    "personnummer": "urn:oid:1.2.752.129.2.1.3.1",
    "samordningsnummer": "urn:oid:1.2.752.129.2.1.3.3",
}
HSA_ID_SYSTEM = "urn:oid:1.2.752.29.4.19"
ATC_SYSTEM = "http://www.whocc.no/atc"
VACCINE_SYSTEM = "urn:vaccinera:vaccine"
DOSE_VERSION_SYSTEM = "urn:vaccinera:dose-version"


class InvalidResource(Exception):
    """The resource does not validate: sending it again would not help."""


# FHIR primitive rules (fhir_core.types): a string has a character that is not whitespace
# (no NUL or other control characters), a code no leading, trailing or double whitespace.
_STRING = re.compile(r"[ \r\n\t\S]+")
_CODE = re.compile(r"[^\s]+(\s[^\s]+)*")
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f]")
# Shapes (identifier system, with an ATC code) whose first resource validated whole.
_VALIDATED_SHAPES: set[tuple[str, bool]] = set()


@lru_cache(maxsize=65_536)
def _is_string(value: str) -> bool:
    """A FHIR string; remembered, as units, vaccinators and batches repeat over a run."""
    return bool(value.strip()) and bool(_STRING.fullmatch(value)) and not _CONTROL.search(value)


@lru_cache(maxsize=4096)
def _is_code(value: str) -> bool:
    return bool(_CODE.fullmatch(value))


def _check_values(dose: DoseVersion, occurrence: str) -> None:
    """Each value of the resource against its FHIR primitive type."""
    problems = [
        f"{where}: not a FHIR string"
        for where, value in (
            ("patient.identifier.value", dose.identifier),
            ("lotNumber", dose.batch_number),
            ("vaccineCode.text", dose.vaccine_name),
            ("performer.actor.identifier.value", dose.vaccinator_hsa_id),
            ("performer.actor.identifier.value", dose.unit_id),
            ("identifier.value", dose.administration_id),
        )
        if not _is_string(value)
    ]
    codes: tuple[tuple[str, str | None], ...] = (
        ("vaccineCode.coding.code", dose.vaccine_id),
        ("vaccineCode.coding.code (ATC)", dose.atc_code),
    )
    problems += [
        f"{where}: not a FHIR code"
        for where, code in codes
        if code is not None and not _is_code(code)
    ]
    if dose.administered_at.tzinfo is None or not DateTime.pattern.fullmatch(occurrence):
        problems.append("occurrenceDateTime: not a FHIR dateTime with a time zone")
    if dose.dose_number < 1:
        problems.append("protocolApplied.doseNumberPositiveInt: not a positiveInt")
    if problems:
        raise InvalidResource("; ".join(problems))


@lru_cache(maxsize=1024)
def _vaccine_code(vaccine_id: str, name: str, atc_code: str | None) -> dict[str, Any]:
    """The vaccine's CodeableConcept, shared by the resources of a run (never changed)."""
    coding = [{"system": VACCINE_SYSTEM, "code": vaccine_id, "display": name}]
    if atc_code:
        coding.insert(0, {"system": ATC_SYSTEM, "code": atc_code, "display": name})
    return {"coding": coding, "text": name}


@dataclass(frozen=True)
class DoseVersion:
    """One version of a given dose, as reported: the dose and the identifier of the patient
    at that version."""

    administration_id: str
    version: int
    identifier: str
    identifier_kind: str
    vaccine_id: str
    vaccine_name: str
    atc_code: str | None
    dose_number: int
    batch_number: str
    unit_id: str
    administered_at: datetime
    vaccinator_hsa_id: str


def version_key(dose: DoseVersion) -> str:
    """Stable per dose version: the same version is the same report, at any receiver."""
    return f"{dose.administration_id}.v{dose.version}"


def immunization(dose: DoseVersion, reserve_number_system: str) -> dict[str, Any]:
    """The dose version as a validated FHIR ``Immunization`` (JSON)."""
    system = IDENTIFIER_SYSTEMS.get(dose.identifier_kind, reserve_number_system)
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "identifier": [{"system": DOSE_VERSION_SYSTEM, "value": version_key(dose)}],
        "status": "completed",
        "vaccineCode": _vaccine_code(dose.vaccine_id, dose.vaccine_name, dose.atc_code),
        "patient": {"identifier": {"system": system, "value": dose.identifier}},
        "occurrenceDateTime": dose.administered_at.isoformat(),
        "primarySource": True,
        "lotNumber": dose.batch_number,
        "performer": [
            {
                "function": {"text": "vaccinatör"},
                "actor": {"identifier": {"system": HSA_ID_SYSTEM, "value": dose.vaccinator_hsa_id}},
            },
            {"actor": {"identifier": {"system": HSA_ID_SYSTEM, "value": dose.unit_id}}},
        ],
        "protocolApplied": [{"doseNumberPositiveInt": dose.dose_number}],
    }
    _check_values(dose, resource["occurrenceDateTime"])
    shape = (system, bool(dose.atc_code))
    if shape not in _VALIDATED_SHAPES:
        try:
            Immunization.model_validate(resource)
        except ValidationError as exc:
            problems = "; ".join(
                f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
            )
            raise InvalidResource(problems) from exc
        _VALIDATED_SHAPES.add(shape)
    return resource


def conditional_create(dose: DoseVersion) -> str:
    """FHIR conditional create on the dose version: the receiver keeps one per version."""
    return f"identifier={DOSE_VERSION_SYSTEM}|{version_key(dose)}"


@lru_cache(maxsize=1024)
def _vaccine_code_json(vaccine_id: str, name: str, atc_code: str | None) -> bytes:
    return orjson.dumps(_vaccine_code(vaccine_id, name, atc_code))


_PERFORMER = b'{"system":"' + HSA_ID_SYSTEM.encode() + b'","value":'


def bundle_entry(dose: DoseVersion, reserve_number_system: str) -> bytes:
    """The dose version as an entry of a FHIR ``batch`` Bundle (JSON bytes): the same
    resource as ``immunization``, written from constant parts and its encoded values, so a run
    of a million doses builds no dict per dose. The first of each shape goes through
    ``immunization`` and is validated whole; the values of each are checked as there."""
    system = IDENTIFIER_SYSTEMS.get(dose.identifier_kind, reserve_number_system)
    if (system, bool(dose.atc_code)) not in _VALIDATED_SHAPES:
        resource = immunization(dose, reserve_number_system)
        request = {"method": "POST", "url": "Immunization", "ifNoneExist": conditional_create(dose)}
        return orjson.dumps({"resource": resource, "request": request})
    occurrence = dose.administered_at.isoformat()
    _check_values(dose, occurrence)
    encode = orjson.dumps
    return b"".join(
        (
            b'{"resource":{"resourceType":"Immunization","identifier":[{"system":"',
            DOSE_VERSION_SYSTEM.encode(),
            b'","value":',
            encode(version_key(dose)),
            b'}],"status":"completed","vaccineCode":',
            _vaccine_code_json(dose.vaccine_id, dose.vaccine_name, dose.atc_code),
            b',"patient":{"identifier":{"system":',
            encode(system),
            b',"value":',
            encode(dose.identifier),
            b'}},"occurrenceDateTime":',
            encode(occurrence),
            b',"primarySource":true,"lotNumber":',
            encode(dose.batch_number),
            b',"performer":[{"function":{"text":"vaccinat\xc3\xb6r"},"actor":{"identifier":',
            _PERFORMER,
            encode(dose.vaccinator_hsa_id),
            b'}}},{"actor":{"identifier":',
            _PERFORMER,
            encode(dose.unit_id),
            b'}}}],"protocolApplied":[{"doseNumberPositiveInt":',
            str(dose.dose_number).encode(),
            b'}]},"request":{"method":"POST","url":"Immunization","ifNoneExist":',
            encode(conditional_create(dose)),
            b"}}",
        )
    )
