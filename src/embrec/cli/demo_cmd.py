"""``embrec demo``: the whole tour on ml-latest-small in one command."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated, Optional

import numpy as np
import typer
from rich.table import Table

from embrec.cli._common import cli_errors, console
from embrec.cli._options import DataDir


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's runs and files.")] = Path("runs/demo"),
    dataset: Annotated[str, typer.Option("--dataset", help="Built-in dataset to tour.")] = "ml-latest-small",
    data_dir: DataDir = None,
    user: Annotated[Optional[str], typer.Option("--user", help="User whose recommendations are shown (default: the first).")] = None,
) -> None:
    """Load ml-latest-small, summarise it, train the embedding model and baselines, recommend, evaluate."""
    from embrec.cli._figures import test_figures
    from embrec.cli.data_cmd import _print_tables
    from embrec.data.load import load_data
    from embrec.data.splits import make_split
    from embrec.data.summary import summarize
    from embrec.models import create, preset
    from embrec.models.embedding import EmbeddingRecommender

    console.rule(f"[bold]1. data: {dataset}")
    data = load_data(dataset=dataset, data_dir=data_dir)
    _print_tables(summarize(data))

    console.rule("[bold]2. split: random 90/10, seed 42 (the exercise's split)")
    split = make_split(data, "random", test_fraction=0.1, seed=42)
    console.print(f"train {split.train.n_ratings:,} rows, test {split.test.n_ratings:,} rows")

    console.rule("[bold]3. train")
    results = Table(title="test-split figures (relevant = rating >= 4, seen items excluded)")
    for col in ("model", "fit seconds", "test RMSE", "NDCG@10", "recall@10"):
        results.add_column(col, justify="left" if col == "model" else "right")
    models = {
        "embedding (rating)": EmbeddingRecommender(preset("default")),
        "embedding (ranking)": EmbeddingRecommender(preset("ranking")),
        "popularity": create("popularity"),
    }
    fitted = {}
    for label, model in models.items():
        t0 = time.perf_counter()
        with console.status(f"training {label} ..."):
            model.fit(split.train)
        seconds = time.perf_counter() - t0
        fig = test_figures(model, split)
        fitted[label] = model
        rmse = fig.get("test_rmse")
        results.add_row(label, f"{seconds:.2f}", "-" if rmse is None else f"{rmse:.4f}",
                        f"{fig.get('test_ndcg@10') or 0:.4f}", f"{fig.get('test_recall@10') or 0:.4f}")
    console.print(results)
    run = fitted["embedding (ranking)"].save(out / "ranking", extra={
        "data": {"dataset": dataset, "data_dir": str(data_dir) if data_dir else None},
        "split": {"split": "random", "test_fraction": 0.1, "seed": 42}})
    fitted["embedding (rating)"].save(out / "rating", extra={
        "data": {"dataset": dataset, "data_dir": str(data_dir) if data_dir else None},
        "split": {"split": "random", "test_fraction": 0.1, "seed": 42}})
    console.print(f"saved runs to [bold]{out / 'rating'}[/] and [bold]{run}[/]")

    console.rule("[bold]4. recommend")
    ranker = fitted["embedding (ranking)"]
    user_id = user if user is not None else split.train.user_ids[0]
    liked = split.train.take((split.train.users == ranker.user_index(user_id)[0]) & (split.train.ratings >= 4.5))
    top_rated = liked.titles(liked.items[:5])
    console.print(f"user {user_id} rated highly: " + "; ".join(top_rated))
    recs = ranker.recommend(user_id, n=10)
    table = Table(title=f"top 10 for user {user_id} (films they rated are left out)")
    table.add_column("rank", justify="right")
    table.add_column("title")
    table.add_column("score", justify="right")
    for row in recs.itertuples(index=False):
        table.add_row(str(row.rank), str(row.title), f"{row.score:.2f}")
    console.print(table)
    probe = int(np.argmax(split.train.users_per_item()))
    probe_id = split.train.item_ids[probe]
    sims = ranker.similar_items(probe_id, n=5)
    console.print(f"films most like [bold]{split.train.titles([probe])[0]}[/]: " + "; ".join(sims["title"]))


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("demo")(cli_errors(demo))
