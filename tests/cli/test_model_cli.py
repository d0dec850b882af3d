"""`embrec train`, `recommend`, `similar`, `predict`, `models` through the real CLI app."""

from __future__ import annotations

import json

import pandas as pd
import pytest
from typer.testing import CliRunner

from embrec.cli.main import app

runner = CliRunner()


@pytest.fixture
def ratings_csv(tiny, tmp_path):
    path = tmp_path / "my_ratings.csv"
    tiny.to_frame().to_csv(path, index=False)
    return path


def train(ratings_csv, out, *extra):
    return runner.invoke(
        app,
        [
            "train",
            "--data",
            str(ratings_csv),
            "--out",
            str(out),
            "--epochs",
            "3",
            "--embedding-dim",
            "4",
            "--json",
            *extra,
        ],
    )


def test_train_json_reports_the_figures(ratings_csv, tmp_path):
    result = train(ratings_csv, tmp_path / "run")
    assert result.exit_code == 0, result.output
    info = json.loads(result.stdout)
    assert {"test_rmse", "best_epoch", "epochs_run", "train_seconds", "test_ndcg@10"} <= set(info)
    assert 0 < info["test_rmse"] < 4 and info["epochs_run"] <= 3
    saved = json.loads((tmp_path / "run" / "embrec.json").read_text())
    assert saved["extra"]["split"]["split"] == "random" and saved["extra"]["split"]["seed"] == 42


def test_recommend_similar_predict(ratings_csv, tmp_path):
    run = tmp_path / "run"
    assert train(ratings_csv, run).exit_code == 0
    rec = runner.invoke(app, ["recommend", str(run), "--user", "100", "-n", "3", "--json"])
    assert rec.exit_code == 0, rec.output
    items = [r["item"] for r in json.loads(rec.stdout)["recommendations"]]
    assert len(items) == 3
    sim = runner.invoke(app, ["similar", str(run), "--item", "1000", "-n", "2", "--json"])
    assert sim.exit_code == 0 and len(json.loads(sim.stdout)["similar"]) == 2
    pred = runner.invoke(app, ["predict", str(run), "--user", "100", "--item", "1000", "--json"])
    assert pred.exit_code == 0 and 1 <= json.loads(pred.stdout)["rating"] <= 5


def test_all_users_writes_a_csv(ratings_csv, tmp_path):
    run = tmp_path / "run"
    assert train(ratings_csv, run).exit_code == 0
    out = tmp_path / "recs.csv"
    result = runner.invoke(app, ["recommend", str(run), "--all-users", "-n", "2", "--out", str(out)])
    assert result.exit_code == 0, result.output
    frame = pd.read_csv(out)
    assert frame["user"].nunique() == 30 and set(frame["rank"]) == {1, 2}


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["recommend", "RUN", "--user", "424242"], "424242"),
        (["similar", "RUN", "--item", "31337"], "31337"),
        (["recommend", "RUN"], "--all-users"),
        (["recommend", "RUN", "--all-users"], "--out"),
        (["recommend", "NOPE", "--user", "1"], "no run folder"),
    ],
)
def test_user_mistakes_are_one_line(ratings_csv, tmp_path, args, needle):
    run = tmp_path / "run"
    assert train(ratings_csv, run).exit_code == 0
    args = [str(run) if a == "RUN" else str(tmp_path / "nope") if a == "NOPE" else a for a in args]
    result = runner.invoke(app, args)
    assert result.exit_code == 2
    assert needle in result.stderr and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1


def test_ranking_model_refuses_rating_prediction(ratings_csv, tmp_path):
    run = tmp_path / "run"
    assert train(ratings_csv, run, "--objective", "ranking").exit_code == 0
    result = runner.invoke(app, ["predict", str(run), "--user", "100", "--item", "1000"])
    assert result.exit_code == 2 and "does not predict ratings" in result.stderr


def test_bad_setting_writes_nothing(ratings_csv, tmp_path):
    result = train(ratings_csv, tmp_path / "run", "--learning-rate", "-1")
    assert result.exit_code == 2 and "--learning-rate -1" in result.stderr
    assert not (tmp_path / "run").exists()


def test_models_lists_the_registry():
    result = runner.invoke(app, ["models"])
    assert result.exit_code == 0 and "embedding" in result.stdout


def _saved(run):
    return json.loads((run / "embrec.json").read_text())


def test_any_model_takes_settings_with_set(ratings_csv, tmp_path):
    run = tmp_path / "ease"
    result = runner.invoke(
        app,
        [
            "train",
            "--data",
            str(ratings_csv),
            "--out",
            str(run),
            "--model",
            "ease",
            "--set",
            "weight_decay=500",
            "--set",
            "threads=1",
            "--json",
        ],
    )
    assert result.exit_code == 0, result.output
    assert _saved(run)["config"]["weight_decay"] == 500.0
    assert json.loads(result.stdout)["resolved"]["device"] == "cpu"


def test_config_file_then_set_then_flags(ratings_csv, tmp_path):
    toml = tmp_path / "model.toml"
    toml.write_text('objective = "ranking"\nembedding_dim = 8\nepochs = 4\nlearning_rate = 0.01\n')
    run = tmp_path / "run"
    result = train(ratings_csv, run, "--config", str(toml), "--set", "learning_rate=0.02")
    assert result.exit_code == 0, result.output
    config = _saved(run)["config"]
    # the flags in train() (--epochs 3, --embedding-dim 4) win over --set, which wins over the file
    assert (config["objective"], config["learning_rate"], config["epochs"], config["embedding_dim"]) == (
        "ranking",
        0.02,
        3,
        4,
    )


def test_the_run_stores_what_was_asked_and_what_was_resolved(ratings_csv, tmp_path):
    run = tmp_path / "run"
    assert runner.invoke(app, ["train", "--data", str(ratings_csv), "--out", str(run), "--epochs", "2"]).exit_code == 0
    saved = _saved(run)
    assert saved["config"]["embedding_dim"] is None  # left to the objective's default
    assert saved["resolved"]["embedding_dim"] == 32 and saved["resolved"]["optimizer"] in ("adam", "sparse_adam")


@pytest.mark.parametrize(
    ("extra", "words"),
    [
        (["--model", "ease", "--epochs", "5"], ["unknown setting 'epochs'", "weight_decay"]),
        (["--set", "embeding_dim=8"], ["unknown setting 'embeding_dim'", "did you mean 'embedding_dim'"]),
        (["--set", "epochs"], ["epochs", "not name=value"]),
        (["--model", "ease", "--preset", "notebook"], ["--preset", "embedding model only"]),
    ],
)
def test_bad_settings_are_one_line_and_write_nothing(ratings_csv, tmp_path, extra, words):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(ratings_csv), "--out", str(run), *extra])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and result.stderr.count("error:") == 1
    for word in words:
        assert word in result.stderr
    assert not run.exists()


def test_models_lists_one_models_settings():
    result = runner.invoke(app, ["models", "--settings", "als"])
    assert result.exit_code == 0 and "weight_decay" in result.stdout and "alpha" in result.stdout
