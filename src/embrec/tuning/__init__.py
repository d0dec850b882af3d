"""Hyperparameter tuning: search a model's declared settings on a validation split carved from training.

* :func:`tune` runs an Optuna study (TPE sampler, median pruning, resumable in SQLite) and returns
  a :class:`TuneResult`; ``embrec tune`` is a thin layer over it.
* :func:`validation_split` carves the validation split from a split's training part by the
  split's own protocol; the test rows are never read.
* :func:`parse_metric` reads ``ndcg@10``, ``rmse``...; :func:`model_space` is what a model tries
  (declared beside its config, :mod:`embrec.models.space`).

Optuna is the ``tune`` extra (``pip install 'embrec[tune]'``), imported only when a study runs.
"""

from embrec.tuning.metric import DIRECTIONS, TuneMetric, parse_metric
from embrec.tuning.search import describe_space, model_space
from embrec.tuning.study import MAX_TRIALS, STUDY_FILE, TuneResult, TuningPlan, check_tuning, pruning_reporter, tune
from embrec.tuning.validation import describe_validation, validation_seed, validation_split

__all__ = [
    "DIRECTIONS",
    "MAX_TRIALS",
    "STUDY_FILE",
    "TuneMetric",
    "TuneResult",
    "TuningPlan",
    "check_tuning",
    "describe_space",
    "describe_validation",
    "model_space",
    "parse_metric",
    "pruning_reporter",
    "tune",
    "validation_seed",
    "validation_split",
]
