"""The registry export's domain, free of I/O: a dose version as a FHIR R4 ``Immunization``
(RX-1, RX-2), and what a receiver's answer means for a report (RX-5)."""

from vaccinera_registry_export.domain.answers import (
    Acknowledged,
    Failed,
    Outcome,
    Retry,
    backoff,
    judge,
)
from vaccinera_registry_export.domain.immunization import (
    DOSE_VERSION_SYSTEM,
    IDENTIFIER_SYSTEMS,
    DoseVersion,
    InvalidResource,
    bundle_entry,
    immunization,
    version_key,
)

__all__ = [
    "DOSE_VERSION_SYSTEM",
    "IDENTIFIER_SYSTEMS",
    "Acknowledged",
    "DoseVersion",
    "Failed",
    "InvalidResource",
    "Outcome",
    "Retry",
    "backoff",
    "bundle_entry",
    "immunization",
    "judge",
    "version_key",
]
