"""``embrec train``, ``recommend``, ``similar`` and ``predict``."""

from __future__ import annotations

from enum import Enum
from pathlib import Path
from typing import Annotated, Any, Optional

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.cli._options import (
    Cutoff, DataDir, DataPath, DatasetName, DropUnseen, Duplicates, ItemCol, ItemsFile, RatingCol,
    RatingScale, Seed, Sep, SplitOpt, TestCount, TestFraction, TimestampCol, UserCol,
    load_from_options, split_from_options,
)
from embrec.data.build import DuplicatePolicy
from embrec.data.splits import SplitMethod
from embrec.errors import ConfigError

MODEL = "Model"


class Preset(str, Enum):
    default = "default"
    notebook = "notebook"
    ranking = "ranking"


class Objective(str, Enum):
    rating = "rating"
    ranking = "ranking"


def _progress_bar(total: int) -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn("[bold]training"), BarColumn(), TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"), TimeElapsedColumn(), console=err_console, transient=True,
    )
    task = bar.add_task("train", total=total, info="")

    def update(epoch: int, epochs: int, record: dict[str, float]) -> None:
        info = "  ".join(f"{k} {v:.4f}" for k, v in record.items() if k.startswith(("val_", "train_")))
        bar.update(task, completed=epoch, info=info)

    return bar, update


def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (weights, config, vocabulary, history).")],
    data: DataPath = None,
    dataset: DatasetName = None,
    data_dir: DataDir = None,
    user_col: UserCol = "user",
    item_col: ItemCol = "item",
    rating_col: RatingCol = "rating",
    timestamp_col: TimestampCol = "timestamp",
    sep: Sep = None,
    items: ItemsFile = None,
    rating_scale: RatingScale = None,
    duplicates: Duplicates = DuplicatePolicy.last,
    split: SplitOpt = SplitMethod.random,
    test_fraction: TestFraction = None,
    test_count: TestCount = None,
    cutoff: Cutoff = None,
    seed: Seed = 42,
    drop_unseen: DropUnseen = False,
    model: Annotated[str, typer.Option("--model", help="Model to train (see `embrec models`): embedding, or a baseline.", rich_help_panel=MODEL)] = "embedding",
    preset: Annotated[Preset, typer.Option("--preset", help="Embedding model settings: default (measured best), notebook (the exercise as written), ranking.", rich_help_panel=MODEL)] = Preset.default,
    objective: Annotated[Optional[Objective], typer.Option("--objective", help="rating (MSE on scaled ratings) or ranking (softmax over items).", rich_help_panel=MODEL)] = None,
    embedding_dim: Annotated[Optional[int], typer.Option("--embedding-dim", rich_help_panel=MODEL)] = None,
    epochs: Annotated[Optional[int], typer.Option("--epochs", rich_help_panel=MODEL)] = None,
    learning_rate: Annotated[Optional[float], typer.Option("--learning-rate", rich_help_panel=MODEL)] = None,
    weight_decay: Annotated[Optional[float], typer.Option("--weight-decay", rich_help_panel=MODEL)] = None,
    batch_size: Annotated[Optional[int], typer.Option("--batch-size", rich_help_panel=MODEL)] = None,
    model_seed: Annotated[Optional[int], typer.Option("--model-seed", help="Seed of the model (default 42).", rich_help_panel=MODEL)] = None,
    device: Annotated[Optional[str], typer.Option("--device", help="auto, cpu, cuda or cuda:N.", rich_help_panel=MODEL)] = None,
    threads: Annotated[Optional[int], typer.Option("--threads", help="torch CPU threads while training.", rich_help_panel=MODEL)] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train a model on a split of the data and save it as a run folder."""
    from embrec.cli._figures import test_figures
    from embrec.models import config as model_config
    from embrec.models import registry

    data_kwargs = dict(data=str(data) if data else None, dataset=dataset, data_dir=str(data_dir) if data_dir else None,
                       user_col=user_col, item_col=item_col, rating_col=rating_col, timestamp_col=timestamp_col,
                       sep=sep, items=str(items) if items else None,
                       rating_scale=list(rating_scale) if rating_scale else None, duplicates=duplicates.value)
    split_kwargs = dict(split=split.value, test_fraction=test_fraction, test_count=test_count, cutoff=cutoff,
                        seed=seed, drop_unseen=drop_unseen)
    overrides = {k: v for k, v in dict(
        objective=objective.value if objective else None, embedding_dim=embedding_dim, epochs=epochs,
        learning_rate=learning_rate, weight_decay=weight_decay, batch_size=batch_size, seed=model_seed,
        device=device, threads=threads).items() if v is not None}
    if model == "embedding":
        recommender = registry.get("embedding")(model_config.preset(preset.value, **overrides))
    else:
        if preset is not Preset.default or objective is not None:
            raise ConfigError(f"--preset and --objective apply to the embedding model only, not to {model!r}.")
        recommender = registry.create(model, **overrides)
    interactions = load_from_options(data, dataset, data_dir, user_col, item_col, rating_col, timestamp_col, sep,
                                     items, rating_scale, duplicates)
    parts = split_from_options(interactions, split, test_fraction, test_count, cutoff, seed, drop_unseen)
    if as_json:
        recommender.fit(parts.train)
    else:
        epochs_total = getattr(recommender.config, "epochs", 1)
        bar, update = _progress_bar(epochs_total)
        with bar:
            recommender.fit(parts.train, progress=update)
    figures = test_figures(recommender, parts)
    result: dict[str, Any] = {
        "run": str(out),
        "model": recommender.name,
        "config": recommender.config.to_dict(),
        "data": interactions.name,
        "train_rows": parts.train.n_ratings,
        "test_rows": parts.test.n_ratings,
        "best_epoch": getattr(recommender, "best_epoch_", None),
        "epochs_run": getattr(recommender, "epochs_run_", None),
        "train_seconds": round(float(getattr(recommender, "train_seconds_", 0.0)), 4),
        "device": getattr(recommender, "device_", "cpu"),
        **figures,
    }
    recommender.save(out, extra={"data": data_kwargs, "split": split_kwargs, "test": figures,
                                 "train_seconds": result["train_seconds"]})
    if as_json:
        print_json(result)
        return
    table = Table(title=f"trained {recommender.name} on {interactions.name}", show_header=False)
    for key, value in result.items():
        if key == "config":
            continue
        table.add_row(key, f"{value:.4f}" if isinstance(value, float) else str(value))
    console.print(table)
    console.print(f"saved to [bold]{out}[/]")


def _load(run: Path) -> Any:
    from embrec.models import load

    return load(str(run))


RunArg = Annotated[Path, typer.Argument(help="A run folder written by `embrec train`.")]
N = Annotated[int, typer.Option("-n", "--n", help="How many.", min=1, max=10_000)]


def recommend(
    run: RunArg,
    user: Annotated[Optional[str], typer.Option("--user", help="A user id from the data.")] = None,
    all_users: Annotated[bool, typer.Option("--all-users", help="Recommend for every user (needs --out).")] = False,
    n: N = 10,
    include_seen: Annotated[bool, typer.Option("--include-seen", help="Also recommend items the user rated in training.")] = False,
    out: Annotated[Optional[Path], typer.Option("--out", help="CSV file for --all-users (user,rank,item,score[,title]).")] = None,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Top-N recommendations for one user, or for every user into a CSV file."""
    if all_users == (user is not None):
        raise ConfigError("give exactly one of --user ID or --all-users.")
    if all_users and out is None:
        raise ConfigError("--all-users writes a file: add --out FILE.csv.")
    model = _load(run)
    frame = model.recommend(None if all_users else user, n, exclude_seen=not include_seen)
    if all_users:
        from embrec.io_utils import write_csv_atomic

        write_csv_atomic(frame, out)  # type: ignore[arg-type]
        console.print(f"wrote {len(frame):,} recommendations for {frame['user'].nunique():,} users to [bold]{out}[/]")
        return
    if as_json:
        print_json({"user": user, "recommendations": frame.drop(columns="user").to_dict(orient="records")})
        return
    _table(frame.drop(columns="user"), f"top {n} for user {user}")


def similar(
    run: RunArg,
    item: Annotated[str, typer.Option("--item", help="An item id from the data.")],
    n: N = 10,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Items most similar to one item (cosine of item embeddings)."""
    model = _load(run)
    frame = model.similar_items(item, n)
    if as_json:
        print_json({"item": item, "similar": frame.to_dict(orient="records")})
        return
    title = model.titles(model.item_index(item))[0]
    _table(frame, f"most similar to {title}")


def predict(
    run: RunArg,
    user: Annotated[str, typer.Option("--user", help="A user id from the data.")],
    item: Annotated[str, typer.Option("--item", help="An item id from the data.")],
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """The predicted rating of one user for one item, in stars."""
    model = _load(run)
    value = float(model.predict([user], [item])[0])
    if as_json:
        print_json({"user": user, "item": item, "rating": value})
        return
    title = model.titles(model.item_index(item))[0]
    console.print(f"user {user} -> {title}: [bold]{value:.2f}[/] stars")


def _table(frame: Any, title: str) -> None:
    table = Table(title=title)
    for col in frame.columns:
        table.add_column(str(col), justify="right" if frame[col].dtype.kind in "if" else "left")
    for row in frame.itertuples(index=False):
        table.add_row(*[f"{v:.3f}" if isinstance(v, float) else str(v) for v in row])
    console.print(table)


def models() -> None:
    """The models `embrec train --model` can train."""
    from embrec.models import registry

    table = Table(title="models")
    table.add_column("name")
    table.add_column("what it is")
    for name in registry.available():
        doc = (registry.get(name).__doc__ or "").strip().splitlines()
        table.add_row(name, doc[0] if doc else "")
    console.print(table)


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    for func in (train, recommend, similar, predict, models):
        app.command(func.__name__)(cli_errors(func))
