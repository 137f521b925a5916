"""Settings of the journal service (environment variables prefixed VACCINERA_)."""

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "journal"
    # Identity answers "who is this patient?" when the journal has not consumed the patient's
    # registration yet (a patient added a moment ago): asked once, then kept.
    identity_url: str = "http://127.0.0.1:8001"
