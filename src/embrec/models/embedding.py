"""The embedding recommender: the exercise's dot-product model, trained fast and well."""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Callable, Iterable
from typing import Any

import numpy as np
import torch

from embrec.data.interactions import Interactions
from embrec.errors import ConfigError, DataError
from embrec.models.base import ProgressFn, Recommender
from embrec.models.config import EmbeddingConfig, ResolvedEmbeddingConfig, preset
from embrec.models.devices import resolve_device, torch_threads
from embrec.models.foldin import PRIOR_WIDTH, fold_in_ranking, fold_in_rating, ranking_evidence
from embrec.models.memory import check_fits, embedding_fit_needs
from embrec.models.nn import DotProductNet
from embrec.models.training import RatingRows, TrainResult, UserRows, train_ranking, train_rating

__all__ = ["EmbeddingRecommender"]

log = logging.getLogger(__name__)


class EmbeddingRecommender(Recommender):
    """User and item embeddings plus biases, a dot product, and (for ratings) a sigmoid.

    ``objective="rating"`` is the exercise's model: ratings min-max scaled to [0, 1], MSE,
    Adam. ``objective="ranking"`` trains the same embeddings with a softmax over items, which
    ranks far better. Left unset, the objective follows the data: ``rating`` for ratings,
    ``ranking`` for implicit feedback. See :class:`~embrec.models.config.EmbeddingConfig` for every setting;
    ``fit`` keeps ``config`` as given and puts what it decided from the objective, the data and
    the machine in ``resolved_config_`` (a :class:`~embrec.models.config.ResolvedEmbeddingConfig`).

    Example:
        >>> model = EmbeddingRecommender(embedding_dim=32).fit(train)   # doctest: +SKIP
        >>> model.recommend(user_id, n=10)                              # doctest: +SKIP
    """

    name = "embedding"
    config_class = EmbeddingConfig
    can_fold_in = True
    can_score_history = True
    #: What trains the rating objective on the numba engine: ``None`` is
    #: :func:`embrec.models.engine_numba.train_rating` (this process alone);
    #: :func:`embrec.distributed.fit_distributed` sets it, for one fit, to a trainer that runs the same
    #: engine across the ranks of a process group (:mod:`embrec.distributed.dsgd`).
    rating_trainer: Callable[..., Any] | None = None
    #: What trains the ranking objective's full softmax: ``None`` is
    #: :func:`embrec.models.training.train_ranking`; :func:`embrec.distributed.fit_distributed` sets it
    #: to one that splits both tables across the ranks (:mod:`embrec.distributed.softmax`).
    ranking_trainer: Callable[..., Any] | None = None
    config: EmbeddingConfig
    resolved_class = ResolvedEmbeddingConfig
    resolved_config_: ResolvedEmbeddingConfig

    @classmethod
    def from_preset(cls, name: str, **overrides: Any) -> EmbeddingRecommender:
        """A model with a named preset (``notebook``, ``default``, ``ranking``) and overrides."""
        return cls(preset(name, **overrides))

    @property
    def predicts_ratings(self) -> bool:  # type: ignore[override]
        return self._objective == "rating"

    @property
    def _objective(self) -> str | None:
        """The objective trained; before ``fit``, the one asked for (``None``: to follow the data)."""
        resolved = getattr(self, "resolved_config_", None)
        return resolved.objective if resolved is not None else self.config.objective

    # ------------------------------------------------------------------ fit
    def settings_for(self, train: Interactions) -> dict[str, Any]:
        """The config as ``fit`` would resolve it on ``train`` (objective, engine and its defaults)."""
        return self._resolve(train)[0].to_dict()

    def _resolve(self, train: Interactions) -> tuple[ResolvedEmbeddingConfig, torch.device]:
        """What training on ``train`` uses (the objective, defaults and engine decided) and where it runs."""
        scale = train.rating_scale
        implicit = train.ratings is None or scale is None
        if self.config.objective == "rating" and implicit:
            raise ConfigError(
                f"{train.name!r} has no ratings (implicit feedback), so objective='rating' cannot be trained; "
                "use objective='ranking', or leave objective unset to follow the data."
            )
        if scale is not None and scale[1] <= scale[0]:
            if self.config.objective == "rating":
                raise DataError(
                    f"rating scale {scale} of {train.name!r} is empty: every rating is the same value, so "
                    "objective='rating' has nothing to learn; use objective='ranking' (every rated item a choice)."
                )
            implicit = True
        # the numba engine runs on the CPU, whatever device="auto" would find
        device = torch.device("cpu") if self.config.engine == "numba" else resolve_device(self.config.device)
        resolved = self.config.resolve(
            n_users=train.n_users,
            n_items=train.n_items,
            device=str(device),
            implicit=implicit,
            n_ratings=train.n_ratings,
        )
        return resolved, device

    def _check_memory(self, train: Interactions) -> None:
        cfg, _ = self._resolve(train)
        check_fits(
            embedding_fit_needs(n_users=train.n_users, n_items=train.n_items, n_ratings=train.n_ratings, config=cfg)
        )

    def _fit(self, train: Interactions, progress: ProgressFn | None) -> None:
        cfg, device = self._resolve(train)
        self.resolved_config_ = cfg
        if self.config.objective is None:
            log.info(
                "objective %r for %r (%s)",
                cfg.objective,
                train.name,
                "implicit feedback" if cfg.objective == "ranking" else "it has ratings",
            )
        started = time.perf_counter()
        # the numba engine's threads are numba's; torch's few operations around it run best on one
        with torch_threads(cfg.threads if cfg.engine == "torch" else 1):
            gen = torch.Generator().manual_seed(cfg.seed)
            n = train.n_ratings
            val_rows = self._validation_rows(n) if cfg.early_stopping and n > 1 else np.empty(0, dtype=np.int64)
            trainers = {"numba": self._numba_trainer, "rating": self._rating_trainer, "ranking": self._ranking_trainer}
            trainer = trainers["numba" if cfg.engine == "numba" else cfg.objective]
            net, result = trainer(train, val_rows, device, gen, progress)
            if cfg.refit and len(val_rows):
                # the best epoch count is known: learn again from every training row
                gen = torch.Generator().manual_seed(cfg.seed)
                net, _ = trainer(train, np.empty(0, dtype=np.int64), device, gen, None, epochs=result.best_epoch)
        self.net_ = net.to("cpu").eval()
        self.history_ = result.history
        self.best_epoch_ = result.best_epoch
        self.epochs_run_ = result.epochs_run
        self.train_seconds_ = time.perf_counter() - started
        self.device_ = str(device)

    def _new_net(
        self, train: Interactions, device: torch.device, gen: torch.Generator, global_bias: float
    ) -> DotProductNet:
        cfg = self.resolved_config_
        net = DotProductNet(train.n_users, train.n_items, cfg.embedding_dim, sparse=cfg.optimizer == "sparse_adam")
        net.reset_parameters(cfg.init_std, gen, global_bias)
        return net.to(device)

    def _validation_rows(self, n: int) -> np.ndarray:
        """The rows carved out for early stopping, sorted: a seeded random ``validation_fraction`` of the ``n``."""
        cfg = self.resolved_config_
        if cfg.engine == "numba":  # the same share, drawn without a permutation of every row
            from embrec.models.engine_numba import validation_mask

            return np.flatnonzero(validation_mask(n, cfg.validation_fraction, cfg.seed))
        n_val = max(1, int(round(cfg.validation_fraction * n)))
        return np.sort(np.random.default_rng(cfg.seed).permutation(n)[:n_val])

    @staticmethod
    def _fit_rows(n: int, val_rows: np.ndarray) -> np.ndarray:
        """The rows trained on: all but the validation rows, in order."""
        keep = np.ones(n, dtype=np.bool_)
        keep[val_rows] = False
        return np.flatnonzero(keep)

    def _global_bias(self, mean_target: float) -> float:
        """The global bias's start (and, fixed, its value): the logit of the mean scaled rating."""
        if not self.resolved_config_.global_bias:
            return 0.0
        mean = float(np.clip(mean_target, 1e-3, 1 - 1e-3))
        return math.log(mean / (1 - mean))

    def _numba_trainer(
        self,
        train: Interactions,
        val_rows: np.ndarray,
        device: torch.device,
        gen: torch.Generator,
        progress: ProgressFn | None,
        epochs: int | None = None,
    ) -> tuple[DotProductNet, TrainResult]:
        from embrec.models import engine_numba as engine  # imports numba: only when it trains

        scale: tuple[float, float] = train.rating_scale  # type: ignore[assignment]
        ratings: np.ndarray = train.ratings  # type: ignore[assignment]
        skip = None
        if len(val_rows):
            skip = np.zeros(train.n_ratings, dtype=np.bool_)
            skip[val_rows] = True
        seed = self.resolved_config_.seed
        data = engine.block_ratings(
            train.users,
            train.items,
            ratings,
            rating_scale=scale,
            n_users=train.n_users,
            n_items=train.n_items,
            skip=skip,
            seed=seed,
        )
        del skip
        validation = None
        if len(val_rows):
            validation = engine.held_out(data, train.users[val_rows], train.items[val_rows], ratings[val_rows], scale)
        net = self._new_net(train, device, gen, self._global_bias(data.mean))
        result = (self.rating_trainer or engine.train_rating)(
            net,
            self.resolved_config_,
            data,
            validation,
            progress=progress,
            rating_range=scale[1] - scale[0],
            epochs=epochs,
        )
        return net, result

    def _rating_trainer(
        self,
        train: Interactions,
        val_rows: np.ndarray,
        device: torch.device,
        gen: torch.Generator,
        progress: ProgressFn | None,
        epochs: int | None = None,
    ) -> tuple[DotProductNet, TrainResult]:
        fit_rows = self._fit_rows(train.n_ratings, val_rows)
        lo, hi = train.rating_scale  # type: ignore[misc]
        scaled = np.asarray((train.ratings - lo) / (hi - lo), dtype=np.float32)  # type: ignore[operator]

        def rows(idx: np.ndarray) -> RatingRows:
            return RatingRows(
                users=torch.from_numpy(train.users[idx].astype(np.int64)).to(device),
                items=torch.from_numpy(train.items[idx].astype(np.int64)).to(device),
                targets=torch.from_numpy(scaled[idx]).to(device),
            )

        net = self._new_net(train, device, gen, self._global_bias(float(scaled[fit_rows].mean())))
        result = train_rating(
            net,
            self.resolved_config_,
            rows(fit_rows),
            rows(val_rows) if len(val_rows) else None,
            generator=gen,
            progress=progress,
            rating_range=hi - lo,
            epochs=epochs,
        )
        return net, result

    def _target_weights(self, train: Interactions) -> np.ndarray:
        cfg = self.resolved_config_
        if train.ratings is None or cfg.liked_rating is None:
            return np.ones(train.n_ratings, dtype=np.float32)
        return np.where(train.ratings >= cfg.liked_rating, 1.0, cfg.low_rating_weight).astype(np.float32)

    def _ranking_trainer(
        self,
        train: Interactions,
        val_rows: np.ndarray,
        device: torch.device,
        gen: torch.Generator,
        progress: ProgressFn | None,
        epochs: int | None = None,
    ) -> tuple[DotProductNet, TrainResult]:
        fit_rows = self._fit_rows(train.n_ratings, val_rows)
        weights = self._target_weights(train)

        def per_user(idx: np.ndarray) -> UserRows:
            order = idx[np.lexsort((train.items[idx], train.users[idx]))]
            counts = np.bincount(train.users[order], minlength=train.n_users)
            indptr = np.concatenate([[0], np.cumsum(counts)])
            return UserRows(
                indptr=torch.from_numpy(indptr.astype(np.int64)).to(device),
                items=torch.from_numpy(train.items[order].astype(np.int64)).to(device),
                weights=torch.from_numpy(weights[order]).to(device),
                n_items=train.n_items,
            )

        net = self._new_net(train, device, gen, 0.0)
        result = (self.ranking_trainer or train_ranking)(
            net,
            self.resolved_config_,
            per_user(fit_rows),
            per_user(val_rows) if len(val_rows) else None,
            generator=gen,
            progress=progress,
            epochs=epochs,
        )
        return net, result

    # ------------------------------------------------------------------ scores
    def _score_users(self, users: np.ndarray) -> torch.Tensor:
        # p_u . q_i + b_i ranks like the predicted rating (b + b_u and the sigmoid are the same or
        # monotone for one user), so the sigmoid is applied only to the items returned
        self._check_fitted()
        u = torch.from_numpy(np.asarray(users, dtype=np.int64))
        net = self.net_
        with torch.no_grad():
            return torch.addmm(net.item_bias.weight.T, net.user_embedding(u), net.item_embedding.weight.T)

    def _output_scores(self, users: np.ndarray, items: np.ndarray, scores: np.ndarray) -> np.ndarray:
        if self._objective != "rating":
            return scores
        net = self.net_
        with torch.no_grad():
            offset = (net.user_bias.weight[torch.from_numpy(users), 0] + net.global_bias).numpy()
        stars = self._to_stars(torch.sigmoid(torch.from_numpy(scores + offset[:, None]))).numpy()
        return np.where(np.isfinite(scores), stars, -np.inf).astype(np.float32)

    def _to_stars(self, scaled: torch.Tensor) -> torch.Tensor:
        lo, hi = self.rating_scale_  # type: ignore[misc]
        return lo + (hi - lo) * scaled

    def _predict_indexes(self, users: np.ndarray, items: np.ndarray) -> np.ndarray:
        if self._objective != "rating":
            return super()._predict_indexes(users, items)
        with torch.no_grad():
            logits = self.net_(torch.from_numpy(users), torch.from_numpy(items))
            return self._to_stars(torch.sigmoid(logits)).numpy().astype(np.float64)

    def item_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.net_.item_embedding.weight.detach().numpy().copy()

    def user_vectors(self) -> np.ndarray:
        self._check_fitted()
        return self.net_.user_embedding.weight.detach().numpy().copy()

    # ------------------------------------------------------------------ new users
    def fold_in(self, items: Iterable[Any], ratings: Iterable[float] | None = None) -> tuple[np.ndarray, float]:
        """Vector and bias of a new user from their (item id, rating) pairs, without retraining.

        Ratings are on the data's star scale. For a ranking model a rating in the upper half of
        the scale marks an item the user chose (weighted as training weighted it) and one in the
        lower half an item they dislike, which pushes it and the items like it down (see
        :func:`~embrec.models.foldin.fold_in_ranking`); ratings may be left out for implicit feedback.
        """
        self._check_fitted()
        item_idx = self.item_index(list(items))
        if len(item_idx) == 0:
            raise DataError("a new user needs at least one rated item to be folded in.")
        net = self.net_
        q = net.item_embedding.weight.detach()
        bi = net.item_bias.weight.detach()[:, 0]
        idx = torch.from_numpy(item_idx)
        r = None if ratings is None else self._new_user_ratings(ratings, len(item_idx))
        cfg = self.resolved_config_  # the weight decay training used, not the None it may have been asked for
        with torch.enable_grad():
            if cfg.objective == "rating":
                if r is None:
                    raise DataError("a rating model needs ratings to fold a new user in; pass ratings=[...].")
                lo, hi = self.rating_scale_  # type: ignore[misc]
                scaled = torch.from_numpy(((r - lo) / (hi - lo)).astype(np.float32))
                p, b = fold_in_rating(
                    q[idx],
                    bi[idx],
                    float(net.global_bias),
                    scaled,
                    weight_decay=cfg.weight_decay,
                    bias_weight_decay=cfg.bias_weight_decay,
                )
                return p.numpy(), float(b)
            evidence = ranking_evidence(
                r,
                len(item_idx),
                rating_scale=self.rating_scale_,
                liked_rating=cfg.liked_rating,
                low_rating_weight=cfg.low_rating_weight,
            )
            p = fold_in_ranking(
                q,
                bi,
                idx[torch.from_numpy(evidence.liked)],
                torch.from_numpy(evidence.liked_weights),
                disliked=idx[torch.from_numpy(evidence.disliked)],
                disliked_weights=torch.from_numpy(evidence.disliked_weights),
                prior_variance=PRIOR_WIDTH * float(net.user_embedding.weight.detach().pow(2).mean()),
                picks=self._mean_picks(),
            )
            return p.numpy(), 0.0

    def _mean_picks(self) -> float:
        """How many items a trained user has, on average: the number of choices a disliked item
        must stay out of (:func:`~embrec.models.foldin.fold_in_ranking`)."""
        n_users = self.seen_.shape[0]
        return float(self.seen_.nnz) / n_users if n_users else 1.0

    def _new_user_ratings(self, ratings: Iterable[float], n_items: int) -> np.ndarray:
        """A new user's ratings as an array, checked: one per item, finite, on the model's scale."""
        r = np.asarray(list(ratings), dtype=np.float64)
        if len(r) != n_items:
            raise DataError(f"got {n_items} items but {len(r)} ratings; give one rating per item.")
        if not np.isfinite(r).all():
            raise DataError("ratings of a new user must be numbers, not NaN or infinity.")
        if self.rating_scale_ is not None:
            lo, hi = self.rating_scale_
            bad = (r < lo) | (r > hi)
            if bad.any():
                raise DataError(f"rating {r[bad][0]:g} is outside the scale {lo:g}-{hi:g}; give ratings on that scale.")
        return r

    def score_new_user(self, vector: np.ndarray, bias: float = 0.0) -> np.ndarray:
        """``p . q_i + b_i`` for every item: ranks like the predicted rating (the user's ``bias``,
        the global bias and the sigmoid are the same or monotone for one user)."""
        self._check_fitted()
        net = self.net_
        p = torch.from_numpy(np.asarray(vector, dtype=np.float32))
        if p.shape != (net.item_embedding.weight.shape[1],):
            raise DataError(
                f"a new user's vector has shape {tuple(p.shape)}, the model's vectors have "
                f"{net.item_embedding.weight.shape[1]} numbers; pass the vector fold_in() returned."
            )
        with torch.no_grad():
            return (p @ net.item_embedding.weight.T + net.item_bias.weight[:, 0]).numpy()

    def predict_new_user(self, vector: np.ndarray, bias: float, items: Any) -> np.ndarray:
        if self._objective != "rating":
            return super().predict_new_user(vector, bias, items)
        idx = self.item_index(items)
        return self._new_user_stars(self.score_new_user(vector, bias)[idx], bias).astype(np.float64)

    def _new_user_output_scores(self, items: np.ndarray, scores: np.ndarray, bias: float) -> np.ndarray:
        if self._objective != "rating":
            return scores
        return np.where(np.isfinite(scores), self._new_user_stars(scores, bias), -np.inf)

    def _new_user_stars(self, scores: np.ndarray, bias: float) -> np.ndarray:
        with torch.no_grad():
            return self._to_stars(torch.sigmoid(torch.from_numpy(scores) + bias + self.net_.global_bias)).numpy()

    # ------------------------------------------------------------------ state
    def _get_state(self) -> dict[str, np.ndarray]:
        net = self.net_
        return {
            "user_embedding": net.user_embedding.weight.detach().numpy(),
            "item_embedding": net.item_embedding.weight.detach().numpy(),
            "user_bias": net.user_bias.weight.detach().numpy(),
            "item_bias": net.item_bias.weight.detach().numpy(),
            "global_bias": net.global_bias.detach().numpy().reshape(1),
        }

    def _set_state(self, state: dict[str, np.ndarray]) -> None:
        n_users, dim = state["user_embedding"].shape
        n_items = state["item_embedding"].shape[0]
        if (n_users, n_items) != (len(self.user_ids_), len(self.item_ids_)):
            raise ValueError(
                f"weights are for {n_users} users x {n_items} items, the vocabulary has "
                f"{len(self.user_ids_)} x {len(self.item_ids_)}"
            )
        net = DotProductNet(n_users, n_items, dim)
        with torch.no_grad():
            net.user_embedding.weight.copy_(torch.from_numpy(state["user_embedding"]))
            net.item_embedding.weight.copy_(torch.from_numpy(state["item_embedding"]))
            net.user_bias.weight.copy_(torch.from_numpy(state["user_bias"]))
            net.item_bias.weight.copy_(torch.from_numpy(state["item_bias"]))
            net.global_bias.fill_(float(state["global_bias"][0]))
        self.net_ = net.eval()
