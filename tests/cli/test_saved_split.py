"""A split written by ``embrec split`` feeds ``train`` and ``evaluate`` as it is, and the run re-opens it."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from typer.testing import CliRunner

from embrec.cli.main import app
from embrec.data.split_files import load_split
from embrec.runs import Run

runner = CliRunner()


@pytest.fixture
def saved(tmp_path: Path) -> dict[str, Path]:
    """Ratings of 50 users on 20 text-id items, an item file with titles, and a user split of them."""
    rng = np.random.default_rng(5)
    rows = [
        (f"u{u}", f"sku{i}", float(rng.integers(1, 6)))
        for u in range(50)
        for i in rng.choice(20, size=int(rng.integers(5, 12)), replace=False)
    ]
    ratings = tmp_path / "ratings.csv"
    pd.DataFrame(rows, columns=["uid", "sku", "stars"]).to_csv(ratings, index=False)
    items = tmp_path / "items.csv"
    pd.DataFrame({"sku": [f"sku{i}" for i in range(20)], "name": [f"Thing {i}" for i in range(20)]}).to_csv(
        items, index=False
    )
    split = tmp_path / "split"
    columns = ["--user-col", "uid", "--item-col", "sku", "--rating-col", "stars", "--timestamp-col", "none"]
    made = runner.invoke(app, ["split", "--data", str(ratings), *columns, "--split", "user", "--out", str(split)])
    assert made.exit_code == 0, made.output
    return {"ratings": ratings, "items": items, "split": split, "columns": columns, "tmp": tmp_path}  # type: ignore[dict-item]


def _train(saved, out: Path, *extra: str):
    return runner.invoke(
        app,
        ["train", "--split-dir", str(saved["split"]), "--out", str(out), "--epochs", "3", "--json", *extra],
    )


def test_train_on_a_saved_split_then_evaluate_it_without_options(saved):
    run = saved["tmp"] / "run"
    trained = _train(saved, run, "--items", str(saved["items"]), "--items-id-col", "sku", "--title-col", "name")
    assert trained.exit_code == 0, trained.output
    out = json.loads(trained.stdout)
    on_disk = load_split(saved["split"])
    assert (out["train_rows"], out["test_rows"]) == (on_disk.train.n_ratings, on_disk.test.n_ratings)
    assert json.loads((run / "embrec.json").read_text())["extra"]["split_dir"] == str(saved["split"].resolve())

    evaluated = runner.invoke(app, ["evaluate", str(run), "--json"])
    assert evaluated.exit_code == 0, evaluated.output
    again = runner.invoke(app, ["evaluate", str(run), "--split-dir", str(saved["split"]), "--json"])
    assert again.exit_code == 0, again.output
    first, second = json.loads(evaluated.stdout), json.loads(again.stdout)
    assert first["models"] == second["models"] and first["models"][0]["users"] > 0

    data, split = Run.open(run).data_and_split()  # the API re-opens the same folder
    assert split.train.fingerprint() == on_disk.train.fingerprint()
    assert data.n_ratings == on_disk.train.n_ratings + on_disk.test.n_ratings
    assert split.train.titles([0])[0].startswith("Thing ")  # the recorded --items gives the titles

    recommended = runner.invoke(app, ["recommend", str(run), "--user", "u1", "--n", "3", "--json"])
    assert recommended.exit_code == 0 and "Thing " in recommended.stdout


def test_a_saved_split_with_data_or_split_options_is_one_line(saved):
    run = saved["tmp"] / "run"
    result = _train(saved, run, "--data", str(saved["ratings"]), "--test-fraction", "0.2")
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "--split-dir" in line and "--data, --test-fraction" in line and not run.exists()


def test_evaluate_refuses_a_saved_split_the_run_was_not_trained_on(saved):
    run = saved["tmp"] / "run"
    other = saved["tmp"] / "other-split"
    made = runner.invoke(
        app, ["split", "--data", str(saved["ratings"]), *saved["columns"], "--seed", "7", "--out", str(other)]
    )
    assert made.exit_code == 0, made.output
    assert _train(saved, run).exit_code == 0
    result = runner.invoke(app, ["evaluate", str(run), "--split-dir", str(other)])
    assert result.exit_code == 2
    (line,) = result.stderr.strip().splitlines()
    assert "trained on other data" in line and str(other) in line
