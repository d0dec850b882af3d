"""The sampled ranking objective: its hand-written gradients and lazy AdamW against torch's own."""

from __future__ import annotations

import pytest
import torch

from embrec.models.ranking_sampled import LazyAdamW, SampledNegatives, _own_hits, batch_grads


def _reference_loss(p, q, b, rows, pos, weights, neg, correction, hits):
    """The same sampled softmax, written plainly for autograd."""
    total = torch.zeros(())
    for u in range(len(p)):
        mine = rows == u
        own = p[u] @ q[pos[mine]].T + b[pos[mine]]
        negs = p[u] @ q[neg].T + b[neg] - correction
        negs = negs[~hits[u]]
        log_z = torch.logsumexp(torch.cat([own, negs]), 0)
        total = total + (weights[mine] * (log_z - own)).sum()
    return total


def _batch(seed: int = 0):
    g = torch.Generator().manual_seed(seed)
    n_users, n_cand, dim = 5, 12, 4
    p = torch.randn(n_users, dim, generator=g, dtype=torch.float64)
    q = torch.randn(n_cand, dim, generator=g, dtype=torch.float64)
    b = torch.randn(n_cand, generator=g, dtype=torch.float64)
    rows = torch.tensor([0, 0, 1, 2, 2, 2, 3, 4])
    pos = torch.tensor([1, 3, 0, 2, 5, 7, 3, 9])
    weights = torch.tensor([1.0, 0.5, 1.0, 1.0, 1.0, 0.5, 1.0, 1.0], dtype=torch.float64)
    neg = torch.tensor([4, 6, 8, 10, 11, 3, 6])  # 3 is an own item of users 0 and 3: an accidental hit
    correction = torch.randn(len(neg), generator=g, dtype=torch.float64)
    hits = _own_hits(n_users, n_cand, rows, pos, neg)
    return p, q, b, rows, pos, weights, neg, correction, hits


def test_accidental_hits_are_the_users_own_items():
    *_, hits = _batch()
    assert hits.nonzero().tolist() == [[0, 5], [3, 5]]


def test_the_written_out_gradients_are_autograd_s():
    p, q, b, rows, pos, weights, neg, correction, hits = _batch()
    grads = batch_grads(p, q, b, rows, pos, weights, neg, correction, hits)
    leaves = [t.clone().requires_grad_() for t in (p, q, b)]
    loss = _reference_loss(*leaves, rows, pos, weights, neg, correction, hits)
    (loss / weights.sum()).backward()
    assert grads.summed == pytest.approx(float(loss.detach()), rel=1e-10)
    assert grads.weight == pytest.approx(float(weights.sum()))
    for mine, theirs in zip((grads.users, grads.items, grads.biases), leaves, strict=True):
        torch.testing.assert_close(mine, theirs.grad, rtol=1e-9, atol=1e-12)


def test_lazy_adamw_on_every_row_is_torch_s_adamw():
    g = torch.Generator().manual_seed(1)
    table = torch.randn(6, 3, generator=g)
    reference = torch.nn.Parameter(table.clone())
    torch_opt = torch.optim.AdamW([reference], lr=0.01, weight_decay=0.5)
    lazy = LazyAdamW([table], lr=0.01, weight_decays=[0.5])
    every = torch.arange(6)
    for _ in range(5):
        grad = torch.randn(6, 3, generator=g)
        reference.grad = grad.clone()
        torch_opt.step()
        lazy.step(0, every, grad)
    torch.testing.assert_close(table, reference.detach(), rtol=1e-5, atol=1e-6)


def test_lazy_adamw_leaves_rows_outside_the_batch_alone():
    table = torch.ones(4, 2)
    lazy = LazyAdamW([table], lr=0.1, weight_decays=[1.0])
    lazy.step(0, torch.tensor([2]), torch.ones(1, 2))
    assert torch.equal(table[[0, 1, 3]], torch.ones(3, 2)) and (table[2] < 1).all()
    assert lazy.steps[0].tolist() == [0.0, 0.0, 1.0, 0.0]  # the row's own step count


def test_negatives_follow_popularity_with_their_correction():
    items = torch.tensor([0] * 90 + [1] * 9 + [2])
    negatives = SampledNegatives.of(items, n_items=4, n=2000)
    drawn, correction = negatives.draw(torch.Generator().manual_seed(0))
    share = torch.bincount(drawn, minlength=4).float() / 2000
    assert share[0] == pytest.approx(0.9, abs=0.03) and share[3] == 0  # an item nobody chose is never drawn
    assert correction[drawn == 0][0] == pytest.approx(float(torch.log(torch.tensor(0.9 * 2000))), rel=1e-5)


def test_sampled_training_comes_close_to_the_full_softmax_on_planted_data():
    import embrec
    from embrec.data.synthetic import planted
    from embrec.models.embedding import EmbeddingRecommender

    data, _ = planted("ml-100k", rows=60_000, seed=3, implicit=True, figures=False)
    split = embrec.make_split(data, "random", test_fraction=0.1, seed=42)

    def recall(**settings):
        model = EmbeddingRecommender(objective="ranking", epochs=15, **settings).fit(split.train)
        result = embrec.evaluate(model, split, k=20, threshold=None, n_resamples=10)
        return model, result.models[0].summary["recall"].mean

    sampled, sampled_recall = recall(n_negatives=256)  # 256 of 1,682 items: the sampled path
    assert sampled.resolved_config_.n_negatives == 256
    _, full_recall = recall()
    assert sampled_recall >= 0.85 * full_recall, (sampled_recall, full_recall)


def test_a_large_catalogue_resolves_to_the_sampled_softmax_and_its_defaults():
    from embrec.models.config import DEFAULT_NEGATIVES, SAMPLED_DEFAULTS, EmbeddingConfig

    big = EmbeddingConfig(objective="ranking").resolve(n_users=162_541, n_items=59_047, device="cpu")
    assert (big.n_negatives, big.optimizer, big.batch_size) == (DEFAULT_NEGATIVES, "lazy_adamw", 1015)
    assert (big.learning_rate, big.weight_decay) == (
        SAMPLED_DEFAULTS["learning_rate"],
        SAMPLED_DEFAULTS["weight_decay"],
    )
    small = EmbeddingConfig(objective="ranking").resolve(n_users=943, n_items=1_682, device="cpu")
    assert (small.n_negatives, small.optimizer, small.batch_size, small.learning_rate) == (None, "adamw", 64, 4e-3)
    asked = EmbeddingConfig(objective="ranking", learning_rate=0.01, batch_size=128)
    mine = asked.resolve(n_users=162_541, n_items=59_047, device="cpu")
    assert (mine.learning_rate, mine.batch_size) == (0.01, 128)  # what is asked for wins


def test_the_full_softmax_decay_falls_with_the_batches_an_epoch_and_what_is_asked_wins():
    from embrec.models.config import EmbeddingConfig

    def decay(n_users: int, **asked: float) -> float:
        cfg = EmbeddingConfig(objective="ranking", **asked).resolve(n_users=n_users, n_items=3_706, device="cpu")
        assert cfg.n_negatives is None  # the full softmax
        return cfg.weight_decay

    assert decay(30) == decay(943) == 1.0  # up to ml-100k's 15 batches: the measured 1.0
    assert decay(6_040) == pytest.approx((943 / 6_040) ** 0.5)  # ML-1M's users: 0.395
    assert decay(6_040, batch_size=410) == 1.0  # no more batches than ml-100k's
    assert decay(6_040, weight_decay=2.0) == 2.0
