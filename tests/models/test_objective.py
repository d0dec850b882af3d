"""The embedding model's objective follows the data unless asked for: ranking for implicit feedback."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embrec.cli.main import app
from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, DataError
from embrec.models import EmbeddingConfig, load
from embrec.models.embedding import EmbeddingRecommender

runner = CliRunner()
FAST = dict(epochs=3, embedding_dim=4, seed=0)


def _implicit() -> Interactions:
    users = [u for u in range(12) for _ in range(3)]
    items = [(u * 3 + k) % 9 for u in range(12) for k in range(3)]
    return build_interactions(users, items).with_name("clicks")


def test_the_default_objective_follows_the_data(tiny: Interactions, tmp_path: Path) -> None:
    assert EmbeddingConfig().objective is None
    implicit = EmbeddingRecommender(**FAST).fit(_implicit())
    assert implicit.resolved_config_.objective == "ranking" and not implicit.predicts_ratings
    assert implicit.resolved_config_.decay_mode == "decoupled"  # the ranking objective's own defaults
    assert len(implicit.recommend(0, n=2)) == 2
    rated = EmbeddingRecommender(**FAST).fit(tiny)
    assert rated.resolved_config_.objective == "rating" and rated.predicts_ratings
    run = json.loads((implicit.save(tmp_path / "run") / "embrec.json").read_text())
    assert run["config"]["objective"] is None and run["resolved"]["objective"] == "ranking"
    again = load(tmp_path / "run")
    assert again.resolved_config_.objective == "ranking" and not again.predicts_ratings


def test_an_asked_objective_is_kept(tiny: Interactions) -> None:
    assert EmbeddingRecommender(objective="ranking", **FAST).fit(tiny).resolved_config_.objective == "ranking"
    with pytest.raises(
        ConfigError, match=r"'clicks' has no ratings .* objective='rating' cannot be trained.*leave objective unset"
    ):
        EmbeddingRecommender(objective="rating", **FAST).fit(_implicit())


def test_ratings_that_are_all_the_same_train_ranking_unless_rating_is_asked_for() -> None:
    same = build_interactions([0, 0, 1, 1, 2], [0, 1, 1, 2, 0], [1.0] * 5).with_name("likes")
    assert EmbeddingRecommender(**FAST).fit(same).resolved_config_.objective == "ranking"
    with pytest.raises(DataError, match=r"every rating is the same value.*objective='ranking'"):
        EmbeddingRecommender(objective="rating", **FAST).fit(same)


# --------------------------------------------------------------------------- embrec train
@pytest.fixture
def clicks_csv(tmp_path: Path) -> Path:
    path = tmp_path / "clicks.csv"
    rows = [f"u{u},p{(u * 3 + k) % 9},{1_700_000_000 + 60 * (3 * u + k)}" for u in range(12) for k in range(3)]
    path.write_text("uid,sku,when\n" + "\n".join(rows) + "\n")
    return path


def _train(clicks_csv: Path, out: Path, *extra: str) -> object:
    columns = ["--user-col", "uid", "--item-col", "sku", "--timestamp-col", "when", "--rating-col", "none"]
    args = ["train", "--data", str(clicks_csv), *columns, "--out", str(out), "--epochs", "3", "--embedding-dim", "4"]
    return runner.invoke(app, [*args, *extra])


def test_train_on_implicit_data_says_it_trained_ranking(clicks_csv: Path, tmp_path: Path) -> None:
    result = _train(clicks_csv, tmp_path / "run", "--json")
    assert result.exit_code == 0, result.output  # type: ignore[attr-defined]
    info = json.loads(result.stdout)  # type: ignore[attr-defined]
    assert info["objective"] == "ranking" and info["resolved"]["objective"] == "ranking"
    assert info["config"]["objective"] is None
    saved = json.loads((tmp_path / "run" / "embrec.json").read_text())
    assert saved["resolved"]["objective"] == "ranking"
    table = _train(clicks_csv, tmp_path / "run2")
    assert table.exit_code == 0, table.output  # type: ignore[attr-defined]
    assert "ranking (chosen for implicit feedback)" in table.stdout  # type: ignore[attr-defined]


def test_train_asked_for_rating_on_implicit_data_is_one_line(clicks_csv: Path, tmp_path: Path) -> None:
    result = _train(clicks_csv, tmp_path / "run", "--objective", "rating")
    assert result.exit_code == 2, result.output  # type: ignore[attr-defined]
    err = " ".join(result.stderr.split())  # type: ignore[attr-defined]
    assert err.startswith("error: ") and "Traceback" not in result.output  # type: ignore[attr-defined]
    assert "has no ratings (implicit feedback), so --objective rating cannot be trained" in err
    assert "use --objective ranking" in err
    assert not (tmp_path / "run").exists()
