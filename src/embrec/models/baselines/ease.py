"""EASE: an item-item model with a closed-form solution (Steck, WWW 2019)."""

from __future__ import annotations

import logging
import time
from collections.abc import Iterable, Mapping
from dataclasses import dataclass
from typing import Any, ClassVar

import numpy as np
import scipy.sparse as sp
import torch
from scipy.linalg import lapack
from threadpoolctl import threadpool_limits

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, TrainingError
from embrec.models.base import ProgressFn, Recommender
from embrec.models.devices import resolve_device
from embrec.models.settings import Device, ModelConfig, Positive, PositiveInt, Threads
from embrec.models.space import Float, SearchSpace

__all__ = ["EASEConfig", "EASERecommender", "ease_weights"]

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class EASEConfig(ModelConfig):
    """Configuration of :class:`EASERecommender`."""

    model_name: ClassVar[str] = "ease"
    renamed_keys: ClassVar[Mapping[str, str]] = {"regularization": "weight_decay"}
    #: What ``embrec tune`` tries: lambda over two and a half decades around the default 250.
    search_space: ClassVar[SearchSpace] = {"weight_decay": Float(10.0, 5000.0, log=True)}

    weight_decay: Positive = 250.0
    """L2 penalty ``lambda`` added to the diagonal of the item-item Gram matrix. NDCG@10 on random
    90/10 splits (seed 42) was flat from 200 to 300: 0.305 on ml-100k and 0.243 on ml-latest-small
    at 250, against 0.300 and 0.239 at 500 and 0.290 and 0.230 at 1,000. Larger data usually wants more."""
    max_items: PositiveInt = 30_000
    """Largest catalogue accepted: memory and time grow as ``n_items**2`` and ``n_items**3``
    (30,000 items already need about 7 GB while fitting)."""
    device: Device = "auto"
    """Where the Gram matrix is factorised: ``auto`` (CUDA when present, else CPU), ``cpu``,
    ``cuda`` or ``cuda:N``."""
    threads: Threads | None = 1
    """BLAS threads while factorising on the CPU, at most 256 (``None``: BLAS's default, every core). On the shared
    2-core development machine two threads took 4.9 s at best but 13 s in the median on ml-latest-small,
    one thread a steady 8.2 s (``docs/benchmarks.md``); on a dedicated many-core machine ``None`` is faster."""


def ease_weights(
    x: sp.spmatrix, weight_decay: float, device: torch.device | str = "cpu", *, threads: int | None = None
) -> np.ndarray:
    """The EASE item-item matrix ``B`` of a binary users x items matrix ``x``.

    ``P = (X^T X + lambda I)^-1`` and ``B = I - P diag(1 / diag(P))``, so ``B_ij = -P_ij / P_jj``
    off the diagonal and ``B_jj = 0``. ``P`` comes from a float32 Cholesky factorisation and
    inverse: LAPACK's ``spotrf``/``spotri`` on the CPU (``threads`` BLAS threads; ``None`` leaves
    BLAS's own setting), ``torch.linalg.cholesky``/``torch.cholesky_inverse`` on a GPU. That is
    several times faster than a float64 ``numpy.linalg.inv`` and agrees with it to about 1e-6 of
    the largest weight (``benchmarks/bench_ease.py``). ``weight_decay`` is the paper's ``lambda``.

    Returns:
        ``B`` as a C-contiguous float32 ``(n_items, n_items)`` array.

    Raises:
        TrainingError: the factorisation failed (``weight_decay`` far too small).
    """
    device = torch.device(device)
    x = sp.csr_matrix(x, dtype=np.float32)
    if device.type == "cpu":
        with threadpool_limits(threads, "blas"):
            inverse = _inverse_cpu(x, float(weight_decay))
    else:
        inverse = _inverse_torch(x, float(weight_decay), device)
    scale = -np.diagonal(inverse).copy()
    inverse /= scale  # column j divided by -P_jj
    np.fill_diagonal(inverse, 0.0)
    return inverse


def _not_positive_definite(regularization: float, detail: object) -> TrainingError:
    return TrainingError(
        f"the EASE Gram matrix could not be factorised with weight_decay={regularization!r} ({detail}); "
        "raise weight_decay (for example to 500)."
    )


def _inverse_cpu(x: sp.csr_matrix, regularization: float) -> np.ndarray:
    """``(X^T X + lambda I)^-1`` in float32, C-contiguous, through LAPACK."""
    # counts of co-occurrence are whole numbers, exact in float32 up to 2**24
    gram = (x.T @ x).toarray()
    gram[np.diag_indices_from(gram)] += regularization
    # LAPACK works in place on Fortran-ordered arrays; the Gram matrix is symmetric, so when it
    # is C-ordered its transpose is the same matrix in Fortran order, and nothing is copied
    fortran = gram if gram.flags.f_contiguous else gram.T
    factor, info = lapack.spotrf(fortran, lower=True, overwrite_a=True, clean=False)
    if info != 0:
        raise _not_positive_definite(regularization, f"LAPACK spotrf info={info}")
    inverse, info = lapack.spotri(factor, lower=True, overwrite_c=True)
    if info != 0:
        raise _not_positive_definite(regularization, f"LAPACK spotri info={info}")
    _mirror_lower(inverse)
    return np.ascontiguousarray(inverse.T)  # symmetric, so the transpose is the same matrix


def _mirror_lower(a: np.ndarray, block: int = 1024) -> None:
    """Copy the lower triangle of square ``a`` onto its upper triangle, in place, a band at a time."""
    n = a.shape[0]
    for start in range(0, n, block):
        stop = min(start + block, n)
        diag = a[start:stop, start:stop]
        lower = np.tril(diag, -1)
        diag[...] = np.tril(diag) + lower.T
        a[start:stop, stop:] = a[stop:, start:stop].T


def _inverse_torch(x: sp.csr_matrix, regularization: float, device: torch.device, chunk: int = 4096) -> np.ndarray:
    """``(X^T X + lambda I)^-1`` in float32 on a torch device (the GPU), back as a numpy array."""
    n_items = x.shape[1]
    gram = torch.zeros((n_items, n_items), dtype=torch.float32, device=device)
    for start in range(0, x.shape[0], chunk):
        rows = torch.from_numpy(x[start : start + chunk].toarray()).to(device)
        gram.addmm_(rows.T, rows)
    gram.diagonal().add_(regularization)
    factor, info = torch.linalg.cholesky_ex(gram)
    if int(info) != 0:
        raise _not_positive_definite(regularization, f"cholesky info={int(info)}")
    del gram
    return torch.cholesky_inverse(factor).cpu().numpy()


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
    can_score_history = True

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        cfg = self.config
        if train.n_items > cfg.max_items:
            raise ConfigError(
                f"EASE inverts an items x items matrix and {train.name!r} has {train.n_items:,} items, above "
                f"max_items={cfg.max_items:,} (it would need about {8 * train.n_items**2 / 2**30:,.1f} GiB); "
                "use the 'als' or 'embedding' model, or filter rare items first."
            )
        device = resolve_device(cfg.device)
        self.resolved_config_ = cfg.replace(device=str(device))
        start = time.perf_counter()
        self.weights_ = ease_weights(self.seen_, cfg.weight_decay, device, threads=cfg.threads)
        self.train_seconds_ = time.perf_counter() - start
        self.device_ = str(device)
        self.data_fingerprint_ = train.fingerprint()
        log.info("EASE on %d items took %.2f s on %s", train.n_items, self.train_seconds_, device)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        rows = self.seen_[np.asarray(users, dtype=np.int64)]
        return torch.from_numpy(np.asarray(rows @ self.weights_, dtype=np.float32))

    def score_history(self, items: Iterable[Any], ratings: Iterable[float] | None = None) -> np.ndarray:
        """``x B`` for the binary vector ``x`` of the given items: how EASE scores any user (ratings unused)."""
        self._check_fitted()
        index = np.unique(self.item_index(list(items)))
        return np.asarray(self.weights_[index].sum(axis=0), dtype=np.float32)

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"weights": self.weights_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        weights = np.ascontiguousarray(state["weights"], dtype=np.float32)
        n = len(self.item_ids_)
        if weights.shape != (n, n):
            raise ValueError(f"weights have shape {weights.shape}, the vocabulary has {n} items")
        self.weights_ = weights
