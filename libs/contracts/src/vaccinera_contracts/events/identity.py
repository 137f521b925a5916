"""Events published by the identity service on ``vaccinera.identity.v1``, keyed by patient id
(``PopulationCounted``: by the constant ``population``).

No event carries a name, an address or any contact detail (ID-3, ID-8; docs/decisions/0002):
a topic keeps what it was given until retention ends, so a number published before the person
became protected would outlive the protection. The SMS sender asks identity for the number when
it sends (``Ops.SMS_RECIPIENTS``).

For the statistics of regional infection control (RX-4) a registration names the person's
municipality (its code) and birth date from the population register, never for a protected
person's municipality; and the register's counts per municipality and age band travel as
``PopulationCounted``, with no person in them.
"""

from __future__ import annotations

from datetime import date, datetime
from typing import ClassVar, Final, Literal

from pydantic import BaseModel, ConfigDict, Field

from vaccinera_contracts import topics
from vaccinera_contracts.envelope import DomainEvent
from vaccinera_contracts.identifiers import IdentifierKind, PatientIdentifier


class _PatientEvent(DomainEvent):
    topic: ClassVar[str] = topics.IDENTITY

    patient_id: str

    def aggregate_key(self) -> str:
        return self.patient_id


class PatientRegistered(_PatientEvent):
    """A patient is known to the region. The identifier travels because booking matches citizen
    logins by it and the registry export reports under it; names never do."""

    event_type: ClassVar[str] = "identity.PatientRegistered"

    identifier: PatientIdentifier
    identifier_kind: IdentifierKind
    protected: bool
    # From the population register (ID-2), for coverage per municipality and age band (RX-4):
    # the municipality of residence's code ("0580") and the birth date. None for a reserve
    # number or a person the register does not know; the municipality also None for a
    # protected person (ID-3: nothing of their address leaves identity).
    municipality_code: str | None = None
    birth_date: date | None = None


class IdentifierChanged(_PatientEvent):
    """The patient's identifier changed (ID-4), e.g. reserve number to personnummer; the internal
    patient id stays. Carries both identifiers: the registry export reports doses again. The
    register's municipality and birth date are those of the new identifier, as on
    ``PatientRegistered``."""

    event_type: ClassVar[str] = "identity.IdentifierChanged"

    old: PatientIdentifier
    new: PatientIdentifier
    municipality_code: str | None = None
    birth_date: date | None = None


class ProtectionChanged(_PatientEvent):
    """Protected identity set or lifted (ID-3). When set, every service purges the patient's
    contact data at once, and the registry export the patient's municipality."""

    event_type: ClassVar[str] = "identity.ProtectionChanged"

    protected: bool


class ContactDetailsChanged(_PatientEvent):
    """The patient's contact details were added, changed or removed (ID-8). It says only that
    they changed, never what they are: whoever needs the number asks identity (the SMS sender
    does, and sends a message that was waiting for a number at once)."""

    event_type: ClassVar[str] = "identity.ContactDetailsChanged"


class Block(BaseModel):
    """A patient's block ("spärr") on a unit's or care provider's records (ID-5)."""

    model_config = ConfigDict(frozen=True)

    block_id: str
    scope: Literal["unit", "care_provider"]
    target_id: str
    set_at: datetime
    set_by: str


class BlocksChanged(_PatientEvent):
    """The patient's current blocks, in full (ID-5)."""

    event_type: ClassVar[str] = "identity.BlocksChanged"

    blocks: tuple[Block, ...]


class Consent(BaseModel):
    """Consent to shared record access ("samtycke", ID-6): who recorded it, when, for which
    care provider, and until when."""

    model_config = ConfigDict(frozen=True)

    consent_id: str
    care_provider_id: str
    scope: Literal["shared_record_access"]
    recorded_at: datetime
    recorded_by: str
    expires_at: datetime
    revoked_at: datetime | None = None

    def active_at(self, moment: datetime) -> bool:
        return self.revoked_at is None and moment < self.expires_at


class ConsentsChanged(_PatientEvent):
    """The patient's consents, in full (ID-6)."""

    event_type: ClassVar[str] = "identity.ConsentsChanged"

    consents: tuple[Consent, ...]


# --- the population register's counts (RX-4) --------------------------------------------------

# Age bands of Folkhälsomyndigheten's vaccination statistics: (name, first age, last age or
# None). Both the counts (identity) and the coverage (registry export) use these.
AGE_BANDS: Final[tuple[tuple[str, int, int | None], ...]] = (
    ("0-11", 0, 11),
    ("12-15", 12, 15),
    ("16-17", 16, 17),
    ("18-29", 18, 29),
    ("30-39", 30, 39),
    ("40-49", 40, 49),
    ("50-59", 50, 59),
    ("60-64", 60, 64),
    ("65-69", 65, 69),
    ("70-79", 70, 79),
    ("80+", 80, None),
)
POPULATION_KEY: Final = "population"


def age_on(birth_date: date, day: date) -> int:
    """Whole years on ``day`` (a birthday on 29 February is reached on 1 March)."""
    return day.year - birth_date.year - ((day.month, day.day) < (birth_date.month, birth_date.day))


def age_band(age: int) -> str:
    """The band of an age in whole years (a negative age, born after the day, is 0-11)."""
    for name, _, last in AGE_BANDS:
        if last is None or age <= last:
            return name
    raise AssertionError("the last band is open")  # pragma: no cover


class PopulationRow(BaseModel):
    """Persons of the register in one municipality and age band. Protected persons (ID-3) are
    counted apart, with no municipality: their municipality never leaves identity."""

    model_config = ConfigDict(frozen=True)

    municipality_code: str | None
    municipality: str | None
    age_band: str
    persons: int = Field(ge=0)


class PopulationCounted(DomainEvent):
    """The population register counted (ID-2), the denominators of vaccination coverage
    (RX-4): persons per municipality and age band, ages in whole years on ``ages_on`` (the
    register's day). Published once per load of the register, in the load's transaction; a
    newer count replaces an older one. No person is named or identifiable in it."""

    event_type: ClassVar[str] = "identity.PopulationCounted"
    topic: ClassVar[str] = topics.IDENTITY

    counted_at: datetime
    ages_on: date
    rows: tuple[PopulationRow, ...]

    def aggregate_key(self) -> str:
        return POPULATION_KEY
