"""The ranking objective on large catalogues: sampled softmax with a popularity correction,
updating only the rows a batch touches.

The full objective is a weighted softmax over every item for each user
(:func:`~embrec.models.losses.multinomial_loss`). Above a few ten thousand items, each batch
instead scores its users' own items and ``n_neg`` negatives shared by the batch, drawn in
proportion to item popularity (a uniformly drawn training interaction's item), and subtracts
``log(n_neg * q_j)`` from a negative's logit (the log-Q correction of sampled softmax, Bengio &
Senecal 2008; Yi et al. 2019), so that the sampled normaliser estimates the full one. A negative
that is one of the user's own items is left out of that user's normaliser (an accidental hit).

Dense AdamW would step every row of both tables for every batch: on ML-25M's shape that is
14 million parameters per batch of a few hundred users and dominates the epoch. :class:`LazyAdamW`
keeps Adam's moments per row and steps only the rows of the batch (as TensorFlow's LazyAdam and
torch's ``SparseAdam`` do), applying the decoupled weight decay to those rows when they are
stepped. The batch's rows are copied out as leaf tensors, so autograd sees only them.
"""

from __future__ import annotations

from dataclasses import dataclass

import torch

from embrec.models.config import ResolvedEmbeddingConfig
from embrec.models.nn import DotProductNet

__all__ = ["LazyAdamW", "SampledNegatives", "sampled_ranking_epoch"]

#: Adam's moment decays and epsilon, as torch's defaults.
BETAS = (0.9, 0.999)
EPS = 1e-8


class LazyAdamW:
    """AdamW that steps only given rows of each table; moments are kept per row.

    ``tables`` are 2-D tensors (rows x width) updated in place. The bias correction uses each
    row's own step count, so a row stepped for the first time after many batches gets Adam's
    first-step size rather than a stale one.
    """

    def __init__(self, tables: list[torch.Tensor], *, lr: float, weight_decays: list[float]) -> None:
        self.tables = tables
        self.lr = lr
        self.weight_decays = weight_decays
        self.m = [torch.zeros_like(t) for t in tables]
        self.v = [torch.zeros_like(t) for t in tables]
        self.steps = [torch.zeros(len(t), dtype=torch.float32, device=t.device) for t in tables]

    @torch.no_grad()
    def step(self, which: int, rows: torch.Tensor, grad: torch.Tensor) -> None:
        """Step the (unique) ``rows`` of table ``which`` with their gradient ``grad`` (rows x width)."""
        b1, b2 = BETAS
        table, m, v = self.tables[which], self.m[which], self.v[which]
        t = self.steps[which].index_select(0, rows) + 1.0
        self.steps[which].index_copy_(0, rows, t)
        m_rows = m.index_select(0, rows).mul_(b1).add_(grad, alpha=1.0 - b1)
        v_rows = v.index_select(0, rows).mul_(b2).addcmul_(grad, grad, value=1.0 - b2)
        m.index_copy_(0, rows, m_rows)
        v.index_copy_(0, rows, v_rows)
        step_size = (self.lr / (1.0 - b1**t)).unsqueeze(1)
        denom = v_rows.div_((1.0 - b2**t).unsqueeze(1)).sqrt_().add_(EPS)
        params = table.index_select(0, rows)
        decay = self.weight_decays[which]
        if decay:
            params.mul_(1.0 - self.lr * decay)
        table.index_copy_(0, rows, params.sub_(m_rows.div_(denom).mul_(step_size)))


@dataclass
class SampledNegatives:
    """Negatives drawn in proportion to item popularity, with their log-Q corrections."""

    items: torch.Tensor  # every training interaction's item, the population drawn from
    log_q: torch.Tensor  # log of each item's share of interactions (-inf for items never seen)
    n: int

    @classmethod
    def of(cls, items: torch.Tensor, n_items: int, n: int) -> SampledNegatives:
        counts = torch.bincount(items, minlength=n_items).to(torch.float32)
        return cls(items=items, log_q=torch.log(counts / counts.sum()), n=n)

    def draw(self, generator: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
        """``n`` negative items and the correction ``log(n * q_j)`` to subtract from their logits."""
        picks = torch.randint(0, len(self.items), (self.n,), generator=generator).to(self.items.device)
        items = self.items[picks]
        return items, self.log_q[items] + float(torch.log(torch.tensor(float(self.n))))


@dataclass
class BatchGrads:
    """A batch's summed loss and total weight, and the gradients of ``summed / weight``."""

    summed: float
    weight: float
    users: torch.Tensor  # (batch, dim), for the batch's user rows
    items: torch.Tensor  # (candidates, dim), for the candidate item rows
    biases: torch.Tensor  # (candidates,)


@torch.no_grad()
def batch_grads(
    p: torch.Tensor,
    q: torch.Tensor,
    b: torch.Tensor,
    rows: torch.Tensor,
    pos: torch.Tensor,
    weights: torch.Tensor,
    neg: torch.Tensor,
    correction: torch.Tensor,
    hits: torch.Tensor,
) -> BatchGrads:
    """Sampled-softmax loss of a batch and its gradients, written out (no autograd graph).

    ``p``: the batch's user rows; ``q``, ``b``: the candidate item rows and biases; ``pos``:
    each interaction's candidate index (its user is ``rows``); ``neg``: the negatives' candidate
    indexes; ``hits``: (user row, negative) pairs that are the user's own items. Each user's
    normaliser holds its own items' scores as they are and the negatives' corrected scores:
    ``log Z_u = log(sum_own e^s + sum_neg e^(s - log(n q)))``; the loss is
    ``sum_(u,i) w_ui (log Z_u - s_ui)``, and ``d loss / d s_uj = W_u pi_uj - w_uj`` with
    ``W_u`` the user's total weight and ``pi`` the softmax over the user's candidates.
    """
    n_users = len(p)
    q_pos, p_rows = q.index_select(0, pos), p.index_select(0, rows)
    s_pos = (p_rows * q_pos).sum(1).add_(b.index_select(0, pos))
    q_neg = q.index_select(0, neg)
    s_neg = torch.addmm((b.index_select(0, neg) - correction).unsqueeze(0), p, q_neg.T)
    s_neg.masked_fill_(hits, -torch.inf)
    top = torch.full((n_users,), -torch.inf, dtype=p.dtype, device=p.device).scatter_reduce_(0, rows, s_pos, "amax")
    top = torch.maximum(top, s_neg.amax(1))
    top = torch.where(torch.isfinite(top), top, torch.zeros_like(top))
    e_pos = torch.exp(s_pos - top.index_select(0, rows))
    e_neg = torch.exp(s_neg.sub_(top.unsqueeze(1)))
    z = torch.zeros(n_users, dtype=p.dtype, device=p.device).index_add_(0, rows, e_pos).add_(e_neg.sum(1))
    user_weight = torch.zeros(n_users, dtype=p.dtype, device=p.device).index_add_(0, rows, weights)
    weight = float(weights.sum())
    log_z = top + torch.log(z)
    summed = float((weights * (log_z.index_select(0, rows) - s_pos)).sum())
    # d (summed / weight) / d score
    c_pos = (user_weight.index_select(0, rows) * e_pos / z.index_select(0, rows) - weights) / weight
    c_neg = e_neg.mul_((user_weight / z / weight).unsqueeze(1))
    g_p = torch.zeros_like(p).index_add_(0, rows, q_pos.mul_(c_pos.unsqueeze(1))).addmm_(c_neg, q_neg)
    g_q = torch.zeros_like(q).index_add_(0, pos, p_rows.mul_(c_pos.unsqueeze(1))).index_add_(0, neg, c_neg.T @ p)
    g_b = torch.zeros_like(b).index_add_(0, pos, c_pos).index_add_(0, neg, c_neg.sum(0))
    return BatchGrads(summed, weight, g_p, g_q, g_b)


def _own_hits(
    n_users: int, n_candidates: int, rows: torch.Tensor, pos: torch.Tensor, neg: torch.Tensor
) -> torch.Tensor:
    """(batch user, negative) pairs where the negative is one of that user's own items."""
    own = torch.zeros((n_users, n_candidates), dtype=torch.bool, device=rows.device)
    own[rows, pos] = True
    return own[:, neg]


def sampled_ranking_epoch(
    net: DotProductNet,
    config: ResolvedEmbeddingConfig,
    data: object,
    optimizer: LazyAdamW,
    negatives: SampledNegatives,
    generator: torch.Generator,
) -> float:
    """One epoch over the users in shuffled batches; returns the mean training loss per unit weight.

    ``data`` is the training part's :class:`~embrec.models.training.UserRows`.
    """
    users_all = data.active_users()  # type: ignore[attr-defined]
    order = users_all[torch.randperm(len(users_all), generator=generator).to(users_all.device)]
    user_table, item_table = net.user_embedding.weight.data, net.item_embedding.weight.data
    bias_table = net.item_bias.weight.data
    per_row = config.decay_mode == "per_row" and config.weight_decay
    total_loss, total_weight = 0.0, 0.0
    for s in range(0, len(order), config.batch_size):
        users = order[s : s + config.batch_size]
        rows, items, weights = data.gather(users)  # type: ignore[attr-defined]
        neg_items, correction = negatives.draw(generator)
        candidates, inverse = torch.unique(torch.cat([items, neg_items]), return_inverse=True)
        pos, neg = inverse[: len(items)], inverse[len(items) :]
        hits = _own_hits(len(users), len(candidates), rows, pos, neg)
        p = user_table.index_select(0, users)
        grads = batch_grads(
            p,
            item_table.index_select(0, candidates),
            bias_table.index_select(0, candidates)[:, 0],
            rows,
            pos,
            weights,
            neg,
            correction,
            hits,
        )
        if per_row:  # weight_decay * mean over the batch's users of |p_u|^2
            grads.users.add_(p, alpha=2.0 * config.weight_decay / len(users))
        optimizer.step(0, users, grads.users)
        optimizer.step(1, candidates, grads.items)
        optimizer.step(2, candidates, grads.biases.unsqueeze(1))
        total_loss += grads.summed
        total_weight += grads.weight
    return total_loss / max(total_weight, 1e-12)


def lazy_optimizer(net: DotProductNet, config: ResolvedEmbeddingConfig) -> LazyAdamW:
    """:class:`LazyAdamW` over the user and item tables and the item biases, as the dense path's AdamW."""
    decay = config.weight_decay if config.decay_mode == "decoupled" else 0.0
    return LazyAdamW(
        [net.user_embedding.weight.data, net.item_embedding.weight.data, net.item_bias.weight.data],
        lr=config.learning_rate,
        weight_decays=[decay, decay, 0.0],
    )
