"""Experiments: datasets x split protocols x models x seeds from one TOML file, compared in one table.

* :func:`load_experiment` reads and checks an experiment file (format: ``docs/experiments.md``)
  and returns an :class:`Experiment`; every bad key or value is one :class:`~embrec.errors.ConfigError`.
* :func:`run_experiment` runs every cell (``dataset x protocol x fold x model x seed``) into an
  output folder, reusing the cells an earlier run finished, and writes the comparison
  (``results.csv``/``.json``/``.md``, plots, ``report.html``); ``embrec experiment run`` is a
  thin layer over it.
* :func:`holm` and :func:`t_interval` are the two statistics the comparison adds to
  :mod:`embrec.evaluation.stats`.
"""

from embrec.experiments.compare import COLUMNS, compare_cells
from embrec.experiments.runner import ExperimentRun, check_out_folder, run_experiment
from embrec.experiments.spec import (
    DatasetSpec,
    Evaluation,
    Experiment,
    MetricSpec,
    ModelSpec,
    ProtocolSpec,
    TuneSpec,
    load_experiment,
    parse_experiment,
    parse_metric_name,
)
from embrec.experiments.stats import CellInterval, holm, t_interval

__all__ = [
    "COLUMNS",
    "CellInterval",
    "DatasetSpec",
    "Evaluation",
    "Experiment",
    "ExperimentRun",
    "MetricSpec",
    "ModelSpec",
    "ProtocolSpec",
    "TuneSpec",
    "check_out_folder",
    "compare_cells",
    "holm",
    "load_experiment",
    "parse_experiment",
    "parse_metric_name",
    "run_experiment",
    "t_interval",
]
