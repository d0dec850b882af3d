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


def _films_table(frame: Any, genres: Any, value: str | None = None) -> Table:
    """Rank, film and its genres (and ``value``, a column of ``frame``, when it means something)."""
    table = Table(title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("film", ratio=3)
    table.add_column("genres", ratio=2, style="dim")
    if value is not None:
        table.add_column(value, justify="right")
    for row in frame.itertuples(index=False):
        cells = [str(row.rank), str(row.title), _genres(genres, row.item)]
        if value is not None:
            cells.append(f"{getattr(row, value):.3f}")
        table.add_row(*cells)
    return table


def _genres(genres: Any, item: Any) -> str:
    if genres is None or item not in genres.index:
        return ""
    value = genres.loc[item]
    return "" if not isinstance(value, str) else ", ".join(value.split("|")[:3])


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

    console.rule("[bold]4. recommend with embedding-ranking")
    ranker = fitted["embedding-ranking"]
    meta = data.item_metadata
    genres = meta["genres"] if meta is not None and "genres" in meta.columns else None
    user_id = user if user is not None else split.train.user_ids[0]
    u = int(ranker.user_index(user_id)[0])
    liked = split.train.ratings is not None and split.train.ratings >= 4.5
    mine = split.train.take((split.train.users == u) & liked)
    console.print(f"user {user_id} rated highly: " + "; ".join(mine.titles(mine.items[:6])))
    console.print(f"[bold]embedding-ranking's top 10 for user {user_id}[/] (films they rated are left out):")
    console.print(_films_table(ranker.recommend(user_id, n=10), genres))
    probe = split.train.item_ids[int(np.argmax(split.train.users_per_item()))]
    console.print(
        f"[bold]films most like {ranker.titles(ranker.item_index(probe))[0]}[/] "
        "(cosine similarity of embedding-ranking's item vectors):"
    )
    console.print(_films_table(ranker.similar_items(probe, n=5), genres, "similarity"))
    newcomer = [probe] + list(ranker.similar_items(probe, n=3)["item"])
    console.print(
        "[bold]a new user who gave 5 stars to "
        + "; ".join(ranker.titles(ranker.item_index(newcomer)))
        + "[/], folded into embedding-ranking without retraining:"
    )
    console.print(_films_table(ranker.recommend_new_user(newcomer, [5.0] * len(newcomer), n=5), genres))
    console.print(
        "[dim]embedding-ranking ranks films by a score that is not a rating; "
        "embedding-rating predicts stars (embrec predict).[/]"
    )

    console.rule("[bold]5. evaluate on the test ratings")
    console.print("[dim]relevant: a test rating of 4 or more; films seen in training left out; top 10 of each model[/]")
    with console.status("evaluating ..."):
        result = evaluate(list(fitted.values()), split, names=list(fitted))
    console.print(_evaluation_table(result))
    console.print(
        "[dim]mean ±half its 95% bootstrap interval, over test users. genre diversity: genre "
        "Jaccard distance between films in a list; novelty: bits of self-information; "
        "coverage: share of the films with training ratings that some list holds.[/]"
    )
    for ev in result.models:
        rmse = ev.summary.get("rmse", ev.lists.get("rmse"))
        if rmse is not None and not (isinstance(rmse, float) and math.isnan(rmse)):
            console.print(f"{ev.label} predicts stars: test RMSE {_mean(rmse):.3f} (the others only rank).")
    result.write_markdown(out / "evaluation.md")
    console.print(f"full tables: [bold]{out / 'evaluation.md'}[/]")

    if report:
        console.rule("[bold]6. report")
        from embrec.report import build_report

        with console.status("writing the report ..."):
            path = build_report(out / "embedding-ranking", out / "report.html", data=data, split=split)
        console.print(f"report: [bold]{path.resolve()}[/]")
    console.print(f"[green]done in {time.perf_counter() - started:.0f} s[/]")


#: (metric key, column header): headers two lines high so that the table fits 80 columns.
EVALUATION_COLUMNS = (
    ("ndcg", "NDCG\n@10"),
    ("recall", "recall\n@10"),
    ("genre_diversity", "genre\ndiversity"),
    ("novelty", "novelty"),
    ("coverage", "coverage"),
)


def _mean(value: Any) -> float:
    return float(value) if isinstance(value, float) else float(value.mean)


def _evaluation_table(result: Any) -> Table:
    table = Table(title_justify="left")
    table.add_column("model", no_wrap=True)
    for _, header in EVALUATION_COLUMNS:
        table.add_column(header, justify="right", no_wrap=True)
    for ev in result.models:
        cells = []
        for key, _ in EVALUATION_COLUMNS:
            value = ev.summary.get(key, ev.lists.get(key))
            if value is None or (isinstance(value, float) and math.isnan(value)):
                cells.append("-")
            elif isinstance(value, float):
                cells.append(f"{value:.3f}")
            else:
                cells.append(f"{value.mean:.3f}\n±{(value.high - value.low) / 2:.3f}")
        table.add_row(ev.label, *cells)
    return table


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    app.command("demo")(cli_errors(demo))
