"""Tables of the journal service: only the kit's (outbox, processed events) so far."""

from vaccinera_kit.database import service_metadata

metadata = service_metadata()
