"""``embrec evaluate`` through the CLI: stored data and split, fingerprints, comparisons, files."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd
import pytest
import typer
from typer.testing import CliRunner

from conftest import real_dataset
from embrec.cli.evaluate_cmd import register
from embrec.data.options import DataOptions, SplitMethod, SplitOptions
from embrec.evaluation import evaluate
from embrec.models import load
from embrec.models.embedding import EmbeddingRecommender

runner = CliRunner()


def make_app() -> typer.Typer:
    app = typer.Typer(add_completion=False, pretty_exceptions_enable=False)

    @app.callback()
    def main() -> None:
        """A stand-in for the embrec app."""

    register(app)
    return app


APP = make_app()


@pytest.fixture
def ratings_csv(tmp_path: Path) -> Path:
    """50 users with string ids, 30 items with genres, 6-12 ratings each."""
    rng = np.random.default_rng(11)
    rows = []
    for u in range(50):
        for i in rng.choice(30, size=int(rng.integers(6, 13)), replace=False):
            rows.append(
                (f"user{u:02d}", int(500 + i), float(rng.integers(1, 6)), int(1_600_000_000 + rng.integers(0, 10**6)))
            )
    path = tmp_path / "my_ratings.csv"
    pd.DataFrame(rows, columns=["user", "item", "rating", "timestamp"]).to_csv(path, index=False)
    return path


DATA_DEFAULTS: dict[str, Any] = {
    "dataset": None,
    "data_dir": None,
    "user_col": "user",
    "item_col": "item",
    "rating_col": "rating",
    "timestamp_col": "timestamp",
    "sep": None,
    "items": None,
    "rating_scale": None,
    "duplicates": "last",
}


def train_run(
    data: Path, out: Path, *, split: dict[str, Any] | None = None, store: bool = True, seed: int = 42, **config: Any
) -> Path:
    """Train a tiny embedding model as `embrec train` would and save it with the options used."""
    split_kw = {
        "split": "random",
        "test_fraction": None,
        "test_count": None,
        "cutoff": None,
        "seed": 42,
        "drop_unseen": False,
        **(split or {}),
    }
    interactions = DataOptions(data=str(data)).load()
    the_split = SplitOptions(**{**split_kw, "split": SplitMethod(split_kw["split"])}).apply(interactions)
    model = EmbeddingRecommender(epochs=2, embedding_dim=4, seed=seed, **config).fit(the_split.train)
    extra = {"data": {"data": str(data), **DATA_DEFAULTS}, "split": split_kw} if store else {}
    model.save(out, extra=extra)
    return out


def test_evaluates_on_the_stored_data_and_split(ratings_csv: Path, tmp_path: Path) -> None:
    run = train_run(ratings_csv, tmp_path / "run", split={"split": "user", "test_fraction": 0.3, "seed": 5})
    result = runner.invoke(APP, ["evaluate", str(run), "--k", "5", "--json"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["k"] == 5 and out["split"]["method"] == "user" and out["split"]["seed"] == 5
    assert out["data"]["options_from"].endswith("embrec.json")
    # The same numbers as the API on the same split.
    interactions = DataOptions(data=str(ratings_csv)).load()
    split = SplitOptions(SplitMethod.user, 0.3, None, None, 5, False).apply(interactions)
    api = evaluate(load(str(run)), split, k=5)
    metrics = out["models"][0]["metrics"]
    assert out["users"] == len(api.user_ids)
    assert metrics["ndcg"]["mean"] == pytest.approx(api[0].summary["ndcg"].mean)
    assert metrics["ndcg"]["low"] == pytest.approx(api[0].summary["ndcg"].low)
    assert out["models"][0]["lists"]["rmse"] == pytest.approx(api[0].lists["rmse"])
    assert out["models"][0]["label"] == "run" and "comparisons" not in out


def test_text_output_and_paired_comparison(ratings_csv: Path, tmp_path: Path) -> None:
    first = train_run(ratings_csv, tmp_path / "rating")
    second = train_run(ratings_csv, tmp_path / "ranking", objective="ranking", seed=3)
    result = runner.invoke(APP, ["evaluate", str(first), str(second), "--k", "5"])
    assert result.exit_code == 0, result.output
    text = result.stdout
    assert "ndcg" in text and "novelty" in text and "rmse" in text
    assert "paired comparison against rating" in text and "Wilcoxon" in text

    as_json = json.loads(runner.invoke(APP, ["evaluate", str(first), str(second), "--k", "5", "--json"]).stdout)
    rows = as_json["comparisons"]
    assert {r["model"] for r in rows} == {"ranking"} and {r["baseline"] for r in rows} == {"rating"}
    ndcg = next(r for r in rows if r["metric"] == "ndcg")
    assert 0 < ndcg["p_bootstrap"] <= 1 and 0 < ndcg["p_wilcoxon"] <= 1


def test_model_trained_on_other_data_is_refused(ratings_csv: Path, tmp_path: Path) -> None:
    run = train_run(ratings_csv, tmp_path / "run", split={"seed": 1})
    result = runner.invoke(APP, ["evaluate", str(run), "--seed", "2"])
    assert result.exit_code == 2
    assert "trained on other data" in result.stderr and "fingerprint" in result.stderr
    assert runner.invoke(APP, ["evaluate", str(run), "--seed", "1"]).exit_code == 0


def test_without_stored_options_the_command_line_is_used(ratings_csv: Path, tmp_path: Path) -> None:
    run = train_run(ratings_csv, tmp_path / "run", store=False)  # default random 90/10, seed 42
    missing = runner.invoke(APP, ["evaluate", str(run)])
    assert missing.exit_code == 2 and "--data or --dataset" in missing.stderr
    ok = runner.invoke(APP, ["evaluate", str(run), "--data", str(ratings_csv), "--json"])
    assert ok.exit_code == 0, ok.output
    out = json.loads(ok.stdout)
    assert out["data"]["options_from"] == "command line" and out["split"]["seed"] == 42
    assert out["split"]["method"] == "random" and out["split"]["test_fraction"] == 0.1


def test_files_are_written_with_the_datasets_ids(ratings_csv: Path, tmp_path: Path) -> None:
    run = train_run(ratings_csv, tmp_path / "run")
    recs, split_dir = tmp_path / "out" / "recs.csv", tmp_path / "out" / "split"
    md, csv_dir = tmp_path / "out" / "report.md", tmp_path / "out" / "tables"
    args = [
        "evaluate",
        str(run),
        "--k",
        "3",
        "--save-recs",
        str(recs),
        "--save-split",
        str(split_dir),
        "--markdown",
        str(md),
        "--csv",
        str(csv_dir),
    ]
    result = runner.invoke(APP, args)
    assert result.exit_code == 0, result.output

    frame = pd.read_csv(recs)
    assert list(frame.columns) == ["user", "item", "rank", "score"]
    assert frame["user"].str.startswith("user").all() and frame["item"].between(500, 529).all()
    assert frame.groupby("user")["rank"].max().max() == 3

    interactions = DataOptions(data=str(ratings_csv)).load()
    split = SplitOptions(SplitMethod.random, None, None, None, 42, False).apply(interactions)
    train = pd.read_csv(split_dir / "train.csv")
    pd.testing.assert_frame_equal(train, split.train.to_frame().astype({"user": object}), check_dtype=False)
    assert len(pd.read_csv(split_dir / "test.csv")) == split.test.n_ratings
    # Every listed user has a relevant test item, and no list holds one of the user's training items.
    seen = set(zip(train["user"], train["item"]))
    assert not any((u, i) in seen for u, i in zip(frame["user"], frame["item"]))

    assert "| metric | run |" in md.read_text()
    assert sorted(p.name for p in csv_dir.iterdir()) == ["per_user_run.csv", "summary.csv"]
    assert not [p.name for p in (tmp_path / "out").rglob(".*")]

    again = runner.invoke(APP, args)  # an earlier split folder is replaced, other folders are not
    assert again.exit_code == 0, again.output
    (split_dir / "notes.txt").write_text("mine")
    refused = runner.invoke(APP, args)
    assert refused.exit_code == 2 and "not empty" in refused.stderr


def test_rerank_option(ratings_csv: Path, tmp_path: Path) -> None:
    run = train_run(ratings_csv, tmp_path / "run")
    plain = json.loads(runner.invoke(APP, ["evaluate", str(run), "--k", "5", "--json"]).stdout)
    diverse = runner.invoke(APP, ["evaluate", str(run), "--k", "5", "--rerank", "mmr:0.9", "--json"])
    assert diverse.exit_code == 0, diverse.output
    out = json.loads(diverse.stdout)
    assert out["rerank"] == {"method": "mmr", "lambda": 0.9, "candidates": 100, "similarity": "auto"}
    assert out["models"][0]["metrics"]["diversity"]["mean"] > plain["models"][0]["metrics"]["diversity"]["mean"]
    bad = runner.invoke(APP, ["evaluate", str(run), "--rerank", "mmr=0.3"])
    assert bad.exit_code == 2 and "mmr:0.3" in bad.stderr


def test_missing_run_is_one_line_error(tmp_path: Path) -> None:
    result = runner.invoke(APP, ["evaluate", str(tmp_path / "nope")])
    assert result.exit_code == 2 and "no run folder" in result.stderr and "Traceback" not in result.output


@pytest.mark.slow
def test_real_movielens_run(tmp_path: Path) -> None:
    folder = real_dataset("ml-100k")
    interactions = DataOptions(data=str(folder)).load()
    split = SplitOptions(SplitMethod.random, None, None, None, 42, False).apply(interactions)
    model = EmbeddingRecommender(epochs=2, embedding_dim=8, batch_size=4096).fit(split.train)
    extra = {
        "data": {"data": str(folder), **DATA_DEFAULTS},
        "split": {
            "split": "random",
            "test_fraction": None,
            "test_count": None,
            "cutoff": None,
            "seed": 42,
            "drop_unseen": False,
        },
    }
    run = model.save(tmp_path / "run", extra=extra)
    result = runner.invoke(APP, ["evaluate", str(run), "--json", "--resamples", "200"])
    assert result.exit_code == 0, result.output
    out = json.loads(result.stdout)
    assert out["users"] > 500 and out["data"]["source"] == "ml-100k"
    metrics = out["models"][0]["metrics"]
    assert metrics["genre_diversity"]["n"] == out["users"]
    assert 0 < out["models"][0]["lists"]["coverage"] <= 1 and 0.7 < out["models"][0]["lists"]["rmse"] < 1.5


def test_saved_lists_score_as_the_run_did(ratings_csv: Path, tmp_path: Path) -> None:
    run = train_run(ratings_csv, tmp_path / "run")
    recs, split_dir = tmp_path / "recs.csv", tmp_path / "split"
    first = runner.invoke(
        APP, ["evaluate", str(run), "--json", "--save-recs", str(recs), "--save-split", str(split_dir)]
    )
    assert first.exit_code == 0, first.output
    again = runner.invoke(APP, ["evaluate", "--recs", str(recs), "--split-dir", str(split_dir), "--json"])
    assert again.exit_code == 0, again.output
    by_run, by_lists = json.loads(first.stdout), json.loads(again.stdout)
    assert by_lists["users"] == by_run["users"]
    for metric in ("ndcg", "recall", "precision", "novelty", "genre_diversity"):
        assert by_lists["models"][0]["metrics"][metric]["mean"] == pytest.approx(
            by_run["models"][0]["metrics"][metric]["mean"], abs=1e-12
        ), metric
    assert by_lists["models"][0]["lists"]["coverage"] == pytest.approx(by_run["models"][0]["lists"]["coverage"])
    assert by_lists["data"]["options_from"] == str(split_dir)


@pytest.mark.parametrize(
    ("argv", "needle"),
    [
        (["--recs", "recs.csv"], "--split-dir"),
        (["--split-dir", "split"], "give run folders to evaluate, or --recs FILE with --split-dir DIR"),
        ([], "not both or neither"),
    ],
)
def test_lists_need_their_split(tmp_path: Path, argv: list[str], needle: str) -> None:
    (tmp_path / "recs.csv").write_text("user,item,rank\n1,2,1\n")
    result = runner.invoke(
        APP, ["evaluate", *[str(tmp_path / a) if a.endswith((".csv", "split")) else a for a in argv]]
    )
    assert result.exit_code == 2 and needle in result.stderr and "Traceback" not in result.output


# --------------------------------------------------------------------------- ceilings
def test_the_flags_ceilings_are_the_librarys() -> None:
    from embrec.cli import evaluate_cmd
    from embrec.evaluation.context import MAX_K
    from embrec.evaluation.rerank import MAX_CANDIDATES
    from embrec.evaluation.stats import MAX_RESAMPLES

    assert (evaluate_cmd._MAX_K, evaluate_cmd._MAX_RESAMPLES, evaluate_cmd._MAX_CANDIDATES) == (
        MAX_K,
        MAX_RESAMPLES,
        MAX_CANDIDATES,
    )


@pytest.mark.parametrize(
    ("flags", "ceiling"),
    [
        (["--k", "1000000000"], "1000"),
        (["--resamples", "1000000000"], "100000"),
        (["--rerank", "mmr:0.3", "--rerank-candidates", "1000000000"], "1000"),
    ],
)
def test_values_above_a_ceiling_are_refused_before_anything_runs(
    ratings_csv: Path, tmp_path: Path, flags: list[str], ceiling: str
) -> None:
    run = train_run(ratings_csv, tmp_path / "run")
    result = runner.invoke(APP, ["evaluate", str(run), *flags])
    assert result.exit_code == 2, result.output
    assert "Traceback" not in result.output
    assert flags[-2] in result.stderr and ceiling in result.stderr


def test_a_list_longer_than_the_catalogue_is_one_line(ratings_csv: Path, tmp_path: Path) -> None:
    run = train_run(ratings_csv, tmp_path / "run")  # 30 items: lists of up to 100 are padded, longer ones refused
    result = runner.invoke(APP, ["evaluate", str(run), "--k", "500"])
    assert result.exit_code == 2 and "Traceback" not in result.output
    assert len(result.stderr.strip().splitlines()) == 1
    assert (
        "--k 500 is too long: the catalogue has 30 items" in result.stderr and "give k from 1 to 100" in result.stderr
    )
