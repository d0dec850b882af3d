"""Drawing an :class:`~embrec.viz.map_data.EmbeddingMap`: :func:`map_figure` (matplotlib, for
PNG/SVG), :func:`map_html_figure` (plotly, an interactive page) and :func:`save_map` (by extension).

Both drawings pad the data range for the labels of points at the edge, colour the films by
main genre, mark labelled, rated and recommended films, and place titles that do not overlap
(:mod:`embrec.viz.labels`). Titles are data: the plotly page escapes them.
"""

from __future__ import annotations

import html
import math
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
from numpy.typing import NDArray

from embrec.errors import ConfigError
from embrec.extras import require
from embrec.viz.labels import Box, label_points, place_boxes
from embrec.viz.map_data import GREY, PALETTE, EmbeddingMap
from embrec.viz.save import new_figure, save_figure

__all__ = ["map_figure", "map_html_figure", "save_map"]

#: Share of the data range left free on each side, room for labels of points at the edge.
_PAD = 0.1
_RED = "#d62728"
#: matplotlib markers of each role, drawn in this order (film colour unless ``c`` is given).
_MPL_MARKERS: dict[str, dict[str, Any]] = {
    "film": dict(s=11, alpha=0.55, linewidths=0, zorder=1, rasterized=True),
    "rated": dict(s=26, edgecolors="black", linewidths=0.8, zorder=3),
    "labelled": dict(s=46, edgecolors="black", linewidths=1.0, zorder=4),
    "recommended": dict(c=_RED, marker="*", s=190, edgecolors="black", linewidths=0.6, zorder=4),
}
#: Legend entries of the marked roles (``{user}`` is the map's user).
_MPL_ROLE_LEGEND: dict[str, dict[str, Any]] = {
    "labelled": dict(marker="o", mfc="white", mec="black", markersize=7, label="labelled film"),
    "rated": dict(marker="o", mfc="white", mec="black", markersize=6, label="rated by user {user}"),
    "recommended": dict(marker="*", color=_RED, mec="black", markersize=12, label="recommended"),
}
#: plotly traces of the marked roles, drawn over the genre traces (``{user}`` is the map's user).
_PLOTLY_ROLES: dict[str, tuple[str, dict[str, Any]]] = {
    "labelled": ("labelled film", dict(symbol="circle-open", size=13, color="black", line=dict(width=2))),
    "rated": ("rated by user {user}", dict(symbol="circle-open", size=10, color="black", line=dict(width=1.5))),
    "recommended": ("recommended", dict(symbol="star", size=16, color=_RED, line=dict(color="black", width=1))),
}
_HOVER = (
    "<b>%{customdata[0]}</b><br>%{customdata[1]}<br>" + "%{customdata[2]} ratings, mean %{customdata[3]}<extra></extra>"
)


def _padded_ranges(pts: pd.DataFrame) -> tuple[tuple[float, float], tuple[float, float]]:
    """The x and y ranges of the points, widened by :data:`_PAD` on each side."""
    x0, x1 = float(pts["x"].min()), float(pts["x"].max())
    y0, y1 = float(pts["y"].min()), float(pts["y"].max())
    dx, dy = (x1 - x0) or 1.0, (y1 - y0) or 1.0
    return (x0 - _PAD * dx, x1 + _PAD * dx), (y0 - _PAD * dy, y1 + _PAD * dy)


def _to_label(pts: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """The labelled points in label order, and the other marked points their labels avoid."""
    return pts[pts["labelled"]].sort_values("order"), pts[(~pts["labelled"]) & (pts["role"] != "film")]


# --------------------------------------------------------------------------- matplotlib
def map_figure(
    emap: EmbeddingMap,
    *,
    figsize: tuple[float, float] = (13.0, 9.5),
    max_genres: int = len(PALETTE),
    fontsize: float = 8.0,
) -> Any:
    """The map as a matplotlib ``Figure`` (never shown): genre colours with a legend outside the
    plot, labelled films ringed in black with non-overlapping titles."""
    pts = emap.points
    colors = emap.genre_colors(max_genres)
    fig = new_figure(figsize, layout="constrained")
    ax = fig.add_subplot(1, 1, 1)
    col = pts["main_genre"].map(colors).to_numpy()
    for role, style in _MPL_MARKERS.items():
        mask = (pts["role"] == role).to_numpy()
        if mask.any():
            ax.scatter(pts["x"][mask], pts["y"][mask], **{"c": col[mask], **style})
    _frame_axes(ax, emap)
    _legends(ax, colors, set(pts["role"]), emap.user)

    fig.canvas.draw()  # the constrained layout settles the axes size before labels are placed
    labelled, others = _to_label(pts)
    if len(labelled):
        label_points(
            ax,
            labelled["x"],
            labelled["y"],
            labelled["label"].tolist(),
            avoid_x=others["x"],
            avoid_y=others["y"],
            fontsize=fontsize,
        )
    fig.set_layout_engine("none")  # keep the axes where the labels were placed
    return fig


def _frame_axes(ax: Any, emap: EmbeddingMap) -> None:
    """Limits (room for labels, fixed before text is placed in pixels), axis labels and titles."""
    xr, yr = _padded_ranges(emap.points)
    ax.set_xlim(*xr)
    ax.set_ylim(*yr)
    xlabel, ylabel = emap.axis_labels()
    ax.set_xlabel(xlabel)
    ax.set_ylabel(ylabel)
    if emap.method != "pca":
        ax.set_xticks([])
        ax.set_yticks([])
    ax.set_title(emap.title, fontsize=13, loc="left", pad=22)
    ax.text(0.0, 1.008, emap.subtitle, transform=ax.transAxes, fontsize=8.5, color="#555555", va="bottom", ha="left")
    for side in ("top", "right"):
        ax.spines[side].set_visible(False)


def _legends(ax: Any, colors: dict[str, str], roles: set[str], user: Any) -> None:
    """The genre legend right of the plot, and below it the legend of the marked roles shown."""
    from matplotlib.lines import Line2D

    def handle(**style: Any) -> Any:
        return Line2D([], [], ls="", **style)

    handles = [handle(marker="o", color=colors[g], markersize=7, label=g) for g in colors if colors[g] != GREY]
    if GREY in colors.values():
        handles.append(handle(marker="o", color=GREY, markersize=7, label="other genres"))
    role_handles = [
        handle(**{**style, "label": style["label"].format(user=user)})
        for role, style in _MPL_ROLE_LEGEND.items()
        if role in roles
    ]
    legend = ax.legend(
        handles=handles,
        title="main genre",
        loc="upper left",
        bbox_to_anchor=(1.01, 1.0),
        frameon=False,
        fontsize=9,
        title_fontsize=9.5,
        alignment="left",
    )
    if role_handles:
        ax.add_artist(legend)
        ax.legend(handles=role_handles, loc="lower left", bbox_to_anchor=(1.01, 0.0), frameon=False, fontsize=9)


# --------------------------------------------------------------------------- plotly
def _fmt_mean(value: float) -> str:
    return "-" if value is None or not math.isfinite(float(value)) else f"{float(value):.2f}"


def _hover_data(frame: pd.DataFrame) -> list[list[str]]:
    """Title, genres, number of ratings and mean of each point, escaped for plotly's hover."""
    return [
        [html.escape(str(t)), html.escape(str(g).replace("|", ", ") or "no genres"), f"{int(n):,}", _fmt_mean(m)]
        for t, g, n, m in zip(frame["title"], frame["genres"], frame["n_ratings"], frame["mean_rating"])
    ]


def map_html_figure(
    emap: EmbeddingMap,
    *,
    width: int = 1100,
    height: int = 780,
    max_genres: int = len(PALETTE),
    fontsize: int = 10,
) -> Any:
    """The map as an interactive plotly ``Figure``: hover shows title, genres, number of ratings
    and mean; click a genre in the legend to hide it. Titles are HTML-escaped (they are data)."""
    require("viz", "an interactive map", ("plotly",))
    import plotly.graph_objects as go

    pts = emap.points
    fig = go.Figure()
    for name, frame, marker in [*_genre_groups(pts, emap.genre_colors(max_genres)), *_role_groups(pts, emap.user)]:
        fig.add_trace(
            go.Scatter(
                x=frame["x"],
                y=frame["y"],
                mode="markers",
                name=name,
                marker=marker,
                customdata=_hover_data(frame),
                hovertemplate=_HOVER,
            )
        )
    margin = dict(l=70, r=230, t=90, b=60)
    xr, yr = _padded_ranges(pts)
    plot = (width - margin["l"] - margin["r"], height - margin["t"] - margin["b"])
    xlabel, ylabel = emap.axis_labels()
    axis = dict(showgrid=False, zeroline=False, linecolor="#888888", showticklabels=emap.method == "pca")
    fig.update_layout(
        width=width,
        height=height,
        margin=margin,
        template="plotly_white",
        title=dict(
            text=f"{html.escape(emap.title)}<br><sup>{html.escape(emap.subtitle)}</sup>", x=0.01, xanchor="left"
        ),
        xaxis=dict(range=list(xr), title=xlabel, **axis),
        yaxis=dict(range=list(yr), title=ylabel, **axis),
        legend=dict(title=dict(text="main genre"), itemsizing="constant", x=1.02, y=1.0, xanchor="left"),
        annotations=_annotations(pts, xr, yr, plot, fontsize),
        hovermode="closest",
    )
    return fig


def _genre_groups(pts: pd.DataFrame, colors: dict[str, str]) -> list[tuple[str, pd.DataFrame, dict[str, Any]]]:
    """One trace per coloured genre (and one for the grey rest) of the unmarked and labelled films."""
    plain = pts[pts["role"].isin(["film", "labelled"])]
    groups = [(g, [g], colors[g]) for g in colors if colors[g] != GREY]
    grey = [g for g in colors if colors[g] == GREY]
    if grey:
        groups.append(("other genres", grey, GREY))
    traces = []
    for name, members, color in groups:
        sub = plain[plain["main_genre"].isin(members)]
        if not sub.empty:
            traces.append((html.escape(name), sub, dict(color=color, size=7, opacity=0.6)))
    return traces


def _role_groups(pts: pd.DataFrame, user: Any) -> list[tuple[str, pd.DataFrame, dict[str, Any]]]:
    """One trace per marked role on the map, drawn over the genres."""
    traces = []
    for role, (name, marker) in _PLOTLY_ROLES.items():
        sub = pts[pts["role"] == role]
        if len(sub):
            traces.append((name.format(user=html.escape(str(user))), sub, marker))
    return traces


def _annotations(
    pts: pd.DataFrame,
    xr: tuple[float, float],
    yr: tuple[float, float],
    plot: tuple[int, int],
    fontsize: int,
) -> list[dict[str, Any]]:
    """plotly annotations of the labelled films, placed in pixels of the ``plot`` area so they do not overlap."""
    labelled, others = _to_label(pts)
    if not len(labelled):
        return []
    plot_w, plot_h = plot

    def to_px(x: Any, y: Any) -> NDArray[np.float64]:
        px = (np.asarray(x, dtype=np.float64) - xr[0]) / (xr[1] - xr[0]) * plot_w
        py = (np.asarray(y, dtype=np.float64) - yr[0]) / (yr[1] - yr[0]) * plot_h
        return np.column_stack([px, py])

    anchors = to_px(labelled["x"], labelled["y"])
    # plotly measures text in the browser; 0.56 em per character is close for its sans-serif
    lines = [str(t).split("\n") for t in labelled["label"]]
    sizes = np.array([[0.56 * fontsize * max(len(x) for x in ls) + 6, fontsize * 1.3 * len(ls) + 4] for ls in lines])
    boxes = place_boxes(
        anchors,
        sizes,
        Box(0, 0, plot_w, plot_h),
        obstacles=to_px(others["x"], others["y"]) if len(others) else None,
        point_radius=6,
    )
    return [
        _annotation(anchor, box, text, x, y, fontsize)
        for anchor, box, text, x, y in zip(anchors, boxes, labelled["label"], labelled["x"], labelled["y"])
    ]


def _annotation(anchor: NDArray[np.float64], box: Box, text: Any, x: Any, y: Any, fontsize: int) -> dict[str, Any]:
    """One label at ``box`` (pixels), with a leader line to its point when it sits away from it."""
    px, py = anchor
    cx, cy = box.x0 + box.width / 2, box.y0 + box.height / 2
    far = box.distance_to(px, py) > 9
    return dict(
        x=x,
        y=y,
        xref="x",
        yref="y",
        text="<br>".join(html.escape(t) for t in str(text).split("\n")),
        showarrow=True,
        ax=cx - px,
        ay=-(cy - py),
        axref="pixel",
        ayref="pixel",
        arrowhead=0,
        arrowwidth=0.8,
        arrowcolor="#555555" if far else "rgba(0,0,0,0)",
        font=dict(size=fontsize, color="#222222"),
        bgcolor="rgba(255,255,255,0.75)",
        borderpad=1,
    )


def save_map(emap: EmbeddingMap, path: str | Path, *, dpi: int = 150) -> Path:
    """Write the map to ``path``: ``.png``/``.svg`` (matplotlib) or ``.html`` (interactive, offline)."""
    suffix = Path(path).suffix.lower()
    if suffix == ".html":
        return save_figure(map_html_figure(emap), path)
    if suffix in (".png", ".svg"):
        return save_figure(map_figure(emap), path, dpi=dpi)
    raise ConfigError(f"cannot write a map as {suffix or 'a file without extension'!r}; use .png, .svg or .html.")
