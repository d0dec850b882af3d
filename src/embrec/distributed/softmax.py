"""The ranking objective trained across processes: the full softmax with both tables split by rows.

The ranking objective's loss for a user is ``sum_i w_ui (lse_u - s_ui)``, where ``s_uj = p_u . q_j + b_j``
and ``lse_u`` is the log-sum-exp of ``s_u`` over the whole catalogue. Across ``W`` processes (ranks):

* rank ``r`` holds a contiguous share of the item table (vectors and biases) and **only the ratings of
  those items** (every user's), and a contiguous share of the user table; rank 0, which holds the
  data and the start, sends each other rank its :class:`SoftmaxShare`;
* every rank walks the same batches of users (the same seeded order). A batch's user vectors are put
  together by one ``all_reduce`` of the rows each rank owns; each rank scores them against its own
  items, and ``lse_u`` comes from an ``all_reduce`` of the shares' maxima and sums of exponentials;
* the backward pass all-reduces the gradients of those sums (:class:`SumOverRanks`): each rank's item
  rows get their exact gradient locally, and each user row the sum over ranks. AdamW is elementwise, so each
  rank steps its own shares as one process steps the whole tables.

Per step that sends a batch's user vectors and their gradients (``2 x batch x d`` floats, each
all-reduced) and ``3 x batch`` floats for the log-sum-exp; no item row ever moves while training.
The model is the one a single process trains, up to the order floating-point sums are added in
(the tests compare the tables).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from embrec.distributed.checkpoint import Checkpoints, State
from embrec.distributed.messages import announce, receive_share, send_share
from embrec.models.base import ProgressFn
from embrec.models.config import ResolvedEmbeddingConfig
from embrec.models.losses import l2_rows
from embrec.models.nn import DotProductNet
from embrec.models.training import EVAL_USERS, TrainResult, UserRows, ranking_optimizer, run_epochs, validation_users

__all__ = [
    "RankingRun", "ShardedSoftmaxTrainer", "SoftmaxShare", "SumOverRanks", "follow_ranking", "item_share", "shares",
    "softmax_share", "train_ranking_sharded",
]  # fmt: skip


class SumOverRanks(torch.autograd.Function):
    """``all_reduce`` (sum) as a differentiable step: the gradient of a sum over ranks, summed over ranks.

    What ``torch.distributed.nn.functional.all_reduce`` does, which torch 2.13 deprecates in favour of
    private functional collectives without this backward.
    """

    @staticmethod
    def forward(ctx: torch.autograd.function.FunctionCtx, tensor: torch.Tensor, group: dist.ProcessGroup | None):
        ctx.group = group  # type: ignore[attr-defined]
        out = tensor.clone()
        dist.all_reduce(out, group=group)
        return out

    @staticmethod
    def backward(ctx: torch.autograd.function.FunctionCtx, grad: torch.Tensor):
        out = grad.clone()
        dist.all_reduce(out, group=ctx.group)  # type: ignore[attr-defined]
        return out, None


def shares(n: int, world: int) -> np.ndarray:
    """Where each rank's contiguous share of ``n`` rows starts (``world + 1`` bounds; rank r: ``[b[r], b[r+1])``)."""
    return (np.arange(world + 1, dtype=np.int64) * n) // world


def item_share(rows: UserRows, start: int, stop: int) -> tuple[UserRows, torch.Tensor, torch.Tensor]:
    """The entries of ``rows`` whose items are in ``[start, stop)``, items renumbered from ``start``, and
    each user's total weight and count of them (float64, int64; summed over ranks they are the users')."""
    counts = rows.indptr[1:] - rows.indptr[:-1]
    owner = torch.repeat_interleave(torch.arange(len(counts)), counts)
    keep = (rows.items >= start) & (rows.items < stop)
    mine = torch.bincount(owner[keep], minlength=len(counts))
    share = UserRows(
        indptr=torch.cat([torch.zeros(1, dtype=torch.int64), torch.cumsum(mine, 0)]),
        items=rows.items[keep] - start,
        weights=rows.weights[keep],
        n_items=stop - start,
    )
    weight = torch.bincount(owner[keep], weights=rows.weights[keep].double(), minlength=len(counts))
    return share, weight, mine


@dataclass
class _Local:
    """One rank's part of per-user rows: the entries whose items it holds, and every user's totals."""

    rows: UserRows  # items renumbered from the rank's first item
    weight: torch.Tensor  # each user's total target weight over the whole catalogue
    count: torch.Tensor  # each user's number of entries over the whole catalogue


@dataclass
class SoftmaxShare:
    """What one rank holds of a sharded-softmax run, sent to it by rank 0: its rows of the start, and
    its items' entries of the training (and validation) rows with every user's totals."""

    P: np.ndarray
    Q: np.ndarray
    b: np.ndarray
    user_bounds: np.ndarray
    item_bounds: np.ndarray
    train: _Local
    validation: _Local | None


def _local(rows: UserRows, start: int, stop: int) -> _Local:
    share, _, _ = item_share(rows, start, stop)
    counts = rows.indptr[1:] - rows.indptr[:-1]
    owner = torch.repeat_interleave(torch.arange(len(counts)), counts)
    weight = torch.bincount(owner, weights=rows.weights.double(), minlength=len(counts))
    return _Local(share, weight.float(), counts)


def softmax_share(
    net: DotProductNet, train: UserRows, validation: UserRows | None, rank: int, world: int
) -> SoftmaxShare:
    """Rank ``rank``'s :class:`SoftmaxShare` of a run whose whole rows and start (``net``) one process holds."""
    user_bounds = shares(net.user_embedding.num_embeddings, world)
    item_bounds = shares(net.item_embedding.num_embeddings, world)
    u0, u1 = (int(x) for x in user_bounds[rank : rank + 2])
    i0, i1 = (int(x) for x in item_bounds[rank : rank + 2])
    with torch.no_grad():
        P = net.user_embedding.weight[u0:u1].detach().numpy().copy()
        Q = net.item_embedding.weight[i0:i1].detach().numpy().copy()
        b = net.item_bias.weight[i0:i1, 0].detach().numpy().copy()
    held = None if validation is None else _local(validation, i0, i1)
    return SoftmaxShare(P, Q, b, user_bounds, item_bounds, _local(train, i0, i1), held)


class ShardedSoftmaxTrainer:
    """One rank's share of a full-softmax ranking run: its user rows, its item rows, its items' ratings."""

    def __init__(
        self,
        share: SoftmaxShare,
        config: ResolvedEmbeddingConfig,
        *,
        rank: int,
        world: int,
        group: dist.ProcessGroup | None = None,
    ) -> None:
        self.config, self.rank, self.world, self.group = config, rank, world, group
        self.u0, self.u1 = (int(x) for x in share.user_bounds[rank : rank + 2])
        self.i0, self.i1 = (int(x) for x in share.item_bounds[rank : rank + 2])
        self.P, self.Q, self.b = (torch.from_numpy(t).requires_grad_(True) for t in (share.P, share.Q, share.b))
        self.train, self.validation = share.train, share.validation
        self.optimizer = ranking_optimizer([self.P, self.Q], [self.b], config)

    def _sum(self, t: torch.Tensor) -> torch.Tensor:
        if self.world > 1:
            dist.all_reduce(t, group=self.group)
        return t

    # ------------------------------------------------------------------ the loss of a batch
    def _user_rows(self, users: torch.Tensor) -> torch.Tensor:
        """The batch's user vectors, each from the rank that owns it (differentiable in this rank's rows)."""
        own = torch.nonzero((users >= self.u0) & (users < self.u1)).flatten()
        p = self.P.new_zeros(len(users), self.P.shape[1])
        p = p.index_put((own,), self.P[users[own] - self.u0])  # always in the graph: AdamW steps P every batch
        return SumOverRanks.apply(p, self.group) if self.world > 1 else p

    def _summed(self, users: torch.Tensor, data: _Local) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """(this rank's share of the summed loss, the batch's total weight, its user vectors)."""
        p = self._user_rows(users)
        logits = torch.addmm(self.b, p, self.Q.T)
        rows, items, weights = data.rows.gather(users)
        targets = torch.zeros_like(logits)
        targets[rows, items] = weights
        top = logits.detach().max(1).values if logits.shape[1] else logits.new_full((len(users),), -math.inf)
        if self.world > 1:
            dist.all_reduce(top, op=dist.ReduceOp.MAX, group=self.group)
        exps = torch.exp(logits - top[:, None]).sum(1)
        if self.world > 1:
            exps = SumOverRanks.apply(exps, self.group)
        lse = top + torch.log(exps)
        w = data.weight[users]
        # every rank holds the same lse: its term counts once over the ranks
        return -(targets * logits).sum() + (w * lse).sum() / self.world, w.sum(), p

    def epoch(self, generator: torch.Generator) -> float:
        """One epoch of full-softmax steps over the batches every rank walks; the loss over all ranks."""
        cfg = self.config
        active = torch.nonzero(self.train.count > 0).flatten()
        order = active[torch.randperm(len(active), generator=generator)]
        total, weight = torch.zeros((), dtype=torch.float64), 0.0
        per_row = cfg.decay_mode == "per_row" and cfg.weight_decay
        for s in range(0, len(order), cfg.batch_size):
            users = order[s : s + cfg.batch_size]
            summed, w, p = self._summed(users, self.train)
            loss = summed / w
            if per_row:
                loss = loss + cfg.weight_decay * l2_rows(p) / self.world
            self.optimizer.zero_grad(set_to_none=True)
            loss.backward()
            self.optimizer.step()
            total += summed.detach().double()
            weight += float(w)
        return float(self._sum(total)) / max(weight, 1e-12)

    @torch.no_grad()
    def held_out_loss(self, users: torch.Tensor) -> float:
        """The full-softmax loss of the validation ``users`` (every rank's share summed)."""
        assert self.validation is not None
        total, weight = torch.zeros((), dtype=torch.float64), 0.0
        for s in range(0, len(users), EVAL_USERS):
            summed, w, _ = self._summed(users[s : s + EVAL_USERS], self.validation)
            total += summed.double()
            weight += float(w)
        return float(self._sum(total)) / max(weight, 1e-12)

    # ------------------------------------------------------------------ best epoch, checkpoints, the result
    def save(self) -> State:
        """A copy of this rank's rows of the tables."""
        return {name: t.detach().numpy().copy() for name, t in zip("PQb", (self.P, self.Q, self.b))}, {}

    def restore(self, saved: State) -> None:
        with torch.no_grad():
            for name, t in zip("PQb", (self.P, self.Q, self.b)):
                t.copy_(torch.from_numpy(saved[0][name]))

    def optimizer_state(self) -> dict[str, np.ndarray]:
        """AdamW's moments and step counts, named ``opt.{param}.{key}``."""
        state = self.optimizer.state_dict()["state"]
        return {
            f"opt.{n}.{k}": v.detach().numpy().copy().reshape(v.shape) for n, s in state.items() for k, v in s.items()
        }

    def load_optimizer_state(self, arrays: dict[str, np.ndarray]) -> None:
        state: dict[int, dict[str, torch.Tensor]] = {}
        for key, value in arrays.items():
            if key.startswith("opt."):
                _, n, k = key.split(".")
                state.setdefault(int(n), {})[k] = torch.from_numpy(value.copy())
        self.optimizer.load_state_dict({"state": state, "param_groups": self.optimizer.state_dict()["param_groups"]})

    def gather(self) -> tuple[np.ndarray, np.ndarray, np.ndarray] | None:
        """The whole tables (user vectors, item vectors, item biases) on rank 0; ``None`` on the others."""
        mine = tuple(t.detach().numpy() for t in (self.P, self.Q, self.b))
        parts: list = [mine]
        if self.world > 1:
            parts = [None] * self.world
            dist.all_gather_object(parts, mine, group=self.group)
        if self.rank != 0:
            return None
        return tuple(np.concatenate([part[n] for part in parts]) for n in range(3))  # type: ignore[return-value]


@dataclass
class RankingRun:
    """One sharded-softmax training run, as rank 0 announces it to the others (their shares follow)."""

    config: ResolvedEmbeddingConfig
    epochs: int | None
    rows: int
    generator_state: np.ndarray
    fingerprint: dict[str, Any]


def train_ranking_sharded(
    net: DotProductNet,
    config: ResolvedEmbeddingConfig,
    train: UserRows,
    validation: UserRows | None,
    *,
    generator: torch.Generator,
    progress: ProgressFn | None = None,
    epochs: int | None = None,
    group: dist.ProcessGroup | None = None,
    checkpoints: Checkpoints | None = None,
) -> TrainResult:
    """:func:`embrec.models.training.train_ranking` (full softmax) across the ranks of ``group`` (the
    default group when ``None``), called on rank 0, which holds the data: it announces the run, sends
    each other rank its :class:`SoftmaxShare` (those ranks run :func:`follow_ranking`), trains its own,
    and ``net`` receives the whole trained tables. Every rank has the same history, early stopping and
    best epoch. With ``checkpoints``, each epoch's state is saved there (and taken back to resume)."""
    if config.n_negatives is not None:
        raise ValueError("the sharded softmax trains the full softmax; n_negatives must be None")
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    fingerprint = {"engine": "softmax", "rows": len(train.items), "users": train.n_users, "items": train.n_items,
                   "epochs": epochs, "config": config.to_dict()}  # fmt: skip
    run = RankingRun(config, epochs, len(train.items), generator.get_state().numpy().copy(), fingerprint)
    announce(run, group)
    for other in range(world):
        if other != rank:
            send_share(softmax_share(net, train, validation, other, world), other, group)
    trainer = ShardedSoftmaxTrainer(
        softmax_share(net, train, validation, rank, world), config, rank=rank, world=world, group=group
    )
    result = _train(trainer, run, generator, progress, checkpoints, net)
    tables = trainer.gather()
    if tables is not None:
        with torch.no_grad():
            P, Q, b = (torch.from_numpy(t) for t in tables)
            net.user_embedding.weight.copy_(P)
            net.item_embedding.weight.copy_(Q)
            net.item_bias.weight.copy_(b[:, None])
    return result


def follow_ranking(
    run: RankingRun, group: dist.ProcessGroup | None = None, checkpoints: Checkpoints | None = None
) -> None:
    """A rank other than 0: receive its share of the run rank 0 announced, and train it with the others."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    trainer = ShardedSoftmaxTrainer(receive_share(group), run.config, rank=rank, world=world, group=group)
    generator = torch.Generator()
    generator.set_state(torch.from_numpy(run.generator_state.copy()))
    _train(trainer, run, generator, None, checkpoints, None)
    trainer.gather()


def _train(
    trainer: ShardedSoftmaxTrainer,
    run: RankingRun,
    generator: torch.Generator,
    progress: ProgressFn | None,
    checkpoints: Checkpoints | None,
    net: DotProductNet | None,
) -> TrainResult:
    config = run.config
    watch = None
    if trainer.validation is not None:
        users = validation_users(torch.nonzero(trainer.validation.count > 0).flatten(), config, generator)
        if len(users):

            def watch() -> dict[str, float]:
                return {"val_loss": trainer.held_out_loss(users)}

    def epoch_figures() -> dict[str, float]:
        return {"train_loss": trainer.epoch(generator)}

    checkpoint = None
    if checkpoints is not None:

        def get() -> State:
            arrays, _ = trainer.save()
            arrays |= trainer.optimizer_state() | {"generator": generator.get_state().numpy().copy()}
            return arrays, {}

        def put(state: State) -> None:
            trainer.restore(state)
            trainer.load_optimizer_state(state[0])
            generator.set_state(torch.from_numpy(state[0]["generator"].copy()))

        checkpoint = checkpoints.next_run(run.fingerprint, get, put)
    return run_epochs(
        net, config, epoch_figures, watch, progress, run.epochs, (trainer.save, trainer.restore), rows=run.rows,
        checkpoint=checkpoint,
    )  # fmt: skip
