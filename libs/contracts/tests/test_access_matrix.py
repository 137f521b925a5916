"""AC-3/AC-4/AC-5: the matrix itself, and docs/roles.md showing exactly it."""

from pathlib import Path

from vaccinera_contracts.access import MATRIX, Ops, find_operation, matrix_markdown
from vaccinera_contracts.roles import Assignment, Principal, Role

ROLES_DOC = Path(__file__).resolve().parents[3] / "docs" / "roles.md"


def staff(role: Role) -> Principal:
    a = Assignment(id="a", role=role, unit_id="u", care_provider_id="p")
    return Principal(kind="staff", subject="s", assignments=(a,), active_assignment=a)


def test_ac3_no_super_user_every_operation_names_its_roles() -> None:
    assert all(op.staff or op.citizen or op.anonymous or op.services for op in MATRIX)
    # No role may do everything (AC-3: no super-user).
    for role in Role:
        assert not all(role in op.staff for op in MATRIX), role


def test_ac3_booking_only_may_change_mobile_but_not_protection() -> None:
    assert Ops.SET_CONTACT.allows(staff(Role.BOOKING_ONLY))  # ID-8
    assert not Ops.SET_PROTECTION.allows(staff(Role.BOOKING_ONLY))
    assert not Ops.SET_PROTECTION.allows(None)


def test_ac5_citizens_only_where_marked() -> None:
    citizen = Principal(kind="citizen", subject="c", personnummer="191212121212")
    assert Ops.GET_ME.allows(citizen)
    assert not Ops.REGISTER_PATIENT.allows(citizen)
    assert "care staff only" in Ops.REGISTER_PATIENT.denial(citizen)


def test_paths_find_their_operation() -> None:
    assert find_operation("identity", "GET", "/patients/abc") is Ops.GET_PATIENT
    assert find_operation("identity", "POST", "/patients/reserve") is Ops.REGISTER_RESERVE_PATIENT
    assert find_operation("identity", "DELETE", "/patients/a/blocks/b") is Ops.LIFT_BLOCK
    assert find_operation("identity", "GET", "/patients/a/access-log") is Ops.ACCESS_LOG
    assert find_operation("identity", "GET", "/patients/a/b/c") is None
    assert find_operation("booking", "GET", "/patients/abc") is None


def test_roles_doc_shows_the_matrix_as_it_is() -> None:
    assert matrix_markdown() in ROLES_DOC.read_text(encoding="utf-8"), (
        "docs/roles.md is out of date: paste vaccinera_contracts.access.matrix_markdown()"
    )


def test_issue9_service_operations_are_for_their_services_and_no_person() -> None:
    notifications = Principal(kind="service", subject="notifications")
    booking = Principal(kind="service", subject="booking")
    citizen = Principal(kind="citizen", subject="c", personnummer="191212121212")
    assert Ops.SMS_RECIPIENTS.allows(notifications)
    assert not Ops.SMS_RECIPIENTS.allows(booking)
    for person in (citizen, *(staff(role) for role in Role), None):
        assert not Ops.SMS_RECIPIENTS.allows(person)
    assert "services" in Ops.SMS_RECIPIENTS.denial(staff(Role.DOCTOR))
    # A service token opens no person's operation.
    assert not [op.name for op in MATRIX if op.allows(notifications) and op.staff]
    assert not Ops.GET_PATIENT.allows(notifications)
