"""Embedding maps: projections, the layout, static pictures and the interactive page."""

from __future__ import annotations

import html
import re

import numpy as np
import pytest

from embrec.errors import ConfigError, DataError
from embrec.models import create
from embrec.viz.best_rated import best_rated
from embrec.viz.maps import (
    NO_GENRE,
    embedding_map,
    main_genres,
    map_figure,
    map_html_figure,
    pca_layout,
    project,
    save_map,
)
from viz.helpers import EVIL_TITLE, assert_picture, assert_svg, browser_or_skip, load_catalogue, open_page, train_run


@pytest.fixture(scope="module")
def trained(tmp_path_factory):
    folder = tmp_path_factory.mktemp("maps")
    run, model, split = train_run(folder)
    data = load_catalogue(folder / "data" / "my_ratings.csv", folder / "data" / "my_films.csv")
    return model, data, split


def test_main_genre_is_the_rarest_and_skips_formats():
    genres = ["Action|Sci-Fi", "Action|Drama", "Action", "IMAX", "", None, "Drama|IMAX|Film-Noir"]
    assert main_genres(genres) == ["Sci-Fi", "Drama", "Action", NO_GENRE, NO_GENRE, NO_GENRE, "Film-Noir"]
    assert main_genres(genres, rule="first")[:3] == ["Action", "Action", "Action"]
    with pytest.raises(ConfigError, match="rarest"):
        main_genres(genres, rule="middle")  # type: ignore[arg-type]


@pytest.mark.parametrize("method", ["pca", "tsne"])
def test_project_gives_finite_2d_coordinates(method):
    rng = np.random.default_rng(0)
    x = np.vstack([rng.normal(0, 1, (20, 6)) + 5, rng.normal(0, 1, (20, 6)) - 5])
    coords, info = project(x, method, seed=0)
    assert coords.shape == (40, 2) and np.isfinite(coords).all()
    if method == "pca":
        assert 0.5 < info["explained_variance"][0] <= 1.0
    # two well separated groups stay separated along some axis
    centre_gap = np.abs(coords[:20].mean(0) - coords[20:].mean(0)).max()
    assert centre_gap > coords.std(0).min()


def test_pca_fit_mask_places_the_other_rows_on_the_fitted_axes():
    rng = np.random.default_rng(2)
    x = rng.normal(size=(30, 5))
    fit = np.arange(30) < 20
    alone, alone_info = project(x[fit], "pca")
    coords, info = project(x, "pca", fit=fit)
    np.testing.assert_allclose(coords[fit], alone, atol=1e-10)
    assert info == alone_info
    other = x.copy()
    other[~fit] = rng.normal(size=(10, 5))
    np.testing.assert_allclose(project(other, "pca", fit=fit)[0][fit], alone, atol=1e-10)
    # the sign of each axis is fixed, so a copy with its rows shuffled draws the same map
    order = rng.permutation(30)
    np.testing.assert_allclose(project(x[order], "pca")[0], project(x, "pca")[0][order], atol=1e-10)
    with pytest.raises(ConfigError, match="PCA's axes only"):
        project(x, "tsne", fit=fit)
    with pytest.raises(DataError, match="boolean mask"):
        project(x, "pca", fit=fit[:10])


def test_pca_map_axes_come_from_the_films_with_enough_ratings(trained):
    model, data, _ = trained
    counts = np.asarray(model.seen_.sum(axis=0)).ravel()
    m = int(np.median(counts)) + 1
    assert 3 <= (counts >= m).sum() < len(counts)
    layout = pca_layout(model, min_ratings=m)
    assert layout.coords.shape == (len(counts), 2) and layout.min_ratings == m
    assert 0 < layout.explained_variance[1] <= layout.explained_variance[0] <= 1
    rare = model.item_ids_[int(np.argmin(counts))]
    emap = embedding_map(model, data=data, min_ratings=m, label=[rare])
    assert rare in set(emap.points["item"])
    # every film drawn sits where the layout puts it: a rare film labelled is placed, not fitted
    pos = model.item_index(emap.points["item"].to_numpy())
    np.testing.assert_array_equal(emap.points[["x", "y"]].to_numpy(), layout.coords[pos])
    assert emap.info["explained_variance"] == list(layout.explained_variance)
    fewer = pca_layout(model, min_ratings=10**6)
    assert fewer.min_ratings == 0 and np.isfinite(fewer.coords).all()
    with pytest.raises(ConfigError, match="min_ratings"):
        pca_layout(model, min_ratings=-1)


def test_project_same_seed_same_map():
    x = np.random.default_rng(1).normal(size=(30, 5))
    assert np.array_equal(project(x, "tsne", seed=3)[0], project(x, "tsne", seed=3)[0])


def test_project_refuses_bad_input():
    with pytest.raises(ConfigError, match="pca, tsne, umap"):
        project(np.ones((5, 3)), "mds")  # type: ignore[arg-type]
    with pytest.raises(DataError, match="at least 2"):
        project(np.ones((1, 3)))
    with pytest.raises(DataError, match="NaN"):
        project(np.array([[1.0, np.nan], [0.0, 1.0]]))
    with pytest.raises(DataError, match="at least 4"):
        project(np.eye(3), "tsne")


def test_map_labels_the_best_rated_films(trained):
    model, data, _ = trained
    emap = embedding_map(model, data=data, min_ratings=1, n_best=8)
    best = best_rated(data, n=8)
    labelled = emap.points[emap.points["labelled"]].sort_values("order")
    assert list(labelled["item"]) == list(best.item_ids)
    assert emap.has_ratings and emap.points["mean_rating"].notna().all()
    assert set(emap.points["main_genre"]) == {"Action", "Drama"}  # the rarer genre of each pair
    assert "best-rated" in emap.title and "m = " in emap.subtitle


def test_map_without_data_labels_the_most_rated(trained):
    model, _, _ = trained
    emap = embedding_map(model, min_ratings=1, n_best=5)
    assert not emap.has_ratings and emap.points["mean_rating"].isna().all()
    counts = np.asarray(model.seen_.sum(axis=0)).ravel()
    top = set(np.asarray(model.item_ids_)[np.argsort(-counts, kind="stable")[:5]])
    assert set(emap.points.loc[emap.points["labelled"], "item"]) == top


def test_map_with_a_user_marks_their_films_and_recommendations(trained):
    model, data, _ = trained
    user = model.user_ids_[0]
    emap = embedding_map(model, data=data, user=user, n_recs=5, min_ratings=1)
    recs = model.recommend(user, n=5)
    roles = emap.points.set_index("item")["role"]
    assert set(roles[roles == "recommended"].index) == set(recs["item"])
    assert (roles == "rated").sum() + 0 >= 1
    assert emap.points["labelled"].sum() >= 5


def test_min_ratings_leaves_rarely_rated_films_off(trained):
    model, data, _ = trained
    all_films = embedding_map(model, data=data, min_ratings=1, label=[])
    fewer = embedding_map(model, data=data, min_ratings=15, label=[])
    assert len(fewer.points) < len(all_films.points)
    with pytest.raises(DataError, match="lower min_ratings"):
        embedding_map(model, data=data, min_ratings=10_000, label=[])


def test_map_refuses_models_without_vectors(trained):
    _, _, split = trained
    pop = create("popularity").fit(split.train)
    with pytest.raises(ConfigError, match="no item embeddings"):
        embedding_map(pop)
    with pytest.raises(ConfigError, match="no item embeddings"):
        pca_layout(pop)


def test_static_map_png_and_svg(trained, tmp_path):
    model, data, _ = trained
    emap = embedding_map(model, data=data, min_ratings=1, n_best=10)
    png = save_map(emap, tmp_path / "map.png")
    assert_picture(png, min_size=800)
    svg = save_map(emap, tmp_path / "map.svg")
    assert_svg(svg)
    # the escaped title is shown as text: matplotlib writes it out literally
    assert "alert" in svg.read_text()
    with pytest.raises(ConfigError, match=".png, .svg or .html"):
        save_map(emap, tmp_path / "map.jpg")
    assert sorted(p.name for p in tmp_path.iterdir()) == ["map.png", "map.svg"]  # no temporary files left


def test_map_figure_labels_do_not_overlap(trained):
    model, data, _ = trained
    fig = map_figure(embedding_map(model, data=data, min_ratings=1, n_best=20))
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    ax = fig.axes[0]
    labels = [t for t in ax.texts if t.get_transform() == ax.transData]
    assert len(labels) == 20
    boxes = [t.get_window_extent(renderer) for t in labels]
    area = ax.get_window_extent(renderer)
    for i, a in enumerate(boxes):
        assert area.x0 - 1 <= a.x0 and a.x1 <= area.x1 + 1
        for b in boxes[i + 1 :]:
            assert not a.overlaps(b)


def test_interactive_map_is_self_contained_and_escapes_titles(trained, tmp_path):
    model, data, _ = trained
    emap = embedding_map(model, data=data, min_ratings=1, n_best=10)
    fig = map_html_figure(emap)
    hover = [row[0] for trace in fig.data if trace.customdata is not None for row in trace.customdata]
    assert html.escape(EVIL_TITLE) in hover and EVIL_TITLE not in hover
    path = save_map(emap, tmp_path / "map.html")
    text = path.read_text()
    assert not re.search(r"<script[^>]+src=", text)  # plotly.js inlined, no CDN
    assert "<script>alert" not in text


def test_interactive_map_opens_cleanly_in_a_browser(trained, tmp_path):
    browser_or_skip()
    model, data, _ = trained
    path = save_map(embedding_map(model, data=data, min_ratings=1, n_best=10), tmp_path / "map.html")
    found = open_page(path, tmp_path / "map_screenshot.png", full_page=False)
    assert found["console_errors"] == [] and found["page_errors"] == []
    assert found["external_requests"] == [] and found["dialogs"] == []
    assert_picture(tmp_path / "map_screenshot.png", min_size=600)


@pytest.mark.slow
def test_umap_map(trained, tmp_path):
    pytest.importorskip("umap")
    model, data, _ = trained
    emap = embedding_map(model, data=data, method="umap", min_ratings=1, n_best=5)
    assert np.isfinite(emap.points[["x", "y"]].to_numpy()).all()
    assert emap.axis_labels() == ("UMAP 1", "UMAP 2")
    assert_picture(save_map(emap, tmp_path / "umap.png"))


def test_every_map_name_is_importable_from_maps_and_has_one_home():
    from embrec.viz import map_data, map_figures, maps, projection

    assert maps.pca_layout is projection.pca_layout and maps.project is projection.project
    assert maps.PcaLayout is projection.PcaLayout and maps.EmbeddingMap is map_data.EmbeddingMap
    assert maps.main_genres is map_data.main_genres and maps.NO_GENRE == map_data.NO_GENRE
    assert (maps.map_figure, maps.map_html_figure, maps.save_map) == (
        map_figures.map_figure,
        map_figures.map_html_figure,
        map_figures.save_map,
    )
    assert set(maps.__all__) <= set(dir(maps))
