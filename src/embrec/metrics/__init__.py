"""Evaluation metrics: pure functions of recommendation lists (or predictions) and truth.

* :mod:`~embrec.metrics.accuracy`: RMSE and MAE of predicted ratings.
* :mod:`~embrec.metrics.ranking`: precision, recall, NDCG, AP/MAP, RR/MRR and hit rate at k.
* :mod:`~embrec.metrics.diversity`: intra-list diversity (and the exercise's scaled variant),
  serendipity.
* :mod:`~embrec.metrics.popularity`: novelty, popularity (ARP), mean item rating, EPC.
* :mod:`~embrec.metrics.coverage`: catalogue coverage, Gini index of exposure, personalization.

Recommendation lists are ``(n_users, k)`` integer arrays of item indexes padded with ``-1``;
truth is a scipy sparse ``(n_users, n_items)`` matrix with rows aligned to the lists. Per-user
functions return one float per user (NaN where undefined); :func:`mean_over_users` averages them.
Formulas, references and conventions: ``docs/metrics.md``.
"""

# Each module's __all__ is its public API; the package re-exports exactly those names.
from embrec.metrics import accuracy, coverage, diversity, popularity, ranking
from embrec.metrics.accuracy import *  # noqa: F403
from embrec.metrics.coverage import *  # noqa: F403
from embrec.metrics.diversity import *  # noqa: F403
from embrec.metrics.popularity import *  # noqa: F403
from embrec.metrics.ranking import *  # noqa: F403

__all__: list[str] = []
__all__ += accuracy.__all__
__all__ += ranking.__all__
__all__ += diversity.__all__
__all__ += popularity.__all__
__all__ += coverage.__all__
