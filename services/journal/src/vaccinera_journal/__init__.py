"""Vaccinera journal service: Vaccine catalogue, orders, administrations and vaccination history (JR-1..JR-9)."""
