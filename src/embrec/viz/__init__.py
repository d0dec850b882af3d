"""Pictures of data, models and evaluations: best-rated films, embedding maps, curves.

Every function returns a figure (matplotlib ``Figure`` or plotly ``Figure``) and never shows
it; :func:`save_figure` and :func:`save_map` write files atomically, by extension.
"""
