"""Top-N for many users at once: batched scores, seen items masked, exact lists in bounded memory.

Users are ranked a block at a time, so memory stays at one block of scores (``block_size x
n_items``) whatever the number of users, and :func:`iter_top_n` hands each block's lists over
as soon as they are ready (``embrec recommend --all-users`` streams them to its file). Seen
items are masked through the rows of a sparse matrix, never a dense one.

**Where the time goes.** For ML-25M's shape (162,541 users x 59,047 items, 64 factors) the
scores are 9.6 billion numbers; a full ``torch.topk`` over each row costs as much as computing
them. So a block is not sorted: its scores are cut into groups of :data:`GROUP` items and only
the group maxima are ranked. The ``k`` best items of a row lie in the groups whose maxima reach
the row's ``k``-th best maximum (``k`` groups each hold an item at least that good), so only
those few groups are ranked item by item. Models whose scores are a product of factors
(:class:`Factors`) are scored into one reused buffer; on CPUs with AMX (bfloat16 matrix units)
their block is first scored in bfloat16, several times faster than float32, and every item
whose bfloat16 score comes within a proven error bound of the ``k``-th best is rescored in
float32 before the final ranking: the lists are exactly those of float32 scores, only found
sooner (see :class:`_Bf16`).

**Ties.** Items with equal scores come in a fixed, documented order: the lower item index
first, both in which tied items make the cut at rank ``n`` and in their order within the list.
``torch.topk`` alone leaves that order unspecified (it may differ between devices and versions),
and a popularity list ties often, so without a rule the same model could give a user other
films, and other metrics, on another machine. NaN scores count as ``-inf``: such items are never
recommended.

Everything runs on the device of the scores: CUDA tensors from a model on a GPU stay there.
"""

from __future__ import annotations

import dataclasses
import functools
import itertools
import math
import threading
from collections import deque
from collections.abc import Callable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import scipy.sparse as sp
import torch

from embrec.errors import ConfigError

__all__ = ["GROUP", "Block", "Factors", "ScoreFn", "block_size_for", "iter_top_n", "top_n", "top_k_rows"]

#: Maps a batch of user indexes to a ``(len(batch), n_items)`` tensor of scores (higher is better).
ScoreFn = Callable[[np.ndarray], torch.Tensor]

#: Items per group whose maximum stands for them in the first round of selection.
GROUP = 64
#: Bytes of scores one block may hold: the memory bound of :func:`iter_top_n`.
BLOCK_BYTES = 16 * 2**20
#: Catalogues up to this many items are ranked with one plain ``top_k_rows`` per block.
_SMALL_CATALOGUE = 4096
#: The bfloat16 filter needs this many users in a call: it converts every user's vector first, which
#: for a single user costs more than scoring the whole catalogue in float32 (150 ms at 162,541 users).
_BF16_MIN_USERS = 256


@dataclass(frozen=True)
class Factors:
    """Ranking scores as a product of factors: ``users[u] @ items.T + item_bias``.

    Models whose scores have this form hand their factors to :func:`top_n` (through
    :meth:`~embrec.models.base.Recommender.ranking_factors`) instead of a :data:`ScoreFn`: blocks
    are then scored into one reused buffer, in bfloat16 first where the CPU has AMX, and the
    approximate index (:mod:`embrec.retrieval`) searches the same vectors.

    Attributes:
        users: ``(n_users, dim)`` float32 user factors.
        items: ``(n_items, dim)`` float32 item factors, on the same device.
        item_bias: ``(n_items,)`` float32 item offsets, or ``None``.
    """

    users: torch.Tensor
    items: torch.Tensor
    item_bias: torch.Tensor | None = None

    def __post_init__(self) -> None:
        dims = (self.users.ndim, self.items.ndim)
        if dims != (2, 2) or self.users.shape[1] != self.items.shape[1]:
            raise ConfigError(
                f"factors of shape {tuple(self.users.shape)} (users) and {tuple(self.items.shape)} (items) do not "
                "multiply; give (n_users, dim) and (n_items, dim) matrices."
            )
        if self.item_bias is not None and tuple(self.item_bias.shape) != (self.items.shape[0],):
            raise ConfigError(
                f"item_bias of shape {tuple(self.item_bias.shape)} does not fit {self.items.shape[0]} items; "
                "give one offset per item."
            )

    @classmethod
    def from_numpy(cls, users: np.ndarray, items: np.ndarray, item_bias: np.ndarray | None = None) -> Factors:
        """Factors from arrays (converted to contiguous float32 tensors on the CPU)."""

        def tensor(a: np.ndarray) -> torch.Tensor:
            return torch.from_numpy(np.ascontiguousarray(a, dtype=np.float32))

        return cls(tensor(users), tensor(items), None if item_bias is None else tensor(item_bias).reshape(-1))

    @property
    def n_items(self) -> int:
        return int(self.items.shape[0])

    @property
    def device(self) -> torch.device:
        return self.items.device

    def to(self, device: torch.device | str) -> Factors:
        """The same factors on ``device``."""
        bias = None if self.item_bias is None else self.item_bias.to(device)
        return Factors(self.users.to(device), self.items.to(device), bias)

    def scores(self, users: np.ndarray | torch.Tensor, out: torch.Tensor | None = None) -> torch.Tensor:
        """Float32 scores of every item for user indexes, ``(len(users), n_items)`` (into ``out`` if given)."""
        idx = torch.as_tensor(np.asarray(users, dtype=np.int64), device=self.device)
        p = self.users.index_select(0, idx)
        if self.item_bias is None:
            return torch.mm(p, self.items.T, out=out)
        return torch.addmm(self.item_bias, p, self.items.T, out=out)

    def augmented(self) -> tuple[torch.Tensor, torch.Tensor]:
        """``([users, 1], [items, item_bias])``: one inner product gives the score, bias included."""
        bias = self.item_bias if self.item_bias is not None else torch.zeros(self.n_items, device=self.device)
        ones = torch.ones(self.users.shape[0], 1, device=self.device, dtype=self.users.dtype)
        return torch.cat([self.users, ones], dim=1), torch.cat([self.items, bias[:, None].to(self.items.dtype)], dim=1)


@dataclass(frozen=True)
class Block:
    """The lists of one block of users: rows ``start:start + len(items)`` of the users asked for."""

    start: int
    items: np.ndarray
    scores: np.ndarray


def block_size_for(n_items: int, itemsize: int = 4, budget: int = BLOCK_BYTES) -> int:
    """Users per block so that one block's scores (``block x n_items`` numbers) fit in ``budget`` bytes.

    A multiple of 64 where it can be: matrix kernels (AMX tiles above all) slow down by half or
    more on ragged row counts.
    """
    fits = budget // max(1, n_items * itemsize)
    return int(min(4096, max(16, fits // 64 * 64 if fits >= 64 else fits)))


def top_n(
    score_fn: ScoreFn | Factors,
    users: np.ndarray,
    n: int,
    *,
    seen: sp.csr_matrix | None = None,
    candidates: np.ndarray | None = None,
    chunk_size: int | None = None,
    bf16_filter: bool | None = None,
    threads: int | None = None,
) -> tuple[np.ndarray, np.ndarray]:
    """The ``n`` best items for each user, equal scores in ascending item index.

    Args:
        score_fn: scores of all items for a batch of user indexes, or the model's :class:`Factors`.
        users: user indexes (rows of ``seen``).
        n: list length.
        seen: users x items matrix whose non-zeros are excluded (``None``: exclude nothing).
        candidates: optional boolean mask over items; items outside it are never recommended.
        chunk_size: users scored at once (``None``: as many as :data:`BLOCK_BYTES` of scores hold).
        bf16_filter: with :class:`Factors`, find the lists through bfloat16 scores first (exact
            all the same); ``None``: where the CPU has AMX and the catalogue is large. Never on a GPU.
        threads: blocks ranked at once with :class:`Factors` on the CPU (``None``:
            ``torch.get_num_threads()``; see :func:`iter_top_n`).

    Returns:
        ``(items, scores)``, both ``(len(users), n)``, best first and ties by lower item index;
        where fewer than ``n`` items are left to recommend, rows are padded with item ``-1`` and
        score ``-inf``.
    """
    users = np.asarray(users, dtype=np.int64)
    out_items = np.full((len(users), n), -1, dtype=np.int64)
    out_scores = np.full((len(users), n), -np.inf, dtype=np.float32)
    for block in iter_top_n(
        score_fn,
        users,
        n,
        seen=seen,
        candidates=candidates,
        block_size=chunk_size,
        bf16_filter=bf16_filter,
        threads=threads,
    ):
        rows = slice(block.start, block.start + len(block.items))
        out_items[rows] = block.items
        out_scores[rows] = block.scores
    return out_items, out_scores


def iter_top_n(
    score_fn: ScoreFn | Factors,
    users: np.ndarray,
    n: int,
    *,
    seen: sp.csr_matrix | None = None,
    candidates: np.ndarray | None = None,
    block_size: int | None = None,
    bf16_filter: bool | None = None,
    threads: int | None = None,
) -> Iterator[Block]:
    """:func:`top_n` a block of users at a time: memory for a few blocks, whatever the number of users.

    Yields :class:`Block` objects in the order of ``users``; arguments as :func:`top_n`
    (``block_size`` is its ``chunk_size``). With :class:`Factors` on the CPU, ``threads``
    blocks (``None``: ``torch.get_num_threads()``) are ranked at once, each on one thread: the
    small steps between the matrix products then run in parallel too, and no thread waits for
    another between them (which costs most where other work shares the cores). torch's thread
    count is restored afterwards.
    """
    users = np.asarray(users, dtype=np.int64)
    if n < 0:
        raise ConfigError(f"n={n} is not allowed; ask for 0 or more items.")
    if block_size is not None and block_size < 1:
        raise ConfigError(f"block_size={block_size} is not allowed; give 1 or more users per block.")
    if threads is not None and threads < 1:
        raise ConfigError(f"threads={threads} is not allowed; give 1 or more, or None for torch's setting.")
    ranker = _Ranker.make(score_fn, n, seen, candidates, block_size, bf16_filter, n_users=len(users))
    starts = range(0, len(users), ranker.block_size)
    workers = min(threads or torch.get_num_threads(), len(starts))
    if ranker.factors is None or ranker.factors.device.type != "cpu" or workers <= 1:
        for start in starts:
            yield _block(ranker, users, start, n)
        return
    yield from _parallel_blocks(ranker, users, starts, n, workers)


def _block(ranker: _Ranker, users: np.ndarray, start: int, n: int) -> Block:
    batch = users[start : start + ranker.block_size]
    with torch.no_grad():
        vals, idx = ranker.rank(batch)
    vals_np = vals.cpu().numpy().astype(np.float32, copy=False)
    idx_np = idx.cpu().numpy().astype(np.int64, copy=False)
    idx_np[~np.isfinite(vals_np)] = -1
    items = np.full((len(batch), n), -1, dtype=np.int64)
    scores = np.full((len(batch), n), -np.inf, dtype=np.float32)
    items[:, : idx_np.shape[1]] = idx_np
    scores[:, : vals_np.shape[1]] = vals_np
    return Block(start, items, scores)


def _parallel_blocks(ranker: _Ranker, users: np.ndarray, starts: range, n: int, workers: int) -> Iterator[Block]:
    """The blocks of ``starts``, ``workers`` at a time on single-threaded workers, in order."""
    local = threading.local()
    before = torch.get_num_threads()

    def work(start: int) -> Block:
        own = getattr(local, "ranker", None)
        if own is None:
            torch.set_num_threads(1)  # this worker's share of the cores
            own = local.ranker = dataclasses.replace(ranker, buffer=None)
        return _block(own, users, start, n)

    pending: deque[Future[Block]] = deque()
    todo = iter(starts)
    try:
        with ThreadPoolExecutor(max_workers=workers, thread_name_prefix="embrec-top-n") as pool:
            for start in itertools.islice(todo, workers + 1):  # a block ahead: no worker waits for the reader
                pending.append(pool.submit(work, start))
            while pending:
                block = pending.popleft().result()
                nxt = next(todo, None)
                if nxt is not None:
                    pending.append(pool.submit(work, nxt))
                yield block
    finally:
        for future in pending:
            future.cancel()
        torch.set_num_threads(before)


# ---------------------------------------------------------------------------- one block
@dataclass
class _Ranker:
    """What every block of one :func:`iter_top_n` call shares: the scorer, masks and buffers."""

    score_fn: ScoreFn | None
    factors: Factors | None
    n_items: int
    k: int
    seen: sp.csr_matrix | None
    excluded: torch.Tensor | None  # boolean over items: never recommended
    block_size: int
    bf16: _Bf16 | None
    buffer: torch.Tensor | None = None

    @classmethod
    def make(
        cls,
        score_fn: ScoreFn | Factors,
        n: int,
        seen: sp.csr_matrix | None,
        candidates: np.ndarray | None,
        block_size: int | None,
        bf16_filter: bool | None,
        *,
        n_users: int,
    ) -> _Ranker:
        factors = score_fn if isinstance(score_fn, Factors) else None
        n_items = factors.n_items if factors is not None else _n_items(seen, candidates)
        device = factors.device if factors is not None else None
        excluded = None
        if candidates is not None:
            mask = np.asarray(candidates, dtype=bool)
            excluded = torch.from_numpy(~mask)
            if device is not None:
                excluded = excluded.to(device)
            n_items = len(mask)
        bf16 = None
        if factors is not None:
            use = _has_amx() and n_items > _SMALL_CATALOGUE and n_users >= _BF16_MIN_USERS
            use = use if bf16_filter is None else bf16_filter
            if use and factors.device.type == "cpu" and _groups_decide(n, n_items):
                bf16 = _Bf16.make(factors)
        itemsize = 2 if bf16 is not None else 4
        size = block_size or (block_size_for(n_items, itemsize) if n_items else 1024)
        size = max(1, min(size, max(n_users, 1)))
        return cls(
            score_fn=None if factors is not None else score_fn,  # type: ignore[arg-type]
            factors=factors,
            n_items=n_items,
            k=n,
            seen=None if seen is None else sp.csr_matrix(seen),
            excluded=excluded,
            block_size=size,
            bf16=bf16,
        )

    def rank(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        if self.bf16 is not None:
            return self._rank_bf16(batch)
        scores = self._float_scores(batch)
        self._mask(scores, batch)
        return _select(scores, min(self.k, scores.shape[1]))

    # ------------------------------------------------------------------ float32 scores
    def _float_scores(self, batch: np.ndarray) -> torch.Tensor:
        if self.factors is None:
            assert self.score_fn is not None
            return self.score_fn(batch).float()
        if self.buffer is None or self.buffer.shape[0] < len(batch):
            self.buffer = torch.empty((self.block_size, self.n_items), dtype=torch.float32, device=self.factors.device)
        return self.factors.scores(batch, out=self.buffer[: len(batch)])

    def _mask(self, scores: torch.Tensor, batch: np.ndarray) -> None:
        """Seen and excluded items to ``-inf``, in place."""
        if self.excluded is not None:
            scores.masked_fill_(self.excluded.to(scores.device), -torch.inf)
        if self.seen is not None:
            flat = _seen_positions(self.seen, batch, scores.shape[1])
            if len(flat):
                if scores.is_contiguous():
                    scores.view(-1).index_fill_(0, torch.from_numpy(flat).to(scores.device), -torch.inf)
                else:
                    rows, cols = np.divmod(flat, scores.shape[1])
                    dev = scores.device
                    scores[torch.from_numpy(rows).to(dev), torch.from_numpy(cols).to(dev)] = -torch.inf

    # ------------------------------------------------------------------ bfloat16 filter, float32 answer
    def _rank_bf16(self, batch: np.ndarray) -> tuple[torch.Tensor, torch.Tensor]:
        bf16, factors = self.bf16, self.factors
        assert bf16 is not None and factors is not None
        k, b, n_items = min(self.k, self.n_items), len(batch), self.n_items
        if self.buffer is None or self.buffer.shape[1] != b:
            self.buffer = torch.empty((n_items, b), dtype=torch.bfloat16)
        idx_t = torch.from_numpy(batch)
        # items x users: a group of items is a run of rows, its maximum an elementwise max of rows
        approx = torch.mm(bf16.items, bf16.users.index_select(0, idx_t).T, out=self.buffer)
        if self.excluded is not None:
            approx.masked_fill_(self.excluded[:, None], -torch.inf)
        if self.seen is not None:
            seen_rows, seen_items = _seen_cells(self.seen, batch)
            approx.view(-1).index_fill_(0, torch.from_numpy(seen_items * b + seen_rows), -torch.inf)
        width = min(-(-n_items // GROUP), 2 * k + 8)  # groups looked at: the k best and room for near misses
        maxima = _bf16_group_maxima(approx, lowest=False)
        best, groups = torch.topk(maxima, width, dim=1)
        cut = bf16.cut(idx_t, best[:, k - 1])  # every item of the float32 top k reaches it in bfloat16
        if bool((cut <= 0).any()):  # a group of negative scores may matter: its maximum exactly
            maxima = _bf16_group_maxima(approx, lowest=True)
            best, groups = torch.topk(maxima, width, dim=1)
            cut = bf16.cut(idx_t, best[:, k - 1])
        # rows with fewer than k finite scores, or more groups over the cut than looked at, go in full
        full = ~torch.isfinite(cut) | ((best[:, -1] >= cut) & (width < maxima.shape[1]))
        # the (row, group) pairs over the cut, groups ascending within a row, then their items
        groups, _ = torch.sort(torch.where(best >= cut[:, None], groups, maxima.shape[1]), dim=1)
        pair_rows, pair_slots = torch.nonzero((groups < maxima.shape[1]) & ~full[:, None], as_tuple=True)
        pair_groups = groups[pair_rows, pair_slots]
        # read group by group: a group's rows of the block stay in cache while its users are read
        by_group = torch.argsort(pair_groups * b + pair_rows)
        pair_rows, pair_groups = pair_rows[by_group], pair_groups[by_group]
        cells = pair_groups[:, None] * GROUP + torch.arange(GROUP)  # (pairs, GROUP) item indexes
        inside = cells < n_items
        values = torch.take(approx, torch.where(inside, cells, 0) * b + pair_rows[:, None])
        near = (values.float() >= cut[pair_rows, None]) & inside
        hit_pair, hit_cell = torch.nonzero(near, as_tuple=True)
        hits = torch.sort(pair_rows[hit_pair] * n_items + cells[hit_pair, hit_cell]).values
        rows_t, items = hits // n_items, hits % n_items  # ascending items within each row
        # their float32 scores from one product of the block's rows with the items wanted: the
        # numbers the float32 path computes (the same rows times some of the same columns)
        wanted, place = torch.unique(items, return_inverse=True)
        sub = Factors(factors.users, factors.items.index_select(0, wanted), _bias(factors, wanted))
        counts = torch.bincount(rows_t, minlength=b)
        width_out = max(int(counts.max()) if rows_t.numel() else 0, k)
        slot = torch.arange(rows_t.numel()) - (torch.cumsum(counts, 0) - counts)[rows_t]
        table = torch.full((b, width_out), -torch.inf)
        table[rows_t, slot] = sub.scores(batch)[rows_t, place]
        cols = torch.full((b, width_out), n_items, dtype=torch.int64)
        cols[rows_t, slot] = items
        vals, j = top_k_rows(table, k)
        idx = cols.gather(1, j)
        if full.any():
            rest = torch.nonzero(full).flatten()
            scores = factors.scores(batch[rest.numpy()])
            self._mask(scores, batch[rest.numpy()])
            vals[rest], idx[rest] = _select(scores, k)
        return vals, idx


def _n_items(seen: sp.csr_matrix | None, candidates: np.ndarray | None) -> int:
    if candidates is not None:
        return len(candidates)
    return int(seen.shape[1]) if seen is not None else 0


def _seen_cells(seen: sp.csr_matrix, batch: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """``(rows, items)`` of the seen items of ``batch``: rows count from 0 within the batch."""
    if len(batch) and batch[-1] - batch[0] == len(batch) - 1 and (np.diff(batch) == 1).all():
        lo, hi = seen.indptr[batch[0]], seen.indptr[batch[-1] + 1]  # a run of users: slice, no copy of the matrix
        counts = np.diff(seen.indptr[batch[0] : batch[-1] + 2])
        cols = seen.indices[lo:hi]
    else:
        sub = seen[batch]
        counts = np.diff(sub.indptr)
        cols = sub.indices
    return np.repeat(np.arange(len(batch), dtype=np.int64), counts), cols.astype(np.int64)


def _seen_positions(seen: sp.csr_matrix, batch: np.ndarray, n_cols: int) -> np.ndarray:
    """Flat positions (``row * n_cols + item``) of the seen items of ``batch`` in a block of scores."""
    rows, cols = _seen_cells(seen, batch)
    return rows * n_cols + cols


# ---------------------------------------------------------------------------- selection
def _select(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """``top_k_rows`` of a block of float scores, through the ``k`` best groups of :data:`GROUP` items.

    The groups are ranked by their maxima with ``top_k_rows`` too (equal maxima: lower group
    first). Contiguous groups make that the order of their best items under the tie rule, so
    the ``k`` best items lie in the ``k`` best groups: ``k`` better groups would hold ``k``
    better items. NaN scores become ``-inf`` (in place, in the rows that have any).
    """
    n_cols = scores.shape[1]
    if n_cols <= _SMALL_CATALOGUE or not _groups_decide(k, n_cols):
        return top_k_rows(scores, k)
    scores = scores.contiguous()
    maxima = _group_maxima(scores)
    nan_rows = torch.nonzero(torch.isnan(maxima).any(dim=1)).flatten()  # amax keeps NaN: fix those rows
    if nan_rows.numel():
        rows = scores[nan_rows]
        rows.masked_fill_(torch.isnan(rows), -torch.inf)
        scores[nan_rows] = rows
        maxima[nan_rows] = _group_maxima(rows)
    _, groups = top_k_rows(maxima, k)
    cols = _group_columns(torch.sort(groups, dim=1).values)
    values = _take_rows(scores, cols).masked_fill_(cols >= n_cols, -torch.inf)
    vals, j = top_k_rows(values, k)
    return vals, cols.gather(1, j)


def _groups_decide(k: int, n_cols: int) -> bool:
    """Whether ranking group maxima first pays: ``k`` groups are a small part of the row."""
    return k > 0 and k * GROUP * 4 <= n_cols


def _group_maxima(scores: torch.Tensor) -> torch.Tensor:
    """The maximum of each run of :data:`GROUP` columns (the last run may be shorter), ``(rows, groups)``."""
    n_rows, n_cols = scores.shape
    whole = n_cols // GROUP
    parts = []
    if whole:
        parts.append(scores[:, : whole * GROUP].unflatten(1, (whole, GROUP)).amax(dim=2))
    if n_cols % GROUP:
        parts.append(scores[:, whole * GROUP :].amax(dim=1, keepdim=True))
    return parts[0] if len(parts) == 1 else torch.cat(parts, dim=1)


def _bf16_group_maxima(scores_t: torch.Tensor, *, lowest: bool) -> torch.Tensor:
    """The maximum of each run of :data:`GROUP` rows of a bfloat16 ``items x users`` block, as ``users x groups`` float32.

    Compared as 16-bit integers, which is several times faster than as bfloat16: the
    integers order non-negative numbers as the numbers do, and put every negative number below
    them, but order negative numbers backwards. So a group's integer maximum is its maximum
    when the group has a number >= 0, and otherwise a number of the group below it (its
    minimum), which is all a lower bound needs; ``lowest=True`` takes those groups' integer
    minimum instead (their maximum), for rows whose cut is not above 0.
    """
    ints = scores_t.view(torch.int16)
    n_items = ints.shape[0]
    whole = n_items // GROUP

    def reduce(op: Callable[..., torch.Tensor]) -> torch.Tensor:
        parts = []
        if whole:
            parts.append(op(ints[: whole * GROUP].unflatten(0, (whole, GROUP)), dim=1))
        if n_items % GROUP:
            parts.append(op(ints[whole * GROUP :], dim=0, keepdim=True))
        return parts[0] if len(parts) == 1 else torch.cat(parts, dim=0)

    top = reduce(torch.amax)
    if lowest:
        top = torch.where(top >= 0, top, reduce(torch.amin))
    return top.T.contiguous().view(torch.bfloat16).float()


def _group_columns(groups: torch.Tensor) -> torch.Tensor:
    """The columns of the groups of each row (``rows x groups`` group indexes), in order: ``rows x groups*GROUP``."""
    return (groups[:, :, None] * GROUP + torch.arange(GROUP, device=groups.device)).flatten(1)


def _take_rows(block: torch.Tensor, cols: torch.Tensor) -> torch.Tensor:
    """``block[r, cols[r, j]]`` for a contiguous ``block``; columns past its end read as its last column."""
    n_rows, n_cols = block.shape
    rows = torch.arange(n_rows, device=block.device)[:, None] * n_cols
    return torch.take(block, rows + cols.clamp(max=n_cols - 1))


def _bias(factors: Factors, items: torch.Tensor) -> torch.Tensor | None:
    return None if factors.item_bias is None else factors.item_bias.index_select(0, items)


# ---------------------------------------------------------------------------- bfloat16 first pass
#: bfloat16's unit roundoff (8 significant bits).
_U = 2.0**-8


@dataclass(frozen=True)
class _Bf16:
    """The augmented factors split into bfloat16 parts, and each user's error bound.

    ``p = p_hi + p_lo + r`` with ``p_hi = bf16(p)``, ``p_lo = bf16(p - p_hi)``; one product of
    ``[p_hi, p_hi, p_lo]`` with ``[q_hi, q_lo, q_hi]`` (three times the columns, still several
    times faster than float32 on AMX) gives ``p.q`` but for terms of order ``u**2`` (see
    :meth:`cut`), then rounds it once to bfloat16.
    """

    users: torch.Tensor  # (n_users, 3 * (dim + 1)), bfloat16
    items: torch.Tensor  # (n_items, 3 * (dim + 1)), bfloat16
    absolute: torch.Tensor  # (n_users,) float32: the error bound's part that does not scale with the score

    @classmethod
    def make(cls, factors: Factors) -> _Bf16 | None:
        users, items = factors.augmented()
        if not (torch.isfinite(users).all() and torch.isfinite(items).all()):
            return None  # the float32 path ranks non-finite factors, NaN rules and all
        user_norms = torch.linalg.vector_norm(users.double(), dim=1)
        item_norm = float(torch.linalg.vector_norm(items.double(), dim=1).max()) if items.shape[0] else 0.0
        dim = users.shape[1]
        absolute = _split_error(dim) * user_norms * item_norm
        if not (math.isfinite(item_norm) and float(absolute.max()) < 1e30):
            return None
        u_hi, i_hi = users.bfloat16(), items.bfloat16()
        u_lo, i_lo = (users - u_hi.float()).bfloat16(), (items - i_hi.float()).bfloat16()
        return cls(
            users=torch.cat([u_hi, u_hi, u_lo], dim=1),
            items=torch.cat([i_hi, i_lo, i_hi], dim=1),
            absolute=absolute.float(),
        )

    def cut(self, users: torch.Tensor, kth: torch.Tensor) -> torch.Tensor:
        """A bfloat16 score that every item of the float32 top ``k`` reaches, from the ``k``-th best bfloat16 score.

        With ``e(x) = A + 2u |x|`` bounding ``|bf16 score - float32 score|`` (``A``: :func:`_split_error`
        times ``|p| max |q|``; ``2u |x|``: the final rounding to bfloat16, at most ``u`` of it when
        rounding to nearest, ``2u`` even by truncation): the ``k`` items with the best bfloat16
        scores all reach ``kth`` there, so in float32 at least ``kth - e(kth)``; so does the
        ``k``-th best float32 score and every item at or above it, whose bfloat16 scores are
        then at least ``kth - 2A - 4u |kth|`` to first order. ``2.1A`` and ``5u`` leave room
        for the second order and the rounding of the bound itself.
        """
        return kth - 2.1 * self.absolute[users] - 5 * _U * kth.abs() - 1e-30


def _split_error(dim: int) -> float:
    """``c`` with ``|p.q - (p_hi.q_hi + p_hi.q_lo + p_lo.q_hi)| <= c |p| |q|`` for ``dim`` numbers, summed in float32.

    With ``p = p_hi + p_lo + r_p`` (``|p_lo| <= u (1 + u) |p|``, ``|r_p| <= u**2 |p|`` per number)
    the terms left out are ``p_hi.r_q + p_lo.q_lo + p_lo.r_q + r_p.q``: at most ``(3u**2 + 4u**3)
    sum |p_i q_i| <= (3u**2 + 4u**3) |p| |q|`` (Cauchy-Schwarz). The products of bfloat16 numbers
    are exact in float32; summing ``3 dim`` of them in float32 adds at most ``3 dim 2**-24`` of
    ``sum |terms| <= (1 + u)**2 |p| |q|``, and the float32 score it is compared with has its own
    ``dim 2**-24 |p| |q|``.
    """
    eps = 2.0**-24
    return 3 * _U**2 + 4 * _U**3 + 3 * dim * eps * (1 + _U) ** 2 + dim * eps


@functools.cache
def _has_amx() -> bool:
    """Whether this CPU has AMX bfloat16 units (Linux ``/proc/cpuinfo``), where bfloat16 pays."""
    try:
        text = Path("/proc/cpuinfo").read_text()
    except OSError:
        return False
    for line in text.splitlines():
        if line.startswith("flags"):
            return "amx_bf16" in line.split()
    return False


# ---------------------------------------------------------------------------- ties
def top_k_rows(scores: torch.Tensor, k: int) -> tuple[torch.Tensor, torch.Tensor]:
    """The ``k`` largest scores of each row and their column indexes, ties by lower column index.

    ``scores`` is a 2-D float tensor with at least ``k`` columns; rows holding NaN have it
    replaced by ``-inf`` in place. Returns ``(values, indexes)``, both ``(n_rows, k)``, in
    descending score and, among equal scores, ascending index: what a stable sort of each whole
    row by descending score gives, at the cost of one ``torch.topk`` and extra work only in the
    rows whose ties straddle rank ``k``.
    """
    if k == 0:
        return torch.topk(scores, 0, dim=1)
    # One more than asked shows, for free, whether the k-th score is shared past rank k.
    width = min(k + 1, scores.shape[1])
    vals, idx = torch.topk(scores, width, dim=1)
    bad = torch.nonzero(torch.isnan(vals).any(dim=1)).flatten()  # topk ranks NaN above everything
    if bad.numel():
        rows = scores[bad]
        rows.masked_fill_(torch.isnan(rows), -torch.inf)
        scores[bad] = rows
        vals[bad], idx[bad] = torch.topk(rows, width, dim=1)
    if width > k:
        straddle = torch.nonzero(vals[:, k] == vals[:, k - 1]).flatten()
        vals, idx = vals[:, :k], idx[:, :k]
        if straddle.numel():
            rows = scores[straddle]
            chosen = _lowest_tied(rows, vals[straddle, k - 1 :], k)
            idx[straddle] = chosen
            vals[straddle] = rows.gather(1, chosen)
    # Their order: ascending index first, then a stable sort by descending score.
    idx, by_index = torch.sort(idx, dim=1)
    vals = vals.gather(1, by_index)
    vals, by_score = torch.sort(vals, dim=1, descending=True, stable=True)
    return vals, idx.gather(1, by_score)


def _lowest_tied(scores: torch.Tensor, cut: torch.Tensor, k: int) -> torch.Tensor:
    """Column indexes (ascending) of each row's ``k`` best items: every item above ``cut`` (one
    score per row, the k-th best) and, of the items scoring exactly ``cut``, the lowest indexes."""
    n_rows, n_cols = scores.shape
    above_r, above_c = torch.nonzero(scores > cut, as_tuple=True)
    tied_r, tied_c = torch.nonzero(scores == cut, as_tuple=True)  # row-major: ascending column per row
    places = k - torch.bincount(above_r, minlength=n_rows)
    per_row = torch.bincount(tied_r, minlength=n_rows)
    first = torch.cumsum(per_row, dim=0) - per_row
    keep = torch.arange(tied_r.numel(), device=scores.device) - first[tied_r] < places[tied_r]
    rows = torch.cat([above_r, tied_r[keep]])
    cols = torch.cat([above_c, tied_c[keep]])
    key, _ = torch.sort(rows * n_cols + cols)
    return (key % n_cols).reshape(n_rows, k)
