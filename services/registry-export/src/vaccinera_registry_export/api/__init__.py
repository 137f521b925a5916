"""The registry export's HTTP API: the control report (RX-3) for the unit's staff, and the
registry operator's view of the reports (RX-5)."""

from vaccinera_registry_export.api import control_report, operator

routers = (control_report.router, operator.router)
