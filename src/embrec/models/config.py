"""The embedding model's settings: :class:`EmbeddingConfig`, what fit resolves it to, and the presets.

The config base and the settings parser live in :mod:`embrec.models.settings` (re-exported here).
This module imports neither torch nor numpy: the command line reads settings without them.
"""

from __future__ import annotations

import math
import os
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
from embrec.models.space import Choice, Float, SearchSpace

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
Engine = Literal["auto", "torch", "numba"]

#: Defaults of the settings left as None, per objective. For the ranking objective, ``embrec tune`` on
#: validation parts carved from the training parts of ml-100k and ml-latest-small (never their test
#: rows; benchmarks/derive_defaults.py) moved ``low_rating_weight`` to 0.25 (validation NDCG@10
#: 0.2535 -> 0.2564 and 0.1655 -> 0.1780, mean over three seeds). Its studies' lr 5e-3 and decay 1.3
#: gain too little beside it on ml-100k (+0.2%), and with them a new user's one-star rating no longer
#: keeps the film's sequels out of their list (tests/models/test_foldin.py): they stay. The torch engine's rating settings were
#: measured before on the test rows of the split they were reported on and are not re-derived here
#: (the CPU trains ratings with the numba engine, NUMBA_DEFAULTS).
OBJECTIVE_DEFAULTS: dict[str, dict[str, Any]] = {
    "rating": dict(
        embedding_dim=32,
        learning_rate=4e-3,
        weight_decay=3e-3,
        decay_mode="per_row",
        batch_size=1024,
        patience=3,
        refit=False,
        global_bias=True,
    ),
    "ranking": dict(
        embedding_dim=64,
        learning_rate=4e-3,
        weight_decay=1.0,
        decay_mode="decoupled",
        batch_size=64,
        patience=4,
        refit=True,
        global_bias=True,
    ),
}
#: What the ranking objective's sampled softmax (large catalogues, or ``n_negatives`` set) changes of
#: those: lazy AdamW steps a user's row once an epoch, so it takes larger steps and more decay. Chosen on
#: a validation slice of ml-100k's training part (sampled path forced, 512 negatives), never on test rows.
SAMPLED_DEFAULTS: dict[str, Any] = dict(learning_rate=0.05, weight_decay=3.0)
#: The full softmax's decoupled decay shrinks every user's row at every batch, while the user's own
#: gradient comes once an epoch: the decay per epoch grows with the batches per epoch. Its default
#: ``weight_decay`` (1.0, measured on ml-100k: 943 users in batches of 64) is scaled by
#: ``sqrt(reference batches / batches)`` above this many batches, never raised below: on planted
#: ML-1M-shaped implicit data (6,040 users) validation recall@20 peaked at 0.3-0.4 (0.2517 at 0.3,
#: 0.2384 at 1.0; validation carved from the training part), where the rule gives 0.395.
RANKING_DECAY_BATCHES = 943 / 64
#: Most users per batch of the sampled softmax (its batches grow with the users: fixed costs per batch).
SAMPLED_MAX_BATCH = 1_024
#: What the numba engine (the rating objective's engine on the CPU) changes of those: derived with
#: ``embrec tune`` on validation parts carved from the training parts of ml-100k and ml-latest-small
#: (200 trials each; between the two studies' bests, rounded), never on their test rows:
#: validation RMSE 0.9144 -> 0.9063 and 0.8388 -> 0.8305, mean over three seeds
#: (benchmarks/derive_defaults.py, docs/benchmarks.md "Where the defaults come from").
NUMBA_DEFAULTS: dict[str, Any] = dict(
    learning_rate=0.02, batch_size=1, embedding_dim=64, weight_decay=2.5e-3, refit=True, global_bias=False
)
#: The numba engine trains on every core from this many training rows, on one thread below: an
#: epoch of fewer rows is over in milliseconds, less than a busy core makes the others wait.
NUMBA_PARALLEL_FROM = 1_000_000
#: Largest catalogue trained with the full softmax when ``n_negatives`` is not set.
FULL_SOFTMAX_MAX_ITEMS = 20_000
#: Sampled negatives per batch above that: 1,024 trains ML-25M's shape at 1.1-1.2M interactions/s on
#: 2 cores (2,048: about half that; docs/benchmarks.md).
DEFAULT_NEGATIVES = 1_024
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
    #: What ``embrec tune`` tries when the objective is left to the data. The ranges span both
    #: engines' step sizes (Adam 4e-3, row-wise Adagrad 0.02) and both objectives' decay (3e-3 per
    #: row for rating, 1.0 decoupled for ranking); the global offset and the refit on all training
    #: rows are tried both ways.
    search_space: ClassVar[SearchSpace] = {
        "embedding_dim": Choice((16, 32, 64, 128)),
        "learning_rate": Float(1e-3, 1e-1, log=True),
        "weight_decay": Float(1e-4, 10.0, log=True),
        "global_bias": Choice((True, False)),
        "refit": Choice((False, True)),
    }
    #: What it tries with the objective fixed (``--set objective=...``): ranges around that
    #: objective's own decay (per row for rating, decoupled for ranking, where a decay of 1e-4 and
    #: 10 are both far off; a study of 20 trials over the wide range stayed below the defaults),
    #: and, for ranking, the weight of the rated items below ``liked_rating``. The global offset
    #: cancels in the ranking softmax, so ranking does not try it.
    objective_search_spaces: ClassVar[Mapping[str, SearchSpace]] = {
        "rating": {
            "embedding_dim": Choice((16, 32, 64, 128)),
            "learning_rate": Float(1e-3, 2e-1, log=True),
            "weight_decay": Float(1e-4, 1e-1, log=True),
            "global_bias": Choice((True, False)),
            "refit": Choice((False, True)),
        },
        "ranking": {
            "embedding_dim": Choice((32, 64, 128)),
            "learning_rate": Float(1e-3, 1e-1, log=True),
            "weight_decay": Float(0.1, 10.0, log=True),
            "low_rating_weight": Float(0.0, 1.0),
            "refit": Choice((True, False)),
        },
    }

    @classmethod
    def search_space_for(cls, fixed: Mapping[str, Any]) -> Mapping[str, Any]:
        """The fixed objective's space (:attr:`objective_search_spaces`), else the wide one."""
        return dict(cls.objective_search_spaces.get(str(fixed.get("objective")), cls.search_space))

    @classmethod
    def objective_defaults(cls, objective: Objective) -> dict[str, Any]:
        """Every setting as ``fit`` decides it for ``objective`` on the CPU, for data of ml-100k's
        size (943 users, 1,682 items): the rating objective's from the numba engine, the ranking
        objective's with the full softmax (what the docs list as each objective's defaults)."""
        return cls(objective=objective).resolve(n_users=943, n_items=1682, device="cpu", n_ratings=1).to_dict()

    objective: Objective | None = None
    """``rating``: sigmoid over min-max scaled ratings with MSE (the exercise's model).
    ``ranking``: the same embeddings trained with a softmax over items, for top-N lists.
    ``None`` (default): follow the data, ``rating`` when it has ratings that differ, ``ranking``
    for implicit feedback (no rating column, or every rating the same)."""
    embedding_dim: Dimension | None = None
    """Length of each user and item vector, at most 4096 (default 64; 32 for the torch engine's rating objective)."""
    init_std: Positive = 0.01
    """Standard deviation of the normal initialisation of the embeddings (biases start at 0)."""
    learning_rate: Positive | None = None
    """Step size: Adam's with ``engine="torch"`` (default 4e-3, both objectives), row-wise Adagrad's
    with ``engine="numba"`` (default 0.02)."""
    weight_decay: NonNegative | None = None
    """L2 strength on the embeddings (default: 2.5e-3 for rating with the numba engine, 3e-3 with
    torch; 1.0 for ranking up to ml-100k's 15 batches an epoch, ``1.0 * sqrt(15 / batches)`` above,
    :data:`RANKING_DECAY_BATCHES`); applied as ``decay_mode`` says."""
    decay_mode: DecayMode | None = None
    """``per_row``: ``weight_decay * (|p_u|^2 + |q_i|^2)`` added to the loss of each batch row
    (rating default); ``decoupled``: AdamW's weight decay on all vectors each step (ranking default)."""
    bias_weight_decay: NonNegative = 1e-3
    """Rating objective: per-row L2 penalty on the user and item biases."""
    batch_size: PositiveInt | None = None
    """Rating, ``engine="torch"``: rows per mini-batch (default 1024); the numba engine steps on every
    rating and takes no batch size (its ``resolved_config_`` says 1). Ranking: users per mini-batch (default 64)."""
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
    (default: on for the numba engine and for ranking, both chosen on validation; off for the torch
    engine's rating objective, not re-derived)."""
    liked_rating: float | None = 4.0
    """Ranking objective: ratings at or above this (in stars) count fully as positives..."""
    low_rating_weight: NonNegative = 0.25
    """...and rated items below it count with this weight (implicit data: every item counts 1).
    Derived on validation (both studies chose 0.19-0.24; 0.5 before): NDCG@10 0.2535 -> 0.2564 on
    ml-100k and 0.1655 -> 0.1780 on ml-latest-small, mean over three seeds."""
    global_bias: bool | None = None
    """Add a learned global offset (starts at the logit of the mean scaled rating). Default: off for the
    numba engine (validation chose it off on both datasets; the user and item biases carry the mean),
    on for torch; it cancels in the ranking softmax."""
    n_negatives: PositiveInt | None = None
    """Ranking objective: items sampled as shared negatives per batch; ``None`` uses the full
    softmax over the catalogue when it has at most 20,000 items, else 1,024 negatives drawn by popularity (sampled softmax with a log-Q correction)."""
    optimizer: Optimizer = "auto"
    """Rating objective, ``engine="torch"``: ``adam`` (dense, fused), ``sparse_adam`` (lazy updates of
    the rows in a batch; faster on large catalogues) or ``auto`` (sparse when users + items exceed
    50,000; the numba engine's optimizer is row-wise Adagrad)."""
    engine: Engine = "auto"
    """What trains the model. ``numba``: the compiled CPU engine of the rating objective, SGD on one
    rating at a time with row-wise Adagrad, in parallel over blocks of users x items that share no
    row (the same model on any number of threads; some 30x faster per epoch than torch on the CPU).
    ``torch``: mini-batches with Adam, both objectives, on the CPU or CUDA. ``auto`` (default):
    ``numba`` for the rating objective on the CPU; ``torch`` for the ranking objective, on CUDA,
    and when a torch-only setting is given (``optimizer`` other than ``auto``,
    ``decay_mode="decoupled"``, ``batch_size``), as in the ``notebook`` preset."""
    seed: Seed = 42
    """Seed of initialisation, validation carve-out and batch order: same seed, same model."""
    device: Device = "auto"
    """``auto`` (CUDA when present, else CPU), ``cpu``, ``cuda`` or ``cuda:N``."""
    threads: Threads | None = None
    """CPU threads while training, at most 256. ``None`` (default): the engine's best, one thread for
    torch (fastest and steadiest on small data on a 2-core machine, see docs/benchmarks.md); for
    numba every core from 1,000,000 training rows, one below (its model is the same on any number
    of threads)."""

    def _validate(self) -> None:
        if self.engine != "numba":
            return
        torch_only = {
            "objective": (self.objective == "ranking", "the numba engine trains the rating objective only"),
            "optimizer": (self.optimizer != "auto", "the numba engine's optimizer is row-wise Adagrad"),
            "decay_mode": (self.decay_mode == "decoupled", "the numba engine applies weight_decay per row"),
            "batch_size": (self.batch_size is not None, "the numba engine steps on every rating"),
            "device": (self.device.startswith("cuda"), "the numba engine runs on the CPU"),
        }
        for name, (conflict, why) in torch_only.items():
            if conflict:
                raise ConfigError(
                    f"engine='numba' cannot train with {name}={getattr(self, name)!r} ({why}); "
                    f"use engine='torch' (or 'auto') for it, or leave {name} at its default."
                )

    def resolve(
        self, *, n_users: int, n_items: int, device: str, implicit: bool = False, n_ratings: int | None = None
    ) -> ResolvedEmbeddingConfig:
        """What training uses on data of ``n_users`` x ``n_items`` (``n_ratings`` training rows) on
        ``device`` (the resolved device name); ``implicit``: the data has no ratings to learn (no
        rating column, or every rating the same). ``fit`` gives ``n_ratings``; without it (a run of
        format 1, saved before the numba engine existed, resolved again) ``engine="auto"`` is torch."""
        objective = self.objective or ("ranking" if implicit else "rating")
        engine = self._engine(objective, device, fitting=n_ratings is not None)
        defaults = {**OBJECTIVE_DEFAULTS[objective], **(NUMBA_DEFAULTS if engine == "numba" else {})}
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
            if n_negatives is None and asked["weight_decay"] is None:
                batches = n_users / filled["batch_size"]
                filled["weight_decay"] = weight_decay * min(1.0, math.sqrt(RANKING_DECAY_BATCHES / max(batches, 1e-9)))
            if n_negatives is not None:  # sampled softmax, each row stepped only in its own batches
                optimizer = "lazy_adamw"
                filled |= {k: v for k, v in SAMPLED_DEFAULTS.items() if asked[k] is None}
                if asked["batch_size"] is None:  # about 160 batches an epoch, never fewer users than the default
                    filled["batch_size"] = min(SAMPLED_MAX_BATCH, max(filled["batch_size"], n_users // 160))
        elif engine == "numba":
            optimizer = "rowwise_adagrad"
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
                "engine": engine,
                "threads": None if device != "cpu" else self.threads or self._default_threads(engine, n_ratings),
            }
        )

    @staticmethod
    def _default_threads(engine: str, n_ratings: int | None) -> int:
        if engine == "numba" and (n_ratings or 0) >= NUMBA_PARALLEL_FROM:
            return _cores()
        return 1

    def _engine(self, objective: str, device: str, *, fitting: bool) -> Literal["torch", "numba"]:
        if self.engine == "numba":
            if objective != "rating":
                raise ConfigError(
                    "engine='numba' trains the rating objective only, and this data trains the ranking objective "
                    "(implicit feedback: no ratings, or every rating the same); use engine='auto' or 'torch'."
                )
            return "numba"
        torch_only = self.optimizer != "auto" or self.decay_mode == "decoupled" or self.batch_size is not None
        if self.engine == "auto" and fitting and objective == "rating" and device == "cpu" and not torch_only:
            return "numba"
        return "torch"


def _cores() -> int:
    """CPU cores this process may run on."""
    try:
        return len(os.sched_getaffinity(0))
    except AttributeError:  # not on Linux
        return os.cpu_count() or 1


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
    optimizer: Literal["adam", "adamw", "sparse_adam", "rowwise_adagrad", "lazy_adamw"]
    """The optimizer used: ``adamw`` applies decoupled weight decay (every ranking model uses it);
    ``rowwise_adagrad`` is the numba engine's; ``lazy_adamw`` the ranking objective's sampled softmax."""
    seed: Seed
    device: str
    """The device trained on (``cpu``, ``cuda``, ``cuda:N``); as asked for runs of format 1, which did not record it."""
    engine: Literal["torch", "numba"] = "torch"
    """The engine that trained the model (runs saved before the setting existed trained with torch)."""
    threads: Threads | None
    """CPU threads while training; ``None`` on a GPU (and for runs saved with torch's default)."""


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
