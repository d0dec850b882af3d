"""`embrec train`, `recommend`, `similar`, `predict`, `models` through the real CLI app."""

from __future__ import annotations

import json
from pathlib import Path

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
    assert saved["resolved"]["embedding_dim"] == 64 and saved["resolved"]["optimizer"] in (
        "adam",
        "sparse_adam",
        "rowwise_adagrad",
    )


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


# ---------------------------------------------------------------------------- ceilings
@pytest.mark.parametrize(
    ("flag", "value", "ceiling"),
    [("--embedding-dim", "1000000000", "4096"), ("--threads", "1000000", "256")],
)
def test_sizes_and_threads_above_their_ceiling_are_refused(ratings_csv, tmp_path, flag, value, ceiling):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(ratings_csv), "--out", str(run), flag, value])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and flag in result.stderr and ceiling in result.stderr
    assert not run.exists()


@pytest.mark.parametrize(
    ("setting", "needle"),
    [
        (
            "threads=1000000",
            "--threads 1000000 is not allowed for the embedding model; give a whole number from 1 to 256",
        ),
        (
            "embedding_dim=5000",
            "--embedding-dim 5000 is not allowed for the embedding model; give a whole number from 1 to 4096",
        ),
    ],
)
def test_a_setting_above_its_ceiling_is_one_line(ratings_csv, tmp_path, setting, needle):
    run = tmp_path / "run"
    result = runner.invoke(app, ["train", "--data", str(ratings_csv), "--out", str(run), "--set", setting])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert needle in result.stderr and len(result.stderr.strip().splitlines()) == 1
    assert not run.exists()


# ---------------------------------------------------------------------------- --out, checked before the work
@pytest.fixture
def no_training(monkeypatch):
    """Fail the test if a model is trained: refusals must come first."""
    from embrec.models.base import Recommender

    def refuse(self, *args, **kwargs):
        raise AssertionError("the model was trained before --out was checked")

    monkeypatch.setattr(Recommender, "fit", refuse)


def one_line_error(result, *needles):
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


def test_train_refuses_to_replace_a_run_without_force(ratings_csv, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert train(ratings_csv, run).exit_code == 0
    before = (run / "embrec.json").read_bytes()
    with monkeypatch.context() as patched:
        from embrec.models.base import Recommender

        patched.setattr(Recommender, "fit", lambda *a, **k: pytest.fail("trained before refusing"))
        one_line_error(train(ratings_csv, run), f"--out {run} already holds a trained run", "--force")
    assert (run / "embrec.json").read_bytes() == before
    replaced = train(ratings_csv, run, "--force", "--model-seed", "7")
    assert replaced.exit_code == 0, replaced.output
    assert json.loads((run / "embrec.json").read_text())["config"]["seed"] == 7


def test_train_into_an_empty_folder_needs_no_force(ratings_csv, tmp_path):
    (tmp_path / "run").mkdir()
    assert train(ratings_csv, tmp_path / "run").exit_code == 0


def test_train_never_replaces_a_folder_of_other_files(ratings_csv, tmp_path, no_training):
    folder = tmp_path / "mine"
    folder.mkdir()
    (folder / "notes.txt").write_text("keep me")
    one_line_error(train(ratings_csv, folder, "--force"), "holds other files")
    assert (folder / "notes.txt").read_text() == "keep me"


def unwritable_paths(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("")
    paths = [blocker / "run"]
    if Path("/proc/self").is_dir():  # Linux: nothing can be created in /proc, not even by root
        paths.append(Path("/proc/embrec-no-such/run"))
    return paths


def test_train_checks_out_can_be_written_before_training(ratings_csv, tmp_path, no_training):
    for out in unwritable_paths(tmp_path):
        one_line_error(train(ratings_csv, out), "cannot write", str(out))
    one_line_error(train(ratings_csv, tmp_path / "a-file"), "is a file")


def test_recommend_all_users_checks_out_before_ranking(ratings_csv, tmp_path, monkeypatch):
    run = tmp_path / "run"
    assert train(ratings_csv, run).exit_code == 0
    from embrec.models.base import Recommender

    monkeypatch.setattr(Recommender, "recommend", lambda *a, **k: pytest.fail("ranked before checking --out"))
    for out in unwritable_paths(tmp_path):
        result = runner.invoke(app, ["recommend", str(run), "--all-users", "--out", str(out)])
        one_line_error(result, "cannot write", str(out))
    result = runner.invoke(app, ["recommend", str(run), "--all-users", "--out", str(tmp_path)])
    one_line_error(result, "is a folder")


# ---------------------------------------------------------------------------- figures a model has
def test_train_shows_only_the_figures_the_model_has(ratings_csv, tmp_path):
    def ease(out, *extra):  # EASE is closed form: it runs no epochs
        return runner.invoke(app, ["train", "--data", str(ratings_csv), "--out", str(out), "--model", "ease", *extra])

    table = ease(tmp_path / "table")
    assert table.exit_code == 0, table.output
    assert "best_epoch" not in table.stdout and "epochs_run" not in table.stdout and "None" not in table.stdout
    assert "train_seconds" in table.stdout and "test_ndcg@10" in table.stdout
    shown = ease(tmp_path / "json", "--json")
    assert shown.exit_code == 0, shown.output
    info = json.loads(shown.stdout)
    assert "best_epoch" not in info and "epochs_run" not in info and info["train_seconds"] >= 0


def test_models_json_lists_every_model_and_one_model_s_settings():
    from embrec.models import registry

    listed = json.loads(runner.invoke(app, ["models", "--json"]).stdout)["models"]
    assert [m["name"] for m in listed] == registry.available()
    by_name = {m["name"]: m for m in listed}
    assert by_name["biases"]["predicts"] == "ratings" and by_name["ease"]["predicts"] == "scores"
    assert by_name["embedding"]["can_fold_in"] is True and all(m["description"] for m in listed)
    ease = json.loads(runner.invoke(app, ["models", "--settings", "ease", "--json"]).stdout)
    assert ease["model"] == "ease"
    assert {"setting": "weight_decay", "default": 250.0, "allowed": "give a number above 0"} in ease["settings"]


def test_every_training_option_says_what_it_does_and_its_default():
    import typer.main

    train = typer.main.get_command(app).commands["train"]  # type: ignore[attr-defined]
    for param in train.params:
        assert param.help, f"--{param.name} has no help text"
    shortcuts = ("embedding_dim", "epochs", "learning_rate", "weight_decay", "batch_size", "model_seed", "threads")
    for param in train.params:
        if param.name in shortcuts:
            assert "default" in param.help, f"--{param.name} does not say its default"
    preset = next(p for p in train.params if p.name == "preset")
    assert "--objective" in preset.help  # how the two relate
