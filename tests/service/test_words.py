"""The service speaks of the data's own items: films for MovieLens, items (and their own titles) otherwise."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import pytest

from embrec.data.options import DataOptions
from embrec.service.words import describe_data, is_movielens


def _movielens_folder(root: Path) -> Path:
    folder = root / "ml-latest-small"
    folder.mkdir()
    (folder / "ratings.csv").write_text("userId,movieId,rating,timestamp\n1,1,4.0,964982703\n")
    (folder / "movies.csv").write_text("movieId,title,genres\n1,Toy Story (1995),Animation\n")
    return folder


def test_movielens_is_told_from_the_recorded_options(tmp_path: Path) -> None:
    folder = _movielens_folder(tmp_path)
    own = tmp_path / "purchases.csv"
    own.write_text("user,item\n1,a\n")
    assert is_movielens(DataOptions(dataset="ml-100k"))
    assert is_movielens(DataOptions(data=str(folder)))
    assert is_movielens(DataOptions(data=str(folder / "ratings.csv")))
    # a MovieLens file read with your own columns is your own data, as load_data reads it
    assert not is_movielens(DataOptions(data=str(folder / "ratings.csv"), user_col="userId", item_col="movieId"))
    assert not is_movielens(DataOptions(data=str(own)))
    assert not is_movielens(DataOptions(data=str(tmp_path)))  # a folder that is not MovieLens
    assert not is_movielens(None)
    # a run moved away from its data: a built-in dataset's folder name still tells
    assert is_movielens(DataOptions(data="/gone/ml-1m/ratings.dat"))
    assert is_movielens(DataOptions(data="/gone/ml-100k"))
    assert not is_movielens(DataOptions(data="/gone/shop/purchases.csv"))


def test_the_words_and_the_example_search() -> None:
    titles = ["Blue Kettle", "Star Wars (1977)", "Green Teapot, Large"]
    films = describe_data(DataOptions(dataset="ml-latest-small"), titles, most_rated=2)
    assert films.model_dump() == {
        "name": "ml-latest-small",
        "movielens": True,
        "item": "film",
        "items": "films",
        "search_example": "star wars",
    }
    items = describe_data(DataOptions(data="/data/shop/purchases.csv"), titles, most_rated=2)
    assert items.model_dump() == {
        "name": "purchases.csv",
        "movielens": False,
        "item": "item",
        "items": "items",
        "search_example": "green teapot, large",  # the catalogue's most rated title, never a film
    }
    # a MovieLens subset without the Star Wars films suggests one of its own
    assert describe_data(DataOptions(dataset="ml-100k"), ["Heat (1995)"], 0).search_example == "heat"
    long = describe_data(None, ["The Extremely Long Name Of A Garden Hose With Brass Fittings"], 0)
    assert long.search_example == "the extremely long name of a garden hose"
    assert long.name is None and long.items == "items"


def _health_data(client: Any) -> dict[str, Any]:
    response = client.get("/api/health")
    assert response.status_code == 200, response.text
    return dict(response.json()["data"])


def test_health_says_films_for_a_movielens_run(movielens_run: Path, client_for: Any) -> None:
    data = _health_data(client_for(movielens_run))
    assert data == {
        "name": "ml-100k",
        "movielens": True,
        "item": "film",
        "items": "films",
        "search_example": "star wars",
    }


def test_health_says_items_for_other_data(client: Any) -> None:
    data = _health_data(client)
    assert (data["movielens"], data["item"], data["items"]) == (False, "item", "items")
    # the example is a search the catalogue answers, led by the item it came from
    found = client.get("/api/films", params={"q": data["search_example"]}).json()["results"]
    most_rated = client.get("/api/films", params={"limit": 1}).json()["results"][0]
    assert found[0]["title"] == most_rated["title"]
    assert data["search_example"] == "space film 8" and "star wars" not in json.dumps(data)


def test_errors_use_the_data_s_word(runs: dict[str, Path], client_for: Any) -> None:
    popular = client_for(runs["popularity"])
    detail = popular.get("/api/films/10/similar").json()["detail"]
    assert "similar items" in detail and "film" not in detail


def test_a_broken_data_record_costs_only_the_words(
    movielens_run: Path, client_for: Any, tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    run = shutil.copytree(movielens_run, tmp_path / "run")
    info = json.loads((run / "embrec.json").read_text())
    info["extra"]["data"] = "ml-100k"  # not a set of options
    (run / "embrec.json").write_text(json.dumps(info))
    with caplog.at_level(logging.WARNING, logger="embrec.service.app"):
        data = _health_data(client_for(run))
    assert (data["movielens"], data["items"]) == (False, "items")
    assert any("cannot tell what data" in r.getMessage() for r in caplog.records)
