"""ID-1/ID-4 groundwork: registering a patient gives an internal id and one event without
personal data."""

from vaccinera_contracts.events import PatientRegistered
from vaccinera_contracts.identifiers import parse_identifier
from vaccinera_identity.domain import register_patient


def test_registering_a_patient_emits_patient_registered_without_the_identifier() -> None:
    identifier = parse_identifier("19121212-1212")
    patient = register_patient(identifier)
    (event,) = patient.events
    assert isinstance(event, PatientRegistered)
    assert event.patient_id == patient.patient_id
    assert event.identifier_kind == identifier.kind
    assert identifier.value not in event.model_dump_json()


def test_every_patient_gets_its_own_internal_id() -> None:
    identifier = parse_identifier("19121212-1212")
    assert register_patient(identifier).patient_id != register_patient(identifier).patient_id
