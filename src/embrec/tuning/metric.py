"""The metric a study optimises: a name from the metric catalogue, a list length, a direction.

``ndcg@10`` is the catalogue's per-user ``ndcg`` over top-10 lists, averaged over the evaluated
users of the validation split; ``rmse`` and ``mae`` are the catalogue's figures over the warm
validation pairs. Only accuracy metrics are offered: tuning for diversity or novelty alone
rewards models that ignore what users liked.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from embrec.errors import ConfigError
from embrec.evaluation.catalog import METRICS

__all__ = ["DIRECTIONS", "Direction", "TuneMetric", "parse_metric"]

Direction = Literal["maximize", "minimize"]

#: Catalogue name -> which way is better, for the metrics a study may optimise: the catalogue's
#: accuracy metrics (those with a ``goal``), in its order.
DIRECTIONS: dict[str, Direction] = {m.name: m.goal for m in METRICS if m.goal is not None}
#: The list length of a ranking metric written without ``@K``.
DEFAULT_K = 10


def _allowed() -> str:
    ranking = [f"{name}@K" for name, d in DIRECTIONS.items() if d == "maximize"]
    rating = [name for name, d in DIRECTIONS.items() if d == "minimize"]
    return f"{', '.join(ranking)} (K a list length such as 10), {', '.join(rating)}"


@dataclass(frozen=True)
class TuneMetric:
    """A metric of the catalogue, the list length it is cut at, and whether more is better.

    Attributes:
        name: the catalogue name (``ndcg``, ``rmse``...).
        k: the list length of a ranking metric; ``None`` for ``rmse`` and ``mae``.
        direction: ``maximize`` or ``minimize``.
    """

    name: str
    k: int | None
    direction: Direction

    @property
    def label(self) -> str:
        """``ndcg@10``, or ``rmse``."""
        return self.name if self.k is None else f"{self.name}@{self.k}"

    @property
    def needs_ratings(self) -> bool:
        return self.k is None

    def __str__(self) -> str:
        return self.label


def parse_metric(text: str) -> TuneMetric:
    """``ndcg@10``, ``recall@20``, ``rmse``... as a :class:`TuneMetric` (a bare ``ndcg`` is ``ndcg@10``).

    Raises:
        ConfigError: a name outside the tunable metrics, a ``@K`` that is not a positive whole
            number, or a ``@K`` on ``rmse``/``mae``.
    """
    from embrec.evaluation.catalog import get_metric

    if not isinstance(text, str) or not text.strip():
        raise ConfigError(f"unknown metric {text!r}; choose from {_allowed()}.")
    name, at, k_text = text.strip().lower().partition("@")
    if name not in DIRECTIONS:
        raise ConfigError(f"unknown metric {text!r}; choose from {_allowed()}.")
    catalogued = get_metric(name)  # the catalogue is the one home of metrics: it must know the name
    if catalogued.needs_ratings:
        if at:
            raise ConfigError(f"metric={text!r}: {name} scores predicted ratings, not lists; write metric={name!r}.")
        return TuneMetric(name, None, DIRECTIONS[name])
    if not at:
        return TuneMetric(name, DEFAULT_K, DIRECTIONS[name])
    if not k_text.isdigit() or int(k_text) < 1:
        raise ConfigError(f"metric={text!r} needs a list length of 1 or more after '@', as in {name}@10.")
    return TuneMetric(name, int(k_text), DIRECTIONS[name])
