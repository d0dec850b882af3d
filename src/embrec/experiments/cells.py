"""One cell of an experiment: a model trained on one fold for one seed, scored on its test part.

A cell lives in ``OUT/cells/<key>/``: ``per_user.csv`` (one row per evaluated user, a column per
per-user metric and list length, such as ``ndcg@10``) and ``cell.json`` (what was asked, the
fingerprints of the fold's training and test parts, the model's resolved config, the list
figures, the seconds). The folder is written whole or not at all (:func:`embrec.atomic.folder`).

A cell is reused when its ``cell.json`` holds the same :func:`cell_request` as now: the same
model and settings (or tune block), seed, protocol and fold, relevance threshold and list lengths,
and the same training and test data by fingerprint. Anything else recomputes it.
"""

from __future__ import annotations

import dataclasses
import datetime as dt
import json
import logging
import math
import re
import time
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from embrec.atomic import folder as atomic_folder
from embrec.data.interactions import Interactions
from embrec.data.protocols import Fold
from embrec.data.splits import Split
from embrec.evaluation.foldin import foldin_lists, scores_by_foldin
from embrec.experiments.spec import ModelSpec, ProtocolSpec

__all__ = ["CELL_FILE", "PER_USER_FILE", "Cell", "CellKey", "cell_request", "evaluated_split", "read_cell", "run_cell"]

log = logging.getLogger(__name__)

CELL_FILE = "cell.json"
PER_USER_FILE = "per_user.csv"
#: Bumped when what a cell stores changes; a cell of another format is recomputed.
CELL_FORMAT = 1


@dataclass(frozen=True)
class CellKey:
    """Where a cell sits in the grid: dataset x protocol x fold x seed x model (labels of the file)."""

    dataset: str
    protocol: str
    fold: int
    seed: int
    model: str

    @property
    def name(self) -> str:
        """The cell's folder name under ``cells/``."""
        raw = f"{self.dataset}__{self.protocol}__fold-{self.fold}__seed-{self.seed}__{self.model}"
        return re.sub(r"[^A-Za-z0-9_.-]+", "_", raw)

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)


@dataclass
class Cell:
    """A finished cell, read back or just computed.

    Attributes:
        key: where it sits in the grid.
        per_user: ``user`` (as text, so every cell's users compare equal) and one column per
            per-user metric and list length (``ndcg@10``...).
        lists: the list figures by column name (``coverage@10``, ``rmse``, ...), NaN where undefined.
        info: the rest of ``cell.json`` (request, config, seconds...).
        reused: whether it was read back instead of computed.
    """

    key: CellKey
    per_user: pd.DataFrame
    lists: dict[str, float]
    info: dict[str, Any]
    reused: bool = False

    def value(self, column: str, kind: str) -> float:
        """The cell's figure of ``column``: the mean over its users, or the list figure."""
        if kind == "list":
            return float(self.lists.get(column, float("nan")))
        if column not in self.per_user:
            return float("nan")
        values = self.per_user[column].to_numpy(dtype=np.float64)
        return float(np.nanmean(values)) if np.isfinite(values).any() else float("nan")


# ---------------------------------------------------------------------------- the data of a cell
def evaluated_split(fold: Fold, data: Interactions, *, for_tuning: bool = False) -> Split:
    """The split a cell trains and scores on: the fold itself, or, where the protocol gives held-out
    users fold-in rows (``strong-generalisation``), the fold with those rows added to training.

    The cell trains a model that can score a history (:func:`folds_in`) on the fold's own training
    users and folds each held-out user in; a model that cannot (kNN, ALS, BPR, biases) trains on this
    split, whose training part holds the fold-in rows (never the target rows). With
    ``for_tuning`` the validation users' fold-in rows are added too, so that the study, which
    scores on those users' targets (the fold's own validation part), sees their input as well.
    """
    parts = [fold.foldin_rows] + ([fold.validation_foldin_rows] if for_tuning else [])
    extra = [rows for rows in parts if rows is not None]
    if fold.foldin is None or not extra or fold.train_rows is None:
        return fold
    rows = np.sort(np.concatenate([fold.train_rows, *extra]))
    return dataclasses.replace(fold, train=data.take(rows), train_rows=rows)


def cell_request(model: ModelSpec, protocol: ProtocolSpec, fold: int, seed: int, split: Split) -> dict[str, Any]:
    """What decides a cell's result: a rerun reuses a stored cell only when this is equal."""
    return _plain(
        {
            "format": CELL_FORMAT,
            "model": model.model,
            "settings": dict(model.settings),
            "tune": None if model.tune is None else dataclasses.asdict(model.tune),
            "seed": seed,
            "protocol": protocol.name,
            "fold": fold,
            "threshold": protocol.threshold,
            "ks": list(protocol.ks) or None,
            "train": split.train.fingerprint(),
            "test": split.test.fingerprint(),
            "scoring": "fold-in" if folds_in(model, split) else "trained",
        }
    )


def folds_in(model: ModelSpec, split: Split) -> bool:
    """Whether the cell scores held-out users from their fold-in rows (strong generalisation, with a
    model that can score a history): trained on the training users alone, each test user folded in."""
    return scores_by_foldin(model.model, split)


def _plain(value: Any) -> Any:
    """JSON values as they read back (tuples become lists), so a stored request compares equal."""
    return json.loads(json.dumps(value, default=str))


# ---------------------------------------------------------------------------- reading
def read_cell(folder: Path, key: CellKey, request: dict[str, Any]) -> Cell | None:
    """The cell stored in ``folder`` if it answers ``request``; ``None`` when it is missing, other or unreadable."""
    try:
        info = json.loads((folder / CELL_FILE).read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None
    if not isinstance(info, dict) or info.get("request") != request:
        return None
    try:
        per_user = pd.read_csv(folder / PER_USER_FILE, dtype={"user": str})
    except (OSError, ValueError, pd.errors.ParserError):
        return None
    lists = {str(k): (float("nan") if v is None else float(v)) for k, v in dict(info.get("lists", {})).items()}
    return Cell(key=key, per_user=per_user, lists=lists, info=info, reused=True)


# ---------------------------------------------------------------------------- computing
def run_cell(
    key: CellKey,
    request: dict[str, Any],
    model: ModelSpec,
    protocol: ProtocolSpec,
    split: Split,
    *,
    k: int,
    folder: Path,
    tuning_split: Split | None = None,
    users_train: Interactions | None = None,
) -> Cell:
    """Train ``model`` on ``split.train`` (tuning it first on that part alone when it has a tune
    block), score it on ``split.test`` at every list length of ``protocol``, and store the cell.

    Args:
        k: the list length when ``protocol`` has no ranking metric (RMSE alone still ranks once).
        tuning_split: what a tune block tunes on (default ``split``): a protocol's fold, so that
            :func:`embrec.tuning.tune` carves its validation part the protocol's own way.
        users_train: strong generalisation: the training users' rows alone. A model that can score a
            history (:func:`folds_in`) trains on them and folds each held-out user in from their
            fold-in rows; the others train on ``split.train``, which holds those rows.
    """
    from embrec.evaluation import evaluate, evaluate_lists
    from embrec.models import registry

    started = time.perf_counter()
    settings, tuning = _settings(key, model, protocol, split if tuning_split is None else tuning_split)
    recommender = registry.create(model.model, **settings)
    folding = folds_in(model, split) and users_train is not None
    recommender.fit(users_train if folding and users_train is not None else split.train)
    fit_seconds = time.perf_counter() - started
    lengths = protocol.ks or (k,)
    recs = foldin_lists(recommender, split, max(lengths)) if folding else None
    tables: list[pd.DataFrame] = []
    lists: dict[str, float] = {}
    for length in lengths:
        if recs is not None:
            result = evaluate_lists(
                recs, split, k=length, threshold=protocol.threshold, names=[key.model], n_resamples=1, seed=key.seed
            )
        else:
            result = evaluate(
                recommender,
                split,
                k=length,
                threshold=protocol.threshold,
                names=[key.model],
                n_resamples=1,
                seed=key.seed,
            )
        scored = result.models[0]
        table = scored.per_user.drop(columns=["relevant"]).set_index("user")
        tables.append(table.rename(columns=lambda c, n=length: f"{c}@{n}"))
        for name, value in scored.lists.items():
            column = name if name in ("rmse", "mae", "rated_pairs", "cold_pairs") else f"{name}@{length}"
            lists[column] = float(value)
    frame = pd.concat(tables, axis=1).reset_index()
    frame["user"] = frame["user"].astype(str)
    info = {
        "key": key.to_dict(),
        "request": request,
        "config": _config_of(recommender),
        "tuning": tuning,
        "scoring": "fold-in" if folding else "trained",
        "users": int(len(frame)),
        "train_rows": int(split.train.n_ratings),
        "test_rows": int(split.test.n_ratings),
        "lists": {name: (value if math.isfinite(value) else None) for name, value in lists.items()},
        "fit_seconds": round(fit_seconds, 4),
        "seconds": round(time.perf_counter() - started, 4),
        "finished_utc": dt.datetime.now(dt.UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
    }
    with atomic_folder(folder, replace=True) as staging:
        frame.to_csv(staging / PER_USER_FILE, index=False)
        (staging / CELL_FILE).write_text(json.dumps(info, indent=2, default=str) + "\n", encoding="utf-8")
    return Cell(key=key, per_user=frame, lists=lists, info=info, reused=False)


def _settings(
    key: CellKey, model: ModelSpec, protocol: ProtocolSpec, split: Split
) -> tuple[dict[str, Any], dict[str, Any] | None]:
    """The settings the model is trained with, and what tuning found (``None`` without a tune block).

    The experiment seed sets the model's ``seed``. A tune block runs :func:`embrec.tuning.tune`
    on the split, which reads only ``split.train``: given a protocol's fold it carves the
    validation part the protocol's own way (:func:`embrec.data.protocols.validation_split`).
    """
    settings = dict(model.settings)
    if model.seeded:
        settings["seed"] = key.seed
    if model.tune is None:
        return settings, None
    from embrec.tuning import tune

    log.info("tuning %s for cell %s (%d trials)", model.model, key.name, model.tune.trials)
    result = tune(
        model.model,
        split,
        metric=model.tune.metric,
        trials=model.tune.trials,
        seed=key.seed,
        fixed=settings,
        threshold=protocol.threshold,
        prune=model.tune.prune,
    )
    found = result.to_dict()
    tuning = {k: found[k] for k in ("best_config", "best_value", "best_trial", "metric", "trials", "validation")}
    return dict(result.best_config), tuning


def _config_of(recommender: Any) -> dict[str, Any]:
    config = getattr(recommender, "config", None)
    to_dict = getattr(config, "to_dict", None)
    return _plain(to_dict()) if callable(to_dict) else {}
