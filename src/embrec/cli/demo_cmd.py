"""``embrec demo``: the whole tour on ml-latest-small in one command."""

from __future__ import annotations

import math
import time
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.table import Table

from embrec.cli._common import cli_errors, console
from embrec.cli._options import DataDirOption
from embrec.data.options import DataOptions, SplitOptions

#: The exercise's split: random 90/10 rows, seed 42.
SPLIT = SplitOptions(test_fraction=0.1, seed=42)


def _titles_table(title: str, frame: Any, score: str) -> Table:
    table = Table(title=title, title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("film")
    table.add_column(score, justify="right")
    for row in frame.itertuples(index=False):
        table.add_row(str(row.rank), str(row.title), f"{getattr(row, score):.3f}")
    return table


def demo(
    out: Annotated[Path, typer.Option("--out", help="Folder for the demo's runs, tables and report.")] = Path(
        "runs/demo"
    ),
    dataset: Annotated[str, typer.Option("--dataset", help="Built-in dataset to tour.")] = "ml-latest-small",
    data_dir: DataDirOption = None,
    user: Annotated[
        str | None, typer.Option("--user", help="User whose recommendations are shown (default: the first).")
    ] = None,
    report: Annotated[bool, typer.Option("--report/--no-report", help="Write the HTML report at the end.")] = True,
) -> None:
    """Data summary, training, recommendations, evaluation and the report, on ml-latest-small."""
    import numpy as np

    from embrec.cli.data_cmd import _print_tables
    from embrec.data.summary import summarize
    from embrec.evaluation import evaluate
    from embrec.models import create
    from embrec.runs import Run

    started = time.perf_counter()
    console.rule(f"[bold]1. data: {dataset}")
    data_opts = DataOptions(dataset=dataset, data_dir=None if data_dir is None else str(data_dir))
    data = data_opts.load()
    _print_tables(summarize(data))

    console.rule("[bold]2. split: random 90/10 rows, seed 42 (the exercise's split)")
    split = SPLIT.apply(data)
    console.print(f"train {split.train.n_ratings:,} ratings, test {split.test.n_ratings:,} ratings")

    console.rule("[bold]3. train the embedding model (two objectives) and two baselines")
    specs = {
        "embedding-ranking": ("embedding", {"objective": "ranking"}),
        "embedding-rating": ("embedding", {}),
        "ease": ("ease", {}),
        "popularity": ("popularity", {}),
    }
    fitted = {}
    extra = Run.record(data_opts, SPLIT)
    for label, (name, config) in specs.items():
        t0 = time.perf_counter()
        with console.status(f"training {label} ..."):
            model = create(name, **config).fit(split.train)
        fitted[label] = model
        model.save(out / label, extra={**extra, "train_seconds": time.perf_counter() - t0})
        console.print(f"{label:<18} trained in {time.perf_counter() - t0:5.2f} s -> {out / label}")

    console.rule("[bold]4. recommend")
    ranker = fitted["embedding-ranking"]
    user_id = user if user is not None else split.train.user_ids[0]
    u = int(ranker.user_index(user_id)[0])
    liked = split.train.ratings is not None and split.train.ratings >= 4.5
    mine = split.train.take((split.train.users == u) & liked)
    console.print(f"user {user_id} rated highly: " + "; ".join(mine.titles(mine.items[:6])))
    console.print(
        _titles_table(
            f"top 10 for user {user_id} (films they rated are left out)", ranker.recommend(user_id, n=10), "score"
        )
    )
    probe = split.train.item_ids[int(np.argmax(split.train.users_per_item()))]
    console.print(
        _titles_table(
            f"films most like {ranker.titles(ranker.item_index(probe))[0]}",
            ranker.similar_items(probe, n=5),
            "similarity",
        )
    )
    newcomer = [probe] + list(ranker.similar_items(probe, n=3)["item"])
    console.print(
        _titles_table(
            "a new user who gave 5 stars to "
            + "; ".join(ranker.titles(ranker.item_index(newcomer)))
            + " (no retraining)",
            ranker.recommend_new_user(newcomer, [5.0] * len(newcomer), n=5),
            "score",
        )
    )

    console.rule("[bold]5. evaluate (relevant = test rating >= 4, seen items excluded, 95% bootstrap intervals)")
    with console.status("evaluating ..."):
        result = evaluate(list(fitted.values()), split, names=list(fitted))
    table = Table(title_justify="left")
    columns = [
        ("ndcg", "NDCG@10"),
        ("recall", "recall@10"),
        ("genre_diversity", "diversity"),
        ("novelty", "novelty"),
        ("coverage", "coverage"),
        ("rmse", "RMSE"),
    ]
    table.add_column("model", no_wrap=True)
    for _, header in columns:
        table.add_column(header, justify="right")
    for ev in result.models:
        cells = []
        for key, _ in columns:
            value = ev.summary.get(key, ev.lists.get(key))
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("-")
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            else:
                cells.append(f"{value.mean:.3f} ±{(value.high - value.low) / 2:.3f}")
        table.add_row(ev.label, *cells)
    console.print(table)
    console.print(
        "[dim]± half the 95% interval; diversity: genre Jaccard distance within lists; novelty: bits of "
        "self-information; coverage: share of the catalogue recommended[/]"
    )
    result.write_markdown(out / "evaluation.md")
    console.print(f"full tables: [bold]{out / 'evaluation.md'}[/]")

    if report:
        console.rule("[bold]6. report")
        from embrec.report import build_report

        with console.status("writing the report ..."):
            path = build_report(out / "embedding-ranking", out / "report.html", data=data, split=split)
        console.print(f"report: [bold]{path.resolve()}[/]")
    console.print(f"[green]done in {time.perf_counter() - started:.0f} s[/]")


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("demo")(cli_errors(demo))
