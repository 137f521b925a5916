"""The unit's quick-vaccination list ("snabbvaccinering", IN-4): the vaccines it gives, in the
order staff chose; the first is the default in the order form."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

from vaccinera_inventory.domain.batches import Vaccine
from vaccinera_inventory.domain.common import invalid

MAX_ENTRIES = 30


@dataclass(frozen=True)
class QuickList:
    unit_id: str
    vaccines: tuple[Vaccine, ...]

    @classmethod
    def of(cls, unit_id: str, vaccines: Sequence[Vaccine]) -> QuickList:
        if len(vaccines) > MAX_ENTRIES:
            raise invalid("vaccines", "too_many", f"At most {MAX_ENTRIES} vaccines.")
        seen: set[str] = set()
        for i, vaccine in enumerate(vaccines):
            if vaccine.vaccine_id in seen:
                raise invalid(
                    f"vaccines.{i}.vaccine_id", "duplicate", "Each vaccine once in the list."
                )
            seen.add(vaccine.vaccine_id)
        return cls(unit_id, tuple(vaccines))

    @property
    def default(self) -> Vaccine | None:
        """Preselected in the order form: the first of the list."""
        return self.vaccines[0] if self.vaccines else None
