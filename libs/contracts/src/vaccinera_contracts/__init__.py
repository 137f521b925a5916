"""Shared contracts of Vaccinera: event envelope, event models, topics, identifiers, roles.

Pure data and rules, no I/O: every service depends on this package, none on another service.
"""
