"""The compiled training engine of the rating objective: parallel SGD with row-wise Adagrad (numba).

The objective is the torch loss's, term for term (:func:`~embrec.models.losses.rating_mse` plus
the per-row L2 of :mod:`embrec.models.training`): for one rating of user ``u`` and item ``i``,
scaled to ``y`` in [0, 1],

    loss = (sigmoid(z) - y)^2 + weight_decay * (|p_u|^2 + |q_i|^2) + bias_weight_decay * (b_u^2 + b_i^2)
    z    = g + b_u + b_i + p_u . q_i       (g, the global bias, is fixed as in the torch model)

and every rating is one step (a mini-batch of one). A vector's step is row-wise Adagrad (as in
fbgemm's embedding optimisers): one accumulator per row, ``G += mean(grad^2)``, then ``row -=
lr * grad / (sqrt(G) + eps)``; each bias has its own accumulator, and every accumulator starts
at :data:`INITIAL_ACCUMULATOR`. Rows with few ratings keep large steps and rows rated often
settle, which is what Adam gave the torch engine, for one number of state per row instead of
two per element.

Parallel without races, and the same model on any number of threads: users and items are
dealt into ``k`` blocks each (most-rated first, in turn, so that the blocks hold about as many
ratings; ties in seeded random order), the ratings sorted into the ``k x k`` cells and shuffled
within them (seeded), and an epoch runs ``k`` strata of ``k`` cells that share no user and no
item (cell ``(b, (b + s) mod k)``, as in DSGD and LibMF). Threads take whole cells of a stratum
as they finish one, so no two write the same row, and which thread runs a cell never changes
the result. Each epoch visits the strata in a new seeded order and starts each cell at a new
seeded offset; ``k`` depends on the data only. With ``threads=1`` the same seed gives the same
model bit for bit, and so does any other number of threads.

The engine trains copies of the weights whose rows are ordered by block, so a cell's rows lie
together in memory (25-40% faster at ML-25M's size than rows scattered over the whole table),
and stores a rating in 5 bytes: the user's and the item's row within their block (``uint16``)
and the rating's code (``uint8``, an index into the table of the data's distinct ratings; data
with more than 256 distinct ratings, or blocks of more than 65,536 rows, keep ``float32`` and
``int32``). The copies are written back to the net when training ends.

This module imports numba; it is imported only when a model trains with ``engine="numba"``.
"""

from __future__ import annotations

import contextlib
import math
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import numba
import numpy as np
from numba import njit, prange
from numba.core import types
from numba.extending import overload

from embrec.models.base import ProgressFn
from embrec.models.config import ResolvedEmbeddingConfig
from embrec.models.nn import DotProductNet
from embrec.models.training import TrainResult, run_epochs

__all__ = [
    "BlockedRatings",
    "EPS",
    "HeldOut",
    "INITIAL_ACCUMULATOR",
    "Params",
    "RowwiseAdagrad",
    "block_ratings",
    "cell_steps",
    "held_out",
    "n_blocks",
    "net_params",
    "numba_threads",
    "rating_epoch",
    "rating_loss",
    "rating_step",
    "rows_loss",
    "scaled",
    "step_constants",
    "train_rating",
    "validation_mask",
]

#: (user vectors, item vectors, user biases, item biases, global bias).
Params = tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray, float]

#: Added to the root of the accumulated squared gradients (torch's Adagrad default).
EPS = 1e-10
#: Where every accumulator starts. From 0, a row's first step would be a full ``lr`` per element
#: whatever its gradient; from 3e-3 the first steps follow the gradient, which measured 0.004-0.006
#: RMSE better on the validation slices of the tuning (docs/benchmarks.md).
INITIAL_ACCUMULATOR = 3e-3
#: Fewest ratings per cell aimed at when choosing ``k``: smaller cells gain nothing and cost launches.
_MIN_CELL_RATINGS = 5_000
#: Most blocks along each side.
_MAX_BLOCKS = 16
#: Rows per chunk of the held-out loss (chunks summed in order: the same figure on any threads).
_LOSS_CHUNK = 4_096
#: Most distinct ratings stored as one-byte codes.
_MAX_CODES = 256


@dataclass
class BlockedRatings:
    """Ratings sorted into ``k x k`` (user block, item block) cells, in the engine's row order.

    Cell ``c = b * k + j`` holds entries ``ptr[c]:ptr[c + 1]``; its user rows are ``user_start[b]
    + users`` and its item rows ``item_start[j] + items`` (the engine's order: user ``u`` is row
    ``user_rank[u]``). ``values[codes]`` are the ratings scaled to [0, 1] (``codes`` holds them
    itself, as ``float32``, when ``values`` is empty).
    """

    users: np.ndarray
    items: np.ndarray
    codes: np.ndarray
    values: np.ndarray
    ptr: np.ndarray
    user_start: np.ndarray
    item_start: np.ndarray
    user_rank: np.ndarray
    item_rank: np.ndarray
    k: int
    mean: float
    """The mean scaled rating."""

    def __len__(self) -> int:
        return len(self.users)

    def targets(self) -> np.ndarray:
        """The scaled rating of every entry, in storage order."""
        return self.values[self.codes] if len(self.values) else self.codes

    def to_engine_order(self, params: Params) -> Params:
        """Copies of a net's weights with their rows in the engine's order."""
        P, Q, bu, bi, g = params
        return (_by_rank(P, self.user_rank), _by_rank(Q, self.item_rank), _by_rank(bu, self.user_rank),
                _by_rank(bi, self.item_rank), g)  # fmt: skip

    def write_back(self, trained: Params, params: Params) -> None:
        """Write weights trained in the engine's order into ``params`` (a net's, in index order)."""
        for rank, source, target in zip(
            (self.user_rank, self.item_rank, self.user_rank, self.item_rank), trained[:4], params[:4]
        ):
            target[...] = source[rank]


def _by_rank(weights: np.ndarray, rank: np.ndarray) -> np.ndarray:
    out = np.empty_like(weights)
    out[rank] = weights
    return out


@dataclass
class RowwiseAdagrad:
    """Accumulated mean squared gradients: one per user vector, item vector, user bias, item bias."""

    user_vectors: np.ndarray
    item_vectors: np.ndarray
    user_bias: np.ndarray
    item_bias: np.ndarray

    @classmethod
    def start(cls, n_users: int, n_items: int, value: float = INITIAL_ACCUMULATOR) -> RowwiseAdagrad:
        """Every accumulator at ``value``."""
        return cls(*(np.full(n, value, dtype=np.float32) for n in (n_users, n_items, n_users, n_items)))


@dataclass
class HeldOut:
    """Rows whose loss is watched, not trained on: user rows, item rows (the engine's order) and
    targets (ratings scaled to [0, 1])."""

    users: np.ndarray
    items: np.ndarray
    targets: np.ndarray

    def __len__(self) -> int:
        return len(self.users)


def n_blocks(n_ratings: int, n_users: int, n_items: int) -> int:
    """Blocks along each side: cells of at least about 5,000 ratings, at most 16 blocks."""
    k = int(math.sqrt(max(n_ratings, 1) / _MIN_CELL_RATINGS))
    return max(1, min(_MAX_BLOCKS, k, n_users, n_items))


def _pool_size() -> int:
    """Threads in numba's pool (``NUMBA_NUM_THREADS``, every core unless set)."""
    return int(numba.config.NUMBA_NUM_THREADS)  # type: ignore[attr-defined]


@contextlib.contextmanager
def numba_threads(n: int) -> Iterator[None]:
    """Run numba's parallel loops on ``n`` threads (at most numba's pool), restoring the setting afterwards."""
    before = numba.get_num_threads()
    numba.set_num_threads(max(1, min(n, _pool_size())))
    # threads take a stratum's cells one at a time as they finish one, not half the cells each
    chunks = numba.set_parallel_chunksize(1)
    try:
        yield
    finally:
        numba.set_parallel_chunksize(chunks)
        numba.set_num_threads(before)


# ---------------------------------------------------------------------- a small seeded generator
@njit(error_model="numpy", cache=True)
def _splitmix(state: np.uint64) -> tuple[np.uint64, np.uint64]:
    """(next state, a random 64-bit number): SplitMix64, enough for shuffles."""
    state = state + np.uint64(0x9E3779B97F4A7C15)
    z = state
    z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
    z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
    return state, z ^ (z >> np.uint64(31))


# ---------------------------------------------------------------------- the validation rows
@njit(error_model="numpy", cache=True)
def _floyd(n, m, seed):
    """A uniformly random set of ``m`` of the rows ``0..n-1`` as a mask (Floyd's algorithm: ``m`` draws)."""
    chosen = np.zeros(n, dtype=np.bool_)
    state = np.uint64(seed)
    for j in range(n - m, n):
        state, x = _splitmix(state)
        t = np.int64(x % np.uint64(j + 1))
        chosen[j if chosen[t] else t] = True
    return chosen


def validation_mask(n: int, fraction: float, seed: int) -> np.ndarray:
    """Which of ``n`` rows to hold out: ``round(fraction * n)`` of them (at least one), at random (seeded).

    Draws only the rows it takes, where a permutation of all rows would cost a second or more
    at 25M rows.
    """
    m = min(n, max(1, int(round(fraction * n))))
    return _floyd(n, m, np.uint64(np.random.SeedSequence([seed, 0x7A1]).generate_state(1, np.uint64)[0]))


# ---------------------------------------------------------------------- sorting ratings into cells
@njit(error_model="numpy", cache=True)
def _count_cells(users, items, ratings, skip, user_block, item_block, k, limit):
    """(start offset of each cell, length ``k * k + 1``; the sorted distinct ratings kept, empty
    when there are more than ``limit``), in one pass over the rows."""
    counts = np.zeros(k * k + 1, dtype=np.int64)
    table = np.empty(limit, dtype=np.float32)
    m = 0
    coded = True
    last = np.float32(np.nan)
    for r in range(len(users)):
        if skip[r]:
            continue
        counts[user_block[users[r]] * k + item_block[items[r]] + 1] += 1
        x = np.float32(ratings[r])
        if not coded or x == last:
            continue
        last = x
        lo, hi = 0, m
        while lo < hi:  # binary search of the table so far
            mid = (lo + hi) // 2
            if table[mid] < x:
                lo = mid + 1
            else:
                hi = mid
        if lo < m and table[lo] == x:
            continue
        if m == limit:
            coded = False
            continue
        for t in range(m, lo, -1):
            table[t] = table[t - 1]
        table[lo] = x
        m += 1
    return np.cumsum(counts), table[:m] if coded else table[:0]


@njit(error_model="numpy", cache=True)
def _scatter(
    users,
    items,
    ratings,
    skip,
    user_block,
    item_block,
    user_local,
    item_local,
    k,
    table,
    lo,
    span,
    ptr,
    out_u,
    out_i,
    out_c,
):
    """Write each kept row into its cell; returns the sum of the scaled ratings written."""
    cursor = ptr[:-1].copy()
    inv = np.float32(1.0 / span)  # as scaled() computes it
    lo32 = np.float32(lo)
    coded = len(table) > 0
    total = 0.0
    for r in range(len(users)):
        if skip[r]:
            continue
        u, i = users[r], items[r]
        c = user_block[u] * k + item_block[i]
        at = cursor[c]
        cursor[c] = at + 1
        out_u[at] = user_local[u]
        out_i[at] = item_local[i]
        x = np.float32(ratings[r])
        y = (x - lo32) * inv
        total += float(y)
        if coded:
            out_c[at] = np.searchsorted(table, x)
        else:
            out_c[at] = y
    return total


@njit(parallel=True, error_model="numpy", cache=True)
def _shuffle_cells(ptr, out_u, out_i, out_c, seed):
    for c in prange(len(ptr) - 1):
        start, stop = ptr[c], ptr[c + 1]
        state = np.uint64(seed) * np.uint64(1_000_003) + np.uint64(c)
        for t in range(stop - 1, start, -1):  # Fisher-Yates within the cell
            state, x = _splitmix(state)
            j = start + np.int64(x % np.uint64(t - start + 1))
            out_u[t], out_u[j] = out_u[j], out_u[t]
            out_i[t], out_i[j] = out_i[j], out_i[t]
            out_c[t], out_c[j] = out_c[j], out_c[t]


def scaled(ratings: np.ndarray, rating_scale: tuple[float, float]) -> np.ndarray:
    """Ratings min-max scaled to [0, 1] as ``float32``, as the engine scales them."""
    lo, hi = rating_scale
    return ((np.asarray(ratings, dtype=np.float32) - np.float32(lo)) * np.float32(1.0 / (hi - lo))).astype(np.float32)


@njit(error_model="numpy", cache=True)
def _row_counts(users, items, skip, n_users, n_items):
    user_counts = np.zeros(n_users, dtype=np.int64)
    item_counts = np.zeros(n_items, dtype=np.int64)
    for r in range(len(users)):
        if not skip[r]:
            user_counts[users[r]] += 1
            item_counts[items[r]] += 1
    return user_counts, item_counts


def _balanced_blocks(counts: np.ndarray, k: int, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(block of each row, its place in the engine's order, first place of each block and the total).

    Rows are dealt most-rated first (ties in seeded random order) to the blocks 0, 1, .., k-1,
    k-1, .., 0, 0, 1, ..: every block gets as many rows and nearly as many ratings as the next,
    so the cells of a stratum take about as long (random blocks made the heaviest cell of a
    stratum of popularity-skewed data keep a thread waiting). A block's rows are consecutive.
    """
    n = len(counts)
    order = np.lexsort((rng.permutation(n), -counts))
    lap = np.arange(n) % (2 * k)
    dealt = np.where(lap < k, lap, 2 * k - 1 - lap).astype(np.int32)
    block = np.empty(n, dtype=np.int32)
    block[order] = dealt
    place = np.empty(n, dtype=np.int32)
    place[order[np.argsort(dealt, kind="stable")]] = np.arange(n, dtype=np.int32)
    first = np.concatenate([[0], np.cumsum(np.bincount(dealt, minlength=k))]).astype(np.int64)
    return block, place, first


def block_ratings(
    users: np.ndarray,
    items: np.ndarray,
    ratings: np.ndarray,
    *,
    rating_scale: tuple[float, float],
    n_users: int,
    n_items: int,
    skip: np.ndarray | None = None,
    seed: int = 0,
    k: int | None = None,
) -> BlockedRatings:
    """The rows not marked in ``skip`` as :class:`BlockedRatings`, shuffled within each cell (seeded).

    Writes 5 bytes a rating (9 or 12 for data beyond one-byte codes or two-byte rows) and no other
    array of the data's length, so a large dataset is not copied more than that.
    """
    skip_ = skip if skip is not None else np.zeros(len(users), dtype=np.bool_)
    n_rows = len(users) - int(skip_.sum())
    k = k or n_blocks(n_rows, n_users, n_items)
    rng = np.random.default_rng([seed, 0xB10C])
    user_counts, item_counts = _row_counts(users, items, skip_, n_users, n_items)
    user_block, user_rank, user_first = _balanced_blocks(user_counts, k, rng)
    item_block, item_rank, item_first = _balanced_blocks(item_counts, k, rng)
    user_local = user_rank - user_first[user_block].astype(np.int32)
    item_local = item_rank - item_first[item_block].astype(np.int32)
    ptr, table = _count_cells(users, items, ratings, skip_, user_block, item_block, k, _MAX_CODES)
    widest = max(int(np.diff(user_first).max()), int(np.diff(item_first).max()))
    index = np.uint16 if widest <= 2**16 else np.int32
    out_u = np.empty(n_rows, dtype=index)
    out_i = np.empty(n_rows, dtype=index)
    out_c = np.empty(n_rows, dtype=np.uint8 if len(table) else np.float32)
    lo, hi = rating_scale
    total = _scatter(users, items, ratings, skip_, user_block, item_block, user_local, item_local, k, table, lo,
                     hi - lo, ptr, out_u, out_i, out_c)  # fmt: skip
    _shuffle_cells(ptr, out_u, out_i, out_c, np.uint64(seed % 2**63))
    return BlockedRatings(
        out_u, out_i, out_c, scaled(table, rating_scale), ptr, user_first, item_first, user_rank, item_rank, k,
        mean=float(total) / max(n_rows, 1),
    )  # fmt: skip


# ---------------------------------------------------------------------- the step
def _target(codes: np.ndarray, values: np.ndarray, r: int) -> float:
    """The scaled rating of entry ``r``: ``values[codes[r]]``, or ``codes[r]`` when the codes are the ratings."""
    return float(codes[r] if codes.dtype.kind == "f" else values[codes[r]])


@overload(_target, inline="always")
def _target_compiled(codes, values, r):
    # chosen when the kernel is compiled, by the type of the codes: no branch per rating
    if isinstance(codes.dtype, types.Float):
        return lambda codes, values, r: codes[r]
    return lambda codes, values, r: values[codes[r]]


@njit(fastmath=True, error_model="numpy", cache=True, inline="always")
def _step(u, i, y, P, Q, bu, bi, g, gP, gQ, gbu, gbi, lr, wd2, bwd2, eps):
    """One rating's SGD step with row-wise Adagrad; returns its squared error before the step."""
    d = P.shape[1]
    z = np.float32(0.0)
    for f in range(d):
        z += P[u, f] * Q[i, f]
    z += g + bu[u] + bi[i]
    s = np.float32(1.0) / (np.float32(1.0) + np.exp(-z))
    e = s - y
    # d/dz of (sigmoid(z) - y)^2; the L2 terms add 2 * decay * row
    dz = np.float32(2.0) * e * s * (np.float32(1.0) - s)
    a = np.float32(0.0)
    c = np.float32(0.0)
    for f in range(d):
        gp = dz * Q[i, f] + wd2 * P[u, f]
        gq = dz * P[u, f] + wd2 * Q[i, f]
        a += gp * gp
        c += gq * gq
    gP[u] += a / np.float32(d)
    gQ[i] += c / np.float32(d)
    su = lr / (np.sqrt(gP[u]) + eps)
    si = lr / (np.sqrt(gQ[i]) + eps)
    for f in range(d):
        p = P[u, f]
        q = Q[i, f]
        P[u, f] = p - su * (dz * q + wd2 * p)
        Q[i, f] = q - si * (dz * p + wd2 * q)
    hu = dz + bwd2 * bu[u]
    hi = dz + bwd2 * bi[i]
    gbu[u] += hu * hu
    gbi[i] += hi * hi
    bu[u] -= lr * hu / (np.sqrt(gbu[u]) + eps)
    bi[i] -= lr * hi / (np.sqrt(gbi[i]) + eps)
    return e * e


@njit(fastmath=True, error_model="numpy", cache=True)
def _cell(
    lu, li, codes, values, start, stop, offset, ubase, ibase, P, Q, bu, bi, g, gP, gQ, gbu, gbi, lr, wd2, bwd2, eps
):
    """The steps of entries ``start:stop``, from ``start + offset`` round to it; their summed squared error."""
    total = 0.0
    for t in range(stop - start):
        r = start + offset + t
        if r >= stop:
            r -= stop - start
        y = _target(codes, values, r)
        total += _step(ubase + lu[r], ibase + li[r], y, P, Q, bu, bi, g, gP, gQ, gbu, gbi, lr, wd2, bwd2, eps)
    return total


@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def _epoch(
    lu,
    li,
    codes,
    values,
    ptr,
    ustart,
    istart,
    k,
    shifts,
    offsets,
    P,
    Q,
    bu,
    bi,
    g,
    gP,
    gQ,
    gbu,
    gbi,
    lr,
    wd2,
    bwd2,
    eps,
):
    total = 0.0
    losses = np.zeros(k, dtype=np.float64)
    for s in range(k):
        for b in prange(k):
            j = (b + shifts[s]) % k
            c = b * k + j
            start, stop = ptr[c], ptr[c + 1]
            off = offsets[c] % max(stop - start, 1)
            losses[b] = _cell(lu, li, codes, values, start, stop, off, ustart[b], istart[j],
                              P, Q, bu, bi, g, gP, gQ, gbu, gbi, lr, wd2, bwd2, eps)  # fmt: skip
        for b in range(k):
            total += losses[b]
    return total


#: One cell's steps (``_cell``'s kernel, called from Python): what a rank of a distributed run
#: (:mod:`embrec.distributed.dsgd`) runs for each of its cells, so that its model is this engine's.
cell_steps = _cell


def _hyper(learning_rate: float, weight_decay: float, bias_weight_decay: float) -> tuple[np.float32, ...]:
    f32 = np.float32
    return f32(learning_rate), f32(2 * weight_decay), f32(2 * bias_weight_decay), f32(EPS)


#: The float32 constants ``(lr, 2 * weight_decay, 2 * bias_weight_decay, eps)`` the step kernels take.
step_constants = _hyper


def rating_epoch(
    data: BlockedRatings,
    params: Params,
    state: RowwiseAdagrad,
    *,
    learning_rate: float,
    weight_decay: float,
    bias_weight_decay: float,
    rng: np.random.Generator,
) -> float:
    """One epoch over ``data``, updating ``params`` (in the engine's row order) in place; returns
    the mean squared error of the ratings before their steps."""
    P, Q, bu, bi, g = params
    k = data.k
    shifts = rng.permutation(k).astype(np.int64)
    offsets = rng.integers(0, 2**62, size=k * k, dtype=np.int64)
    total = _epoch(
        data.users, data.items, data.codes, data.values, data.ptr, data.user_start, data.item_start, k, shifts, offsets,
        P, Q, bu, bi, np.float32(g), state.user_vectors, state.item_vectors, state.user_bias, state.item_bias,
        *_hyper(learning_rate, weight_decay, bias_weight_decay),
    )  # fmt: skip
    return float(total) / max(len(data), 1)


def rating_step(
    user: int,
    item: int,
    target: float,
    params: Params,
    state: RowwiseAdagrad,
    *,
    learning_rate: float,
    weight_decay: float,
    bias_weight_decay: float,
) -> float:
    """The step an epoch takes for one rating (user and item are rows of ``params``), in place;
    returns its squared error before the step. For tests and for reading the update rule."""
    P, Q, bu, bi, g = params
    zero = np.zeros(1, dtype=np.int32)
    return float(
        _cell(
            zero,
            zero,
            np.array([target], dtype=np.float32),
            np.empty(0, dtype=np.float32),
            0,
            1,
            0,
            user,
            item,
            P,
            Q,
            bu,
            bi,
            np.float32(g),
            state.user_vectors,
            state.item_vectors,
            state.user_bias,
            state.item_bias,
            *_hyper(learning_rate, weight_decay, bias_weight_decay),
        )  # fmt: skip
    )


# ---------------------------------------------------------------------- the loss of held-out rows
@njit(parallel=True, fastmath=True, error_model="numpy", cache=True)
def _loss(users, items, y, P, Q, bu, bi, g):
    d = P.shape[1]
    n_chunks = (len(users) + _LOSS_CHUNK - 1) // _LOSS_CHUNK
    partial = np.zeros(n_chunks, dtype=np.float64)
    for c in prange(n_chunks):
        total = 0.0
        for r in range(c * _LOSS_CHUNK, min(len(users), (c + 1) * _LOSS_CHUNK)):
            u, i = users[r], items[r]
            z = np.float32(0.0)
            for f in range(d):
                z += P[u, f] * Q[i, f]
            z += g + bu[u] + bi[i]
            e = np.float32(1.0) / (np.float32(1.0) + np.exp(-z)) - y[r]
            total += e * e
        partial[c] = total
    return partial.sum()


#: The summed squared error of the given rows (rows index the arrays passed): the same kernel
#: compiled without threads, for many small calls (a distributed rank's held-out cells), where
#: starting the thread pool each call costs more than the rows.
rows_loss = njit(fastmath=True, error_model="numpy", cache=True)(_loss.py_func)


def rating_loss(users: np.ndarray, items: np.ndarray, targets: np.ndarray, params: Params) -> float:
    """Mean squared error of ``sigmoid(z)`` against ``targets`` (scaled ratings) of the given rows."""
    P, Q, bu, bi, g = params
    return float(_loss(users, items, targets, P, Q, bu, bi, np.float32(g))) / max(len(users), 1)


# ---------------------------------------------------------------------- training a net
def net_params(net: DotProductNet) -> Params:
    """numpy views of the net's weights, in index order."""
    return (
        net.user_embedding.weight.detach().numpy(),
        net.item_embedding.weight.detach().numpy(),
        net.user_bias.weight.detach().numpy().reshape(-1),
        net.item_bias.weight.detach().numpy().reshape(-1),
        float(net.global_bias),
    )


def held_out(
    data: BlockedRatings, users: np.ndarray, items: np.ndarray, ratings: np.ndarray, rating_scale: tuple[float, float]
) -> HeldOut:
    """Validation rows (user and item indexes, ratings in stars) with their rows in ``data``'s engine order."""
    return HeldOut(data.user_rank[users], data.item_rank[items], scaled(ratings, rating_scale))


def train_rating(
    net: DotProductNet,
    config: ResolvedEmbeddingConfig,
    train: BlockedRatings,
    validation: HeldOut | None,
    *,
    progress: ProgressFn | None = None,
    rating_range: float = 1.0,
    epochs: int | None = None,
) -> TrainResult:
    """The rating objective on ``net`` (on the CPU); with a validation set (see :func:`held_out`)
    and early stopping, restores the best epoch. History, progress and early stopping are the
    torch engine's (:func:`~embrec.models.training.run_epochs`)."""
    into = net_params(net)
    params = train.to_engine_order(into)
    state = RowwiseAdagrad.start(len(params[0]), len(params[1]))
    rng = np.random.default_rng([config.seed, 0xE90C])
    decay = config.weight_decay if config.decay_mode == "per_row" else 0.0

    def epoch_figures() -> dict[str, float]:
        loss = rating_epoch(
            train, params, state, learning_rate=config.learning_rate, weight_decay=decay,
            bias_weight_decay=config.bias_weight_decay, rng=rng,
        )  # fmt: skip
        return {"train_loss": loss, "train_rmse": math.sqrt(max(loss, 0.0)) * rating_range}

    def watching(rows: HeldOut) -> Callable[[], dict[str, float]]:
        def figures() -> dict[str, float]:
            loss = rating_loss(rows.users, rows.items, rows.targets, params)
            return {"val_loss": loss, "val_rmse": math.sqrt(loss) * rating_range}

        return figures

    weights = params[:4]

    def save() -> list[np.ndarray]:
        return [w.copy() for w in weights]

    def restore(best: list[np.ndarray]) -> None:
        for w, b in zip(weights, best):
            np.copyto(w, b)

    watch = watching(validation) if validation is not None and len(validation) else None
    with numba_threads(config.threads or _pool_size()):
        result = run_epochs(net, config, epoch_figures, watch, progress, epochs, (save, restore), rows=len(train))
    train.write_back(params, into)
    return result
