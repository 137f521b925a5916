"""The journal's HTTP API, one router per resource. Every route is one operation of the
authorization matrix (``endpoint``); entries are signed at the caller's active assignment,
and reads show what AC-5 and shared record access (JR-8) allow."""

from vaccinera_journal.api import catalogue, orders, records

routers = (catalogue.router, orders.router, records.router)
