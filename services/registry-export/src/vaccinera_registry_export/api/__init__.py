"""The registry export's HTTP API: the control report (RX-3) for the unit's staff, the
registry operator's view of the reports (RX-5), and the statistics for regional infection
control (RX-4)."""

from vaccinera_registry_export.api import control_report, operator, statistics

routers = (control_report.router, operator.router, statistics.router)
