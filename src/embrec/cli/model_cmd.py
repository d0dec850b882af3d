"""``embrec train``, ``recommend``, ``similar`` and ``predict``."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator
from enum import Enum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.progress import BarColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from embrec.cli._common import cli_errors, console, err_console, print_json
from embrec.cli._options import SplitDirOption, data_and_split, data_options, split_options
from embrec.data.options import DataOptions, SplitOptions
from embrec.errors import ConfigError, EmbrecError
from embrec.models.config import MAX_EMBEDDING_DIM, MAX_THREADS, PRESETS

MODEL = "Model"

#: The embedding model's presets (``embrec.models.config.PRESETS``) as command-line choices.
Preset = Enum("Preset", {name: name for name in PRESETS}, type=str)  # type: ignore[misc]


class Objective(str, Enum):
    rating = "rating"
    ranking = "ranking"


def _settings(
    model: str,
    preset: str,
    objective: Objective | None,
    config_file: Path | None,
    pairs: list[str],
    shortcuts: dict[str, Any],
) -> Any:
    """The model to train, its settings read by the one parser that reads every model's settings.

    Later sources win: the preset, then ``--config``, then each ``--set``, then the named flags.
    """
    from embrec.models import registry
    from embrec.models.config import preset as preset_config
    from embrec.models.settings import parse_settings

    if model != "embedding" and (preset != "default" or objective is not None):
        raise ConfigError(f"--preset and --objective apply to the embedding model only, not to {model!r}.")
    cls = registry.get(model)
    flags = {"objective": objective.value if objective else None, **shortcuts}
    typed = [f"{key}={value}" for key, value in flags.items() if value is not None]
    settings = parse_settings([*pairs, *typed], config_file, cls.config_class)
    if model == "embedding":
        return cls(preset_config(preset, **settings))
    return cls(**settings)


def _can_create_in(folder: Path, target: Path) -> None:
    """Raise :class:`EmbrecError` unless ``target`` (in ``folder``) could be written: the nearest
    existing folder above it must take a new entry. Tried with an empty folder, removed at once,
    so nothing is left behind."""
    import tempfile

    existing = folder
    while not existing.exists() and existing != existing.parent:
        existing = existing.parent
    if not existing.is_dir():
        raise EmbrecError(f"cannot write {str(target)!r}: {str(existing)!r} is a file, not a folder.")
    try:
        Path(tempfile.mkdtemp(prefix=".embrec-probe-", dir=existing)).rmdir()
    except OSError as exc:
        raise EmbrecError(
            f"cannot write {str(target)!r}: nothing can be created in {str(existing)!r} ({exc.strerror or exc}); "
            "give a path in a folder you can write to."
        ) from None


def _check_run_folder(out: Path, force: bool) -> None:
    """Refuse an ``--out`` the run could not be saved to, or one holding a run, unless ``force``."""
    out = out.expanduser()
    if out.exists() and not out.is_dir():
        raise EmbrecError(f"out={str(out)!r} is a file; give a folder for the run.")
    try:
        holds = out.is_dir() and any(out.iterdir())
    except OSError as exc:
        raise EmbrecError(f"cannot read the folder out={str(out)!r}: {exc.strerror or exc}.") from None
    if holds and not (out / "embrec.json").is_file():
        raise EmbrecError(f"out={str(out)!r} holds other files, not a run; give an empty or new folder for the run.")
    if holds and not force:
        raise EmbrecError(
            f"out={str(out)!r} already holds a trained run; choose a new folder, or pass force=True to replace it."
        )
    _can_create_in(out.parent, out)  # the run is built beside out, then renamed into place


def _check_file(out: Path) -> None:
    """Refuse, before any work, a file ``out`` that could not be written."""
    out = out.expanduser()
    if out.is_dir():
        raise EmbrecError(f"cannot write {str(out)!r}: it is a folder; give a file path.")
    _can_create_in(out.parent, out)


def _progress_bar(total: int, on: Any = None) -> tuple[Progress, Any]:
    bar = Progress(
        TextColumn("[bold]training"),
        BarColumn(),
        TextColumn("epoch {task.completed}/{task.total}"),
        TextColumn("{task.fields[info]}"),
        TimeElapsedColumn(),
        console=on or err_console,
        transient=True,
    )
    task = bar.add_task("train", total=total, info="")

    def update(epoch: int, epochs: int, record: dict[str, float]) -> None:
        figures = [f"{k} {v:.4f}" for k, v in record.items() if k.startswith(("val_", "train_"))]
        if record.get("rows") and record.get("seconds"):  # the last epoch's pace, validation included
            figures.append(f"{record['rows'] / record['seconds']:,.0f} ratings/s")
        bar.update(task, completed=epoch, info="  ".join(figures))

    return bar, update


def _peak_memory(device: str) -> dict[str, float]:
    """The process's peak resident memory so far (``ru_maxrss``) in MiB, and on a GPU torch's peak there."""
    peak: dict[str, float] = {}
    try:
        import resource
    except ImportError:  # Windows
        pass
    else:
        maxrss = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
        peak["peak_rss_mib"] = round(maxrss / (2**20 if sys.platform == "darwin" else 2**10), 1)  # bytes on macOS
    if device.startswith("cuda"):
        import torch

        peak["peak_gpu_mib"] = round(torch.cuda.max_memory_allocated(device) / 2**20, 1)
    return peak


@data_options
@split_options
def train(
    out: Annotated[Path, typer.Option("--out", help="Run folder to write (weights, config, vocabulary, history).")],
    data_opts: DataOptions,
    split_opts: SplitOptions,
    split_dir: SplitDirOption = None,
    model: Annotated[
        str,
        typer.Option(
            "--model", help="Model to train (see `embrec models`): embedding, or a baseline.", rich_help_panel=MODEL
        ),
    ] = "embedding",
    preset: Annotated[
        Preset,
        typer.Option(
            "--preset",
            help="A named set of embedding-model settings to start from: default (measured best for ratings), "
            "notebook (the exercise as written), ranking (the default with --objective ranking). "
            "--objective, --set, --config and the flags below change single settings of it.",
            rich_help_panel=MODEL,
        ),
    ] = Preset("default"),
    set_: Annotated[
        list[str] | None,
        typer.Option(
            "--set",
            help="A setting of the model, KEY=VALUE (repeat it); `embrec models --settings NAME` lists them.",
            rich_help_panel=MODEL,
            show_default=False,
        ),
    ] = None,
    config_file: Annotated[
        Path | None,
        typer.Option(
            "--config",
            help="A TOML file of the model's settings (top-level KEY = VALUE lines); --set and the flags below win.",
            rich_help_panel=MODEL,
            show_default=False,
        ),
    ] = None,
    objective: Annotated[
        Objective | None,
        typer.Option(
            "--objective",
            help="What the embedding model learns: rating (MSE on scaled ratings; predicts stars) or ranking "
            "(softmax over items; for top-N lists). Default: the preset's; the default preset follows the data "
            "(ranking for implicit feedback, else rating).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    embedding_dim: Annotated[
        int | None,
        typer.Option(
            "--embedding-dim",
            min=1,
            max=MAX_EMBEDDING_DIM,
            help="Length of each user and item vector (default 64; 32 for rating on the torch engine; notebook 16).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    epochs: Annotated[
        int | None,
        typer.Option(
            "--epochs",
            min=1,
            help="Most passes over the training rows (default 100; early stopping usually stops sooner; notebook 10). "
            "With --no-early-stopping, exactly this many.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    early_stopping: Annotated[
        bool | None,
        typer.Option(
            "--early-stopping/--no-early-stopping",
            help="Stop when the loss on a validation slice of the training rows (5%) stops improving and keep the "
            "best epoch (default on; off in the notebook preset). --no-early-stopping trains on every training "
            "row for exactly --epochs epochs.",
            rich_help_panel=MODEL,
            show_default=False,
        ),
    ] = None,
    patience: Annotated[
        int | None,
        typer.Option(
            "--patience",
            min=1,
            help="Epochs without a better validation loss before early stopping stops (default 3 for rating, "
            "4 for ranking).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    learning_rate: Annotated[
        float | None,
        typer.Option(
            "--learning-rate",
            help="Step size: row-wise Adagrad's on the numba engine (default 0.02), Adam's on torch (default 4e-3 for "
            "rating and ranking; notebook 0.01).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    weight_decay: Annotated[
        float | None,
        typer.Option(
            "--weight-decay",
            help="L2 strength on the vectors (default 2.5e-3 for rating, 3e-3 on torch; 1.0 for ranking, less for over 943 users; "
            "notebook 0). "
            "For a baseline: --set weight_decay=VALUE.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    batch_size: Annotated[
        int | None,
        typer.Option(
            "--batch-size",
            min=1,
            help="Rating: rows per mini-batch (default 1024; notebook 64). Ranking: users per mini-batch (default 64).",
            rich_help_panel=MODEL,
        ),
    ] = None,
    model_seed: Annotated[
        int | None,
        typer.Option(
            "--model-seed",
            help="Seed of initialisation and batch order (default 42); --seed seeds the split.",
            rich_help_panel=MODEL,
        ),
    ] = None,
    device: Annotated[
        str | None,
        typer.Option("--device", help="auto (CUDA when present, default), cpu, cuda or cuda:N.", rich_help_panel=MODEL),
    ] = None,
    threads: Annotated[
        int | None,
        typer.Option(
            "--threads", min=1, max=MAX_THREADS, help="CPU threads while training (default 1).", rich_help_panel=MODEL
        ),
    ] = None,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc",
            min=1,
            max=MAX_THREADS,
            help="Worker processes to train with on this machine (torch.distributed, gloo): the embedding model's "
            "tables are sharded across them and the model is the one a single process trains. For a cluster: "
            "torchrun --nnodes N --nproc-per-node M -m embrec train ... (docs/distributed.md).",
            rich_help_panel=MODEL,
        ),
    ] = 1,
    resume: Annotated[
        bool,
        typer.Option(
            "--resume",
            help="Continue a run across processes (--nproc, torchrun) that stopped part-way, from the last epoch "
            "it checkpointed (they are kept in .OUT.checkpoint beside --out until the run folder is written); "
            "give the same command as the run that stopped.",
            rich_help_panel=MODEL,
        ),
    ] = False,
    checkpoint_every: Annotated[
        int,
        typer.Option(
            "--checkpoint-every",
            min=0,
            help="With --nproc or torchrun: checkpoint every this many epochs for --resume (0: never; each worker "
            "writes its share of the tables twice, the current and the best epoch's).",
            rich_help_panel=MODEL,
        ),
    ] = 1,
    force: Annotated[bool, typer.Option("--force", help="Replace --out when it already holds a trained run.")] = False,
    as_json: Annotated[bool, typer.Option("--json", help="Print one JSON object.")] = False,
) -> None:
    """Train a model on a split of the data and save it as a run folder."""
    from embrec.cli._figures import test_figures
    from embrec.runs import Run

    shortcuts = dict(
        embedding_dim=embedding_dim,
        epochs=epochs,
        early_stopping=early_stopping,
        patience=patience,
        learning_rate=learning_rate,
        weight_decay=weight_decay,
        batch_size=batch_size,
        seed=model_seed,
        device=device,
        threads=threads,
    )
    from embrec.distributed.launch import world_from_env

    recommender = _settings(model, str(getattr(preset, "value", preset)), objective, config_file, set_ or [], shortcuts)
    _check_run_folder(out, force)  # before training: a refusal afterwards would waste it
    world = world_from_env()
    if resume:
        _check_resumable(out, world is not None or nproc > 1)
    if nproc > 1 and world is None:
        _check_distributable(recommender)
        raise typer.Exit(_run_workers(nproc, out))
    checkpoints = None
    if world is not None:
        from embrec.distributed import fit_distributed
        from embrec.distributed.checkpoint import Checkpoints, checkpoint_folder
        from embrec.distributed.launch import join, leave
        from embrec.distributed.training import LeaderFailed, abandon

        join(world)  # before the data is read: a worker that cannot reach the others fails at once
        checkpoints = Checkpoints(checkpoint_folder(out), world.rank, world.size, resume=resume, every=checkpoint_every)
        try:
            if not world.leader:  # rank 0 reads the data and sends this worker its share of each run
                try:
                    fit_distributed(recommender, None, checkpoints=checkpoints)
                except LeaderFailed:
                    raise typer.Exit(2) from None  # rank 0 says why
            else:
                if not resume:
                    checkpoints.clear()  # a new run: an earlier one's checkpoints are not its own
                try:
                    interactions, parts = data_and_split(data_opts, split_opts, split_dir)
                except EmbrecError:
                    abandon()  # the others wait for a share
                    raise
                started = time.perf_counter()
                if not as_json:  # on stdout: `--nproc` keeps the workers' stderr for their errors
                    bar, update = _progress_bar(getattr(recommender.config, "epochs", 1), console)
                    with bar:
                        fit_distributed(recommender, parts.train, checkpoints=checkpoints, progress=update)
                else:
                    fit_distributed(recommender, parts.train, checkpoints=checkpoints)
            import torch.distributed as dist

            worker_peaks: list[Any] = [None] * world.size  # every worker's peak memory, for --json
            dist.all_gather_object(worker_peaks, _peak_memory("cpu").get("peak_rss_mib"))
            dist.barrier()  # leave together: no worker closes its connections while another still reads
        except RuntimeError as exc:  # gloo's word for a peer that went away mid-training
            first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
            latest = checkpoints.latest()
            then = (
                f"the checkpoint of epoch {latest} in {str(checkpoints.folder)!r} is kept: give the same command with "
                "--resume to continue from it"
                if latest is not None
                else "start the run again"
            )
            raise EmbrecError(
                f"worker {world.rank} of {world.size} lost the others mid-training ({first}); nothing was written to "
                f"{out}; {then}."
            ) from None
        finally:
            leave()
        if not world.leader:
            return  # rank 0 writes the run folder and prints the result
    else:
        interactions, parts = data_and_split(data_opts, split_opts, split_dir)
        started = time.perf_counter()
        if as_json:
            recommender.fit(parts.train)
        else:
            bar, update = _progress_bar(getattr(recommender.config, "epochs", 1))
            with bar:
                recommender.fit(parts.train, progress=update)
    fit_seconds = time.perf_counter() - started
    device_name = str(getattr(recommender, "device_", None) or "cpu")  # the closed-form baselines compute with numpy
    peak = _peak_memory(device_name)
    figures = test_figures(recommender, parts)
    history = recommender.history_
    result: dict[str, Any] = {"run": str(out), "model": recommender.name}
    objective = getattr(recommender.resolved_config_, "objective", None)
    if objective is not None:  # the embedding model's: asked for, or chosen from the data
        result["objective"] = objective
    result |= {
        "config": recommender.config.to_dict(),
        "resolved": recommender.resolved_config_.to_dict(),
        "data": interactions.name,
        "train_rows": parts.train.n_ratings,
        "test_rows": parts.test.n_ratings,
        # the rows each epoch stepped over: the training rows less early stopping's validation slice
        "rows": int(history[0].get("rows", parts.train.n_ratings)) if history else parts.train.n_ratings,
    }
    # only the figures this model has: EASE runs no epochs
    for key in ("best_epoch", "epochs_run"):
        if getattr(recommender, f"{key}_", None) is not None:
            result[key] = getattr(recommender, f"{key}_")
    result["train_seconds"] = round(float(getattr(recommender, "train_seconds_", fit_seconds)), 4)
    result["world_size"] = 1 if world is None else world.size
    if world is not None:
        from embrec.distributed import sharding_plan

        result["sharding"] = sharding_plan(recommender, world.size)
        result["peak_rss_mib_per_worker"] = worker_peaks
    result["device"] = device_name
    result["threads"] = getattr(recommender.resolved_config_, "threads", None)  # None: on a GPU, or no such setting
    result |= peak
    result.update(figures)
    if history:  # per-epoch figures; the closed-form baselines run no epochs
        result["history"] = history
    recommender.save(
        out,
        extra={
            **Run.record(data_opts, split_opts, split_dir),
            "test": figures,
            "train_seconds": result["train_seconds"],
        },
    )
    if checkpoints is not None:
        checkpoints.clear()  # the run folder holds the run now
    if as_json:
        print_json(result)
        return
    table = Table(title=f"trained {recommender.name} on {interactions.name}", show_header=False)
    for key, value in result.items():
        if key in ("config", "resolved", "history") or value is None:
            continue
        shown = f"{value:.4f}" if isinstance(value, float) else str(value)
        if key == "objective" and getattr(recommender.config, "objective", None) is None:
            shown += f" (chosen for {'implicit feedback' if value == 'ranking' else 'ratings'})"
        table.add_row(key, shown)
    console.print(table)
    console.print(f"saved to [bold]{out}[/]")


def _check_resumable(out: Path, distributed: bool) -> None:
    """Refuse ``--resume`` when there is nothing to resume from."""
    from embrec.distributed.checkpoint import Checkpoints, checkpoint_folder

    folder = checkpoint_folder(out)
    if not distributed:
        raise ConfigError(
            "--resume continues a run across processes (--nproc N, or torchrun), which checkpoints every epoch; "
            "a run in one process has no checkpoints: train again without --resume."
        )
    if Checkpoints(folder, 0, 1).latest() is None:
        raise ConfigError(
            f"--resume found no checkpoint of --out {str(out)!r} (looked in {str(folder)!r}); train without --resume."
        )


def _check_distributable(recommender: Any) -> None:
    """Refuse, before any worker starts, a model that training across processes cannot train."""
    from embrec.models.embedding import EmbeddingRecommender

    cfg = getattr(recommender, "config", None)
    if not isinstance(recommender, EmbeddingRecommender) or cfg is None:
        raise ConfigError(
            f"--nproc trains the embedding model (either objective); model {recommender.name!r} trains in one process."
        )
    if str(cfg.device).startswith("cuda") or (cfg.objective != "ranking" and cfg.engine == "torch"):
        raise ConfigError(
            "--nproc trains on the CPU (gloo): the rating objective on the numba engine, the ranking objective's "
            "full softmax on torch; leave out --device cuda and engine=torch (or train in one process without --nproc)."
        )


def _run_workers(nproc: int, out: Path | None = None) -> int:
    """Run this command as ``nproc`` workers (torchrun, standalone on 127.0.0.1); their exit status.

    Rank 0's output comes through; on a failure the workers' one-line errors are shown once each
    (torchrun's own report of the failed worker is left out)."""
    import subprocess

    from embrec.distributed.launch import local_command

    argv = _without_nproc(sys.argv[1:])
    done = subprocess.run(local_command(nproc, argv), stdout=None, stderr=subprocess.PIPE, text=True, check=False)
    if done.returncode:
        lines = list(dict.fromkeys(line for line in done.stderr.splitlines() if line.startswith("error:")))
        if not lines:  # a worker died without a word (killed, out of memory): torchrun's report says which
            stopped = [line.strip() for line in done.stderr.splitlines() if "exitcode" in line or "Signal" in line]
            why = "; ".join(dict.fromkeys(stopped)) or f"torchrun exited with {done.returncode}"
            lines = [
                f"error: a worker of {nproc} stopped before the command finished ({why}); nothing was written to --out."
            ]
            if out is not None:
                from embrec.distributed.checkpoint import Checkpoints, checkpoint_folder

                if (latest := Checkpoints(checkpoint_folder(out), 0, 1).latest()) is not None:
                    lines[0] += f" Its checkpoint of epoch {latest} is kept: give the same command with --resume."
        for line in lines:
            err_console.print(line, markup=False, highlight=False, soft_wrap=True)
        return 2
    return 0


def _without_nproc(argv: list[str]) -> list[str]:
    out, skip = [], False
    for word in argv:
        if skip:
            skip = False
            continue
        if word == "--nproc":
            skip = True
            continue
        if word.startswith("--nproc="):
            continue
        out.append(word)
    return out


def _load(run: Path) -> Any:
    from embrec.models import load

    return load(str(run))


RunArg = Annotated[Path, typer.Argument(help="A run folder written by `embrec train`.")]
N = Annotated[int, typer.Option("-n", "--n", help="How many.", min=1, max=10_000)]


class RetrievalChoice(str, Enum):
    exact = "exact"
    ann = "ann"
    auto = "auto"


RetrievalOption = Annotated[
    RetrievalChoice,
    typer.Option(
        "--retrieval",
        help="exact: score every item; ann: search an approximate index (embrec[ann]); auto: the index only "
        "for catalogues large enough that it pays (see docs/benchmarks.md).",
    ),
]
#: Rows gathered before they are written as one Parquet row group (bounded memory, readable row groups).
_ROW_GROUP_ROWS = 1 << 18


def recommend(
    run: RunArg,
    user: Annotated[str | None, typer.Option("--user", help="A user id from the data.")] = None,
    all_users: Annotated[bool, typer.Option("--all-users", help="Recommend for every user (needs --out).")] = False,
    n: N = 10,
    include_seen: Annotated[
        bool, typer.Option("--include-seen", help="Also recommend items the user rated in training.")
    ] = False,
    out: Annotated[
        Path | None,
        typer.Option(
            "--out", help="File for --all-users: CSV (user,rank,item,score[,title]), or Parquet if it ends in .parquet."
        ),
    ] = None,
    retrieval: RetrievalOption = RetrievalChoice.auto,
    nproc: Annotated[
        int,
        typer.Option(
            "--nproc",
            min=1,
            max=MAX_THREADS,
            help="With --all-users: worker processes that each rank a share of the users (torch.distributed); "
            "rank 0 merges their lists into --out, the same file one process writes.",
        ),
    ] = 1,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Top-N recommendations for one user, or for every user into a CSV or Parquet file."""
    from embrec.distributed.launch import world_from_env

    if all_users == (user is not None):
        raise ConfigError("give exactly one of --user ID or --all-users.")
    if all_users and out is None:
        raise ConfigError("--all-users writes a file: add --out FILE.csv.")
    if nproc > 1 and not all_users:
        raise ConfigError("--nproc splits --all-users across processes; one user's list needs one.")
    if all_users and out is not None:
        _check_file(out)  # before ranking every user, not after
    world = world_from_env() if all_users else None
    if nproc > 1 and world is None:
        raise typer.Exit(_run_workers(nproc, out))
    model = _load(run)
    if all_users and out is not None and world is not None:
        _recommend_across(model, world, n, not include_seen, retrieval.value, out)
        return
    if all_users and out is not None:
        frames = model.iter_recommend(None, n, exclude_seen=not include_seen, retrieval=retrieval.value)
        rows, users = _write_lists(frames, out)
        console.print(f"wrote {rows:,} recommendations for {users:,} users to [bold]{out}[/]")
        return
    frame = model.recommend(user, n, exclude_seen=not include_seen, retrieval=retrieval.value)
    if as_json:
        print_json({"user": user, "recommendations": frame.drop(columns="user").to_dict(orient="records")})
        return
    _table(frame.drop(columns="user"), f"top {n} for user {user}")


def _recommend_across(model: Any, world: Any, n: int, exclude_seen: bool, retrieval: str, out: Path) -> None:
    """This worker's share of every user's top-``n`` (contiguous, in user order) into a part file
    beside ``out``; rank 0 then joins the parts, in rank order, into ``out`` (whole or not at all)."""
    import numpy as np
    import torch.distributed as dist

    from embrec.atomic import write_with
    from embrec.distributed.launch import join, leave

    mode = model.retrieval_mode(retrieval, len(model.user_ids_))  # the whole request's, on every worker
    share = np.array_split(np.asarray(model.user_ids_), world.size)[world.rank]
    part = _part(out, world.rank, world.size)
    join(world)
    try:
        if len(share):  # more workers than users leaves some without a share, and without a part
            _write_lists(model.iter_recommend(share, n, exclude_seen=exclude_seen, retrieval=mode), part)
        dist.barrier()  # every part written
        if world.leader:
            parts = [p for r in range(world.size) if (p := _part(out, r, world.size)).is_file()]
            write_with(out, lambda tmp: _join_parts(parts, tmp, parquet=out.suffix.lower() == ".parquet"))
            console.print(
                f"wrote recommendations for {len(model.user_ids_):,} users to [bold]{out}[/] ({world.size} workers)"
            )
        dist.barrier()  # the parts are read before any is removed
    except RuntimeError as exc:  # gloo's word for a peer that went away
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise EmbrecError(
            f"worker {world.rank} of {world.size} lost the others ({first}); nothing was written to {out}."
        ) from None
    finally:
        part.unlink(missing_ok=True)
        leave()


def _part(out: Path, rank: int, size: int) -> Path:
    """Worker ``rank``'s part file beside ``out`` (hidden; the same suffix, so the same format)."""
    return out.with_name(f".{out.stem}.part{rank}-of-{size}{out.suffix}")


def _join_parts(parts: list[Path], tmp: Path, *, parquet: bool) -> None:
    if parquet:
        import pyarrow.parquet as pq

        writer = None
        try:
            for part in parts:
                source = pq.ParquetFile(part)
                for group in range(source.num_row_groups):
                    table = source.read_row_group(group)
                    writer = writer or pq.ParquetWriter(tmp, table.schema)
                    writer.write_table(table)
        finally:
            if writer is not None:
                writer.close()
        return
    with open(tmp, "wb") as handle:
        for i, part in enumerate(parts):
            with open(part, "rb") as source:
                header = source.readline()
                if i == 0:  # the first part's header; the others' are the same line
                    handle.write(header)
                while chunk := source.read(1 << 20):
                    handle.write(chunk)


def _write_lists(frames: Iterator[Any], out: Path) -> tuple[int, int]:
    """Write recommendation frames, as they come, to ``out`` (Parquet if it ends in ``.parquet``, else CSV).

    The file appears whole or not at all (:func:`embrec.atomic.write_with`), and memory holds
    one block of users (one row group for Parquet) whatever their number. Returns the rows and
    users written.
    """
    from embrec.atomic import write_with

    counts = [0, 0]

    def count(frame: Any) -> Any:
        counts[0] += len(frame)
        counts[1] += frame["user"].nunique()
        return frame

    def write_csv(tmp: Path) -> None:
        with open(tmp, "w", encoding="utf-8", newline="") as handle:
            for i, frame in enumerate(frames):
                count(frame).to_csv(handle, index=False, header=i == 0)

    def write_parquet(tmp: Path) -> None:
        import pandas as pd
        import pyarrow as pa
        import pyarrow.parquet as pq

        writer = None
        pending: list[Any] = []

        def flush() -> None:
            nonlocal writer
            table = pa.Table.from_pandas(pd.concat(pending, ignore_index=True), preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(tmp, table.schema)
            writer.write_table(table)
            pending.clear()

        try:
            for frame in frames:
                pending.append(count(frame))
                if sum(len(f) for f in pending) >= _ROW_GROUP_ROWS:
                    flush()
            if pending:
                flush()
        finally:
            if writer is not None:
                writer.close()
        if writer is None:  # no rows at all: still a Parquet file
            pq.write_table(pa.table({}), tmp)

    write_with(out, write_parquet if out.suffix.lower() == ".parquet" else write_csv)
    return counts[0], counts[1]


def similar(
    run: RunArg,
    item: Annotated[str, typer.Option("--item", help="An item id from the data.")],
    n: N = 10,
    retrieval: RetrievalOption = RetrievalChoice.auto,
    as_json: Annotated[bool, typer.Option("--json")] = False,
) -> None:
    """Items most similar to one item (cosine of item embeddings)."""
    model = _load(run)
    frame = model.similar_items(item, n, retrieval=retrieval.value)
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


def models(
    settings: Annotated[
        str | None,
        typer.Option(
            "--settings", help="List the settings of this model (for --set and --config).", show_default=False
        ),
    ] = None,
    as_json: Annotated[bool, typer.Option("--json", help="Print JSON: the models, or the model's settings.")] = False,
) -> None:
    """The models `embrec train --model` can train, or one model's settings."""
    from embrec.models import registry

    if settings is not None:
        rows = [
            {"setting": name, "default": default, "allowed": allowed}
            for name, allowed, default in registry.get(settings).config_class.describe()
        ]
        if as_json:
            print_json({"model": settings, "settings": rows})
            return
        table = Table(title=f"settings of {settings} (embrec train --model {settings} --set KEY=VALUE)")
        for column in ("setting", "default", "allowed"):
            table.add_column(column)
        for row in rows:
            table.add_row(row["setting"], repr(row["default"]), row["allowed"])
        console.print(table)
        return
    listed = []
    for name in registry.available():
        cls = registry.get(name)
        doc = (cls.__doc__ or "").strip().splitlines()
        listed.append(
            {
                "name": name,
                "description": doc[0] if doc else "",
                "predicts": _predicts(cls),
                "can_fold_in": bool(getattr(cls, "can_fold_in", False)),
            }
        )
    if as_json:
        print_json({"models": listed})
        return
    table = Table(title="models")
    table.add_column("name")
    table.add_column("what it is")
    for row in listed:
        table.add_row(str(row["name"]), str(row["description"]))
    console.print(table)


def _predicts(cls: type) -> str:
    """``ratings`` (stars) or ``scores`` (for ranking only), or both where a setting decides."""
    flag = getattr(cls, "predicts_ratings", False)
    if isinstance(flag, property):
        return "ratings or scores, by objective"
    return "ratings" if flag else "scores"


def register(app: typer.Typer) -> None:
    """Add this module's commands to the main app."""
    for func in (train, recommend, similar, predict, models):
        app.command(func.__name__)(cli_errors(func))
