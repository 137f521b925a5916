"""Booking's HTTP API, one router per resource. Every route is one operation of the
authorization matrix (``endpoint``); staff act only on their own unit (AC-5); patient data reads
and writes go to the access log."""

from vaccinera_booking.api import bookings, declarations, patients, time_books

routers = (patients.router, time_books.router, bookings.router, declarations.router)
