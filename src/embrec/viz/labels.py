"""Labels that do not overlap: a greedy placement around each point, in pixels.

:func:`place_boxes` is the pure algorithm (pixel coordinates in, offsets out) shared by the
matplotlib maps and the interactive plotly maps. :func:`label_points` applies it to a
matplotlib ``Axes``: it measures each text, places the boxes, and draws a thin leader line when
a label sits away from its point.

The algorithm: labels are placed one by one in the order given (put the important ones
first). Each tries positions on rings of growing radius around its point, 16 directions per
ring, with the box touching the ring on the side facing the point. The first ring holding a
position that overlaps no placed label, no marked point and stays inside the bounds wins;
on that ring, the position with the least crowding by other points is taken. A label that
finds no free position up to the largest ring goes where it overlaps least.
"""

from __future__ import annotations

import math
import re
from collections.abc import Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

if TYPE_CHECKING:
    from matplotlib.axes import Axes
    from matplotlib.text import Text

__all__ = ["Box", "place_boxes", "label_points", "short_title"]

#: Ring radii tried around each point, in pixels.
RADII: tuple[float, ...] = (4, 10, 18, 28, 40, 55, 72, 92, 115, 140, 170, 205, 245, 290)
_ANGLES = np.deg2rad(np.array([0, 180, 30, 150, 330, 210, 60, 120, 300, 240, 90, 270, 15, 165, 345, 195]))


@dataclass(frozen=True)
class Box:
    """An axis-aligned box in pixels: lower-left corner ``(x0, y0)``, width and height."""

    x0: float
    y0: float
    width: float
    height: float

    @property
    def x1(self) -> float:
        return self.x0 + self.width

    @property
    def y1(self) -> float:
        return self.y0 + self.height

    def overlap(self, other: Box) -> float:
        """Area shared with ``other``."""
        w = min(self.x1, other.x1) - max(self.x0, other.x0)
        h = min(self.y1, other.y1) - max(self.y0, other.y0)
        return w * h if w > 0 and h > 0 else 0.0

    def inside(self, bounds: Box) -> bool:
        return self.x0 >= bounds.x0 and self.y0 >= bounds.y0 and self.x1 <= bounds.x1 and self.y1 <= bounds.y1

    def distance_to(self, x: float, y: float) -> float:
        """Distance from the point to the nearest point of the box (0 inside)."""
        dx = max(self.x0 - x, 0.0, x - self.x1)
        dy = max(self.y0 - y, 0.0, y - self.y1)
        return math.hypot(dx, dy)


def _candidate(x: float, y: float, w: float, h: float, radius: float, angle: float) -> Box:
    """The box touching the ring (radius around (x, y)) at ``angle``, on its far side."""
    cx, cy = x + radius * math.cos(angle), y + radius * math.sin(angle)
    # Shift the box so that the edge or corner facing the point sits on the ring point.
    ax = 0.5 * (1 - math.copysign(min(1.0, abs(math.cos(angle)) * 2.5), math.cos(angle)))
    ay = 0.5 * (1 - math.copysign(min(1.0, abs(math.sin(angle)) * 2.5), math.sin(angle)))
    return Box(cx - ax * w, cy - ay * h, w, h)


def place_boxes(
    anchors: ArrayLike,
    sizes: ArrayLike,
    bounds: Box,
    *,
    obstacles: ArrayLike | None = None,
    point_radius: float = 4.0,
    padding: float = 2.0,
    radii: Sequence[float] = RADII,
) -> list[Box]:
    """Boxes of the given sizes near their anchors, overlapping neither each other nor points.

    Args:
        anchors: ``(n, 2)`` pixel positions of the labelled points.
        sizes: ``(n, 2)`` width and height of each label, in pixels.
        bounds: the box every label must stay inside (the plot area).
        obstacles: ``(m, 2)`` further points labels should not cover (the labelled points are
            always obstacles).
        point_radius: half the side of the square kept free around each point.
        padding: pixels kept free around each label.
        radii: the rings tried, smallest first.

    Returns:
        One :class:`Box` per label, in the order given.
    """
    pts = np.asarray(anchors, dtype=np.float64).reshape(-1, 2)
    dims = np.asarray(sizes, dtype=np.float64).reshape(-1, 2)
    if len(pts) != len(dims):
        raise ValueError(f"got {len(pts)} anchors but {len(dims)} sizes; give one size per anchor.")
    if not len(radii):
        raise ValueError("radii is empty; give at least one ring radius in pixels.")
    others = np.asarray(obstacles, dtype=np.float64).reshape(-1, 2) if obstacles is not None else np.empty((0, 2))
    scene = _Scene(np.concatenate([pts, others]) if len(others) else pts, bounds, float(point_radius))
    placed: list[Box] = []
    for (x, y), (w, h) in zip(pts, dims):
        chosen = _place_one(x, y, w + 2 * padding, h + 2 * padding, placed, scene, radii)
        placed.append(Box(chosen.x0 + padding, chosen.y0 + padding, w, h))
    return placed


@dataclass(frozen=True)
class _Scene:
    """What every label must keep clear of: the marked points (``(m, 2)`` pixels, each a square
    of half side ``r``) and the outside of ``bounds``."""

    marks: np.ndarray
    bounds: Box
    r: float


def _place_one(x: float, y: float, w: float, h: float, placed: list[Box], scene: _Scene, radii: Sequence[float]) -> Box:
    """The padded box of one label: on the smallest ring with a free position, the least crowded
    one; when no ring has one, the position that overlaps least."""
    bad: list[tuple[float, Box]] = []
    for radius in radii:
        ring: list[tuple[float, Box]] = []
        for angle in _ANGLES:
            box = _candidate(x, y, w, h, radius, float(angle))
            penalty = _penalty(box, x, y, placed, scene)
            if not penalty:
                ring.append((_crowding(box, scene.marks), box))
            else:
                bad.append((penalty + radius, box))  # prefer close positions among the bad ones
        if ring:
            return min(ring, key=lambda item: item[0])[1]
    return min(bad, key=lambda item: item[0])[1]


def _penalty(box: Box, x: float, y: float, placed: list[Box], scene: _Scene) -> float:
    """How bad a position is (0: free): overlap with placed labels, marked points covered,
    covering its own point ``(x, y)``, reaching outside the bounds."""
    marks, r = scene.marks, scene.r
    covered = (
        (marks[:, 0] > box.x0 - r)
        & (marks[:, 0] < box.x1 + r)
        & (marks[:, 1] > box.y0 - r)
        & (marks[:, 1] < box.y1 + r)
    )
    collisions = sum(box.overlap(p) for p in placed)
    own = box.distance_to(x, y) < r
    outside = not box.inside(scene.bounds)
    return collisions + 50.0 * float(covered.sum()) + (1e6 if outside else 0.0) + (1e5 if own else 0.0)


def _crowding(box: Box, marks: np.ndarray) -> float:
    """How close the marked points are to the box's centre (smaller is emptier)."""
    near = np.hypot(marks[:, 0] - (box.x0 + box.x1) / 2, marks[:, 1] - (box.y0 + box.y1) / 2)
    return float(np.sum(np.exp(-near / 40.0)))


_ARTICLES = ("The", "A", "An", "Les", "La", "Le", "L'", "Il", "Das", "Der", "Die", "El", "Los", "Las")
_YEAR = re.compile(r"\s*\((\d{4})(?:[-–]\d{0,4})?\)\s*$")
_PAREN = re.compile(r"\s*\([^()]*\)")


def short_title(title: str, *, width: int = 26, max_lines: int = 2) -> str:
    """A short label for a MovieLens title: the article moved to the front, alternative titles
    dropped, wrapped at ``width`` characters on at most ``max_lines`` lines, the year kept.

    ``"Shawshank Redemption, The (1994)"`` -> ``"The Shawshank Redemption (1994)"``;
    ``"Trial, The (Procès, Le) (1962)"`` -> ``"The Trial (1962)"``.
    """
    text = str(title).strip()
    found = _YEAR.search(text)
    year = found.group(1) if found else ""
    if found:
        text = text[: found.start()]
    text = _article_first(_PAREN.sub("", text).strip() or text.strip())
    if not text:
        return str(title).strip()
    full = f"{text} ({year})" if year else text
    if len(full) <= width + 8:
        return full
    return "\n".join(_wrap(text, year, width, max_lines))


def _article_first(text: str) -> str:
    """``"Shawshank Redemption, The"`` -> ``"The Shawshank Redemption"``."""
    for article in _ARTICLES:
        suffix = f", {article}"
        if text.endswith(suffix):
            return f"{article}{'' if article.endswith(chr(39)) else ' '}{text[: -len(suffix)]}"
    return text


def _wrap(text: str, year: str, width: int, max_lines: int) -> list[str]:
    """The words of ``text`` (and the year) on lines of ``width``; the last of ``max_lines`` cut."""
    words = [w if len(w) <= width else w[: width - 1] + "…" for w in text.split()] or [text]
    if year:
        words[-1] = f"{words[-1]} ({year})"  # never a year alone on a line
    lines: list[str] = []
    current = ""
    for i, word in enumerate(words):
        candidate = f"{current} {word}".strip()
        if len(candidate) <= width or not current:
            current = candidate
            continue
        lines.append(current)
        current = word
        if len(lines) == max_lines - 1:
            current = _last_line(" ".join([current, *words[i + 1 :]]), year, width)
            break
    return [*lines, current]


def _last_line(rest: str, year: str, width: int) -> str:
    """The remaining words on one line, cut with an ellipsis (the year kept) when too long."""
    if len(rest) <= width + 4:
        return rest
    tail = f" ({year})" if year else ""
    keep = rest[: max(1, width - len(tail) - 1)].rstrip(" :,-")
    return f"{keep}…{tail}"


def label_points(
    ax: Axes,
    x: ArrayLike,
    y: ArrayLike,
    texts: Sequence[str],
    *,
    avoid_x: ArrayLike | None = None,
    avoid_y: ArrayLike | None = None,
    fontsize: float = 8.0,
    color: str = "#222222",
    line_color: str = "#555555",
    background: bool = True,
    point_radius: float = 5.0,
) -> list[Text]:
    """Write ``texts`` next to the points ``(x, y)`` of ``ax`` without overlaps.

    Set the axes limits first: placement works in pixels of the finished axes. Returns the
    ``Text`` objects. A leader line joins a label to its point when it sits more than a few
    pixels away.
    """
    xs = np.asarray(x, dtype=np.float64)
    ys = np.asarray(y, dtype=np.float64)
    fig = ax.figure
    fig.canvas.draw_idle()
    renderer = fig.canvas.get_renderer()  # type: ignore[attr-defined]
    to_px = ax.transData
    anchors = to_px.transform(np.column_stack([xs, ys]))
    bbox_style = dict(boxstyle="round,pad=0.15", fc="white", ec="none", alpha=0.75) if background else None
    artists = []
    sizes = []
    for text in texts:
        # titles are data: a "$" must not switch matplotlib into mathtext ("$9.99 (2008)")
        artist = ax.text(
            0,
            0,
            str(text).replace("$", r"\$"),
            fontsize=fontsize,
            color=color,
            ha="left",
            va="bottom",
            zorder=6,
            bbox=bbox_style,
            transform=None,
        )
        extent = artist.get_window_extent(renderer)
        sizes.append((extent.width, extent.height))
        artists.append(artist)
    obstacles = None
    if avoid_x is not None and avoid_y is not None:
        ox = np.asarray(avoid_x, dtype=np.float64)
        oy = np.asarray(avoid_y, dtype=np.float64)
        if len(ox):
            obstacles = to_px.transform(np.column_stack([ox, oy]))
    area = ax.get_window_extent(renderer)
    bounds = Box(area.x0 + 2, area.y0 + 2, area.width - 4, area.height - 4)
    boxes = place_boxes(anchors, np.asarray(sizes), bounds, obstacles=obstacles, point_radius=point_radius)
    from_px = ax.transData.inverted()
    for artist, box, (px, py) in zip(artists, boxes, anchors):
        artist.set_transform(ax.transData)
        corner = from_px.transform((box.x0, box.y0))
        artist.set_position((float(corner[0]), float(corner[1])))
        if box.distance_to(px, py) > point_radius + 3:
            nx = min(max(px, box.x0), box.x1)
            ny = min(max(py, box.y0), box.y1)
            end = from_px.transform((nx, ny))
            start = from_px.transform((px, py))
            ax.plot([start[0], end[0]], [start[1], end[1]], color=line_color, lw=0.6, alpha=0.8, zorder=5)
    return artists
