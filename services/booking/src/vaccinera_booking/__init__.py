"""Vaccinera booking service: Time books, visit types, slots, bookings and health declarations (BK-1..BK-12)."""
