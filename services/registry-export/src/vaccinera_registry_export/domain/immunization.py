"""A given dose as the HL7 FHIR R4 ``Immunization`` both national receivers take (RX-1, RX-2),
checked against the FHIR model (``fhir.resources``, R4B: Immunization is the same as R4's)
before it leaves.

The patient is named by identifier only, with the OID of its kind: personnummer and
samordningsnummer are national (Skatteverket); a reserve number is the region's own. The
performer is the unit (its HSA-id). The resource carries a stable identifier per dose version:
the receiver's idempotency key and FHIR conditional create (``If-None-Exist``) both use it.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from fhir.resources.R4B.immunization import Immunization
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
    coding = [{"system": VACCINE_SYSTEM, "code": dose.vaccine_id, "display": dose.vaccine_name}]
    if dose.atc_code:
        coding.insert(
            0, {"system": ATC_SYSTEM, "code": dose.atc_code, "display": dose.vaccine_name}
        )
    resource: dict[str, Any] = {
        "resourceType": "Immunization",
        "identifier": [{"system": DOSE_VERSION_SYSTEM, "value": version_key(dose)}],
        "status": "completed",
        "vaccineCode": {"coding": coding, "text": dose.vaccine_name},
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
    try:
        Immunization.model_validate(resource)
    except ValidationError as exc:
        problems = "; ".join(
            f"{'.'.join(map(str, e['loc']))}: {e['msg']}" for e in exc.errors()[:5]
        )
        raise InvalidResource(problems) from exc
    return resource
