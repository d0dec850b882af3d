"""The embedding model's settings: :class:`EmbeddingConfig`, what fit resolves it to, and the presets.

The config base and the settings parser live in :mod:`embrec.models.settings` (re-exported here).
This module imports neither torch nor numpy: the command line reads settings without them.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, ClassVar, Literal

from embrec.errors import ConfigError
from embrec.models.settings import (
    MAX_EMBEDDING_DIM,
    MAX_THREADS,
    Bounds,
    Device,
    DeviceName,
    Dimension,
    ModelConfig,
    NonNegative,
    OpenFraction,
    Positive,
    PositiveInt,
    Seed,
    Threads,
    parse_settings,
)

__all__ = [
    "Bounds",
    "Device",
    "DeviceName",
    "Dimension",
    "EmbeddingConfig",
    "MAX_EMBEDDING_DIM",
    "MAX_THREADS",
    "ModelConfig",
    "NonNegative",
    "OpenFraction",
    "PRESETS",
    "Positive",
    "PositiveInt",
    "ResolvedEmbeddingConfig",
    "Seed",
    "Threads",
    "parse_settings",
    "preset",
]


# ---------------------------------------------------------------------- the embedding model
Objective = Literal["rating", "ranking"]
Optimizer = Literal["auto", "adam", "sparse_adam"]
DecayMode = Literal["per_row", "decoupled"]

#: Measured defaults of the settings left as None, per objective.
OBJECTIVE_DEFAULTS: dict[str, dict[str, Any]] = {
    "rating": dict(
        embedding_dim=32,
        learning_rate=4e-3,
        weight_decay=3e-3,
        decay_mode="per_row",
        batch_size=1024,
        patience=3,
        refit=False,
    ),
    "ranking": dict(
        embedding_dim=64,
        learning_rate=4e-3,
        weight_decay=1.0,
        decay_mode="decoupled",
        batch_size=64,
        patience=4,
        refit=True,
    ),
}
#: Largest catalogue trained with the full softmax when ``n_negatives`` is not set.
FULL_SOFTMAX_MAX_ITEMS = 20_000
#: Sampled negatives per batch above that.
DEFAULT_NEGATIVES = 4_096
#: ``optimizer="auto"`` trains the rating objective with SparseAdam above this many users + items.
SPARSE_ABOVE = 50_000


@dataclass(frozen=True, kw_only=True)
class EmbeddingConfig(ModelConfig):
    """Configuration of :class:`~embrec.models.embedding.EmbeddingRecommender`.

    The defaults are the ones that measured best (see ``docs/benchmarks.md``); the
    ``notebook`` preset reproduces the university exercise exactly. Settings left ``None`` (and
    ``optimizer="auto"``, ``device="auto"``) are decided in ``fit`` for the objective and the
    data, the objective itself from the data (``ranking`` for implicit feedback); the model keeps
    this config as given and what it used in ``resolved_config_``.
    """

    model_name: ClassVar[str] = "embedding"
    renamed_keys: ClassVar[Mapping[str, str]] = {"regularization": "decay_mode"}

    objective: Objective | None = None
    """``rating``: sigmoid over min-max scaled ratings with MSE (the exercise's model).
    ``ranking``: the same embeddings trained with a softmax over items, for top-N lists.
    ``None`` (default): follow the data, ``rating`` when it has ratings that differ, ``ranking``
    for implicit feedback (no rating column, or every rating the same)."""
    embedding_dim: Dimension | None = None
    """Length of each user and item vector, at most 4096 (default: 32 for rating, 64 for ranking)."""
    init_std: Positive = 0.01
    """Standard deviation of the normal initialisation of the embeddings (biases start at 0)."""
    learning_rate: Positive | None = None
    """Adam's step size (default: 4e-3 for both objectives)."""
    weight_decay: NonNegative | None = None
    """L2 strength on the embeddings (default: 3e-3 for rating, 1.0 for ranking); applied as
    ``decay_mode`` says."""
    decay_mode: DecayMode | None = None
    """``per_row``: ``weight_decay * (|p_u|^2 + |q_i|^2)`` added to the loss of each batch row
    (rating default); ``decoupled``: AdamW's weight decay on all vectors each step (ranking default)."""
    bias_weight_decay: NonNegative = 1e-3
    """Rating objective: per-row L2 penalty on the user and item biases."""
    batch_size: PositiveInt | None = None
    """Rating: rows per mini-batch (default 1024). Ranking: users per mini-batch (default 64)."""
    epochs: PositiveInt = 100
    """Most epochs to run (early stopping usually stops sooner)."""
    early_stopping: bool = True
    """Stop when the validation loss has not improved for ``patience`` epochs and restore the best epoch."""
    patience: PositiveInt | None = None
    """Epochs without improvement before stopping (default: 3 for rating, 4 for ranking)."""
    validation_fraction: OpenFraction = 0.05
    """Share of the training rows carved out (at random, seeded) to watch for early stopping."""
    refit: bool | None = None
    """After early stopping, train again on all training rows for the best number of epochs
    (default: off for rating, where it gained 0.002 RMSE for 60% more time; on for ranking, where
    NDCG@10 on ml-100k went from 0.309 to 0.313)."""
    liked_rating: float | None = 4.0
    """Ranking objective: ratings at or above this (in stars) count fully as positives..."""
    low_rating_weight: NonNegative = 0.5
    """...and rated items below it count with this weight (implicit data: every item counts 1).
    On ml-100k 0.5 measured NDCG@10 0.313 against 0.293 with every rated item counting 1."""
    global_bias: bool = True
    """Add a learned global offset (starts at the logit of the mean scaled rating)."""
    n_negatives: PositiveInt | None = None
    """Ranking objective: items sampled as shared negatives per batch; ``None`` uses the full
    softmax over the catalogue when it has at most 20,000 items, else 4,096 sampled negatives."""
    optimizer: Optimizer = "auto"
    """Rating objective: ``adam`` (dense, fused), ``sparse_adam`` (lazy updates of the rows in a
    batch; faster on large catalogues) or ``auto`` (sparse when users + items exceed 50,000)."""
    seed: Seed = 42
    """Seed of initialisation, validation carve-out and batch order: same seed, same model."""
    device: Device = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    threads: Threads | None = 1
    """CPU threads for torch while training, at most 256 (``None``: torch's default). One thread measured
    fastest and steadiest on small data on a 2-core machine (see docs/benchmarks.md)."""

    def resolve(self, *, n_users: int, n_items: int, device: str, implicit: bool = False) -> ResolvedEmbeddingConfig:
        """What training uses on data of ``n_users`` x ``n_items`` on ``device`` (the resolved device name);
        ``implicit``: the data has no ratings to learn (no rating column, or every rating the same)."""
        objective = self.objective or ("ranking" if implicit else "rating")
        defaults = OBJECTIVE_DEFAULTS[objective]
        asked = self.to_dict()
        filled = {k: defaults[k] if asked[k] is None else asked[k] for k in defaults}
        decay_mode, weight_decay = filled["decay_mode"], filled["weight_decay"]
        n_negatives: int | None = None
        if objective == "ranking":
            optimizer = "adamw"
            if self.n_negatives is not None:
                n_negatives = None if self.n_negatives >= n_items else self.n_negatives
            elif n_items > FULL_SOFTMAX_MAX_ITEMS:
                n_negatives = DEFAULT_NEGATIVES
        else:
            sparse = decay_mode != "decoupled" and (
                n_users + n_items > SPARSE_ABOVE if self.optimizer == "auto" else self.optimizer == "sparse_adam"
            )
            optimizer = "sparse_adam" if sparse else "adamw" if decay_mode == "decoupled" and weight_decay else "adam"
        return ResolvedEmbeddingConfig.from_dict(
            {
                **asked,
                **filled,
                "objective": objective,
                "optimizer": optimizer,
                "n_negatives": n_negatives,
                "device": device,
                "threads": self.threads if device == "cpu" else None,
            }
        )


@dataclass(frozen=True, kw_only=True)
class ResolvedEmbeddingConfig(ModelConfig):
    """What an :class:`~embrec.models.embedding.EmbeddingRecommender` trained with: its
    :class:`EmbeddingConfig` with every ``None`` and ``auto`` decided (``resolved_config_``).

    The settings mean what they mean in :class:`EmbeddingConfig`; those listed here were decided.
    """

    model_name: ClassVar[str] = "embedding (resolved)"

    objective: Objective
    """The objective trained: as asked, or (asked ``None``) ``rating`` for ratings, ``ranking`` for implicit data."""
    embedding_dim: Dimension
    init_std: Positive
    learning_rate: Positive
    weight_decay: NonNegative
    decay_mode: DecayMode
    bias_weight_decay: NonNegative
    batch_size: PositiveInt
    epochs: PositiveInt
    early_stopping: bool
    patience: PositiveInt
    validation_fraction: OpenFraction
    refit: bool
    liked_rating: float | None
    low_rating_weight: NonNegative
    global_bias: bool
    n_negatives: PositiveInt | None
    """Items sampled as negatives per batch; ``None``: the full softmax (or the rating objective)."""
    optimizer: Literal["adam", "adamw", "sparse_adam"]
    """The optimizer used: ``adamw`` applies decoupled weight decay (every ranking model uses it)."""
    seed: Seed
    device: str
    """The device trained on (``cpu``, ``cuda``, ``cuda:N``); as asked for runs of format 1, which did not record it."""
    threads: Threads | None
    """torch CPU threads while training; ``None`` on a GPU or for torch's default."""


PRESETS: dict[str, dict[str, Any]] = {
    # the exercise as written: dim 16, N(0,1) init, lr 0.01, batch 64, 10 epochs, no regularisation
    "notebook": dict(
        objective="rating",
        embedding_dim=16,
        init_std=1.0,
        learning_rate=0.01,
        weight_decay=0.0,
        decay_mode="per_row",
        bias_weight_decay=0.0,
        batch_size=64,
        epochs=10,
        early_stopping=False,
        refit=False,
        global_bias=False,
        optimizer="adam",
    ),
    "default": {},
    "ranking": dict(objective="ranking"),
}


def preset(name: str, **overrides: Any) -> EmbeddingConfig:
    """The named preset's configuration, with ``overrides`` applied."""
    if name not in PRESETS:
        raise ConfigError(f"unknown preset {name!r}; choose one of {', '.join(PRESETS)}.")
    return EmbeddingConfig.from_dict({**PRESETS[name], **overrides})
