"""The OpenAPI schema matches the routes: every route listed, every answer's model declared."""

from __future__ import annotations

from typing import Any

from fastapi.routing import APIRoute

from service.helpers import TestClient


def _schema_and_routes(client: TestClient) -> tuple[dict[str, Any], list[APIRoute]]:
    schema = client.get("/openapi.json").json()
    routes = [r for r in client.app.routes if isinstance(r, APIRoute) and r.include_in_schema]  # type: ignore[attr-defined]
    return schema, routes


def test_every_route_is_in_the_schema_with_its_response_model(client: TestClient) -> None:
    schema, routes = _schema_and_routes(client)
    assert len(routes) >= 12
    listed = {(path, method.upper()) for path, ops in schema["paths"].items() for method in ops}
    for route in routes:
        for method in route.methods:
            assert (route.path, method) in listed, f"{method} {route.path} is missing from the schema"
            op = schema["paths"][route.path][method.lower()]
            assert route.response_model is not None, f"{method} {route.path} declares no response model"
            ok = op["responses"][str(route.status_code or 200)]
            ref = ok["content"]["application/json"]["schema"]["$ref"]
            assert ref == f"#/components/schemas/{route.response_model.__name__}"
            assert op.get("summary") and op.get("description"), f"{method} {route.path} is undocumented"
    assert len(listed) == sum(len(r.methods) for r in routes)  # and nothing else is listed


def test_error_answers_are_declared(client: TestClient) -> None:
    schema, routes = _schema_and_routes(client)
    for route in routes:
        for method in route.methods:
            responses = schema["paths"][route.path][method.lower()]["responses"]
            if route.dependant.path_params:  # every id in a path can be unknown
                assert responses["404"]["content"]["application/json"]["schema"]["$ref"].endswith("/ErrorMessage")
            if route.dependant.query_params or route.dependant.body_params or route.dependant.path_params:
                assert "422" in responses


def test_schema_names_what_clients_send_and_get(client: TestClient) -> None:
    schema = client.get("/openapi.json").json()
    rec = schema["paths"]["/api/users/{user_id}/recommendations"]["get"]
    params = {p["name"]: p for p in rec["parameters"]}
    assert params["n"]["schema"]["maximum"] == 100 and params["n"]["schema"]["minimum"] == 1
    assert params["lambda"]["schema"]["maximum"] == 1
    body = schema["paths"]["/api/new-users/{user_id}/ratings"]["post"]["requestBody"]["content"]["application/json"]
    refs = {option["$ref"].rsplit("/", 1)[1] for option in body["schema"]["oneOf"]}
    assert refs == {"RatingsIn", "RatingIn"}
    assert "lambda" in schema["components"]["schemas"]["Recommendations"]["properties"]
