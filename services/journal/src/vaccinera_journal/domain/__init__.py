"""The journal's domain, free of I/O: the catalogue (JR-1), a patient's record and its rules
(JR-2..JR-5, JR-9, BK-10, IN-6), and who sees which entries (AC-5, JR-8, ID-5, ID-6)."""

from vaccinera_journal.domain.catalogue import Vaccine, VaccineChange, change
from vaccinera_journal.domain.common import TZ, Place, local_day
from vaccinera_journal.domain.record import (
    Administration,
    BatchOnHand,
    Given,
    HistoricalDose,
    Order,
    PatientRecord,
    next_dose,
)
from vaccinera_journal.domain.visibility import PatientAccess, Reader, Visible, sort_out

__all__ = [
    "TZ",
    "Administration",
    "BatchOnHand",
    "Given",
    "HistoricalDose",
    "Order",
    "PatientAccess",
    "PatientRecord",
    "Place",
    "Reader",
    "Vaccine",
    "VaccineChange",
    "Visible",
    "change",
    "local_day",
    "next_dose",
    "sort_out",
]
