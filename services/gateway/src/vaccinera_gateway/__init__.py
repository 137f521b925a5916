"""Vaccinera gateway: one entrance for the web frontends; verifies tokens, forwards
``/api/<service>/...`` to each service, merges their OpenAPI and reports their readiness."""
