"""What `embrec train` tells the user: rows, device, threads, peak memory and the per-epoch history,
early stopping turned off from the command line, ratings/s in the progress bar, and a run refused
before training when it would not fit in memory."""

from __future__ import annotations

import json
import math
from pathlib import Path

import pytest
from typer.testing import CliRunner

from embrec.cli.main import app
from embrec.cli.model_cmd import _progress_bar
from embrec.models import memory

runner = CliRunner()


@pytest.fixture
def ratings_csv(tiny, tmp_path):
    path = tmp_path / "ratings.csv"
    tiny.to_frame().to_csv(path, index=False)
    return path


def train(ratings_csv: Path, out: Path, *extra: str):
    return runner.invoke(app, ["train", "--data", str(ratings_csv), "--out", str(out), "--json", *extra])


def trained(ratings_csv: Path, out: Path, *extra: str) -> dict:
    result = train(ratings_csv, out, *extra)
    assert result.exit_code == 0, result.output
    return json.loads(result.stdout)


def one_line_error(result, *needles: str) -> None:
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output and len(result.stderr.strip().splitlines()) == 1, result.stderr
    for needle in needles:
        assert needle in result.stderr, result.stderr


# ---------------------------------------------------------------------------- the report
ENGINES = {
    "numba rating": (["--objective", "rating"], "rowwise_adagrad", ("train_loss", "val_loss", "val_rmse")),
    "torch rating": (["--objective", "rating", "--set", "engine=torch"], "adam", ("train_loss", "val_loss")),
    "full softmax": (["--objective", "ranking"], "adamw", ("train_loss", "val_loss")),
    "sampled softmax": (["--objective", "ranking", "--set", "n_negatives=5"], "lazy_adamw", ("train_loss", "val_loss")),
}


@pytest.mark.parametrize("engine", ENGINES)
def test_train_json_reports_rows_device_threads_memory_and_history(ratings_csv, tmp_path, engine):
    flags, optimizer, losses = ENGINES[engine]
    run = tmp_path / "run"
    info = trained(ratings_csv, run, "--epochs", "4", "--embedding-dim", "4", *flags)
    assert info["resolved"]["optimizer"] == optimizer  # the path named is the one trained
    # every epoch steps over the training rows less the validation slice early stopping watches
    validation = round(info["resolved"]["validation_fraction"] * info["train_rows"])
    assert info["rows"] == info["train_rows"] - validation and validation > 0
    assert info["device"] == "cpu" and info["threads"] == 1
    assert 1 < info["peak_rss_mib"] < 1e6  # MiB: a Python process with torch holds tens of them, not bytes
    history = info["history"]
    assert len(history) == info["epochs_run"] and [h["epoch"] for h in history] == list(range(1, len(history) + 1))
    for record in history:
        assert record["seconds"] > 0 and record["rows"] == info["rows"]
        assert all(math.isfinite(record[name]) for name in losses)
    assert history[info["best_epoch"] - 1]["val_loss"] == min(h["val_loss"] for h in history)
    assert json.loads((run / "history.json").read_text()) == history  # what the run folder keeps


def test_the_table_leaves_the_history_out_and_shows_the_new_figures(ratings_csv, tmp_path):
    result = runner.invoke(
        app,
        ["train", "--data", str(ratings_csv), "--out", str(tmp_path / "run"), "--epochs", "2", "--embedding-dim", "4"],
    )
    assert result.exit_code == 0, result.output
    assert "peak_rss_mib" in result.stdout and "threads" in result.stdout and "rows" in result.stdout
    assert "history" not in result.stdout and "'epoch'" not in result.stdout


@pytest.mark.parametrize(("model", "threads"), [("ease", 1), ("popularity", None)])
def test_a_model_without_epochs_reports_no_history(ratings_csv, tmp_path, model, threads):
    info = trained(ratings_csv, tmp_path / "run", "--model", model)
    assert "history" not in info and "best_epoch" not in info
    assert info["rows"] == info["train_rows"] and info["device"] == "cpu" and info["threads"] == threads
    assert info["peak_rss_mib"] > 1


# ---------------------------------------------------------------------------- early stopping off
def test_no_early_stopping_runs_exactly_the_epochs_asked(ratings_csv, tmp_path):
    # with patience 1 these settings stop well before 30 epochs ...
    fast = ("--set", "refit=false", "--set", "learning_rate=0.1")
    stopped = trained(
        ratings_csv, tmp_path / "stopped", "--epochs", "30", "--embedding-dim", "4", "--patience", "1", *fast
    )
    assert stopped["resolved"]["patience"] == 1 and stopped["epochs_run"] < 30
    assert stopped["epochs_run"] - stopped["best_epoch"] == 1
    # ... and run all of them with early stopping off, on every training row, with no validation loss
    info = trained(ratings_csv, tmp_path / "all", "--epochs", "30", "--embedding-dim", "4", "--no-early-stopping")
    assert info["resolved"]["early_stopping"] is False
    assert info["epochs_run"] == info["best_epoch"] == len(info["history"]) == 30
    assert info["rows"] == info["train_rows"] and all("val_loss" not in h for h in info["history"])


def test_early_stopping_turned_back_on_over_the_notebook_preset(ratings_csv, tmp_path):
    notebook = ["--preset", "notebook", "--epochs", "30", "--embedding-dim", "4", "--patience", "1"]
    assert trained(ratings_csv, tmp_path / "off", *notebook)["epochs_run"] == 30  # the preset has it off
    on = trained(ratings_csv, tmp_path / "on", *notebook, "--early-stopping")
    assert on["resolved"]["early_stopping"] is True and on["epochs_run"] < 30


def test_the_flags_are_documented():
    result = runner.invoke(app, ["train", "--help"], env={"COLUMNS": "200", "TERMINAL_WIDTH": "200"})
    assert "--no-early-stopping" in result.output and "--patience" in result.output


# ---------------------------------------------------------------------------- the progress bar
def test_the_progress_bar_shows_the_last_epoch_s_ratings_per_second():
    bar, update = _progress_bar(10)
    update(3, 10, {"epoch": 3, "train_loss": 0.25, "val_loss": 0.5, "seconds": 0.5, "rows": 1_000})
    info = bar.tasks[0].fields["info"]
    assert bar.tasks[0].completed == 3
    assert "2,000 ratings/s" in info and "train_loss 0.2500" in info and "val_loss 0.5000" in info
    update(4, 10, {"epoch": 4, "train_loss": 0.2, "seconds": 0.5})  # a model that counts no rows
    assert "ratings/s" not in bar.tasks[0].fields["info"]


# ---------------------------------------------------------------------------- refused before training
def test_a_run_too_large_for_memory_is_refused_before_training(ratings_csv, tmp_path, monkeypatch):
    from embrec.models.embedding import EmbeddingRecommender

    monkeypatch.setattr(memory, "available_bytes", lambda: 2**20)  # 1 MiB free
    monkeypatch.setattr(EmbeddingRecommender, "_fit", lambda *a, **k: pytest.fail("trained before refusing"))
    run = tmp_path / "run"
    result = train(ratings_csv, run, "--embedding-dim", "4096")
    one_line_error(
        result, "training needs about", "MiB of memory", "parameters", "at dim 4096", "but 1.0 MiB is available"
    )
    assert "lower --embedding-dim 4096" in result.stderr  # the library's embedding_dim=4096, as the flag
    assert "--no-early-stopping" in result.stderr
    assert not run.exists() and list(tmp_path.iterdir()) == [ratings_csv]  # no run folder, not even a staging one


def test_the_same_run_trains_when_the_memory_is_there(ratings_csv, tmp_path, monkeypatch):
    monkeypatch.setattr(memory, "available_bytes", lambda: 2**40)
    info = trained(ratings_csv, tmp_path / "run", "--embedding-dim", "4096", "--epochs", "1")
    assert info["resolved"]["embedding_dim"] == 4096 and (tmp_path / "run" / "embrec.json").is_file()
