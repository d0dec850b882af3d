"""The JSON API through FastAPI's TestClient: answers, ids, bad input, persistence, safety."""

from __future__ import annotations

import threading
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from embrec.models import load
from service.helpers import IMG_TITLE, N_ITEMS, SCRIPT_TITLE, TestClient


def new_user(client: TestClient) -> str:
    response = client.post("/api/new-users")
    assert response.status_code == 201, response.text
    return str(response.json()["user_id"])


# --------------------------------------------------------------------------- service and films
def test_health(client: TestClient) -> None:
    body = client.get("/api/health").json()
    assert body == {
        "status": "ok",
        "model": "embedding",
        "objective": "ranking",
        "n_users": 60,
        "n_items": N_ITEMS,
        "rating_scale": [0.5, 5.0],
        "predicts_ratings": False,
        "can_fold_in": True,
        "has_map": True,
        "max_n": 100,
        "storage": "sqlite",
        # the fixture run records no data: its items are items, the most rated one the example search
        "data": {
            "name": None,
            "movielens": False,
            "item": "item",
            "items": "items",
            "search_example": "space film 8",
        },
    }


def test_search_is_a_case_insensitive_substring_most_rated_first(client: TestClient) -> None:
    body = client.get("/api/films", params={"q": "SPACE film", "limit": 3}).json()
    assert body["total"] == 10 and len(body["results"]) == 3  # 12 sci-fi films, two titled in HTML
    assert all("space film" in f["title"].lower() for f in body["results"])
    counts = [f["n_ratings"] for f in body["results"]]
    assert counts == sorted(counts, reverse=True)
    popular = client.get("/api/films").json()
    assert popular["total"] == N_ITEMS and len(popular["results"]) == 20
    assert client.get("/api/films", params={"q": "no such film"}).json()["results"] == []
    assert client.get("/api/films", params={"limit": 101}).status_code == 422


def test_film_details_and_unknown_ids(client: TestClient) -> None:
    film = client.get("/api/films/24").json()
    assert film == {
        "item": 24,
        "title": "Quiet Drama 14 (1994)",
        "year": 1994,
        "genres": ["Drama", "Romance"],
        "n_ratings": film["n_ratings"],
        "mean_rating": None,
    }
    assert film["n_ratings"] > 0
    for path in ("/api/films/999", "/api/films/999/similar", "/api/users/1/recommendations"):
        response = client.get(path)
        assert response.status_code == 404
        assert ("'999'" if "films" in path else "'1'") in response.json()["detail"]


def test_similar_films(client: TestClient, runs: dict[str, Path]) -> None:
    body = client.get("/api/films/12/similar", params={"n": 5}).json()
    expected = load(str(runs["ranking"])).similar_items(12, n=5)
    assert [f["item"] for f in body["results"]] == expected["item"].tolist()
    assert 12 not in [f["item"] for f in body["results"]]
    sims = [f["similarity"] for f in body["results"]]
    assert sims == sorted(sims, reverse=True) and np.allclose(sims, expected["similarity"], atol=1e-5)


def test_film_map_has_every_film_once(client: TestClient) -> None:
    body = client.get("/api/map").json()
    assert sorted(p["item"] for p in body["points"]) == list(range(10, 10 + N_ITEMS))
    assert all(np.isfinite([p["x"], p["y"]]).all() for p in body["points"])
    assert 0 < body["explained_variance"][1] <= body["explained_variance"][0] <= 1
    # the two tastes end up on two sides of the first component
    xs = {p["item"]: p["x"] for p in body["points"]}
    assert np.sign(np.mean([xs[i] for i in range(10, 22)])) != np.sign(np.mean([xs[i] for i in range(22, 34)]))


def test_film_map_is_the_pca_of_embrec_plot_map(client: TestClient, runs: dict[str, Path]) -> None:
    from embrec.viz.maps import embedding_map

    body = client.get("/api/map").json()
    model = load(str(runs["ranking"]))
    # what `embrec plot map --method pca` draws, with the films that shape the page's axes
    drawn = embedding_map(model, method="pca", min_ratings=body["min_ratings"], label=[])
    assert body["min_ratings"] == 10 and len(drawn.points) >= 3
    served = {p["item"]: (p["x"], p["y"]) for p in body["points"]}
    xs, ys = np.round(drawn.points["x"].to_numpy(), 4).tolist(), np.round(drawn.points["y"].to_numpy(), 4).tolist()
    assert [served[item] for item in drawn.points["item"]] == list(zip(xs, ys, strict=True))
    assert np.allclose(body["explained_variance"], drawn.info["explained_variance"])


# --------------------------------------------------------------------------- users of the training data
def test_recommendations_leave_out_seen_films(client: TestClient, runs: dict[str, Path]) -> None:
    body = client.get("/api/users/500/recommendations", params={"n": 5}).json()
    model = load(str(runs["ranking"]))
    assert body["user"] == 500 and body["n"] == 5 and body["lambda"] == 0
    assert [r["item"] for r in body["recommendations"]] == model.recommend(500, 5)["item"].tolist()
    assert [r["rank"] for r in body["recommendations"]] == [1, 2, 3, 4, 5]
    seen = set(model.item_ids_[model.seen_[model.user_index(500)[0]].indices].tolist())
    assert seen.isdisjoint(r["item"] for r in body["recommendations"])


@pytest.mark.parametrize("objective", ["ranking", "rating"])
def test_scores_are_the_models(runs: dict[str, Path], client_for: Any, objective: str) -> None:
    served = client_for(runs[objective]).get("/api/users/501/recommendations", params={"n": 6}).json()
    expected = load(str(runs[objective])).recommend(501, 6)
    assert [r["item"] for r in served["recommendations"]] == expected["item"].tolist()
    assert np.allclose([r["score"] for r in served["recommendations"]], expected["score"], atol=1e-5)
    if objective == "rating":  # stars, not the logits ranked on
        assert all(0.5 <= r["score"] <= 5.0 for r in served["recommendations"])


def test_diversity_reranks_the_candidates(client: TestClient) -> None:
    plain = client.get("/api/users/500/recommendations", params={"n": 16}).json()["recommendations"]
    diverse = client.get("/api/users/500/recommendations", params={"n": 5, "lambda": 0.9}).json()
    items = [r["item"] for r in diverse["recommendations"]]
    assert diverse["lambda"] == 0.9 and len(set(items)) == 5
    assert items[0] == plain[0]["item"]  # MMR keeps the most relevant film first
    assert set(items) <= {r["item"] for r in plain}
    assert items != [r["item"] for r in plain[:5]]


@pytest.mark.parametrize(
    "params", [{"n": 0}, {"n": 101}, {"n": "ten"}, {"lambda": -0.1}, {"lambda": 1.5}, {"lambda": "nan"}]
)
def test_list_parameters_are_checked(client: TestClient, params: dict[str, Any]) -> None:
    assert client.get("/api/users/500/recommendations", params=params).status_code == 422


def test_predictions_need_a_rating_model(
    client: TestClient, runs: dict[str, Path], client_for: Any, tmp_path: Path
) -> None:
    response = client.get("/api/users/500/predictions/12")
    assert response.status_code == 409 and "does not predict ratings" in response.json()["detail"]
    rating = client_for(runs["rating"], f"sqlite:///{tmp_path / 'rating.sqlite'}")
    body = rating.get("/api/users/500/predictions/12").json()
    expected = load(str(runs["rating"])).predict([500], [12])[0]
    assert body["user"] == 500 and body["item"] == 12 and body["rating_scale"] == [0.5, 5.0]
    assert body["rating"] == pytest.approx(expected, abs=1e-5) and 0.5 <= body["rating"] <= 5.0
    assert rating.get("/api/users/500/predictions/999").status_code == 404


# --------------------------------------------------------------------------- new users
def test_new_user_rates_and_gets_fold_in_recommendations(client: TestClient, runs: dict[str, Path]) -> None:
    uid = new_user(client)
    assert client.get(f"/api/new-users/{uid}/recommendations").json()["recommendations"] == []
    one = client.post(f"/api/new-users/{uid}/ratings", json={"item": 10, "rating": 5}).json()
    assert [r["item"] for r in one["ratings"]] == [10] and len(one["recommendations"]) == 10
    many = client.post(
        f"/api/new-users/{uid}/ratings",
        params={"n": 6},
        json={"ratings": [{"item": 11, "rating": 4.5}, {"item": "14", "rating": 5}, {"item": 30, "rating": 1}]},
    )
    body = many.json()
    assert many.status_code == 200 and body["n"] == 6
    assert {r["item"]: r["rating"] for r in body["ratings"]} == {10: 5.0, 11: 4.5, 14: 5.0, 30: 1.0}
    # the fold-in uses every stored rating, as the library does
    expected = load(str(runs["ranking"])).recommend_new_user([10, 11, 14, 30], [5, 4.5, 5, 1], n=6)
    got = [r["item"] for r in body["recommendations"]]
    assert got == expected["item"].tolist()
    assert {10, 11, 14, 30}.isdisjoint(got)
    assert sum(i < 22 for i in got) >= 4  # a sci-fi fan gets mostly sci-fi
    again = client.get(f"/api/new-users/{uid}/recommendations", params={"n": 6}).json()
    assert [r["item"] for r in again["recommendations"]] == got


def test_rating_again_and_removing(client: TestClient, runs: dict[str, Path]) -> None:
    uid = new_user(client)
    client.post(
        f"/api/new-users/{uid}/ratings", json={"ratings": [{"item": 10, "rating": 5}, {"item": 12, "rating": 4}]}
    )
    body = client.post(f"/api/new-users/{uid}/ratings", json={"item": 10, "rating": 1}).json()
    assert {r["item"]: r["rating"] for r in body["ratings"]} == {10: 1.0, 12: 4.0}
    expected = load(str(runs["ranking"])).recommend_new_user([10, 12], [1, 4], n=10)
    assert [r["item"] for r in body["recommendations"]] == expected["item"].tolist()
    after = client.delete(f"/api/new-users/{uid}/ratings/10").json()
    assert [r["item"] for r in after["ratings"]] == [12]
    missing = client.delete(f"/api/new-users/{uid}/ratings/10")
    assert missing.status_code == 404 and "'10'" in missing.json()["detail"]


def test_bad_ratings_store_nothing(client: TestClient) -> None:
    uid = new_user(client)
    client.post(f"/api/new-users/{uid}/ratings", json={"item": 10, "rating": 4})
    off_scale = client.post(
        f"/api/new-users/{uid}/ratings", json={"ratings": [{"item": 11, "rating": 4}, {"item": 12, "rating": 7}]}
    )
    assert off_scale.status_code == 422
    error = off_scale.json()["detail"][0]
    assert error["loc"] == ["body", "ratings", 1, "rating"] and "outside the model's scale 0.5-5" in error["msg"]
    unknown = client.post(
        f"/api/new-users/{uid}/ratings", json={"ratings": [{"item": 11, "rating": 4}, {"item": 4242, "rating": 3}]}
    )
    assert unknown.status_code == 404 and "4242" in unknown.json()["detail"]
    twice = client.post(
        f"/api/new-users/{uid}/ratings", json={"ratings": [{"item": 11, "rating": 4}, {"item": "11", "rating": 3}]}
    )
    assert twice.status_code == 422 and "rated twice" in twice.json()["detail"][0]["msg"]
    assert [r["item"] for r in client.get(f"/api/new-users/{uid}").json()["ratings"]] == [10]


@pytest.mark.parametrize(
    "body",
    [
        {"item": 10},
        {"rating": 4},
        {"item": 10, "rating": 4, "extra": 1},
        {"item": True, "rating": 4},
        {"item": 10.5, "rating": 4},
        {"item": 10, "rating": "four"},
        {"item": 10, "rating": None},
        {"ratings": []},
        {"ratings": [{"item": 10}]},
        [{"item": 10, "rating": 4}],
        "10",
    ],
)
def test_malformed_bodies_are_422(client: TestClient, body: Any) -> None:
    uid = new_user(client)
    response = client.post(f"/api/new-users/{uid}/ratings", json=body)
    assert response.status_code == 422, response.text
    assert client.get(f"/api/new-users/{uid}").json()["ratings"] == []


@pytest.mark.parametrize(
    "raw", [b'{"item": 10, "rating": NaN}', b'{"item": 10, "rating": Infinity}', b"{item: 10", b""]
)
def test_non_json_and_non_finite_are_422(client: TestClient, raw: bytes) -> None:
    uid = new_user(client)
    response = client.post(f"/api/new-users/{uid}/ratings", content=raw, headers={"content-type": "application/json"})
    assert response.status_code == 422


def test_unknown_new_user(client: TestClient) -> None:
    for method, path in [
        ("get", "/api/new-users/abc"),
        ("get", "/api/new-users/abc/recommendations"),
        ("post", "/api/new-users/abc/ratings"),
    ]:
        kwargs = {"json": {"item": 10, "rating": 4}} if method == "post" else {}
        response = getattr(client, method)(path, **kwargs)
        assert response.status_code == 404 and "'abc'" in response.json()["detail"]


def test_new_user_predictions_from_a_rating_model(runs: dict[str, Path], client_for: Any, client: TestClient) -> None:
    rating = client_for(runs["rating"])
    uid = new_user(rating)
    assert rating.get(f"/api/new-users/{uid}/predictions/12").status_code == 409  # nothing rated yet
    rating.post(
        f"/api/new-users/{uid}/ratings", json={"ratings": [{"item": 10, "rating": 5}, {"item": 30, "rating": 1}]}
    )
    body = rating.get(f"/api/new-users/{uid}/predictions/12").json()
    model = load(str(runs["rating"]))
    scores = model.recommend_new_user([10, 30], [5, 1], n=N_ITEMS)
    assert body["rating"] == pytest.approx(float(scores.set_index("item").loc[12, "score"]), abs=1e-4)
    ranking_uid = new_user(client)
    assert client.get(f"/api/new-users/{ranking_uid}/predictions/12").status_code == 409


def test_restarting_the_service_loses_nothing(runs: dict[str, Path], db_url: str) -> None:
    from embrec.service import create_app

    with TestClient(create_app(runs["ranking"], db_url=db_url)) as first:
        uid = new_user(first)
        before = first.post(
            f"/api/new-users/{uid}/ratings", json={"ratings": [{"item": 10, "rating": 5}, {"item": 13, "rating": 4}]}
        ).json()
    with TestClient(create_app(runs["ranking"], db_url=db_url)) as second:
        after = second.get(f"/api/new-users/{uid}/recommendations").json()
    assert after["ratings"] == before["ratings"] and after["recommendations"] == before["recommendations"]


def test_concurrent_ratings_of_one_user(client: TestClient) -> None:
    uid = new_user(client)
    statuses: list[int] = []
    lock = threading.Lock()

    def rate(k: int) -> None:
        items = [{"item": 10 + (3 * k + j) % N_ITEMS, "rating": 4} for j in range(3)]
        response = client.post(f"/api/new-users/{uid}/ratings", json={"ratings": items})
        with lock:
            statuses.append(response.status_code)

    threads = [threading.Thread(target=rate, args=(k,)) for k in range(8)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert statuses == [200] * 8
    assert len(client.get(f"/api/new-users/{uid}").json()["ratings"]) == N_ITEMS


def test_models_that_cannot_fold_in_or_map(runs: dict[str, Path], client_for: Any) -> None:
    popular = client_for(runs["popularity"])
    health = popular.get("/api/health").json()
    assert (health["can_fold_in"], health["has_map"], health["model"]) == (False, False, "popularity")
    for response in (popular.post("/api/new-users"), popular.get("/api/map"), popular.get("/api/films/10/similar")):
        assert response.status_code == 409 and "popularity" in response.json()["detail"]
    # without item vectors, diversity falls back to shared genres
    diverse = popular.get("/api/users/500/recommendations", params={"n": 4, "lambda": 0.8}).json()["recommendations"]
    assert {"Sci-Fi" in r["genres"] for r in diverse} == {True, False}


# --------------------------------------------------------------------------- the page and safety
def test_titles_come_back_as_data(client: TestClient) -> None:
    titles = {f["title"] for f in client.get("/api/films", params={"q": "<"}).json()["results"]}
    assert titles == {SCRIPT_TITLE, IMG_TITLE}


def test_page_and_static_files(client: TestClient) -> None:
    page = client.get("/")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in page.headers["content-security-policy"]
    assert page.headers["x-content-type-options"] == "nosniff"
    assert '<script src="static/app.js" defer></script>' in page.text and "<script>" not in page.text
    js = client.get("/static/app.js")
    assert js.status_code == 200 and "javascript" in js.headers["content-type"]
    assert client.get("/static/app.css").status_code == 200
    assert client.get("/static/../storage.py").status_code == 404
    assert client.get("/static/%2e%2e/storage.py").status_code == 404
    # the API docs widen the policy on their own pages only (see test_docs.py)
    assert "'unsafe-inline'" not in page.headers["content-security-policy"]
    assert client.get("/docs").headers["content-security-policy"] != page.headers["content-security-policy"]


def test_the_page_never_writes_data_as_html() -> None:
    from importlib import resources

    js = (resources.files("embrec.service") / "static" / "app.js").read_text()
    for sink in ("innerHTML", "outerHTML", "insertAdjacentHTML", "document.write", "eval(", "new Function"):
        assert sink not in js
    assert "textContent" in js


def test_binds_to_localhost_by_default() -> None:
    import inspect

    from embrec.cli.serve_cmd import serve
    from embrec.service import run_server

    assert inspect.signature(run_server).parameters["host"].default == "127.0.0.1"
    assert inspect.signature(serve).parameters["host"].default == "127.0.0.1"
