"""Pictures of data, models and evaluations: best-rated films, embedding maps, curves.

Every function returns a figure (a matplotlib ``Figure`` on its own Agg canvas, or a plotly
``Figure``) and never shows it; :func:`save_figure` and :func:`save_map` write files
atomically, choosing the format by extension (``.png``, ``.svg``, ``.html``).

* :mod:`~embrec.viz.best_rated`: :func:`best_rated` by damped mean, :func:`perfect_score_films`.
* :mod:`~embrec.viz.maps`: :func:`embedding_map` (PCA, t-SNE, UMAP), :func:`map_figure`,
  :func:`map_html_figure`, :func:`save_map`.
* :mod:`~embrec.viz.curves`: :func:`training_curves`, :func:`metric_distributions`,
  :func:`tradeoff_figure`, :func:`metric_intervals`.
* :mod:`~embrec.viz.labels`: :func:`place_boxes` and :func:`label_points` (labels that do
  not overlap), :func:`short_title`.
"""

from embrec.viz.best_rated import (
    BestRated,
    best_rated,
    credibility_strength,
    damped_mean,
    damping_strength,
    item_rating_stats,
    perfect_score_films,
)
from embrec.viz.curves import metric_distributions, metric_intervals, tradeoff_figure, training_curves
from embrec.viz.labels import label_points, place_boxes, short_title
from embrec.viz.maps import EmbeddingMap, embedding_map, main_genres, map_figure, map_html_figure, project, save_map
from embrec.viz.save import save_figure

__all__ = [
    "BestRated",
    "best_rated",
    "credibility_strength",
    "damped_mean",
    "damping_strength",
    "item_rating_stats",
    "perfect_score_films",
    "EmbeddingMap",
    "embedding_map",
    "main_genres",
    "map_figure",
    "map_html_figure",
    "project",
    "save_map",
    "training_curves",
    "metric_distributions",
    "tradeoff_figure",
    "metric_intervals",
    "label_points",
    "place_boxes",
    "short_title",
    "save_figure",
]
