"""Labels that do not overlap: the pure placement, short titles, and labels on real axes."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from embrec.viz.labels import Box, label_points, place_boxes, short_title
from embrec.viz.save import new_figure


def overlaps(boxes: list[Box]) -> list[tuple[int, int]]:
    return [(i, j) for (i, a), (j, b) in itertools.combinations(enumerate(boxes), 2) if a.overlap(b) > 0]


def test_box_geometry():
    a, b = Box(0, 0, 10, 5), Box(5, 2, 10, 5)
    assert a.overlap(b) == pytest.approx(5 * 3)
    assert Box(0, 0, 1, 1).overlap(Box(1, 0, 1, 1)) == 0
    assert a.inside(Box(-1, -1, 20, 20)) and not b.inside(Box(0, 0, 10, 10))
    assert a.distance_to(13, 9) == pytest.approx(5.0)
    assert a.distance_to(3, 3) == 0


def test_crowded_points_get_separate_labels_inside_the_bounds():
    rng = np.random.default_rng(1)
    anchors = rng.normal([400, 300], 25, size=(30, 2))  # thirty points in a small clump
    sizes = np.column_stack([rng.uniform(60, 160, 30), np.full(30, 14.0)])
    bounds = Box(0, 0, 800, 600)
    boxes = place_boxes(anchors, sizes, bounds)
    assert overlaps(boxes) == []
    assert all(b.inside(bounds) for b in boxes)
    for (x, y), box in zip(anchors, boxes):  # no label covers any labelled point
        for px, py in anchors:
            assert box.distance_to(px, py) > 0 or (px, py) == (x, y) and box.distance_to(x, y) > 0


def test_first_labels_sit_next_to_their_points():
    boxes = place_boxes([[100, 100], [400, 400]], [[50, 10], [50, 10]], Box(0, 0, 600, 600))
    for box, (x, y) in zip(boxes, [(100, 100), (400, 400)]):
        assert box.distance_to(x, y) < 10


def test_obstacles_are_avoided():
    obstacles = np.array([[110 + dx, 100] for dx in range(0, 80, 4)])  # a row of points to the right
    (box,) = place_boxes([[100, 100]], [[60, 10]], Box(0, 0, 400, 400), obstacles=obstacles)
    assert not any(box.distance_to(x, y) < 4 for x, y in obstacles)


def test_sizes_must_match_anchors():
    with pytest.raises(ValueError, match="one size per anchor"):
        place_boxes([[1, 1]], [[1, 1], [2, 2]], Box(0, 0, 10, 10))
    with pytest.raises(ValueError, match="radii is empty"):
        place_boxes([[1, 1]], [[1, 1]], Box(0, 0, 10, 10), radii=())


def test_a_label_with_no_free_place_overlaps_least():
    # the bounds are smaller than the label: no position is free, yet every label gets a box
    boxes = place_boxes([[5, 5], [6, 6]], [[40, 10], [40, 10]], Box(0, 0, 12, 12), radii=(4, 10))
    assert len(boxes) == 2 and all((b.width, b.height) == (40, 10) for b in boxes)


@settings(max_examples=25, deadline=None)
@given(st.integers(1, 25), st.integers(0, 10_000))
def test_no_two_labels_overlap_when_there_is_room(n, seed):
    rng = np.random.default_rng(seed)
    anchors = rng.uniform([200, 150], [800, 650], size=(n, 2))
    sizes = np.column_stack([rng.uniform(30, 120, n), rng.uniform(10, 26, n)])
    boxes = place_boxes(anchors, sizes, Box(0, 0, 1000, 800))
    assert overlaps(boxes) == []
    assert [round(b.width, 6) for b in boxes] == [round(w, 6) for w in sizes[:, 0]]


@pytest.mark.parametrize(
    ("title", "label"),
    [
        ("Shawshank Redemption, The (1994)", "The Shawshank Redemption (1994)"),
        ("Trial, The (Procès, Le) (1962)", "The Trial (1962)"),
        ("Amelie (Fabuleux destin d'Amélie Poulain, Le) (2001)", "Amelie (2001)"),
        ("Star Wars: Episode VI - Return of the Jedi (1983)", "Star Wars: Episode VI -\nReturn of the Jedi (1983)"),
        (
            "Dr. Strangelove or: How I Learned to Stop Worrying and Love the Bomb (1964)",
            "Dr. Strangelove or: How I\nLearned to Stop Wo… (1964)",
        ),
        ("Heat", "Heat"),
        ("", ""),
        ("(2000)", "(2000)"),
    ],
)
def test_short_titles(title, label):
    assert short_title(title) == label


def test_short_title_never_leaves_the_year_alone_and_stays_short():
    for title in [
        "A Very Long Title That Goes On And On And On Forever (1999)",
        "Supercalifragilisticexpialidociousness (1964)",
    ]:
        lines = short_title(title).split("\n")
        assert len(lines) <= 2 and all(len(line) <= 34 for line in lines)
        assert lines[-1] != "(1999)" and lines[-1].endswith(")")


def test_labels_on_axes_do_not_overlap_and_dollars_stay_text():
    fig = new_figure((6, 4))
    ax = fig.add_subplot(1, 1, 1)
    rng = np.random.default_rng(2)
    x, y = rng.normal(0, 0.05, 15), rng.normal(0, 0.05, 15)
    ax.scatter(x, y)
    ax.set_xlim(-1, 1)
    ax.set_ylim(-1, 1)
    texts = [f"Film number {i}" for i in range(14)] + ["$9.99 and $5 (2008)"]
    artists = label_points(ax, x, y, texts)
    fig.canvas.draw()
    renderer = fig.canvas.get_renderer()
    extents = [a.get_window_extent(renderer) for a in artists]
    for a, b in itertools.combinations(extents, 2):
        assert not a.overlaps(b)
    assert artists[-1].get_text() == r"\$9.99 and \$5 (2008)"
