"""Vaccinera identity service: Persons, identifiers, protected identity, blocks, consents and the access log (ID-1..ID-8)."""
