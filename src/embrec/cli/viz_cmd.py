"""``embrec best-rated``, ``embrec plot map|curves|distributions|tradeoff`` and ``embrec report``."""

from __future__ import annotations

import math
from enum import Enum
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.cli._options import DataDirOption, DatasetOption, data_options, load
from embrec.data.options import DataOptions
from embrec.errors import ConfigError

if TYPE_CHECKING:
    from embrec.data.interactions import Interactions
    from embrec.data.splits import Split
    from embrec.runs import Run

__all__ = ["register", "plot_app"]

_MAX_CANDIDATES = 1000  # embrec.evaluation.rerank.MAX_CANDIDATES, without importing it for --help
_MAX_K = 1000  # embrec.evaluation.context.MAX_K
_MAX_RESAMPLES = 100_000  # embrec.evaluation.stats.MAX_RESAMPLES
_MAX_USERS = 100  # embrec.report.build.MAX_USERS

plot_app = typer.Typer(
    no_args_is_help=True, help="Pictures of a run: embedding maps, training curves, distributions, trade-offs."
)


class MapMethod(str, Enum):
    pca = "pca"
    tsne = "tsne"
    umap = "umap"


class RerankMethod(str, Enum):
    mmr = "mmr"
    novelty = "novelty"


RunArg = Annotated[Path, typer.Argument(help="A run folder written by `embrec train`.", show_default=False)]
OutFile = Annotated[
    Path, typer.Option("--out", help="File to write; the extension picks the format.", show_default=False)
]
RunData = Annotated[
    Path | None,
    typer.Option(
        "--data",
        help="The data the run was trained on, when its embrec.json does not record it.",
        rich_help_panel="Data",
    ),
]


# --------------------------------------------------------------------------- best-rated
@cli_errors
@data_options
def best_rated_command(
    data_opts: DataOptions,
    n: Annotated[int, typer.Option("-n", "--n", min=1, help="How many films to list.")] = 30,
    m: Annotated[
        float | None,
        typer.Option(
            "--m",
            min=0.0,
            help="Damping strength: imaginary ratings at the global mean (default: the --quantile of ratings per film).",
            show_default=False,
        ),
    ] = None,
    quantile: Annotated[
        float,
        typer.Option(
            "--quantile", min=0.0, max=1.0, help="Quantile of ratings per film used as m when --m is not given."
        ),
    ] = 0.9,
    min_ratings: Annotated[int, typer.Option("--min-ratings", min=1, help="Leave out films with fewer ratings.")] = 1,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """The best-rated films by damped (Bayesian) mean, so films rated once with 5 stars do not top the list.

    damped = v/(v+m)*R + m/(v+m)*C, with v the film's number of ratings, R its mean and C the mean of all ratings.
    """
    from embrec.viz.best_rated import best_rated, perfect_score_films

    interactions = load(data_opts)
    result = best_rated(interactions, n, m=m, quantile=quantile, min_ratings=min_ratings)
    perfect = perfect_score_films(interactions)
    top = interactions.rating_scale[1] if interactions.rating_scale else float("nan")
    perfect_info: dict[str, Any] = {
        "rating": top,
        "films": int(perfect["films"].sum()),
        "by_number_of_ratings": {int(r.n_ratings): int(r.films) for r in perfect.itertuples(index=False)},
    }
    if as_json:
        print_json({"data": interactions.name, **result.to_dict(), "perfect_score_films": perfect_info})
        return
    table = Table(
        title=f"{len(result.table)} best-rated films of {interactions.name} by damped mean", title_justify="left"
    )
    for name, justify in (
        ("#", "right"),
        ("title", "left"),
        ("year", "right"),
        ("ratings", "right"),
        ("raw mean", "right"),
        ("damped mean", "right"),
    ):
        table.add_column(name, justify=justify)  # type: ignore[arg-type]
    for row in result.table.itertuples(index=False):
        year = "" if _missing(row.year) else str(row.year)
        title = str(row.title)
        if year and title.endswith(f"({year})"):
            title = title[: -len(year) - 2].rstrip()  # the year has its own column
        table.add_row(
            str(row.rank), title, year, f"{row.n_ratings:,}", f"{row.mean_rating:.2f}", f"{row.damped_mean:.3f}"
        )
    console.print(table, highlight=False)
    console.print(
        f"m = {result.m:g} ({result.m_rule}), C = {result.global_mean:.3f}; {result.candidates:,} films with at least "
        f"{result.min_ratings} rating{'s' if result.min_ratings != 1 else ''} were ranked.",
        highlight=False,
        soft_wrap=True,
    )
    once = perfect_info["by_number_of_ratings"].get(1, 0)
    console.print(
        f"{perfect_info['films']:,} films have a raw mean of {top:g} ({once:,} of them from a single rating); "
        "sorted by the raw mean they would fill the top of the list.",
        highlight=False,
        soft_wrap=True,
    )


# --------------------------------------------------------------------------- helpers
def _missing(value: object) -> bool:
    try:
        return bool(value is None or (isinstance(value, float) and math.isnan(value)) or str(value) == "<NA>")
    except (TypeError, ValueError):
        return False


def _open(run: Path) -> Run:
    from embrec.runs import Run

    return Run.open(run)


def _run_data(run: Run, data: Path | None, dataset: str | None, data_dir: Path | None) -> Interactions | None:
    """The data behind a run: given options first, else the run's record, else ``None`` (with a warning)."""
    if data is not None or dataset is not None:
        return load(
            DataOptions(
                data=None if data is None else str(data),
                dataset=dataset,
                data_dir=None if data_dir is None else str(data_dir),
            )
        )
    if run.data_options is None:
        err_console.print(
            f"[yellow]warning:[/] {run.path}/embrec.json does not record its data, so the map shows training counts only "
            "(no mean ratings, most-rated films labelled); pass --data or --dataset for more.",
            highlight=False,
            soft_wrap=True,
        )
        return None
    return run.data_and_split()[0]


def _run_split(run: Run) -> Split:
    return run.data_and_split()[1]


def _written(path: Path) -> None:
    console.print(f"wrote [bold]{path}[/]", highlight=False, soft_wrap=True)


# --------------------------------------------------------------------------- plot map
@plot_app.command("map")
@cli_errors
def plot_map(
    run: RunArg,
    out: OutFile,
    method: Annotated[MapMethod, typer.Option("--method", help="Projection to 2-D.")] = MapMethod.pca,
    user: Annotated[
        str | None,
        typer.Option("--user", help="Also show this user's rated films and recommendations.", show_default=False),
    ] = None,
    n_labels: Annotated[int, typer.Option("--labels", min=0, help="Best-rated films to label (without --user).")] = 30,
    min_ratings: Annotated[
        int, typer.Option("--min-ratings", min=0, help="Films with fewer training ratings are left off.")
    ] = 10,
    seed: Annotated[int, typer.Option("--seed", help="Random state of t-SNE and UMAP.")] = 0,
    data: RunData = None,
    dataset: DatasetOption = None,
    data_dir: DataDirOption = None,
) -> None:
    """Map a run's item embeddings in 2-D (PCA, t-SNE or UMAP), coloured by genre, best-rated films labelled.

    --out map.png or map.svg writes a static picture; --out map.html an interactive page (works offline) where hovering shows title, genres, number of ratings and mean.
    """
    from embrec.viz.maps import embedding_map, save_map

    suffix = out.suffix.lower()
    if suffix not in (".png", ".svg", ".html"):
        raise ConfigError(f"--out {out} has an unknown extension; use .png, .svg or .html.")
    opened = _open(run)
    interactions = _run_data(opened, data, dataset, data_dir)
    model = opened.model
    with err_console.status(f"projecting with {method.value} ..."):
        emap = embedding_map(
            model,
            data=interactions,
            method=method.value,
            user=user,
            n_best=max(n_labels, 1),
            label=[] if n_labels == 0 and user is None else None,
            min_ratings=min_ratings,
            seed=seed,
        )
        _written(save_map(emap, out))


# --------------------------------------------------------------------------- plot curves
@plot_app.command("curves")
@cli_errors
def plot_curves(run: RunArg, out: OutFile) -> None:
    """Training and validation loss (and RMSE) per epoch of a run (.png or .svg)."""
    from embrec.viz.curves import training_curves
    from embrec.viz.save import save_figure

    model = _open(run).model
    fig = training_curves(
        model.history_, title=f"Training curves of {run.resolve().name}", best_epoch=getattr(model, "best_epoch_", None)
    )
    _written(save_figure(fig, out))


# --------------------------------------------------------------------------- plot distributions
@plot_app.command("distributions")
@cli_errors
def plot_distributions(
    runs: Annotated[
        list[Path], typer.Argument(help="Run folders trained on the same data and split.", show_default=False)
    ],
    out: OutFile,
    metric: Annotated[
        list[str] | None,
        typer.Option(
            "--metric",
            help="Per-user metric to show (repeat); default diversity, genre_diversity and novelty.",
            show_default=False,
        ),
    ] = None,
    k: Annotated[int, typer.Option("--k", min=1, max=_MAX_K, help="Length of each recommendation list.")] = 10,
) -> None:
    """How diversity and novelty spread across users, for one or more runs (.png or .svg)."""
    from embrec.evaluation import evaluate
    from embrec.evaluation.catalog import check_metric_names
    from embrec.evaluation.labels import unique_labels
    from embrec.viz.curves import metric_distributions
    from embrec.viz.save import save_figure

    chosen = check_metric_names(metric or ["diversity", "genre_diversity", "novelty"])
    opened = [_open(r) for r in runs]
    models = [o.model for o in opened]
    split = _run_split(opened[0])
    names = unique_labels(o.label for o in opened)
    with err_console.status("evaluating ..."):
        result = evaluate(models, split, k=k, names=names, n_resamples=1)
    _written(save_figure(metric_distributions(result, chosen), out))


# --------------------------------------------------------------------------- plot tradeoff
def _lambdas(text: str) -> list[float]:
    try:
        values = [float(x) for x in text.split(",") if x.strip()]
    except ValueError:
        raise ConfigError(
            f"--lambdas {text!r} is not a comma-separated list of numbers; pass for example 0,0.25,0.5,0.75,1."
        ) from None
    if not values:
        raise ConfigError("--lambdas is empty; pass for example 0,0.25,0.5,0.75,1.")
    return values


@plot_app.command("tradeoff")
@cli_errors
def plot_tradeoff(
    run: RunArg,
    out: OutFile,
    method: Annotated[
        RerankMethod, typer.Option("--method", help="Re-ranker: mmr (diversity) or novelty.")
    ] = RerankMethod.mmr,
    lambdas: Annotated[
        str, typer.Option("--lambdas", help="Comma-separated λ values in [0, 1].")
    ] = "0,0.1,0.2,0.3,0.5,0.7,0.9",
    k: Annotated[int, typer.Option("--k", min=1, max=_MAX_K, help="Length of each recommendation list.")] = 10,
    candidates: Annotated[
        int, typer.Option("--candidates", min=1, max=_MAX_CANDIDATES, help="Top items per user re-ranked.")
    ] = 100,
    csv: Annotated[
        Path | None, typer.Option("--csv", help="Also write the sweep's numbers as CSV.", show_default=False)
    ] = None,
) -> None:
    """The accuracy / diversity / novelty trade-off of re-ranking a run's lists (.png or .svg)."""
    from embrec.atomic import write_text
    from embrec.evaluation import sweep
    from embrec.viz.curves import tradeoff_figure
    from embrec.viz.save import save_figure

    opened = _open(run)
    model, split = opened.model, _run_split(opened)
    with err_console.status("re-ranking ..."):
        frame = sweep(model, split, _lambdas(lambdas), method=method.value, k=k, candidates=candidates)
    title = f"Re-ranking {run.resolve().name} with {method.value}: accuracy against diversity and novelty (k = {k})"
    _written(save_figure(tradeoff_figure(frame, title=title), out))
    if csv is not None:
        _written(write_text(csv, frame.to_csv(index=False)))


# --------------------------------------------------------------------------- report
@cli_errors
def report_command(
    run: RunArg,
    out: Annotated[Path, typer.Option("--out", help="The HTML file to write.")] = Path("report.html"),
    baselines: Annotated[
        str, typer.Option("--baselines", help="Comma-separated registered models to compare with ('' for none).")
    ] = "popularity,ease",
    map_method: Annotated[MapMethod, typer.Option("--map", help="Projection of the embedding map.")] = MapMethod.pca,
    users: Annotated[
        int, typer.Option("--users", min=0, max=_MAX_USERS, help="Users whose recommendations are shown.")
    ] = 3,
    k: Annotated[int, typer.Option("--k", min=1, max=_MAX_K, help="Length of each recommendation list.")] = 10,
    resamples: Annotated[
        int, typer.Option("--resamples", min=1, max=_MAX_RESAMPLES, help="Bootstrap resamples of the intervals.")
    ] = 1000,
) -> None:
    """One self-contained HTML report of a run: data, training curves, metrics against baselines, embedding map, best-rated films, recommendations.

    It re-creates the run's data and split from its embrec.json and works offline (nothing is loaded from the web).
    """
    from embrec.report import build_report

    names = [b.strip() for b in baselines.split(",") if b.strip()]
    with err_console.status(f"building the report of {run} ..."):
        path = build_report(
            run, out, baselines=names, map_method=map_method.value, n_users=users, k=k, n_resamples=resamples
        )
    _written(path)


def register(app: typer.Typer) -> None:
    """Add ``best-rated``, ``plot`` and ``report`` to the main app."""
    app.command("best-rated")(best_rated_command)
    app.add_typer(plot_app, name="plot")
    app.command("report")(report_command)
