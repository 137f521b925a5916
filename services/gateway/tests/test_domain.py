"""The gateway's merged OpenAPI keeps every service's paths and schemas apart."""

from vaccinera_gateway.domain import client_address, forwardable, merge_openapi


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


def test_the_callers_address_is_the_peer_unless_a_trusted_proxy_says_otherwise() -> None:
    def proxies(host: str) -> bool:
        return host.startswith("10.")

    assert client_address("198.51.100.7", "203.0.113.9", None) == "198.51.100.7"
    assert client_address("198.51.100.7", "203.0.113.9", proxies) == "198.51.100.7"
    assert client_address("10.0.0.1", "203.0.113.9", proxies) == "203.0.113.9"
    assert client_address("10.0.0.1", "203.0.113.9, 10.0.0.2", proxies) == "203.0.113.9"
    # What the client claimed before the first untrusted address is not believed.
    assert client_address("10.0.0.1", "6.6.6.6, 203.0.113.9, 10.0.0.2", proxies) == "203.0.113.9"
    # Only proxies in the chain: the farthest one is the caller as far as anyone knows.
    assert client_address("10.0.0.1", "10.0.0.3, 10.0.0.2", proxies) == "10.0.0.3"
    assert client_address("10.0.0.1", "", proxies) == "10.0.0.1"
    assert client_address("10.0.0.1", " , ", proxies) == "10.0.0.1"
    assert client_address(None, "203.0.113.9", proxies) is None
