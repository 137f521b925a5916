"""One way to declare a route (``deps.endpoint``): the operation named once gives path, method,
summary, operation id and authorization; the OpenAPI document lists the errors a route really
answers, with the kit's error body. And the kit's modules import alone, without cycles."""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path
from typing import Annotated

import httpx
import pytest
from fastapi import APIRouter, FastAPI, Query
from pydantic import BaseModel

from vaccinera_contracts.access import Operation
from vaccinera_contracts.roles import Role
from vaccinera_devstack import tokens
from vaccinera_kit.auth import TokenVerifier
from vaccinera_kit.deps import Allowed, CurrentOperation, endpoint, takes_input
from vaccinera_kit.errors import NotFound
from vaccinera_kit.web import install_error_handlers

KIT = Path(__file__).parents[1] / "src" / "vaccinera_kit"

READ = Operation(
    "kit.read_thing", "kit", "GET", "/things/{thing_id}", "Read a thing", frozenset({Role.NURSE})
)
WHO = Operation(
    "kit.who", "kit", "GET", "/who", "Say who you are", frozenset({Role.NURSE}), citizen=True
)
OPEN = Operation("kit.open", "kit", "GET", "/open", "Anyone may", anonymous=True)


class Thing(BaseModel):
    thing_id: str
    by: str


@pytest.fixture(scope="module")
def keys(tmp_path_factory: pytest.TempPathFactory) -> tokens.DevKeys:
    return tokens.ensure_keys(tmp_path_factory.mktemp("keys"))


@pytest.fixture(scope="module")
def app(keys: tokens.DevKeys) -> FastAPI:
    router = APIRouter(tags=["things"])

    @endpoint(router, READ, errors=(404,))
    async def read_thing(
        thing_id: str, principal: Allowed, op: CurrentOperation, depth: Annotated[int, Query()] = 1
    ) -> Thing:
        if thing_id == "none":
            raise NotFound("No such thing.")
        assert op is READ
        return Thing(thing_id=thing_id, by=principal.subject)

    @endpoint(router, WHO)
    async def who(principal: Allowed) -> dict[str, str]:
        return {"kind": principal.kind}

    @endpoint(router, OPEN)
    async def open_to_all() -> dict[str, str]:
        return {"ok": "yes"}

    app = FastAPI()
    install_error_handlers(app)
    app.state.token_verifier = TokenVerifier(
        issuer=tokens.ISSUER, audience=tokens.AUDIENCE, public_key_file=Path(keys.public_pem)
    )
    app.include_router(router)
    return app


async def call(app: FastAPI, url: str, headers: dict[str, str] | None = None) -> httpx.Response:
    async with httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t") as c:
        return await c.get(url, headers=headers)


async def test_endpoint_authorizes_the_operation_it_names(
    app: FastAPI, keys: tokens.DevKeys
) -> None:
    nurse = {"authorization": f"Bearer {tokens.staff_token(keys, Role.NURSE)}"}
    clerk = {"authorization": f"Bearer {tokens.staff_token(keys, Role.BOOKING_ONLY)}"}
    citizen = {
        "authorization": f"Bearer {tokens.mint(keys, tokens.citizen_claims('191212121212'))}"
    }
    assert (await call(app, "/things/a")).status_code == 401
    r = await call(app, "/things/a", clerk)
    assert (r.status_code, r.json()["code"]) == (403, "not_allowed")
    assert (await call(app, "/things/a", citizen)).status_code == 403
    r = await call(app, "/things/a", nurse)
    assert r.status_code == 200 and r.json()["thing_id"] == "a"
    assert (await call(app, "/things/none", nurse)).json()["code"] == "not_found"
    assert (await call(app, "/who", citizen)).json() == {"kind": "citizen"}
    assert (await call(app, "/open")).json() == {"ok": "yes"}


async def test_wrong_role_is_refused_before_input_is_validated(
    app: FastAPI, keys: tokens.DevKeys
) -> None:
    clerk = {"authorization": f"Bearer {tokens.staff_token(keys, Role.BOOKING_ONLY)}"}
    assert (await call(app, "/things/a?depth=x", clerk)).status_code == 403


def test_openapi_names_each_operation_once_with_its_real_errors(app: FastAPI) -> None:
    document = app.openapi()
    read = document["paths"]["/things/{thing_id}"]["get"]
    assert read["summary"] == "Read a thing"
    assert read["operationId"] == "kit.read_thing"
    assert read["tags"] == ["things"]
    assert set(read["responses"]) == {"200", "400", "401", "403", "404", "422", "503", "default"}
    who = document["paths"]["/who"]["get"]
    assert set(who["responses"]) == {"200", "400", "401", "403", "503", "default"}
    anyone = document["paths"]["/open"]["get"]
    assert set(anyone["responses"]) == {"200", "503", "default"}
    for status in ("404", "422", "default"):
        schema = read["responses"][status]["content"]["application/json"]["schema"]
        assert schema == {"$ref": "#/components/schemas/ErrorBody"}
    schemas = document["components"]["schemas"]
    assert set(schemas["ErrorBody"]["properties"]) == {"status", "code", "message", "details"}
    assert "HTTPValidationError" not in schemas


def test_routes_not_made_by_endpoint_document_the_error_body_too() -> None:
    app = FastAPI()
    install_error_handlers(app)

    @app.get("/plain")
    async def plain(n: int) -> dict[str, int]:
        return {"n": n}

    document = app.openapi()
    schema = document["paths"]["/plain"]["get"]["responses"]["422"]["content"]
    assert schema["application/json"]["schema"] == {"$ref": "#/components/schemas/ErrorBody"}
    assert "HTTPValidationError" not in document["components"]["schemas"]
    assert "ErrorDetail" in document["components"]["schemas"]


def test_input_is_what_is_not_a_dependency() -> None:
    async def no_input(principal: Allowed, op: CurrentOperation) -> None: ...

    async def with_input(thing_id: str, principal: Allowed) -> None: ...

    assert not takes_input(no_input)
    assert takes_input(with_input)


def test_errors_module_is_free_of_the_web_framework_and_the_database() -> None:
    imported = _imports(KIT / "errors.py")
    assert not {"fastapi", "starlette", "sqlalchemy"} & {name.split(".")[0] for name in imported}


def test_kit_modules_import_without_cycles() -> None:
    """No kit module imports (even for type checking) one that imports it back."""
    graph = {
        path.stem: {
            name.removeprefix("vaccinera_kit.")
            for name in _imports(path)
            if name.startswith("vaccinera_kit.")
        }
        for path in KIT.glob("*.py")
    }

    def reaches(start: str, goal: str, seen: set[str]) -> bool:
        for nxt in graph.get(start, ()):
            if nxt == goal or (nxt not in seen and reaches(nxt, goal, seen | {nxt})):
                return True
        return False

    cycles = sorted(m for m in graph if reaches(m, m, {m}))
    assert cycles == []


@pytest.mark.parametrize("module", sorted(p.stem for p in KIT.glob("*.py")))
def test_each_kit_module_imports_alone(module: str) -> None:
    subprocess.run([sys.executable, "-c", f"import vaccinera_kit.{module}"], check=True, timeout=60)


def _imports(path: Path) -> set[str]:
    """Modules ``path`` imports at module level (``TYPE_CHECKING`` blocks included)."""
    names: set[str] = set()

    def visit(statements: list[ast.stmt]) -> None:
        for node in statements:
            if isinstance(node, ast.Import):
                names.update(alias.name for alias in node.names)
            elif isinstance(node, ast.ImportFrom) and node.module:
                if node.module == "vaccinera_kit":
                    names.update(f"vaccinera_kit.{alias.name}" for alias in node.names)
                else:
                    names.add(node.module)
            elif isinstance(node, ast.If | ast.Try):
                visit(node.body)
                visit(node.orelse)

    visit(ast.parse(path.read_text()).body)
    return names
