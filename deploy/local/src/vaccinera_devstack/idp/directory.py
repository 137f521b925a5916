"""The demo HSA directory behind the development identity provider: pure data, no I/O.

Two care providers, their units, staff covering every role (AC-3) with one or more
assignments each (AC-2), and a few citizens with Skatteverket test personnummer. All of it is
invented; the personnummer are published test numbers that pass the Luhn check.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict

from vaccinera_contracts.roles import Assignment, Role


class CareProvider(BaseModel):
    """A vårdgivare: the region itself or a private provider it contracts."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str


class Unit(BaseModel):
    """A vårdenhet: the place where an assignment is held."""

    model_config = ConfigDict(frozen=True)

    id: str
    name: str
    care_provider_id: str


class StaffMember(BaseModel):
    """One person in the demo directory, logging in with a SITHS card."""

    model_config = ConfigDict(frozen=True)

    hsa_id: str
    given_name: str
    family_name: str
    assignments: tuple[Assignment, ...]

    @property
    def name(self) -> str:
        return f"{self.given_name} {self.family_name}"

    @property
    def roles(self) -> frozenset[Role]:
        return frozenset(a.role for a in self.assignments)


class DemoCitizen(BaseModel):
    """A citizen to log in as with BankID (any valid personnummer is accepted, not only these)."""

    model_config = ConfigDict(frozen=True)

    personnummer: str
    name: str


HSA_PREFIX = "SE2321000016-"

_PROVIDERS: tuple[CareProvider, ...] = (
    CareProvider(id="provider-region", name="Region Östergötland"),
    CareProvider(id="provider-vardcentral-ab", name="Vårdcentralen Hälsan AB"),
)

_UNITS: tuple[Unit, ...] = (
    Unit(
        id="unit-centrum",
        name="Vaccinationsmottagningen Linköping",
        care_provider_id="provider-region",
    ),
    Unit(
        id="unit-norrkoping",
        name="Vaccinationscentralen Norrköping",
        care_provider_id="provider-region",
    ),
    Unit(id="unit-motala", name="Vårdcentralen Motala", care_provider_id="provider-region"),
    Unit(
        id="unit-halsan-linkoping",
        name="Vårdcentralen Hälsan Linköping",
        care_provider_id="provider-vardcentral-ab",
    ),
    Unit(
        id="unit-halsan-finspang",
        name="Vårdcentralen Hälsan Finspång",
        care_provider_id="provider-vardcentral-ab",
    ),
)

_PROVIDER_OF_UNIT: dict[str, str] = {u.id: u.care_provider_id for u in _UNITS}


def _assignment(unit_id: str, role: Role) -> Assignment:
    return Assignment(
        id=f"{unit_id}:{role.value}",
        role=role,
        unit_id=unit_id,
        care_provider_id=_PROVIDER_OF_UNIT[unit_id],
    )


def _staff(serial: str, given: str, family: str, *assignments: tuple[str, Role]) -> StaffMember:
    return StaffMember(
        hsa_id=f"{HSA_PREFIX}{serial}",
        given_name=given,
        family_name=family,
        assignments=tuple(_assignment(unit, role) for unit, role in assignments),
    )


_STAFF: tuple[StaffMember, ...] = (
    # Two assignments at two units of the same provider (AC-2: pick one per request).
    _staff(
        "1001",
        "Anna",
        "Lindqvist",
        ("unit-centrum", Role.DOCTOR),
        ("unit-norrkoping", Role.DOCTOR),
    ),
    _staff("1002", "Erik", "Johansson", ("unit-centrum", Role.NURSE_PRESCRIBER)),
    _staff("1003", "Maria", "Andersson", ("unit-centrum", Role.NURSE)),
    # Two roles at one unit.
    _staff(
        "1004",
        "Karin",
        "Nilsson",
        ("unit-norrkoping", Role.NURSE),
        ("unit-norrkoping", Role.TIME_BOOK_ADMIN),
    ),
    _staff("1005", "Johan", "Berg", ("unit-motala", Role.ASSISTANT_NURSE)),
    _staff("1006", "Sofia", "Ekström", ("unit-centrum", Role.MEDICAL_SECRETARY)),
    _staff("1007", "Lars", "Holm", ("unit-motala", Role.BOOKING_ONLY)),
    _staff("1008", "Eva", "Sandberg", ("unit-centrum", Role.STOCK_ADMIN)),
    _staff("1009", "Gustav", "Wikström", ("unit-centrum", Role.TIME_BOOK_ADMIN)),
    # The private provider's staff.
    _staff("2001", "Ahmed", "Hassan", ("unit-halsan-linkoping", Role.NURSE_PRESCRIBER)),
    _staff("2002", "Linnea", "Åberg", ("unit-halsan-linkoping", Role.NURSE)),
    _staff(
        "2003",
        "Ingrid",
        "Persson",
        ("unit-halsan-finspang", Role.BOOKING_ONLY),
        ("unit-halsan-finspang", Role.STOCK_ADMIN),
    ),
    # Assignments at two care providers: the region and the private provider.
    _staff(
        "2004",
        "Mikael",
        "Öberg",
        ("unit-halsan-linkoping", Role.DOCTOR),
        ("unit-motala", Role.DOCTOR),
    ),
)

_CITIZENS: tuple[DemoCitizen, ...] = (
    DemoCitizen(personnummer="191212121212", name="Tolvan Tolvansson"),
    DemoCitizen(personnummer="189001019802", name="Greta Gammal"),
    DemoCitizen(personnummer="196408233234", name="Sven Svensson"),
    DemoCitizen(personnummer="198112189876", name="Lena Karlsson"),
    DemoCitizen(personnummer="200001012384", name="Elsa Millennie"),
)

_STAFF_BY_HSA: dict[str, StaffMember] = {s.hsa_id: s for s in _STAFF}
_UNITS_BY_ID: dict[str, Unit] = {u.id: u for u in _UNITS}
_PROVIDERS_BY_ID: dict[str, CareProvider] = {p.id: p for p in _PROVIDERS}


def care_providers() -> tuple[CareProvider, ...]:
    return _PROVIDERS


def care_provider(provider_id: str) -> CareProvider | None:
    return _PROVIDERS_BY_ID.get(provider_id)


def units() -> tuple[Unit, ...]:
    return _UNITS


def unit(unit_id: str) -> Unit | None:
    return _UNITS_BY_ID.get(unit_id)


def all_staff() -> tuple[StaffMember, ...]:
    return _STAFF


def staff_member(hsa_id: str) -> StaffMember | None:
    """The demo staff member with this HSA-id, or None if there is none."""
    return _STAFF_BY_HSA.get(hsa_id)


def first_staff_with(role: Role) -> StaffMember:
    """The first staff member (directory order) holding `role` somewhere; every role has one."""
    for member in _STAFF:
        if role in member.roles:
            return member
    raise LookupError(f"no demo staff member holds the role {role.value}")


def citizens() -> tuple[DemoCitizen, ...]:
    return _CITIZENS
