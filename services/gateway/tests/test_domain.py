"""The gateway's merged OpenAPI keeps every service's paths and schemas apart."""

from vaccinera_gateway.domain import forwardable, merge_openapi


def _doc(schema: str) -> dict[str, object]:
    return {
        "info": {"description": "svc"},
        "paths": {
            "/patients": {
                "post": {
                    "operationId": "register",
                    "tags": ["patients"],
                    "requestBody": {"$ref": f"#/components/schemas/{schema}"},
                }
            },
            "/metrics": {"get": {}},
        },
        "components": {
            "schemas": {schema: {"type": "object"}},
            "securitySchemes": {"HTTPBearer": {"type": "http", "scheme": "bearer"}},
        },
    }


def test_services_are_prefixed_and_their_schemas_do_not_clash() -> None:
    merged = merge_openapi(
        "V", "1", {"identity": _doc("Patient"), "booking": _doc("Patient"), "journal": None}
    )
    assert set(merged["paths"]) == {"/api/identity/patients", "/api/booking/patients"}
    assert {"identity__Patient", "booking__Patient"} <= set(merged["components"]["schemas"])
    op = merged["paths"]["/api/booking/patients"]["post"]
    assert op["requestBody"]["$ref"] == "#/components/schemas/booking__Patient"
    assert op["operationId"] == "booking__register"
    assert "journal" in merged["info"]["description"]  # says who was unreachable


def test_hop_by_hop_headers_do_not_cross() -> None:
    out = forwardable({"Host": "x", "Connection": "close", "Authorization": "Bearer t"})
    assert out == {"Authorization": "Bearer t"}


def test_upstream_path_keeps_percent_encoding_and_query() -> None:
    from vaccinera_gateway.domain import upstream_path

    scope = {"raw_path": b"/api/identity/patients/%00x", "query_string": b"a=1&b=%20"}
    assert upstream_path(scope, "identity", "patients/\x00x") == "/patients/%00x?a=1&b=%20"
