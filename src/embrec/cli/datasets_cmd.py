"""``embrec datasets``: list, describe and download the built-in MovieLens datasets, or draw planted ones."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import (
    BarColumn,
    DownloadColumn,
    Progress,
    TaskID,
    TextColumn,
    TimeRemainingColumn,
    TransferSpeedColumn,
)
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.data.datasets import (
    DatasetInfo,
    dataset_info,
    dataset_url,
    download_dataset,
    list_datasets,
    locate_dataset,
    search_roots,
)

app = typer.Typer(
    no_args_is_help=True, help="List, describe and download the built-in MovieLens datasets, or draw planted ones."
)

JsonFlag = Annotated[bool, typer.Option("--json", help="Print JSON instead of a table.")]
DataDirOpt = Annotated[
    Path | None,
    typer.Option("--data-dir", help="Folder holding dataset folders (else $EMBREC_DATA_DIR, else the user cache)."),
]
NameArg = Annotated[str, typer.Argument(help="A built-in dataset, such as ml-100k (see `embrec datasets list`).")]


def _size(n: int | None) -> str:
    if n is None:
        return "-"
    if n < 1000:
        return f"{n} B"
    value, unit = n / 1000, "kB"
    for bigger in ("MB", "GB"):
        if value < 1000:
            break
        value, unit = value / 1000, bigger
    return f"{value:.1f} {unit}"


def _count(n: int | None) -> str:
    return "-" if n is None else f"{n:,}"


def _scale(info: DatasetInfo) -> str:
    lo, hi = info.rating_scale
    step = "0.5" if lo % 1 else "1"
    return f"{lo:g}-{hi:g} (step {step})"


def _record(info: DatasetInfo, data_dir: Path | None) -> dict[str, Any]:
    path = locate_dataset(info.name, data_dir)
    record = info.to_dict()
    record["download_url"] = dataset_url(info.name)
    record["path"] = None if path is None else str(path)
    return record


@app.command("list")
@cli_errors
def list_cmd(data_dir: DataDirOpt = None, as_json: JsonFlag = False) -> None:
    """List the built-in datasets and whether each is on disk."""
    records = [_record(info, data_dir) for info in list_datasets()]
    if as_json:
        print_json(records)
        return
    table = Table(title="Built-in datasets (MovieLens, GroupLens Research)")
    for header in ("name", "ratings", "users", "items", "stars", "zip", "local"):
        table.add_column(
            header,
            justify="right" if header in ("ratings", "users", "items", "zip") else "left",
            no_wrap=True,
        )
    for info, record in zip(list_datasets(), records):
        table.add_row(
            info.name,
            _count(info.n_ratings),
            _count(info.n_users),
            _count(info.n_items),
            f"{info.rating_scale[0]:g}-{info.rating_scale[1]:g}",
            _size(info.zip_size),
            "[green]yes[/]" if record["path"] else "[dim]no[/]",
        )
    console.print(table)
    for info, record in zip(list_datasets(), records):
        if record["path"]:
            console.print(f"{info.name}: {record['path']}", highlight=False, soft_wrap=True)
    roots = ", ".join(str(root) for root in search_roots(data_dir))
    console.print(f"[dim]Searched: {roots}[/]", highlight=False)


@app.command("info")
@cli_errors
def info_cmd(name: NameArg, data_dir: DataDirOpt = None, as_json: JsonFlag = False) -> None:
    """Describe one dataset: source, checksums, counts, license, and where it is on disk."""
    info = dataset_info(name)
    record = _record(info, data_dir)
    if as_json:
        print_json(record)
        return
    if info.sha256:
        checksum = f"sha256 {info.sha256}"
    elif info.md5:
        checksum = f"md5 {info.md5}"
    else:
        checksum = f"md5 published by GroupLens at {record['download_url']}.md5"
    rows = [
        ("name", info.name),
        ("description", info.description),
        ("download", record["download_url"]),
        ("zip size", _size(info.zip_size)),
        ("checked by", checksum),
        ("unzips to", f"{info.folder}/ (complete when {info.folder}/{info.marker} exists)"),
        ("ratings", _count(info.n_ratings)),
        ("users", _count(info.n_users)),
        ("items rated", _count(info.n_items)),
        ("movies", _count(info.n_movies)),
        ("rating scale", _scale(info)),
        ("license", info.license),
        ("on disk", record["path"] or "no (searched: " + ", ".join(str(r) for r in search_roots(data_dir)) + ")"),
    ]
    table = Table(show_header=False, box=None, pad_edge=False)
    table.add_column(style="bold")
    table.add_column(overflow="fold")
    for key, value in rows:
        table.add_row(key, value)
    console.print(table, highlight=False)


@app.command("download")
@cli_errors
def download_cmd(
    name: NameArg,
    data_dir: Annotated[
        Path | None,
        typer.Option("--data-dir", help="Where to put the dataset folder (default: the user cache)."),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Download again and replace the existing folder.")] = False,
) -> None:
    """Download a dataset, check its checksum and unpack it (nothing half-made is ever left)."""
    info = dataset_info(name)
    if not force:
        existing = locate_dataset(info.name, data_dir, search_defaults=data_dir is None)
        if existing is not None:
            err_console.print(
                f"{info.name} is already at {existing} (use --force to download it again).", highlight=False
            )
            typer.echo(str(existing))
            return
    columns = (
        TextColumn("[bold]{task.description}"),
        BarColumn(),
        DownloadColumn(),
        TransferSpeedColumn(),
        TimeRemainingColumn(),
    )
    with Progress(*columns, console=err_console, transient=True) as bar:
        task: TaskID = bar.add_task(info.name, total=info.zip_size)

        def progress(done: int, total: int | None) -> None:
            bar.update(task, completed=done, total=total)

        path = download_dataset(info.name, data_dir, force=force, progress=progress)
    err_console.print(f"{info.name} is ready at {path}", highlight=False)
    typer.echo(str(path))


#: embrec.data.synthetic.DEFAULT_RANK, without importing NumPy for --help (a test keeps the two equal)
_DEFAULT_RANK = 16


@app.command("synthetic")
@cli_errors
def synthetic_cmd(
    out: Annotated[
        Path,
        typer.Option(
            "--out", help="Folder to create with ratings.parquet, truth.json and truth.npz.", show_default=False
        ),
    ],
    shape: Annotated[
        str, typer.Option("--shape", help="The MovieLens edition copied: ml-25m, ml-20m, ml-1m or ml-100k.")
    ] = "ml-100k",
    rows: Annotated[
        int | None,
        typer.Option("--rows", help="Rows to draw (default: as many as the edition has).", show_default=False),
    ] = None,
    seed: Annotated[int, typer.Option("--seed", help="Seed of every draw: the same settings give the same data.")] = 0,
    implicit: Annotated[
        bool, typer.Option("--implicit", help="Implicit feedback: the same rows without the rating column.")
    ] = False,
    rank: Annotated[int, typer.Option("--rank", help="Columns of the planted user and item factors.")] = _DEFAULT_RANK,
    noise: Annotated[
        float | None,
        typer.Option(
            "--noise", help="Standard deviation of the Gaussian noise on ratings (default 0.8).", show_default=False
        ),
    ] = None,
    temperature: Annotated[
        float | None,
        typer.Option(
            "--temperature",
            help="How strongly users' choice of items follows their taste, smaller is stronger (default 0.4).",
            show_default=False,
        ),
    ] = None,
    force: Annotated[bool, typer.Option("--force", help="Replace --out when it exists and is not empty.")] = False,
    as_json: Annotated[
        bool, typer.Option("--json", help="Print what was written and truth.json as one JSON object.")
    ] = False,
) -> None:
    """Write MovieLens-shaped ratings drawn from a known low-rank model, and what a perfect model reaches on them.

    --out gets ratings.parquet (user, item, rating, timestamp; `embrec train --data OUT/ratings.parquet` reads it as it is), truth.json (the settings, the noise-floor RMSE, the truth's own NDCG@10 and recall@20) and truth.npz (the planted factors). See docs/synthetic.md.
    """
    from embrec.data.synthetic import PLANTED_FILES, write_planted

    with err_console.status(f"drawing planted {shape} data", spinner="dots"):
        written, truth = write_planted(
            out, shape, rows, seed, implicit, rank, noise, temperature=temperature, force=force
        )
    record = truth.to_dict()
    if as_json:
        print_json({"out": str(written), "files": list(PLANTED_FILES), **record})
        return
    _print_planted(record, written)


def _print_planted(record: dict[str, Any], out: Path) -> None:
    settings = [f"seed {record['seed']}", f"rank {record['rank']}", f"temperature {record['temperature']:g}"]
    if record["noise"] is not None:
        settings.append(f"noise {record['noise']:g}")
    kind = "implicit" if record["implicit"] else "ratings"
    console.print(
        f"planted [bold]{record['shape']}[/] {kind} ({', '.join(settings)}): {record['rows']:,} rows, "
        f"{record['users']:,} users, {record['items']:,} items written to {out}",
        highlight=False,
        soft_wrap=True,
    )
    if "noise_floor_rmse" in record:
        console.print(
            f"  noise floor RMSE {record['noise_floor_rmse']:.4f} (the best possible {record['best_rmse']:.4f}); "
            f"on the test rows {record['noise_floor_rmse_test']:.4f}",
            highlight=False,
        )
    ranking = record["ranking"]
    protocol = ranking["protocol"]
    for name, label in (("relevance", "the truth's ranking"), ("score", "ranked by the planted score")):
        figures = ranking[name]
        console.print(
            f"  {label}: NDCG@10 {figures['ndcg@10']:.4f}, recall@20 {figures['recall@20']:.4f}",
            highlight=False,
        )
    sample = " (a seeded sample)" if protocol["user_sample"] else ""
    console.print(
        f"  (random 90/10 split, seed 42; relevant: {protocol['relevant']}; {protocol['users']:,} users{sample})",
        highlight=False,
        soft_wrap=True,
    )
    console.print(
        f"train on it: embrec train --data {out / 'ratings.parquet'} --out runs/NAME", highlight=False, soft_wrap=True
    )
