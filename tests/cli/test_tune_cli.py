"""`embrec tune` through the real command line: JSON, resuming, best.toml into `embrec train`, one-line errors."""

from __future__ import annotations

import json

import pandas as pd
import pytest

from embrec.cli.main import main

pytest.importorskip("optuna")


@pytest.fixture
def ratings_csv(tiny, tmp_path):
    path = tmp_path / "ratings.csv"
    tiny.to_frame().to_csv(path, index=False)
    return path


def tune(capsys, csv, out, *extra):
    code = main(["tune", *extra, "--data", str(csv), "--out", str(out), "--json"])
    captured = capsys.readouterr()
    return code, captured


def test_tune_prints_the_best_settings_as_json(ratings_csv, tmp_path, capsys):
    out = tmp_path / "study"
    code, captured = tune(capsys, ratings_csv, out, "ease", "--trials", "3", "--metric", "ndcg@5", "--seed", "7")
    assert code == 0, captured.err
    info = json.loads(captured.out)
    assert set(info) >= {"best_config", "best_value", "metric", "direction", "trials", "validation"}
    assert info["metric"] == "ndcg@5" and info["direction"] == "maximize" and info["trials"] == 3
    assert set(info["best_config"]) == {"weight_decay"}
    assert info["validation"]["carved_from"] == "train" and info["validation"]["method"] == "random"
    assert {p.name for p in out.iterdir()} >= {"study.db", "best.toml", "trials.csv"}
    table = pd.read_csv(out / "trials.csv")
    assert list(table.columns) == ["number", "state", "weight_decay", "value", "seconds"]
    assert table["value"].max() == pytest.approx(info["best_value"])


def test_no_prune_runs_every_embedding_trial_to_its_end(ratings_csv, tmp_path, capsys, monkeypatch):
    optuna = pytest.importorskip("optuna")

    class PruneAfterFirst(optuna.pruners.BasePruner):
        def prune(self, study, trial):
            return trial.number > 0

    monkeypatch.setattr(optuna.pruners, "MedianPruner", lambda **_: PruneAfterFirst())
    args = ("embedding", "--trials", "2", "--metric", "rmse", "--set", "epochs=3", "--set", "objective=rating")
    code, captured = tune(capsys, ratings_csv, tmp_path / "pruned", *args)
    assert code == 0 and json.loads(captured.out)["pruned"] == 1, captured.err  # the defaults' trial is kept
    code, captured = tune(capsys, ratings_csv, tmp_path / "full", *args, "--no-prune")
    assert code == 0, captured.err
    assert json.loads(captured.out)["pruned"] == 0 and json.loads(captured.out)["complete"] == 2


def test_the_same_command_continues_the_study_to_the_total(ratings_csv, tmp_path, capsys):
    out = tmp_path / "study"
    assert tune(capsys, ratings_csv, out, "biases", "--trials", "2", "--metric", "rmse")[0] == 0
    first = pd.read_csv(out / "trials.csv")
    code, captured = tune(capsys, ratings_csv, out, "biases", "--trials", "4", "--metric", "rmse")
    assert code == 0, captured.err
    table = pd.read_csv(out / "trials.csv")
    assert list(table["number"]) == [0, 1, 2, 3] and json.loads(captured.out)["trials"] == 4
    pd.testing.assert_frame_equal(table.drop(columns="seconds").iloc[:2], first.drop(columns="seconds"))


def test_seed_makes_it_repeatable(ratings_csv, tmp_path, capsys):
    tables = []
    for name in ("a", "b"):
        args = ("embedding", "--trials", "3", "--set", "epochs=2", "--seed", "3")
        assert tune(capsys, ratings_csv, tmp_path / name, *args)[0] == 0
        tables.append(pd.read_csv(tmp_path / name / "trials.csv").drop(columns="seconds"))
    pd.testing.assert_frame_equal(tables[0], tables[1])
    settings = [
        [line for line in (tmp_path / name / "best.toml").read_text().splitlines() if not line.startswith("#")]
        for name in ("a", "b")
    ]
    assert settings[0] == settings[1] and "epochs = 2" in settings[0]


def test_best_toml_trains_with_embrec_train(ratings_csv, tmp_path, capsys):
    out = tmp_path / "study"
    code, captured = tune(capsys, ratings_csv, out, "embedding", "--trials", "2", "--set", "epochs=2")
    assert code == 0, captured.err
    best = json.loads(captured.out)["best_config"]
    run = tmp_path / "run"
    argv = ["train", "--model", "embedding", "--config", str(out / "best.toml"), "--data", str(ratings_csv)]
    assert main([*argv, "--out", str(run), "--json"]) == 0
    trained = json.loads(capsys.readouterr().out)
    assert {key: trained["config"][key] for key in best} == best


def test_a_changed_metric_on_the_same_folder_is_refused(ratings_csv, tmp_path, capsys):
    out = tmp_path / "study"
    assert tune(capsys, ratings_csv, out, "ease", "--trials", "1")[0] == 0
    code, captured = tune(capsys, ratings_csv, out, "ease", "--trials", "2", "--metric", "recall@10")
    assert code == 2
    (line,) = captured.err.strip().splitlines()
    assert "another metric" in line and "ndcg@10" in line and "recall@10" in line
    assert len(pd.read_csv(out / "trials.csv")) == 1


@pytest.mark.parametrize(
    ("args", "needle"),
    [
        (["ease", "--trials", "0"], "--trials"),
        (["nope"], "unknown model 'nope'"),
        (["popularity"], "model 'popularity' has nothing to tune"),
        (["ease", "--metric", "accuracy"], "unknown metric 'accuracy'; choose from ndcg@K"),
        (["ease", "--metric", "rmse"], "predicts no ratings"),
        (["ease", "--set", "weight_decay=-1"], "weight_decay=-1.0"),
    ],
)
def test_bad_input_is_one_line_and_writes_nothing(args, needle, ratings_csv, tmp_path, capsys):
    out = tmp_path / "study"
    code, captured = tune(capsys, ratings_csv, out, *args)
    assert code == 2
    (line,) = captured.err.strip().splitlines()
    assert line.startswith("error:") and needle in line and "Traceback" not in captured.err
    assert not out.exists()


def test_without_json_it_shows_a_table(ratings_csv, tmp_path, capsys):
    out = tmp_path / "study"
    assert main(["tune", "ease", "--trials", "2", "--data", str(ratings_csv), "--out", str(out)]) == 0
    shown = capsys.readouterr().out
    assert "weight_decay" in shown and "best.toml" in shown


@pytest.mark.slow
@pytest.mark.realdata
def test_tune_ease_on_ml_100k(tmp_path, capsys):
    from conftest import real_dataset

    folder = real_dataset("ml-100k")
    out = tmp_path / "study"
    argv = ["tune", "ease", "--data", str(folder), "--trials", "4", "--out", str(out), "--json"]
    assert main(argv) == 0
    info = json.loads(capsys.readouterr().out)
    assert 0.15 < info["best_value"] < 0.5 and info["validation"]["validation_rows"] > 8000
