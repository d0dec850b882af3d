"""``embrec demo``: the tour runs, its tables fit 80 columns and say which model made them."""

from __future__ import annotations

import pytest
from typer.testing import CliRunner

from conftest import real_dataset
from embrec.cli.main import app


@pytest.mark.slow
def test_the_demo_fits_80_columns_and_names_its_models(tmp_path, monkeypatch):
    real_dataset("ml-100k")  # smaller than the demo's own ml-latest-small, same tour
    monkeypatch.setenv("COLUMNS", "80")
    result = CliRunner().invoke(app, ["demo", "--dataset", "ml-100k", "--no-report", "--out", str(tmp_path)])
    assert result.exit_code == 0, result.output
    lines = result.stdout.splitlines()
    assert max(len(line) for line in lines) <= 80 and "…" not in result.stdout  # nothing cut
    words = " ".join(result.stdout.split())  # the lines as read, however rich wrapped them
    assert "embedding-ranking's top 10 for user" in words
    assert "folded into embedding-ranking without retraining" in words
    assert "embedding-rating predicts stars: test RMSE 0." in words
    header = next(i for i, line in enumerate(lines) if "NDCG" in line)
    assert "genre" in lines[header] and "diversity" in lines[header + 1]  # one word, one meaning
    tour = result.stdout.split("4. recommend")[1].split("5. evaluate")[0]
    assert "┃ score" not in tour and "not a rating" in tour  # no ranking score that looks like stars
    assert sorted(p.name for p in tmp_path.iterdir()) == [
        "ease",
        "embedding-ranking",
        "embedding-rating",
        "evaluation.md",
        "popularity",
    ]
