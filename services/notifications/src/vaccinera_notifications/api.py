"""HTTP API of this service. Its routes come with its own issue; health, readiness, metrics,
OpenAPI and AsyncAPI come from the kit."""

from fastapi import APIRouter

routers: tuple[APIRouter, ...] = ()
