"""Pictures of data, models and evaluations: best-rated films, embedding maps, curves.

Every function returns a figure (a matplotlib ``Figure`` on its own Agg canvas, or a plotly
``Figure``) and never shows it; :func:`save_figure` and :func:`save_map` write files
atomically, choosing the format by extension (``.png``, ``.svg``, ``.html``).

* :mod:`~embrec.viz.best_rated`: :func:`best_rated` by damped mean, :func:`perfect_score_films`.
* :mod:`~embrec.viz.maps`: :func:`embedding_map` (PCA, t-SNE, UMAP), :func:`map_figure`,
  :func:`map_html_figure`, :func:`save_map` (built from :mod:`~embrec.viz.projection`,
  :mod:`~embrec.viz.map_data` and :mod:`~embrec.viz.map_figures`).
* :mod:`~embrec.viz.curves`: :func:`training_curves`, :func:`metric_distributions`,
  :func:`tradeoff_figure`, :func:`metric_intervals`.
* :mod:`~embrec.viz.labels`: :func:`place_boxes` and :func:`label_points` (labels that do
  not overlap), :func:`short_title`.
"""

# every public name of best_rated and curves is public here; of the others, the ones below
from embrec.viz.best_rated import *  # noqa: F403
from embrec.viz.best_rated import __all__ as _best_rated_names
from embrec.viz.curves import *  # noqa: F403
from embrec.viz.curves import __all__ as _curves_names
from embrec.viz.labels import label_points, place_boxes, short_title
from embrec.viz.maps import EmbeddingMap, embedding_map, main_genres, map_figure, map_html_figure, project, save_map
from embrec.viz.save import save_figure

__all__ = [
    *_best_rated_names,
    "EmbeddingMap",
    "embedding_map",
    "main_genres",
    "map_figure",
    "map_html_figure",
    "project",
    "save_map",
    *_curves_names,
    "label_points",
    "place_boxes",
    "short_title",
    "save_figure",
]
