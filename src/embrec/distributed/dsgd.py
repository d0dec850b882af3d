"""The rating objective trained across processes: DSGD with row-wise sharded tables over ``torch.distributed``.

The numba engine already trains by DSGD (Gemulla et al. 2011, as LibMF): users and items are dealt
into ``k`` blocks each, and an epoch runs ``k`` strata of ``k`` cells ``(b, (b + shift) mod k)`` that
share no row. Across ``W`` processes (ranks) of a process group:

* rank ``r`` owns the user blocks ``b`` with ``b mod W == r``: their rows of the user table (vectors,
  biases, Adagrad accumulators) and their ratings (the cells ``(b, *)``), and nothing else of either;
* the item table is sharded by item block too, and its blocks travel: during stratum ``t`` item block
  ``j`` is held by the rank that owns user block ``(j - shift_t) mod k``, so each rank holds only the
  item blocks its cells need;
* between strata, each item block whose next user block lives on another rank is sent there (rows,
  biases and accumulators, one buffer) with point-to-point sends, which gloo and NCCL both have.

Rank 0 holds the data and the start: it sends every other rank its :class:`Share` (its cells, its
user blocks, the item blocks it starts with, its users' held-out rows), so the others never hold
more than that. Every rank draws the same strata order and cell offsets from the same seed and runs
each cell with the same kernel, so the model is the same bit for bit whatever ``W`` (a one-rank
group included). The
held-out loss of early stopping is summed over ranks after one more pass of the item blocks, which
each rank scores against its own users' held-out rows.

An item block moves at most once per stratum boundary, ``k`` of them in training and ``k`` in the
held-out pass: at most ``2 x k x n_items x (d + 3) x 4`` bytes per epoch for the whole run, and no user
row ever moves (``docs/distributed.md``).
"""

from __future__ import annotations

import math
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

import numpy as np
import torch
import torch.distributed as dist

from embrec.distributed.checkpoint import Checkpoints, State
from embrec.distributed.messages import announce, receive_share, send_share
from embrec.models.base import ProgressFn
from embrec.models.config import ResolvedEmbeddingConfig
from embrec.models.engine_numba import (
    INITIAL_ACCUMULATOR,
    BlockedRatings,
    HeldOut,
    cell_steps,
    net_params,
    rows_loss,
    step_constants,
)
from embrec.models.nn import DotProductNet
from embrec.models.training import TrainResult, run_epochs

__all__ = [
    "ItemBlock", "Placement", "RatingRun", "Share", "ShardedRatingTrainer", "follow_rating", "share_for",
    "train_rating_sharded",
]  # fmt: skip


@dataclass
class ItemBlock:
    """One block of the item table: vectors, biases and their row-wise Adagrad accumulators."""

    vectors: np.ndarray
    bias: np.ndarray
    grad_vectors: np.ndarray
    grad_bias: np.ndarray

    def pack(self) -> torch.Tensor:
        """One float32 buffer of the four arrays (what travels between ranks)."""
        parts = [self.vectors.reshape(-1), self.bias, self.grad_vectors, self.grad_bias]
        return torch.from_numpy(np.concatenate(parts).astype(np.float32, copy=False))

    @staticmethod
    def unpack(buffer: torch.Tensor, rows: int, dim: int) -> ItemBlock:
        flat = buffer.numpy()
        cut = rows * dim
        vectors = flat[:cut].reshape(rows, dim).copy()
        bias, grad_vectors, grad_bias = (flat[cut + rows * n : cut + rows * (n + 1)].copy() for n in range(3))
        return ItemBlock(vectors, bias, grad_vectors, grad_bias)

    def copy(self) -> ItemBlock:
        return ItemBlock(self.vectors.copy(), self.bias.copy(), self.grad_vectors.copy(), self.grad_bias.copy())


@dataclass
class Share:
    """What one rank holds of a DSGD run, sent to it by rank 0: its cells' ratings, its user blocks, the
    item blocks it holds at shift 0, and the held-out rows of its users."""

    data: BlockedRatings  # the cells of the other ranks' user blocks are empty; no engine-order ranks
    users: dict[int, ItemBlock]
    items: dict[int, ItemBlock]
    g: float
    validation: HeldOut | None  # the held-out rows of its user blocks
    rows: int  # training rows over every rank
    held_out_rows: int  # held-out rows over every rank
    dim: int


def _block(vectors: np.ndarray, bias: np.ndarray) -> ItemBlock:
    start = np.full(len(bias), INITIAL_ACCUMULATOR, dtype=np.float32)
    return ItemBlock(vectors.copy(), bias.copy(), start, start.copy())


def share_for(
    data: BlockedRatings,
    params: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float],
    validation: HeldOut | None,
    rank: int,
    world: int,
) -> Share:
    """Rank ``rank``'s :class:`Share` of a run whose whole data and start (``params``, in the engine's row
    order, as every rank would draw it) one process holds."""
    P, Q, bu, bi, g = params
    k, place = data.k, Placement(data.k, world)
    us, is_ = data.user_start, data.item_start
    mine = [b for b in range(k) if place.user_owner(b) == rank]
    cells = [b * k + j for b in mine for j in range(k)]
    pick = np.concatenate([np.arange(data.ptr[c], data.ptr[c + 1]) for c in cells] or [np.empty(0, np.int64)])
    lengths = np.zeros(k * k, dtype=np.int64)
    lengths[cells] = np.diff(data.ptr)[cells]
    blocked = BlockedRatings(
        users=data.users[pick], items=data.items[pick], codes=data.codes[pick], values=data.values,
        ptr=np.concatenate([[0], np.cumsum(lengths)]).astype(data.ptr.dtype), user_start=us, item_start=is_,
        user_rank=np.empty(0, np.int64), item_rank=np.empty(0, np.int64), k=k, mean=data.mean,
    )  # fmt: skip
    held = None
    if validation is not None and len(validation):
        owner = (np.searchsorted(us, validation.users, side="right") - 1) % world
        rows = np.flatnonzero(owner == rank)
        held = HeldOut(validation.users[rows], validation.items[rows], validation.targets[rows])
    return Share(
        data=blocked,
        users={b: _block(P[us[b] : us[b + 1]], bu[us[b] : us[b + 1]]) for b in mine},
        items={
            j: _block(Q[is_[j] : is_[j + 1]], bi[is_[j] : is_[j + 1]])
            for j in range(k)
            if place.item_holder(j, 0) == rank
        },
        g=float(g),
        validation=held,
        rows=len(data),
        held_out_rows=0 if validation is None else len(validation),
        dim=P.shape[1],
    )


@dataclass(frozen=True)
class Placement:
    """Which rank owns which user block, and who holds item block ``j`` at a stratum shift."""

    k: int
    world: int

    def user_owner(self, b: int) -> int:
        return b % self.world

    def item_holder(self, j: int, shift: int) -> int:
        return self.user_owner((j - shift) % self.k)


class ShardedRatingTrainer:
    """One rank's part of a DSGD run: its user blocks, the item blocks it holds, its ratings' cells."""

    def __init__(self, share: Share, *, rank: int, world: int, group: dist.ProcessGroup | None = None) -> None:
        self.data, self.rank, self.world, self.group = share.data, rank, world, group
        self.k = share.data.k
        self.place = Placement(self.k, world)
        self.dim = share.dim
        self.g = np.float32(share.g)
        self.mine = sorted(share.users)
        self.users, self.items = share.users, share.items
        self.shift = 0  # the item blocks start where stratum shift 0 wants them
        self.rows, self.held_out_rows = share.rows, share.held_out_rows
        self.held_out = self._held_out_cells(share.validation) if share.held_out_rows else None
        self.sent_bytes = 0

    @classmethod
    def whole(
        cls,
        data: BlockedRatings,
        params: tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float],
        validation: HeldOut | None,
        *,
        rank: int,
        world: int,
        group: dist.ProcessGroup | None = None,
    ) -> ShardedRatingTrainer:
        """Rank ``rank``'s trainer cut from the whole data and start (one process holding everything)."""
        return cls(share_for(data, params, validation, rank, world), rank=rank, world=world, group=group)

    # ------------------------------------------------------------------ moving item blocks
    def move_to(self, shift: int) -> None:
        """Send and receive item blocks so that each is where stratum ``shift`` needs it."""
        if shift == self.shift:
            return
        requests, arriving = [], {}
        is_ = self.data.item_start
        for j in range(self.k):
            src, dst = self.place.item_holder(j, self.shift), self.place.item_holder(j, shift)
            if src == dst:
                continue
            if src == self.rank:
                buffer = self.items.pop(j).pack()
                self.sent_bytes += buffer.numel() * 4
                requests.append(dist.isend(buffer, dst=dst, group=self.group, tag=j))
            elif dst == self.rank:
                rows = int(is_[j + 1] - is_[j])
                buffer = torch.empty(rows * (self.dim + 3), dtype=torch.float32)
                requests.append(dist.irecv(buffer, src=src, group=self.group, tag=j))
                arriving[j] = (buffer, rows)
        for request in requests:
            if request is not None:  # None only for a rank outside the group
                request.wait()
        for j, (buffer, rows) in arriving.items():
            self.items[j] = ItemBlock.unpack(buffer, rows, self.dim)
        self.shift = shift

    # ------------------------------------------------------------------ one epoch
    def epoch(self, rng: np.random.Generator, learning_rate: float, weight_decay: float, bias_decay: float) -> float:
        """One epoch of this rank's cells; the mean squared error over every rank's ratings."""
        k, data = self.k, self.data
        shifts = rng.permutation(k).astype(np.int64)
        offsets = rng.integers(0, 2**62, size=k * k, dtype=np.int64)
        hyper = step_constants(learning_rate, weight_decay, bias_decay)
        total = 0.0
        for s in shifts:
            self.move_to(int(s))
            for b in self.mine:
                j = (b + int(s)) % k
                c = b * k + j
                start, stop = int(data.ptr[c]), int(data.ptr[c + 1])
                off = int(offsets[c] % max(stop - start, 1))
                user, item = self.users[b], self.items[j]
                total += cell_steps(data.users, data.items, data.codes, data.values, start, stop, off, 0, 0,
                               user.vectors, item.vectors, user.bias, item.bias, self.g, user.grad_vectors,
                               item.grad_vectors, user.grad_bias, item.grad_bias, *hyper)  # fmt: skip
        return self._sum(total) / max(self.rows, 1)

    # ------------------------------------------------------------------ the held-out loss
    def _held_out_cells(self, validation: HeldOut | None) -> dict[tuple[int, int], tuple[np.ndarray, ...]]:
        cells: dict[tuple[int, int], tuple[np.ndarray, ...]] = {}
        if validation is None or not len(validation):
            return cells  # held-out rows, but none of this rank's users
        us, is_ = self.data.user_start, self.data.item_start
        ub = np.searchsorted(us, validation.users, side="right") - 1
        ib = np.searchsorted(is_, validation.items, side="right") - 1
        for b in self.mine:
            for j in range(self.k):
                rows = np.flatnonzero((ub == b) & (ib == j))
                if len(rows):
                    cells[(b, j)] = (
                        (validation.users[rows] - us[b]).astype(np.int64),
                        (validation.items[rows] - is_[j]).astype(np.int64),
                        validation.targets[rows].astype(np.float32),
                    )
        return cells

    def held_out_loss(self) -> float:
        """Mean squared error of every rank's held-out rows, the item blocks passed round once more."""
        assert self.held_out is not None
        total = 0.0
        for s in range(self.k):
            self.move_to(s)
            for b in self.mine:
                j = (b + s) % self.k
                cell = self.held_out.get((b, j))
                if cell is not None:
                    users, items, targets = cell
                    user, item = self.users[b], self.items[j]
                    total += float(
                        rows_loss(users, items, targets, user.vectors, item.vectors, user.bias, item.bias, self.g)
                    )
        return self._sum(total) / max(self.held_out_rows, 1)

    def _sum(self, value: float) -> float:
        if self.world == 1:
            return value
        t = torch.tensor([value], dtype=torch.float64)
        dist.all_reduce(t, group=self.group)
        return float(t.item())

    # ------------------------------------------------------------------ best epoch, checkpoints, the result
    _PARTS = ("vectors", "bias", "grad_vectors", "grad_bias")

    def save(self) -> State:
        """A copy of this rank's blocks (named arrays) and the stratum they are placed for."""
        arrays = {
            f"{kind}{n}.{part}": getattr(block, part).copy()
            for kind, blocks in (("user", self.users), ("item", self.items))
            for n, block in blocks.items()
            for part in self._PARTS
        }
        return arrays, {"shift": self.shift}

    def restore(self, saved: State) -> None:
        arrays, meta = saved
        self.move_to(int(meta["shift"]))  # hold the same blocks as when it was saved, then take back their values
        blocks: dict[str, dict[int, dict[str, np.ndarray]]] = {"user": {}, "item": {}}
        for key, value in arrays.items():
            name, part = key.split(".")
            kind, n = name[:4], int(name[4:])
            blocks[kind].setdefault(n, {})[part] = value.copy()
        self.users = {b: ItemBlock(**parts) for b, parts in blocks["user"].items()}
        self.items = {j: ItemBlock(**parts) for j, parts in blocks["item"].items()}

    def gather(self) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray] | None:
        """The whole tables (engine order) on rank 0; ``None`` on the others."""
        mine = (
            {b: (u.vectors, u.bias) for b, u in self.users.items()},
            {j: (q.vectors, q.bias) for j, q in self.items.items()},
        )
        parts: list = [None] * self.world
        if self.world == 1:
            parts = [mine]
        else:
            dist.all_gather_object(parts, mine, group=self.group)
        if self.rank != 0:
            return None
        us, is_ = self.data.user_start, self.data.item_start
        P = np.empty((int(us[-1]), self.dim), dtype=np.float32)
        bu = np.empty(int(us[-1]), dtype=np.float32)
        Q = np.empty((int(is_[-1]), self.dim), dtype=np.float32)
        bi = np.empty(int(is_[-1]), dtype=np.float32)
        for users, items in parts:
            for b, (vectors, bias) in users.items():
                P[us[b] : us[b + 1]], bu[us[b] : us[b + 1]] = vectors, bias
            for j, (vectors, bias) in items.items():
                Q[is_[j] : is_[j + 1]], bi[is_[j] : is_[j + 1]] = vectors, bias
        return P, Q, bu, bi


@dataclass
class RatingRun:
    """One DSGD training run, as rank 0 announces it to the others (their shares follow)."""

    config: ResolvedEmbeddingConfig
    rating_range: float
    epochs: int | None
    fingerprint: dict[str, Any]


def train_rating_sharded(
    net: DotProductNet,
    config: ResolvedEmbeddingConfig,
    train: BlockedRatings,
    validation: HeldOut | None,
    *,
    progress: ProgressFn | None = None,
    rating_range: float = 1.0,
    epochs: int | None = None,
    group: dist.ProcessGroup | None = None,
    checkpoints: Checkpoints | None = None,
) -> TrainResult:
    """:func:`embrec.models.engine_numba.train_rating` across the ranks of ``group`` (the default group
    when ``None``), called on rank 0, which holds the data: it announces the run, sends each other rank
    its :class:`Share` (those ranks run :func:`follow_rating`), trains its own, and ``net`` receives the
    whole trained tables. Every rank has the same history, early stopping and best epoch. With
    ``checkpoints``, each epoch's state is saved there (and taken back from there to resume)."""
    rank, world = dist.get_rank(group), dist.get_world_size(group)
    into = net_params(net)
    params = train.to_engine_order(into)
    held = 0 if validation is None else len(validation)
    fingerprint = {"engine": "dsgd", "rows": len(train), "blocks": train.k, "epochs": epochs,
                   "config": config.to_dict(), "held_out": held}  # fmt: skip
    run = RatingRun(config, rating_range, epochs, fingerprint)
    announce(run, group)
    for other in range(world):
        if other != rank:  # one share at a time: rank 0 holds at most one more share than its data
            send_share(share_for(train, params, validation, other, world), other, group)
    trainer = ShardedRatingTrainer.whole(train, params, validation, rank=rank, world=world, group=group)
    del params
    result = _train(trainer, run, progress, checkpoints, net)
    tables = trainer.gather()
    if tables is not None:
        P, Q, bu, bi = tables
        train.write_back((P, Q, bu, bi, float(trainer.g)), into)
    return result


def follow_rating(
    run: RatingRun, group: dist.ProcessGroup | None = None, checkpoints: Checkpoints | None = None
) -> None:
    """A rank other than 0: receive its share of the run rank 0 announced, and train it with the others."""
    share = receive_share(group)
    trainer = ShardedRatingTrainer(share, rank=dist.get_rank(group), world=dist.get_world_size(group), group=group)
    del share
    _train(trainer, run, None, checkpoints, None)
    trainer.gather()


def _train(
    trainer: ShardedRatingTrainer,
    run: RatingRun,
    progress: ProgressFn | None,
    checkpoints: Checkpoints | None,
    net: DotProductNet | None,
) -> TrainResult:
    config, rating_range = run.config, run.rating_range
    rng = np.random.default_rng([config.seed, 0xE90C])
    decay = config.weight_decay if config.decay_mode == "per_row" else 0.0

    def epoch_figures() -> dict[str, float]:
        loss = trainer.epoch(rng, config.learning_rate, decay, config.bias_weight_decay)
        return {"train_loss": loss, "train_rmse": math.sqrt(max(loss, 0.0)) * rating_range}

    watch: Callable[[], dict[str, float]] | None = None
    if trainer.held_out is not None:

        def watch() -> dict[str, float]:
            loss = trainer.held_out_loss()
            return {"val_loss": loss, "val_rmse": math.sqrt(loss) * rating_range}

    checkpoint = None
    if checkpoints is not None:

        def get() -> State:
            arrays, meta = trainer.save()
            return arrays, {**meta, "rng": rng.bit_generator.state}

        def put(state: State) -> None:
            trainer.restore(state)
            rng.bit_generator.state = state[1]["rng"]

        checkpoint = checkpoints.next_run(run.fingerprint, get, put)
    return run_epochs(
        net, config, epoch_figures, watch, progress, run.epochs, (trainer.save, trainer.restore),
        rows=trainer.rows, checkpoint=checkpoint,
    )  # fmt: skip
