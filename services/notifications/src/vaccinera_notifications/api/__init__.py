"""Notifications' HTTP API: routes parse the request, are authorized by ``endpoint`` (the
operation named once), call one use case of ``services.py`` and map its result with
``schemas.py``."""

from vaccinera_notifications.api import messages

routers = (messages.router,)
