"""EASE: an item-item model with a closed-form solution (Steck, WWW 2019)."""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import ClassVar

import numpy as np
import scipy.sparse as sp
import torch

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, TrainingError
from embrec.models.base import ProgressFn, Recommender
from embrec.models.baselines import BaselineConfig
from embrec.models.registry import register
from embrec.models.training import resolve_device, torch_threads

__all__ = ["EASEConfig", "EASERecommender", "ease_weights"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class EASEConfig(BaselineConfig):
    """Configuration of :class:`EASERecommender`."""

    _label: ClassVar[str] = "ease"

    regularization: float = 500.0
    """L2 penalty ``lambda`` added to the diagonal of the item-item Gram matrix. 500 measured best
    on ml-100k (NDCG@10 0.300, random 90/10 split; see ``docs/benchmarks.md``); larger data
    usually wants more."""
    max_items: int = 30_000
    """Largest catalogue accepted: memory and time grow as ``n_items**2`` and ``n_items**3``
    (30,000 items already need about 7 GB while fitting)."""
    device: str = "auto"
    """Where the Gram matrix is factorised: ``auto`` (CUDA when present, else CPU), ``cpu``,
    ``cuda`` or ``cuda:N``."""
    threads: int | None = None
    """CPU threads for torch while factorising (``None``: torch's default, every core; the
    Cholesky factorisation scales well with cores)."""

    def __post_init__(self) -> None:
        self._check_number("regularization", strict=True)
        self._check_whole("max_items")
        self._check_whole("threads", allow_none=True)
        self._check_device()


def ease_weights(x: sp.csr_matrix, regularization: float, device: torch.device | str = "cpu") -> np.ndarray:
    """The EASE item-item matrix ``B`` of a binary users x items matrix ``x``.

    ``P = (X^T X + lambda I)^-1`` and ``B = I - P diag(1 / diag(P))``, so ``B_ij = -P_ij / P_jj``
    off the diagonal and ``B_jj = 0``. ``P`` comes from a float32 Cholesky factorisation
    (``torch.linalg.cholesky`` + ``torch.cholesky_inverse``), several times faster than a float64
    ``numpy.linalg.inv`` and as accurate at the scale of the scores.

    Returns:
        ``B`` as a C-contiguous float32 ``(n_items, n_items)`` array.

    Raises:
        TrainingError: the factorisation failed (``regularization`` far too small).
    """
    device = torch.device(device)
    x = sp.csr_matrix(x, dtype=np.float32)
    # counts of co-occurrence are whole numbers, exact in float32 up to 2**24
    gram = torch.from_numpy((x.T @ x).toarray()).to(device)
    gram.diagonal().add_(float(regularization))
    try:
        factor = torch.linalg.cholesky(gram)
    except torch.linalg.LinAlgError as exc:
        raise TrainingError(
            f"the EASE Gram matrix could not be factorised with regularization={regularization!r} ({exc}); "
            "raise regularization (for example to 500)."
        ) from None
    del gram
    weights = torch.cholesky_inverse(factor)
    del factor
    diag = weights.diagonal().clone()
    weights.div_(-diag)  # column j divided by -P_jj
    weights.diagonal().zero_()
    return np.ascontiguousarray(weights.cpu().numpy(), dtype=np.float32)


@register
class EASERecommender(Recommender):
    """Embarrassingly Shallow Autoencoder: ``score(u) = x_u B`` with ``B`` from a closed form.

    ``B`` minimises ``||X - XB||^2 + lambda ||B||^2`` subject to ``diag(B) = 0`` on the binary
    users x items matrix ``X`` (ratings are ignored). Reference: Harald Steck, "Embarrassingly
    Shallow Autoencoders for Sparse Data", WWW 2019, https://arxiv.org/abs/1905.03375.

    Fitting inverts an ``n_items x n_items`` matrix, so catalogues above ``max_items``
    (30,000 by default) are refused; use ``als`` or the ``embedding`` model for those.
    """

    name = "ease"
    config_class = EASEConfig
    config: EASEConfig

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        cfg = self.config
        if train.n_items > cfg.max_items:
            raise ConfigError(
                f"EASE inverts an items x items matrix and {train.name!r} has {train.n_items:,} items, above "
                f"max_items={cfg.max_items:,} (it would need about {8 * train.n_items**2 / 1e9:.0f} GB); "
                "use the 'als' or 'embedding' model, or filter rare items first."
            )
        device = resolve_device(cfg.device)
        start = time.perf_counter()
        with torch_threads(cfg.threads if device.type == "cpu" else None):
            self.weights_ = ease_weights(self.seen_, cfg.regularization, device)
        self.train_seconds_ = time.perf_counter() - start
        self.device_ = str(device)
        self.data_fingerprint_ = train.fingerprint()
        log.info("EASE on %d items took %.2f s on %s", train.n_items, self.train_seconds_, device)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        rows = self.seen_[np.asarray(users, dtype=np.int64)]
        return torch.from_numpy(np.asarray(rows @ self.weights_, dtype=np.float32))

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        weights = np.ascontiguousarray(state["weights"], dtype=np.float32)
        n = len(self.item_ids_)
        if weights.shape != (n, n):
            raise ValueError(f"weights have shape {weights.shape}, the vocabulary has {n} items")
        self.weights_ = weights
