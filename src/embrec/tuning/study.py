"""Run a study: sample settings from a model's search space, fit on the validation split, keep the best.

:func:`tune` is the whole library API; ``embrec tune`` is a thin layer over it. Each trial
creates the model with the sampled settings (and the fixed ones), fits it on the training part of
the validation split (:mod:`embrec.tuning.validation`), and scores it on the validation rows with
:func:`embrec.evaluation.evaluate`. Models that train epochs report their loss on their own
early-stopping slice after each epoch, so Optuna's ``MedianPruner`` can stop a trial that is
behind the others at the same epoch; closed-form models just run.

A study in a folder (``out``) lives in ``out/study.db`` (Optuna's SQLite storage): running again
continues it up to ``trials`` in all, and a study of another model, metric, data, split or seed
in the same folder is refused. After every trial ``best.toml`` and ``trials.csv`` are rewritten
(atomically), so an interrupted study leaves them up to date.
"""

from __future__ import annotations

import contextlib
import dataclasses
import json
import logging
import math
import os
import shutil
import time
from collections.abc import Callable, Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

import numpy as np
import pandas as pd

from embrec.data.splits import Split
from embrec.errors import ConfigError, DataError, EmbrecError, TrainingError
from embrec.extras import require
from embrec.models.space import Range
from embrec.tuning.files import BEST_FILE, TRIALS_FILE, write_best, write_trials
from embrec.tuning.metric import DEFAULT_K, Direction, TuneMetric, parse_metric
from embrec.tuning.search import defaults_in_space, describe_space, distributions, model_space
from embrec.tuning.validation import describe_validation, validation_split

if TYPE_CHECKING:
    import optuna

    from embrec.models.base import ProgressFn, Recommender

__all__ = [
    "MAX_TRIALS",
    "STUDY_FILE",
    "TrialProgress",
    "TuneResult",
    "TuningPlan",
    "check_study_folder",
    "check_tuning",
    "pruning_reporter",
    "tune",
]

log = logging.getLogger(__name__)

STUDY_FILE = "study.db"
STUDY_NAME = "embrec-tune"
#: The study's user attribute holding what it tunes (model, metric, data, split, seed, space).
FINGERPRINT = "embrec_fingerprint"
#: Most trials one study may be asked for (a typo such as 10000000 would run for ever).
MAX_TRIALS = 100_000
#: Trials the TPE sampler draws at random before it models the results (Optuna's default is 10;
#: studies here are often 10-30 trials long).
STARTUP_TRIALS = 5
#: MedianPruner: no trial is pruned before this many have finished...
PRUNE_STARTUP_TRIALS = 5
#: ...nor before it has run this many epochs (the first epochs say little about the last).
PRUNE_WARMUP_EPOCHS = 2
#: The bootstrap is not needed to rank trials: the mean of one resample's run is the plain mean.
_RESAMPLES = 1

#: Called before the first trial with ``(finished, total, {})`` and after each trial with
#: ``(finished, total, {"number", "state", "value", "best_value"})``.
TrialProgress = Callable[[int, int, dict[str, Any]], None]


# ---------------------------------------------------------------------- what to tune
@dataclass(frozen=True)
class TuningPlan:
    """A checked request: the model, what it tries, what it keeps fixed, and what it optimises."""

    model: str
    space: dict[str, Range]
    fixed: dict[str, Any]
    metric: TuneMetric
    trials: int


def check_tuning(
    model: str, *, metric: str = "ndcg@10", trials: int = 20, fixed: Mapping[str, Any] | None = None
) -> TuningPlan:
    """Check a tuning request before any data is read; a :class:`ConfigError` names what is wrong.

    Raises:
        ConfigError: an unknown model, one with nothing to tune, an unknown metric, a rating
            metric for a model that only ranks, ``trials`` below 1, or a bad fixed setting.
    """
    from embrec.models import registry

    cls = registry.get(model)
    fixed = dict(fixed or {})
    cls.config_class.from_dict(fixed)  # a bad fixed setting fails now, not in every trial
    space = model_space(model, fixed)
    chosen = parse_metric(metric)
    if isinstance(trials, bool) or not isinstance(trials, int | np.integer) or not 1 <= trials <= MAX_TRIALS:
        raise ConfigError(f"trials={trials!r} is not allowed; give a whole number from 1 to {MAX_TRIALS:,}.")
    if chosen.needs_ratings and cls.predicts_ratings is False:  # a property decides only once fitted
        raise ConfigError(
            f"metric={chosen.label!r} scores predicted ratings, and model {model!r} ranks items but predicts no "
            "ratings; tune it with a ranking metric such as metric='ndcg@10'."
        )
    return TuningPlan(model=model, space=space, fixed=fixed, metric=chosen, trials=int(trials))


# ---------------------------------------------------------------------- the result
@dataclass(frozen=True)
class TuneResult:
    """What a study found.

    Attributes:
        model: the registry name of the model tuned.
        metric: the metric optimised, such as ``ndcg@10``.
        direction: ``maximize`` or ``minimize``.
        best_config: the settings of the best trial, fixed ones included (``models.create(model, **best_config)``).
        best_value: its validation score.
        best_trial: its number.
        trials: one row per finished trial: ``number``, ``state``, a column per tuned setting, ``value``, ``seconds``.
        validation: how the validation split was carved (:func:`~embrec.tuning.validation.describe_validation`).
        out: the study folder, or ``None`` for a study kept in memory.
    """

    model: str
    metric: str
    direction: Direction
    best_config: dict[str, Any]
    best_value: float
    best_trial: int
    trials: pd.DataFrame = dataclasses.field(repr=False)
    validation: dict[str, Any] = dataclasses.field(repr=False)
    out: Path | None = None

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON values: the best settings and value, the metric, the trial counts, the validation."""
        states = self.trials["state"].value_counts()
        return {
            "model": self.model,
            "best_config": self.best_config,
            "best_value": self.best_value,
            "best_trial": self.best_trial,
            "metric": self.metric,
            "direction": self.direction,
            "trials": len(self.trials),
            "complete": int(states.get("complete", 0)),
            "pruned": int(states.get("pruned", 0)),
            "failed": int(states.get("fail", 0)),
            "validation": self.validation,
            "out": None if self.out is None else str(self.out),
        }

    def create(self) -> Recommender:
        """A new, unfitted model with the best settings."""
        from embrec.models import registry

        return registry.create(self.model, **self.best_config)


# ---------------------------------------------------------------------- pruning
def pruning_reporter(trial: optuna.Trial, direction: Direction) -> ProgressFn:
    """A ``progress`` callback for ``fit`` that reports each epoch's loss to ``trial`` and prunes.

    The loss is the model's own validation loss (``val_loss``, on its early-stopping slice of the
    fitting rows), else its training loss; it is negated when the study maximises, so that the
    pruner's "worse" is the study's. Epochs without a loss (ALS, BPR) report nothing.

    Raises:
        optuna.TrialPruned: from the callback, when the pruner says the trial is behind.
    """
    import optuna

    def report(epoch: int, epochs: int, record: dict[str, float]) -> None:
        loss = record.get("val_loss", record.get("train_loss"))
        if loss is None or not math.isfinite(loss):
            return
        trial.report(-float(loss) if direction == "maximize" else float(loss), epoch)
        if trial.should_prune():
            raise optuna.TrialPruned(f"pruned after epoch {epoch} of {epochs}")

    return report


# ---------------------------------------------------------------------- one trial
def _score(plan: TuningPlan, settings: dict[str, Any], validation: Split, threshold: float | None, trial: Any) -> float:
    """Fit the model with ``settings`` on the validation split's training part; its validation score.

    Under strong generalisation (a validation fold with fold-in rows) a model that can score a
    history trains on the other users alone and ranks each validation user from their fold-in rows,
    as the experiment cell then scores the test users; other models train on those rows too.
    """
    from embrec.evaluation import evaluate, evaluate_lists
    from embrec.evaluation.foldin import foldin_lists, scores_by_foldin, training_users
    from embrec.models import registry

    metric = plan.metric
    recommender = registry.create(plan.model, **settings)
    folding = scores_by_foldin(plan.model, validation)
    fit_on = training_users(validation) if folding else validation.train
    recommender.fit(fit_on, progress=pruning_reporter(trial, metric.direction))
    if metric.needs_ratings and (folding or not recommender.predicts_ratings):
        why = (
            "held-out users folded in from their history get ranked lists, not predicted ratings"
            if folding
            else f"this {plan.model} model ranks items but predicts no ratings (implicit feedback, or a ranking objective)"
        )
        raise ConfigError(
            f"metric={metric.label!r} scores predicted ratings, and {why}; tune it with a ranking metric such as metric='ndcg@10'."
        )
    k = metric.k or DEFAULT_K
    ranking_threshold = None if metric.needs_ratings else threshold
    if folding:
        recs = foldin_lists(recommender, validation, k)
        result = evaluate_lists(recs, validation, k=k, threshold=ranking_threshold, n_resamples=_RESAMPLES)
    else:
        result = evaluate(recommender, validation, k=k, threshold=ranking_threshold, n_resamples=_RESAMPLES)
    scored = result.models[0]
    value = float(scored.lists[metric.name] if metric.needs_ratings else scored.summary[metric.name].mean)
    if not math.isfinite(value):
        raise TrainingError(f"the validation {metric.label} of this trial is {value}; its settings were {settings}.")
    return value


# ---------------------------------------------------------------------- the study
def _derived_seed(seed: int, *key: int) -> int:
    return int(np.random.SeedSequence(int(seed), spawn_key=key).generate_state(1)[0])


def _jsonable(values: Mapping[str, Any]) -> dict[str, Any]:
    return dict(json.loads(json.dumps(dict(values), default=str)))


def _fingerprint(plan: TuningPlan, split: Split, validation: Split, threshold: float | None) -> dict[str, Any]:
    """What makes two studies the same study (stored in the study, compared when it is resumed)."""
    v = validation
    return _jsonable(
        {
            "model": plan.model,
            "metric": plan.metric.label,
            "threshold": None if plan.metric.needs_ratings else threshold,
            "fixed": plan.fixed,
            "space": describe_space(plan.space),
            "data": split.train.fingerprint(),
            "validation": {
                "method": v.method.value,
                "fraction": v.test_fraction,
                "count": v.test_count,
                "seed": v.seed,
                "drop_unseen": v.drop_unseen,
            },
        }
    )


_WHAT = {
    "model": "another model",
    "metric": "another metric",
    "threshold": "another relevance threshold",
    "fixed": "other fixed settings",
    "space": "another search space",
    "data": "other training data",
    "validation": "another split or seed",
}


def _refuse_other(db: Path, stored: Any, wanted: dict[str, Any]) -> None:
    if stored == wanted:
        return
    if not isinstance(stored, dict):
        raise ConfigError(f"{str(db)!r} holds an Optuna study that embrec tune did not make; give a new folder.")
    changed = []
    for key in wanted:
        if stored.get(key) != wanted[key]:
            shown = (
                f" ({stored.get(key)!r} there, {wanted[key]!r} now)" if key in ("model", "metric", "threshold") else ""
            )
            changed.append(_WHAT[key] + shown)
    raise ConfigError(
        f"{str(db.parent)!r} holds a study of {' and '.join(changed)}; rerun it as it was to continue it, "
        "or give a new out folder."
    )


def check_study_folder(out: str | os.PathLike[str]) -> None:
    """Refuse, before anything is written, a study folder that is a file or holds other files."""
    out = Path(out).expanduser()
    if out.exists() and not out.is_dir():
        raise ConfigError(f"out={str(out)!r} is a file; give a folder for the study.")
    try:
        holds = out.is_dir() and any(out.iterdir())
    except OSError as exc:
        raise ConfigError(f"cannot read the folder out={str(out)!r}: {exc.strerror or exc}.") from None
    if holds and not (out / STUDY_FILE).is_file():
        raise ConfigError(
            f"out={str(out)!r} holds other files and no {STUDY_FILE}; give an empty or new folder, or one a "
            "previous embrec tune wrote."
        )


@contextlib.contextmanager
def _locked(out: Path) -> Iterator[None]:
    """Hold the study folder for this process alone (a second ``tune`` on it is refused)."""
    try:
        import fcntl
    except ImportError:  # not on a Unix: no lock, one study per folder at a time is up to the user
        yield
        return
    with open(out / ".lock", "a") as handle:
        try:
            fcntl.flock(handle, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except OSError:
            raise EmbrecError(
                f"another embrec tune is running on {str(out)!r}; wait for it to finish, or give another out folder."
            ) from None
        try:
            yield
        finally:
            fcntl.flock(handle, fcntl.LOCK_UN)


def _open_study(out: Path | None, direction: Direction, fingerprint: dict[str, Any]) -> tuple[Any, bool]:
    """The study (created, or loaded and checked against ``fingerprint``), and whether it is new."""
    import optuna

    if out is None:
        study = optuna.create_study(study_name=STUDY_NAME, direction=direction)
        return study, True
    db = out / STUDY_FILE
    existed = db.is_file()
    try:
        storage = optuna.storages.RDBStorage(f"sqlite:///{db.resolve()}")
        names = optuna.get_all_study_names(storage) if existed else []
    except Exception as exc:  # SQLAlchemy's or Optuna's errors: a file that is no study of this Optuna
        raise ConfigError(f"{str(db)!r} cannot be read as an Optuna study ({exc}); give a new folder.") from None
    if existed and STUDY_NAME not in names:
        raise ConfigError(f"{str(db)!r} holds no study of embrec tune; give a new folder.")
    if existed:
        study = optuna.load_study(study_name=STUDY_NAME, storage=storage)
        _refuse_other(db, study.user_attrs.get(FINGERPRINT), fingerprint)
        return study, False
    study = optuna.create_study(storage=storage, study_name=STUDY_NAME, direction=direction)
    study.set_user_attr(FINGERPRINT, fingerprint)
    return study, True


def _finished_states() -> tuple[Any, ...]:
    from optuna.trial import TrialState

    return (TrialState.COMPLETE, TrialState.PRUNED, TrialState.FAIL)


def _trial_table(study: Any, names: list[str]) -> pd.DataFrame:
    from optuna.trial import TrialState

    rows = []
    for t in study.get_trials(deepcopy=False, states=_finished_states()):
        seconds = t.user_attrs.get("seconds")
        if seconds is None and t.datetime_start is not None and t.datetime_complete is not None:
            seconds = round((t.datetime_complete - t.datetime_start).total_seconds(), 4)
        row = {"number": t.number, "state": t.state.name.lower()}
        row |= {name: t.params.get(name) for name in names}
        # a pruned trial's value in Optuna is its last reported loss, not the metric: left empty
        row |= {"value": t.value if t.state == TrialState.COMPLETE else None, "seconds": seconds}
        rows.append(row)
    return pd.DataFrame(rows, columns=["number", "state", *names, "value", "seconds"])


def _best(study: Any, plan: TuningPlan) -> tuple[dict[str, Any], float, int] | None:
    from optuna.trial import TrialState

    complete = study.get_trials(deepcopy=False, states=(TrialState.COMPLETE,))
    if not complete:
        return None
    best = study.best_trial
    settings = {name: best.params[name] for name in plan.space if name in best.params} | plan.fixed
    return settings, float(best.value), int(best.number)


def _write(out: Path, study: Any, plan: TuningPlan, table: pd.DataFrame) -> None:
    write_trials(out / TRIALS_FILE, table)
    best = _best(study, plan)
    if best is None:
        return
    settings, value, number = best
    header = [
        f"embrec tune: the best of {len(table)} trials of {plan.model} by validation {plan.metric.label} "
        f"({plan.metric.direction}): {value:.6g} (trial {number})",
        f"use it with: embrec train --model {plan.model} --config {out / BEST_FILE}",
    ]
    write_best(out / BEST_FILE, settings, header)


def _fail_stale(study: Any) -> None:
    """Mark trials left running by a killed process as failed (the lock says none runs now)."""
    from optuna.trial import TrialState

    for t in study.get_trials(deepcopy=False, states=(TrialState.RUNNING,)):
        study.tell(t.number, state=TrialState.FAIL)


def _check_validation(validation: Split, plan: TuningPlan, threshold: float | None) -> None:
    """Refuse, before a trial runs, a validation split that the metric cannot score."""
    from embrec.evaluation.context import EvaluationContext

    try:
        EvaluationContext.build(
            validation, k=plan.metric.k or DEFAULT_K, threshold=None if plan.metric.needs_ratings else threshold
        )
    except DataError as exc:
        raise DataError(f"the validation split carved from the training part cannot be scored: {exc}") from None


def tune(
    model: str,
    split: Split,
    *,
    metric: str = "ndcg@10",
    trials: int = 20,
    seed: int | None = None,
    out: str | os.PathLike[str] | None = None,
    fixed: Mapping[str, Any] | None = None,
    threshold: float | None = 4.0,
    progress: TrialProgress | None = None,
    pruner: Any | None = None,
    prune: bool = True,
) -> TuneResult:
    """Search ``model``'s declared settings for the best validation ``metric``, with Optuna's TPE.

    Only ``split.train`` is read: the validation split is carved from it by the split's own
    protocol (:func:`~embrec.tuning.validation.validation_split`); ``split.test`` is left for the
    final evaluation of the chosen settings.

    Args:
        model: a registry name (``ease``, ``embedding``...) whose config declares a ``search_space``.
        split: the split to tune on (its training part).
        metric: ``ndcg@10``, ``recall@20``, ``precision@K``, ``map@K``, ``mrr@K``, ``hit@K``
            (maximised), ``rmse`` or ``mae`` (minimised).
        trials: trials in the study in all; a resumed study runs only the ones it lacks.
        seed: seed of the validation carve-out and of the sampler (default ``split.seed``); the
            model's own seed is its config's (fix it with ``fixed={"seed": ...}``). Same seed,
            same trials.
        out: a folder for ``study.db``, ``best.toml`` and ``trials.csv`` (new, empty, or holding
            this study to continue); ``None`` keeps the study in memory and writes nothing.
        fixed: settings every trial uses (``{"epochs": 20}``); they leave the search space and
            are part of ``best_config``.
        threshold: lowest relevant validation rating of the ranking metrics (``None``: every
            validation item is relevant; implicit data always is).
        progress: called before the first trial and after each (see :data:`TrialProgress`).
        pruner: an Optuna pruner instead of ``MedianPruner(n_startup_trials=5, n_warmup_steps=2)``.
        prune: ``False`` runs every trial to its end (no pruner; ``pruner`` wins when given). The
            median pruner compares early-stopping losses, which settings such as the ranking
            objective's ``low_rating_weight`` change in scale as well as in quality.

    Returns:
        A :class:`TuneResult`.

    Raises:
        ConfigError: a bad request (see :func:`check_tuning`), an ``out`` that holds other files
            or a study of another model, metric, data, split or seed.
        SplitError: the training part is too small to carve a validation split from.
        DataError: no validation user has a relevant item.
        TrainingError: no trial finished with a score.
        MissingExtraError: Optuna (the ``tune`` extra) is not installed.
    """
    require("tune", "hyperparameter tuning (embrec tune)")
    if pruner is None and not prune:
        from optuna.pruners import NopPruner

        pruner = NopPruner()
    plan = check_tuning(model, metric=metric, trials=trials, fixed=fixed)
    if not isinstance(split, Split):
        raise ConfigError(f"split must be a Split (see make_split), got {type(split).__name__}.")
    seed = split.seed if seed is None else seed
    validation = validation_split(split, seed=seed)
    _check_validation(validation, plan, threshold)
    fingerprint = _fingerprint(plan, split, validation, threshold)
    folder = None if out is None else Path(out).expanduser()
    if folder is None:
        return _run(plan, None, validation, fingerprint, seed, threshold, progress, pruner)
    check_study_folder(folder)
    made_folder, new_study = not folder.exists(), not (folder / STUDY_FILE).exists()
    try:
        folder.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ConfigError(f"cannot create the folder out={str(folder)!r}: {exc.strerror or exc}.") from None
    try:
        with _locked(folder):
            return _run(plan, folder, validation, fingerprint, seed, threshold, progress, pruner)
    except BaseException:
        if new_study and not (folder / TRIALS_FILE).exists():  # stopped before its first trial ended
            _remove_new_study(folder, made_folder)
        raise


def _remove_new_study(folder: Path, made_folder: bool) -> None:
    """Take back what a study that ended before its first trial wrote: nothing is left half-written."""
    if made_folder:
        shutil.rmtree(folder, ignore_errors=True)
        return
    for name in (STUDY_FILE, ".lock"):
        (folder / name).unlink(missing_ok=True)


def _run(
    plan: TuningPlan,
    out: Path | None,
    validation: Split,
    fingerprint: dict[str, Any],
    seed: int,
    threshold: float | None,
    progress: TrialProgress | None,
    pruner: Any | None,
) -> TuneResult:
    import optuna
    from optuna.trial import TrialState

    study, created = _open_study(out, plan.metric.direction, fingerprint)
    _fail_stale(study)
    if created:
        defaults = defaults_in_space(plan.model, plan.space, plan.fixed, validation.train)
        if defaults:  # the model's own defaults first: the best is never worse than them on validation
            study.enqueue_trial(defaults)
    names = list(plan.space)
    finished = len(study.get_trials(deepcopy=False, states=_finished_states()))
    # seeded by how many trials came before: a resumed study does not draw its first trials again
    study.sampler = optuna.samplers.TPESampler(seed=_derived_seed(seed, 2, finished), n_startup_trials=STARTUP_TRIALS)
    study.pruner = pruner or optuna.pruners.MedianPruner(
        n_startup_trials=PRUNE_STARTUP_TRIALS, n_warmup_steps=PRUNE_WARMUP_EPOCHS
    )
    space = distributions(plan.space)
    if progress is not None:
        progress(finished, plan.trials, {})
    last_error: str | None = None
    while finished < plan.trials:
        trial = study.ask(space)
        settings = {name: trial.params[name] for name in names} | plan.fixed
        started = time.perf_counter()
        try:
            value = _score(plan, settings, validation, threshold, trial)
        except optuna.TrialPruned:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 4))
            study.tell(trial, state=TrialState.PRUNED)
        except TrainingError as exc:  # these settings cannot train (a NaN loss, a singular matrix)
            last_error = str(exc)
            log.warning("trial %d failed: %s", trial.number, exc)
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 4))
            trial.set_user_attr("error", last_error)
            study.tell(trial, state=TrialState.FAIL)
        except BaseException:
            study.tell(trial, state=TrialState.FAIL)
            raise
        else:
            trial.set_user_attr("seconds", round(time.perf_counter() - started, 4))
            study.tell(trial, value)
        finished += 1
        table = _trial_table(study, names)
        if out is not None:
            _write(out, study, plan, table)
        if progress is not None:
            best = _best(study, plan)
            row = table.iloc[-1]
            progress(
                finished,
                plan.trials,
                {
                    "number": int(row["number"]),
                    "state": row["state"],
                    "value": None if pd.isna(row["value"]) else float(row["value"]),
                    "best_value": None if best is None else best[1],
                },
            )
    table = _trial_table(study, names)
    if out is not None and len(table):
        _write(out, study, plan, table)  # a study resumed with nothing left to run gets its files too
    best = _best(study, plan)
    if best is None:
        raise TrainingError(
            f"none of the {len(table)} trials of {plan.model} finished with a score"
            + (f"; the last failed with: {last_error}" if last_error else "")
            + "; fix settings with fixed=... or check the data."
        )
    settings, value, number = best
    return TuneResult(
        model=plan.model,
        metric=plan.metric.label,
        direction=plan.metric.direction,
        best_config=settings,
        best_value=value,
        best_trial=number,
        trials=table,
        validation=describe_validation(validation),
        out=out,
    )
