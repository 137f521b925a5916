"""Settings of the registry-export service (environment variables prefixed VACCINERA_)."""

from pydantic import Field

from vaccinera_kit.settings import ServiceSettings


class Settings(ServiceSettings):
    service_name: str = "registry-export"
    # The receivers' FHIR endpoints (base URLs; ``/Immunization`` is appended).
    nvr_url: str = "http://127.0.0.1:18082/nvr/fhir"
    npo_url: str = "http://127.0.0.1:18083/npo/fhir"
    # NVR is reported nightly by default (RX-1): seconds between scheduled runs.
    nvr_interval_seconds: float = Field(default=86_400.0, gt=0)
    # NPÖ gets each dose as it happens (RX-2): how often the pusher looks, in seconds.
    npo_poll_seconds: float = Field(default=0.5, gt=0)
    # A run whose replica has not renewed it for this long (seconds) is taken over.
    # Longer than a batch can take (its receiver's timeout, twice over, at least).
    run_lease_seconds: float = Field(default=120.0, gt=0)
    # How often the NVR worker looks for a run to start and for reports to retry.
    nvr_poll_seconds: float = Field(default=1.0, gt=0)
    # Reports claimed per transaction, and sent at once within it.
    batch_size: int = Field(default=200, ge=1, le=5000)
    concurrency: int = Field(default=16, ge=1, le=256)
    # NVR reports per FHIR batch Bundle (a run sends many); NPÖ gets each as it happens.
    nvr_bundle_size: int = Field(default=250, ge=1, le=5000)
    # Batches an NVR run keeps in flight at once (each a transaction and a connection).
    nvr_parallel_batches: int = Field(default=3, ge=1, le=8)
    # Seconds a receiver may take to answer one report before it is retried later.
    receiver_timeout: float = Field(default=10.0, gt=0)
    # The region's OID for its reserve numbers (personnummer and samordningsnummer have
    # national ones): Region Östergötland's by default.
    reserve_number_system: str = "urn:oid:1.2.752.97.3.1.3"
