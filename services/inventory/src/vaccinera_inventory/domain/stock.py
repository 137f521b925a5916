"""What staff see of their unit's stock (IN-1, IN-6): per vaccine, the usable doses, the doses
of expired batches still to discard, the low-stock level and its warning, and the batches."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from datetime import date

from vaccinera_inventory.domain.batches import Batch, Vaccine
from vaccinera_inventory.domain.levels import is_low


@dataclass(frozen=True)
class VaccineStock:
    vaccine: Vaccine
    usable_doses: int
    expired_doses: int
    level: int | None
    batches: tuple[Batch, ...]

    @property
    def low(self) -> bool:
        return is_low(self.usable_doses, self.level)


def unit_stock(
    batches: Iterable[Batch], levels: Mapping[str, tuple[Vaccine, int]], today: date
) -> list[VaccineStock]:
    """The unit's batches with doses left, per vaccine (by name), and every vaccine with a
    low-stock level even when none is left. ``levels``: vaccine id → (vaccine, level)."""
    by_vaccine: dict[str, list[Batch]] = {}
    names: dict[str, Vaccine] = {vid: vaccine for vid, (vaccine, _) in levels.items()}
    for batch in batches:
        if batch.balance > 0:
            by_vaccine.setdefault(batch.vaccine.vaccine_id, []).append(batch)
            names[batch.vaccine.vaccine_id] = batch.vaccine
    stock = []
    for vaccine_id, vaccine in names.items():
        held = sorted(by_vaccine.get(vaccine_id, []), key=lambda b: (b.expires_on, b.batch_number))
        level = levels.get(vaccine_id)
        stock.append(
            VaccineStock(
                vaccine=vaccine,
                usable_doses=sum(b.balance for b in held if not b.expired(today)),
                expired_doses=sum(b.balance for b in held if b.expired(today)),
                level=level[1] if level else None,
                batches=tuple(held),
            )
        )
    return sorted(stock, key=lambda s: (s.vaccine.name.casefold(), s.vaccine.vaccine_id))
