"""The service's modules: one job each, the published names still importable from embrec.service.app."""

from __future__ import annotations

from embrec.service import app, catalog, middleware, routes


def test_app_keeps_the_names_it_published() -> None:
    assert app.Catalog is catalog.Catalog
    assert app.ServiceConflict is catalog.ServiceConflict
    assert app.MAX_N == routes.MAX_N == 100
    assert set(app.__all__) == {"MAX_N", "Catalog", "ServiceConflict", "create_app", "run_server"}


def test_declared_error_answers_name_their_body() -> None:
    declared = middleware.answers(404, 409, 503)
    assert list(declared) == [404, 409, 503]
    assert all(answer["model"].__name__ == "ErrorMessage" and answer["description"] for answer in declared.values())
