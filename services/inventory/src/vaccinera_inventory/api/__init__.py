"""HTTP API of this service, one router module per resource (the booking service shows the
shape). Its routes come with its own issue; health, readiness, metrics, OpenAPI and AsyncAPI
come from the kit."""

from fastapi import APIRouter

routers: tuple[APIRouter, ...] = ()
