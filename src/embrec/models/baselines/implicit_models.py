"""Matrix factorisation for implicit feedback through the ``implicit`` library: ALS and BPR.

The fitting is implicit's (``implicit.als`` / ``implicit.bpr``), never re-implemented here; these
classes put it under the :class:`~embrec.models.Recommender` interface, seed it, silence its
progress bars, and keep the factors as plain float32 arrays (GPU models are copied to the CPU).
"""

from __future__ import annotations

import logging
import time
from abc import abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

import numpy as np
import scipy.sparse as sp
import torch
from threadpoolctl import threadpool_limits

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError
from embrec.extras import require
from embrec.models.base import ProgressFn, Recommender
from embrec.models.settings import Dimension, ModelConfig, NonNegative, Positive, PositiveInt, Seed, Threads
from embrec.models.space import Choice, Float, SearchSpace

__all__ = ["ALSConfig", "ALSRecommender", "BPRConfig", "BPRRecommender"]

log = logging.getLogger(__name__)


def _use_gpu(device: str) -> bool:
    """Whether implicit should fit on the GPU for ``device`` (``auto``: when implicit has CUDA)."""
    require("implicit", "the ALS and BPR baselines")
    import implicit.gpu

    if device == "cpu":
        return False
    if device == "auto":
        return bool(implicit.gpu.HAS_CUDA)
    if not implicit.gpu.HAS_CUDA:
        raise ConfigError(
            f"device={device!r} was asked for but this install of implicit has no CUDA support "
            "(or there is no GPU); use device='cpu' or 'auto'."
        )
    return True


@dataclass(frozen=True, kw_only=True)
class _ImplicitConfig(ModelConfig):
    """Settings shared by the implicit models."""

    embedding_dim: Dimension = 64
    """Length of each user and item vector (implicit's ``factors``), at most 4096."""
    seed: Seed = 42
    """Seed of the initial factors (and of BPR's sampling): same seed, same model on one thread."""
    threads: Threads = 1
    """Threads implicit trains with (its ``num_threads``), at most 256. One measured steadiest on a 2-core
    machine; BPR is only reproducible on one thread."""
    device: Literal["auto", "cpu", "cuda"] = "auto"
    """``auto`` (the GPU when implicit was built with CUDA and one is present), ``cpu`` or ``cuda``."""


@dataclass(frozen=True, kw_only=True)
class ALSConfig(_ImplicitConfig):
    """Configuration of :class:`ALSRecommender`.

    Defaults derived with ``embrec tune`` on validation parts carved from the training parts of
    ml-100k and ml-latest-small (random 90/10, seed 42; relevant = rating >= 4), never on their test
    rows: validation NDCG@10 0.2391 -> 0.2418 and 0.1835 -> 0.1872, mean over three seeds
    (benchmarks/derive_defaults.py; docs/benchmarks.md "Where the defaults come from").
    """

    model_name: ClassVar[str] = "als"
    renamed_keys: ClassVar[Mapping[str, str]] = {"regularization": "weight_decay"}
    #: What ``embrec tune`` tries: decay and confidence together (about 10 x ``alpha`` measured best).
    search_space: ClassVar[SearchSpace] = {
        "embedding_dim": Choice((16, 32, 64, 128)),
        "weight_decay": Float(0.1, 100.0, log=True),
        "alpha": Float(0.1, 50.0, log=True),
    }

    embedding_dim: Dimension = 128
    """Length of each user and item vector (implicit's ``factors``), at most 4096."""
    weight_decay: NonNegative = 38.0
    """L2 penalty on the factors (implicit's ``regularization``), far above implicit's default of
    0.01; it works with ``alpha``: about 8 x ``alpha`` was best on validation (20 with ``alpha=2``
    before)."""
    alpha: Positive = 4.6
    """Confidence of an observed interaction: ``c_ui = 1 + alpha`` where the binary matrix is 1."""
    epochs: PositiveInt = 15
    """ALS sweeps (implicit's ``iterations``)."""


@dataclass(frozen=True, kw_only=True)
class BPRConfig(_ImplicitConfig):
    """Configuration of :class:`BPRRecommender`.

    Defaults chosen by NDCG@10 on ml-100k (random 90/10 split, seed 42, relevant = rating >= 4,
    seen items left out): 0.218 (0.217-0.222 over seeds 1, 2 and 42).
    """

    model_name: ClassVar[str] = "bpr"
    renamed_keys: ClassVar[Mapping[str, str]] = {"regularization": "weight_decay"}
    #: What ``embrec tune`` tries.
    search_space: ClassVar[SearchSpace] = {
        "embedding_dim": Choice((16, 32, 64, 128)),
        "learning_rate": Float(1e-3, 1e-1, log=True),
        "weight_decay": Float(1e-4, 1.0, log=True),
    }

    learning_rate: Positive = 0.005
    """SGD step size (0.005 measured steadier than implicit's 0.01 on ml-100k: NDCG@10 0.218 vs 0.194)."""
    weight_decay: NonNegative = 0.01
    """L2 penalty on the factors (implicit's ``regularization``)."""
    epochs: PositiveInt = 100
    """Passes over the interactions (implicit's ``iterations``)."""
    verify_negative_samples: bool = True
    """Re-draw a sampled negative item that the user actually has (slower, usually better)."""


class _ImplicitRecommender(Recommender):
    """Shared machinery: fit implicit's model on the binary matrix, keep its factors."""

    config: Any

    @abstractmethod
    def _make_model(self, use_gpu: bool) -> Any:
        """implicit's (unfitted) model for this config."""

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        cfg = self.config
        use_gpu = _use_gpu(cfg.device)
        self.resolved_config_ = cfg.replace(device="cuda" if use_gpu else "cpu")
        matrix = sp.csr_matrix(self.seen_, dtype=np.float32)
        matrix.sort_indices()
        history: list[dict[str, float]] = []

        def on_epoch(epoch: int, seconds: float, *_: Any) -> None:
            record = {"epoch": float(epoch + 1), "seconds": float(seconds), "rows": float(matrix.nnz)}
            history.append(record)
            if progress is not None:
                progress(epoch + 1, cfg.epochs, record)

        start = time.perf_counter()
        # implicit warns (an error under strict warnings) when BLAS runs its own thread pool,
        # which it rightly says slows it down; one BLAS thread while fitting avoids both
        with threadpool_limits(1, "blas"):
            model = self._make_model(use_gpu)
            model.fit(matrix, show_progress=False, callback=on_epoch)
        self.history_ = history
        if use_gpu:
            model = model.to_cpu()
        self.train_seconds_ = time.perf_counter() - start
        self.device_ = "cuda" if use_gpu else "cpu"
        self.user_factors_ = np.ascontiguousarray(model.user_factors, dtype=np.float32)
        self.item_factors_ = np.ascontiguousarray(model.item_factors, dtype=np.float32)
        self.data_fingerprint_ = train.fingerprint()
        log.info("%s fitted in %.2f s on %s", self.name, self.train_seconds_, self.device_)

    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        self._check_fitted()
        u = torch.from_numpy(self.user_factors_[np.asarray(users, dtype=np.int64)])
        return u @ torch.from_numpy(self.item_factors_).T

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.item_factors_.copy()

    def user_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.user_factors_.copy()

    def _get_state(self) -> dict[str, np.ndarray]:
        return {"user_factors": self.user_factors_, "item_factors": self.item_factors_}

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        users = np.ascontiguousarray(state["user_factors"], dtype=np.float32)
        items = np.ascontiguousarray(state["item_factors"], dtype=np.float32)
        if (
            users.ndim != 2
            or items.ndim != 2
            or users.shape[0] != len(self.user_ids_)
            or items.shape[0] != len(self.item_ids_)
            or users.shape[1] != items.shape[1]
        ):
            raise ValueError(
                f"factors of shape {users.shape} (users) and {items.shape} (items) do not fit a vocabulary of "
                f"{len(self.user_ids_)} users x {len(self.item_ids_)} items"
            )
        self.user_factors_ = users
        self.item_factors_ = items


class ALSRecommender(_ImplicitRecommender):
    """Weighted matrix factorisation by alternating least squares (implicit's ``AlternatingLeastSquares``).

    Fits the binary users x items matrix with confidence ``1 + alpha`` on observed pairs
    (Hu, Koren & Volinsky, "Collaborative Filtering for Implicit Feedback Datasets", ICDM 2008),
    solved with conjugate gradient (Takács, Pilászy & Tikk, RecSys 2011). Scores are
    ``user_factors @ item_factors.T``.
    """

    name = "als"
    config_class = ALSConfig
    config: ALSConfig

    def _make_model(self, use_gpu: bool) -> Any:
        from implicit.als import AlternatingLeastSquares

        cfg = self.config
        return AlternatingLeastSquares(
            factors=cfg.embedding_dim,
            regularization=cfg.weight_decay,
            alpha=cfg.alpha,
            iterations=cfg.epochs,
            use_gpu=use_gpu,
            num_threads=cfg.threads,
            random_state=cfg.seed,
        )


class BPRRecommender(_ImplicitRecommender):
    """Bayesian personalised ranking by SGD (implicit's ``BayesianPersonalizedRanking``).

    Learns to score a user's items above sampled other items (Rendle et al., "BPR: Bayesian
    Personalized Ranking from Implicit Feedback", UAI 2009). implicit appends an item-bias
    column to the item factors (and a column of ones to the user factors), so the vectors are
    ``embedding_dim + 1`` long and ``user_factors @ item_factors.T`` includes the bias.
    Reproducible for a seed only with ``threads=1`` (more threads update the factors in a race).
    """

    name = "bpr"
    config_class = BPRConfig
    config: BPRConfig

    def _make_model(self, use_gpu: bool) -> Any:
        from implicit.bpr import BayesianPersonalizedRanking

        cfg = self.config
        return BayesianPersonalizedRanking(
            factors=cfg.embedding_dim,
            learning_rate=cfg.learning_rate,
            regularization=cfg.weight_decay,
            iterations=cfg.epochs,
            use_gpu=use_gpu,
            num_threads=cfg.threads,
            verify_negative_samples=cfg.verify_negative_samples,
            random_state=cfg.seed,
        )
