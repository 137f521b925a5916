"""Vaccinera inventory service: Batches and vaccine stock per unit, discards and quick lists (IN-1..IN-6)."""
