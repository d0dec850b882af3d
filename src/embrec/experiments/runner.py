"""Run an experiment: every cell of the grid, finished cells reused, then the comparison and its files.

:func:`run_experiment` walks datasets, protocols, seeds, folds and models in the file's order.
For each fold it fingerprints the training and test parts; a cell whose stored ``cell.json``
asks for the same thing on the same data is read back, any other is computed and stored
(:mod:`embrec.experiments.cells`). When every cell is there, the comparison table
(:mod:`embrec.experiments.compare`) is written as CSV, JSON and Markdown with a plot per table
and one self-contained HTML report (:mod:`embrec.experiments.outputs`).

A run stopped half-way (an error, Ctrl-C) leaves the cells it finished, each whole; running it
again computes only the rest. The results files are written only by a run that finished.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pandas as pd

from embrec.data.interactions import Interactions
from embrec.data.protocols import Fold
from embrec.errors import ConfigError
from embrec.experiments.cells import Cell, CellKey, cell_request, evaluated_split, read_cell, run_cell
from embrec.experiments.compare import compare_cells
from embrec.experiments.spec import Experiment, ProtocolSpec

__all__ = ["CELLS_FOLDER", "CellProgress", "ExperimentRun", "check_out_folder", "run_experiment"]

log = logging.getLogger(__name__)

CELLS_FOLDER = "cells"
#: Files a finished run writes at the top of its folder (so a folder holding them is one of ours).
RESULT_FILES = ("results.csv", "results.json", "results.md", "report.html", "experiment.toml")

#: Called with ``(finished, total, {})`` before the first cell, then with ``(finished, total, info)``
#: when a cell starts (``info["state"] == "running"``) and ends (``"computed"`` or ``"reused"``,
#: with ``info["seconds"]``); ``info["cell"]`` names the cell.
CellProgress = Callable[[int, int, dict[str, Any]], None]


@dataclass
class ExperimentRun:
    """What a run did and wrote.

    Attributes:
        experiment: the experiment run.
        out: its output folder.
        table: the comparison table (:data:`~embrec.experiments.compare.COLUMNS`).
        cells: every cell of the grid, in run order.
        computed: how many cells were computed this time.
        reused: how many were read back from an earlier run.
        seconds: how long the run took.
        files: the files written at the top of ``out`` (and the plots).
        notes: what was left out and why (a plot without matplotlib, ...).
    """

    experiment: Experiment
    out: Path
    table: pd.DataFrame
    cells: list[Cell]
    computed: int
    reused: int
    seconds: float
    files: list[Path] = field(default_factory=list)
    notes: list[str] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        """A JSON-ready summary: the counts, the files, and the table's rows (NaN as ``null``)."""
        import json

        return {
            "experiment": self.experiment.name,
            "out": str(self.out),
            "cells": {"total": len(self.cells), "computed": self.computed, "reused": self.reused},
            "seconds": round(self.seconds, 3),
            "files": [str(p) for p in self.files],
            "notes": list(self.notes),
            "results": json.loads(self.table.to_json(orient="records")),
        }


@dataclass
class _Walk:
    """The cells of a run so far, and how to get the next ones: read back, or computed and stored."""

    experiment: Experiment
    folder: Path
    force: bool
    progress: CellProgress | None
    cells: list[Cell] = field(default_factory=list)

    def fold(self, dataset: str, protocol: ProtocolSpec, seed: int, fold: Fold, data: Interactions) -> None:
        """Every model's cell of one fold."""
        split = evaluated_split(fold, data)
        tuning = evaluated_split(fold, data, for_tuning=True) if any(m.tune for m in self.experiment.models) else None
        total = self.experiment.n_cells
        for model in self.experiment.models:
            key = CellKey(dataset, protocol.name, fold.fold, seed, model.label)
            request = cell_request(model, protocol, fold.fold, seed, split)
            place = self.folder / CELLS_FOLDER / key.name
            cell = None if self.force else read_cell(place, key, request)
            if cell is None:
                self._report({"cell": key.name, "state": "running"})
                k = self.experiment.evaluation.k
                users_train = fold.train if fold.foldin is not None else None
                cell = run_cell(
                    key,
                    request,
                    model,
                    protocol,
                    split,
                    k=k,
                    folder=place,
                    tuning_split=tuning,
                    users_train=users_train,
                )
            self.cells.append(cell)
            seconds = float(cell.info.get("seconds", 0.0))
            self._report({"cell": key.name, "state": "reused" if cell.reused else "computed", "seconds": seconds})
        log.debug("%d of %d cells done", len(self.cells), total)

    def _report(self, info: dict[str, Any]) -> None:
        if self.progress is not None:
            self.progress(len(self.cells), self.experiment.n_cells, info)


def check_out_folder(out: str | Path) -> Path:
    """``out`` as a path, refused before anything is written when it is a file or a folder of other things.

    A new or empty folder is fine, and so is one an earlier run wrote (it holds ``cells/`` or results).

    Raises:
        ConfigError: ``out`` is a file, or a folder holding other files.
    """
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={str(out)!r} is a file; give a folder for the experiment's cells and results.")
    try:
        names = {p.name for p in out.iterdir()} if out.is_dir() else set()
    except OSError as exc:
        raise ConfigError(f"cannot read the folder out={str(out)!r}: {exc.strerror or exc}.") from None
    if names and CELLS_FOLDER not in names and not names & set(RESULT_FILES):
        raise ConfigError(
            f"out={str(out)!r} holds other files and no {CELLS_FOLDER}/ folder; give a new or empty folder, or one "
            "an earlier `embrec experiment run` wrote."
        )
    return out


def run_experiment(
    experiment: Experiment,
    out: str | Path,
    *,
    force: bool = False,
    progress: CellProgress | None = None,
) -> ExperimentRun:
    """Run every cell of ``experiment`` into ``out`` and write the comparison.

    Args:
        experiment: from :func:`~embrec.experiments.spec.load_experiment`.
        out: the output folder: ``cells/`` (one folder per cell), ``results.csv``,
            ``results.json``, ``results.md``, ``plots/``, ``report.html`` and ``experiment.toml``.
        force: compute every cell again, even those stored with the same request.
        progress: see :data:`CellProgress`.

    Returns:
        An :class:`ExperimentRun`.

    Raises:
        ConfigError: ``out`` is a file or holds other files.
        DataError, SplitError, TrainingError: a dataset cannot be read, a protocol cannot split
            it, or a model cannot be trained; the cells finished before stay, and are reused by
            the next run.
    """
    from embrec.data.protocols import get_protocol
    from embrec.experiments.outputs import write_outputs

    folder = check_out_folder(out)
    started = time.perf_counter()
    walk = _Walk(experiment, folder, force, progress)
    if progress is not None:
        progress(0, experiment.n_cells, {})
    for dataset in experiment.datasets:
        log.info("loading %s", dataset.label)
        data = dataset.options.load()
        for protocol in experiment.protocols:
            for seed in experiment.seeds:
                for fold in get_protocol(protocol.name).folds(data, seed=seed):
                    walk.fold(dataset.label, protocol, seed, fold, data)
    cells = walk.cells
    run = ExperimentRun(
        experiment=experiment,
        out=folder,
        table=compare_cells(experiment, cells),
        cells=cells,
        computed=sum(not c.reused for c in cells),
        reused=sum(c.reused for c in cells),
        seconds=0.0,
    )
    run.seconds = time.perf_counter() - started
    write_outputs(run)
    run.seconds = time.perf_counter() - started
    log.info("%d cells: %d computed, %d reused", len(cells), run.computed, run.reused)
    return run
