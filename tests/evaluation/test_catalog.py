"""The metric catalogue: one entry per metric, the docs table in step, NaN where inputs are missing."""

from __future__ import annotations

import re
from pathlib import Path

import numpy as np
import pytest
import scipy.sparse as sp

from embrec.errors import ConfigError
from embrec.evaluation import LIST_METRICS, METRICS, PER_USER_METRICS, get_metric
from embrec.evaluation.catalog import check_metric_names, list_figures, per_user_table
from embrec.evaluation.context import ScoringContext

DOCS = Path(__file__).resolve().parents[2] / "docs" / "metrics.md"


def _docs_rows() -> list[tuple[str, str, str, str]]:
    """The rows of the catalogue table in docs/metrics.md: (name, kind, description, needs)."""
    text = DOCS.read_text(encoding="utf-8")
    section = text.split("## The catalogue", 1)[1].split("\n## ", 1)[0]
    rows = []
    for line in section.splitlines():
        match = re.fullmatch(r"\| `([a-z_]+)` \| (\w+) \| ([^|]+?) \| ?([a-z, ]*?) ?\|", line.strip())
        if match:
            rows.append(match.groups())
    return rows


def _needs(metric) -> str:  # type: ignore[no-untyped-def]
    flags = (("vectors", metric.needs_vectors), ("genres", metric.needs_genres), ("ratings", metric.needs_ratings))
    return ", ".join(name for name, on in flags if on)


def test_docs_table_is_the_catalogue() -> None:
    expected = [(m.name, m.kind, m.description, _needs(m)) for m in METRICS]
    assert _docs_rows() == expected, "docs/metrics.md's catalogue table differs from embrec.evaluation.catalog.METRICS"


def test_names_are_unique_and_the_derived_tuples_follow_the_catalogue() -> None:
    names = [m.name for m in METRICS]
    assert len(set(names)) == len(names)
    assert {m.kind for m in METRICS} <= {"per_user", "list"}
    assert tuple(m.name for m in METRICS if m.kind == "per_user") == PER_USER_METRICS
    assert tuple(m.name for m in METRICS if m.kind == "list") == LIST_METRICS
    assert PER_USER_METRICS[:3] == ("ndcg", "recall", "precision") and LIST_METRICS[-2:] == ("rmse", "mae")
    assert get_metric("ndcg").description == "NDCG@k"
    with pytest.raises(ConfigError, match="unknown metric 'nope'; choose from ndcg"):
        get_metric("nope")
    with pytest.raises(ConfigError, match="unknown metric 'rmse'"):
        check_metric_names(["ndcg", "rmse"])  # a list figure, not a per-user metric
    assert check_metric_names(["rmse"], "list") == ("rmse",)


def _context(**extra) -> ScoringContext:  # type: ignore[no-untyped-def]
    recs = np.array([[0, 1], [2, -1]])
    truth = sp.csr_matrix(np.array([[1, 0, 0], [0, 0, 1]], dtype=bool))
    return ScoringContext(
        recs=recs, truth=truth, k=2, n_items=3, item_user_counts=np.array([2, 1, 0]), n_training_users=2, **extra
    )


def test_metrics_without_their_inputs_are_nan() -> None:
    ctx = _context()
    table = per_user_table(ctx, np.array(["a", "b"]))
    assert list(table.columns) == ["user", *PER_USER_METRICS, "relevant"]
    for metric in METRICS:
        if metric.kind == "per_user":
            assert table[metric.name].isna().all() == (metric.needs_vectors or metric.needs_genres), metric.name
    np.testing.assert_allclose(table["ndcg"], [1.0, 1.0])  # both hits at rank 1
    figures = list_figures(ctx)
    assert list(figures) == list(LIST_METRICS)
    assert np.isnan(figures["rmse"]) and np.isnan(figures["mae"])
    assert figures["coverage"] == pytest.approx(1.0)


def test_inputs_make_the_metrics_defined() -> None:
    vectors = np.array([[1.0, 0.0], [0.0, 1.0], [1.0, 1.0]])
    genres = sp.csr_matrix(np.array([[1.0, 0.0], [1.0, 1.0], [0.0, 1.0]]))
    ctx = _context(item_vectors=vectors, genres=genres, predictions=np.array([3.0, 4.0]), ratings=np.array([4.0, 4.0]))
    table = per_user_table(ctx, np.array(["a", "b"]))
    assert table["diversity"].iloc[0] == pytest.approx(1.0)  # orthogonal items
    assert table["genre_diversity"].iloc[0] == pytest.approx(0.5)  # {0} vs {0, 1}
    assert np.isnan(table["diversity"].iloc[1])  # one item: no pair to compare
    figures = list_figures(ctx)
    assert figures["rmse"] == pytest.approx(np.sqrt(0.5)) and figures["mae"] == pytest.approx(0.5)
    with pytest.raises(ConfigError, match="list figure"):
        get_metric("rmse").per_user(ctx)
