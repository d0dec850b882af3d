"""What a map holds: :class:`EmbeddingMap` (the films on it, where, and how they are coloured)
and :func:`main_genres` (one colour-giving genre per film).

:func:`embrec.viz.maps.embedding_map` computes an :class:`EmbeddingMap`;
:mod:`embrec.viz.map_figures` draws one.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any, Literal

import pandas as pd

from embrec.errors import ConfigError
from embrec.viz.projection import METHOD_NAMES

__all__ = ["NO_GENRE", "OTHER", "PALETTE", "GREY", "EmbeddingMap", "main_genres"]

#: Genres that describe a format or nothing, never chosen as a film's main genre.
_NOT_GENRES = frozenset({"", "IMAX", "(no genres listed)"})
NO_GENRE = "(no genre)"
OTHER = "other"
#: Colours of the most common main genres, most common first.
PALETTE = [
    "#1f77b4",
    "#ff7f0e",
    "#2ca02c",
    "#d62728",
    "#9467bd",
    "#8c564b",
    "#e377c2",
    "#17becf",
    "#bcbd22",
    "#393b79",
]
#: The colour of every other genre.
GREY = "#a8a8a8"


def _genre_list(genres: Any) -> list[str]:
    """A film's genres from its ``|``-joined list, formats and placeholders left out."""
    return [g for g in (genres.split("|") if isinstance(genres, str) else []) if g not in _NOT_GENRES]


def main_genres(genres: Sequence[str], *, rule: Literal["rarest", "first"] = "rarest") -> list[str]:
    """One genre per film from ``|``-joined genre lists.

    MovieLens lists genres alphabetically, so the first one says little (``Action`` and
    ``Adventure`` would colour a third of the catalogue). The default ``rule="rarest"`` takes
    the film's genre that is rarest in the catalogue: the most specific one (``Toy Story``:
    Animation; ``The Godfather``: Crime; ``Star Wars``: Sci-Fi). ``IMAX`` is a format and is
    skipped; a film without genres gets ``"(no genre)"``.
    """
    if rule not in ("rarest", "first"):
        raise ConfigError(f"rule {rule!r} is not allowed; use 'rarest' or 'first'.")
    lists = [_genre_list(s) for s in genres]
    if rule == "first":
        return [gs[0] if gs else NO_GENRE for gs in lists]
    counts = Counter(g for gs in lists for g in gs)
    return [min(gs, key=lambda g: (counts[g], g)) if gs else NO_GENRE for gs in lists]


@dataclass
class EmbeddingMap:
    """A computed map.

    Attributes:
        points: one row per film on the map: ``item``, ``title``, ``label`` (short title),
            ``genres``, ``main_genre``, ``n_ratings``, ``mean_rating``, ``x``, ``y``, ``role``
            (``"film"``, ``"labelled"``, ``"rated"`` or ``"recommended"``), ``labelled``
            (bool) and ``order`` (label priority, smaller first; -1 when unlabelled).
        method: ``"pca"``, ``"tsne"`` or ``"umap"``.
        info: facts about the projection (see :func:`~embrec.viz.projection.project`).
        title: the figure title.
        subtitle: what the points are, in words.
        user: the user whose films are shown, if any.
        has_ratings: whether ``mean_rating`` is known (the data was given).
        genre_order: main genres by how common they are in the model's whole catalogue (fixes
            the colours, so every map of one model colours a genre alike).
    """

    points: pd.DataFrame
    method: str
    info: dict[str, Any] = field(default_factory=dict)
    title: str = ""
    subtitle: str = ""
    user: Any = None
    has_ratings: bool = True
    genre_order: list[str] = field(default_factory=list)

    def axis_labels(self) -> tuple[str, str]:
        name = METHOD_NAMES[self.method]
        if self.method == "pca" and "explained_variance" in self.info:
            ev = self.info["explained_variance"]
            return (f"PC 1 ({ev[0]:.0%} of variance)", f"PC 2 ({ev[1]:.0%} of variance)")
        return (f"{name} 1", f"{name} 2")

    def genre_colors(self, max_genres: int = len(PALETTE)) -> dict[str, str]:
        """Colour of each main genre on the map, most common first: the ``max_genres`` most
        common in the model's catalogue get the palette (so maps of one model agree), the rest grey."""
        ranking = self.genre_order or list(self.points["main_genre"].value_counts().index)
        rank = {g: i for i, g in enumerate(ranking)}
        named = [g for g in ranking if g != NO_GENRE][:max_genres]
        palette = {g: PALETTE[i % len(PALETTE)] for i, g in enumerate(named)}
        present = sorted(set(self.points["main_genre"]), key=lambda g: (g not in palette, rank.get(g, len(rank)), g))
        return {g: palette.get(g, GREY) for g in present}
