"""Identity's HTTP API, one router per resource. Routes parse the request, are authorized by
``endpoint`` (the operation named once), call one use case of ``services.py`` and map its
result with ``schemas.py``."""

from vaccinera_identity.api import access_log, blocks_consents, contact, patients, sms

routers = (
    patients.router,
    contact.router,
    blocks_consents.router,
    access_log.router,
    sms.router,
)
