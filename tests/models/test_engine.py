"""The training engines of the embedding model: numba's step is the torch loss's, the engines
learn alike, the numba model is the same on any number of threads, and CUDA trains both objectives."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from embrec.data.build import build_interactions
from embrec.data.interactions import Interactions
from embrec.errors import ConfigError
from embrec.models import EmbeddingConfig, load
from embrec.models.embedding import EmbeddingRecommender
from embrec.models.losses import l2_rows, rating_mse

engine = pytest.importorskip("embrec.models.engine_numba")
cuda = pytest.mark.skipif(not torch.cuda.is_available(), reason="needs a CUDA GPU (torch.cuda.is_available() is False)")


def planted(n_users: int = 120, n_items: int = 80, per_user: int = 30, seed: int = 0) -> Interactions:
    """Ratings of a rank-2 model plus noise, on whole stars 1-5: a right answer to learn."""
    rng = np.random.default_rng(seed)
    user_f, item_f = rng.normal(size=(n_users, 2)), rng.normal(size=(n_items, 2))
    users = np.repeat(np.arange(n_users), per_user)
    items = np.concatenate([rng.choice(n_items, per_user, replace=False) for _ in range(n_users)])
    score = 3.0 + (user_f[users] * item_f[items]).sum(1) + rng.normal(0, 0.3, len(users))
    return build_interactions(users, items, np.clip(np.round(score), 1, 5), rating_scale=(1.0, 5.0), name="planted")


def rmse_of(model: EmbeddingRecommender, test: Interactions) -> float:
    pred = model.predict(test.user_ids[test.users], test.item_ids[test.items])
    return float(np.sqrt(np.mean((pred - test.ratings) ** 2)))


# ---------------------------------------------------------------------------- the step
@pytest.mark.parametrize(("weight_decay", "bias_weight_decay"), [(0.0, 0.0), (3e-3, 1e-3), (0.5, 0.2)])
def test_one_step_is_the_torch_loss_gradient_under_rowwise_adagrad(weight_decay: float, bias_weight_decay: float):
    rng = np.random.default_rng(1)
    d, lr, target, g = 8, 0.05, 0.625, 0.3
    P = rng.normal(0, 0.5, (3, d)).astype(np.float32)
    Q = rng.normal(0, 0.5, (2, d)).astype(np.float32)
    bu, bi = rng.normal(0, 0.2, 3).astype(np.float32), rng.normal(0, 0.2, 2).astype(np.float32)
    u, i = 2, 1
    # the torch loss of a mini-batch of this one rating, as the torch engine writes it
    p = torch.tensor(P[u : u + 1], requires_grad=True)
    q = torch.tensor(Q[i : i + 1], requires_grad=True)
    b_u = torch.tensor(bu[u : u + 1], requires_grad=True)
    b_i = torch.tensor(bi[i : i + 1], requires_grad=True)
    logits = g + b_u + b_i + (p * q).sum(-1)
    mse = rating_mse(logits, torch.tensor([target]))
    loss = mse + weight_decay * l2_rows(p, q) + bias_weight_decay * l2_rows(b_u, b_i)
    loss.backward()
    assert p.grad is not None and q.grad is not None and b_u.grad is not None and b_i.grad is not None

    def adagrad(value: np.ndarray, grad: np.ndarray) -> np.ndarray:
        accumulated = engine.INITIAL_ACCUMULATOR + np.mean(grad.astype(np.float64) ** 2)
        return value - lr * grad / (np.sqrt(accumulated) + engine.EPS)

    expected = [
        adagrad(P[u], p.grad.numpy()[0]),
        adagrad(Q[i], q.grad.numpy()[0]),
        adagrad(bu[u], b_u.grad.numpy()[0]),
        adagrad(bi[i], b_i.grad.numpy()[0]),
    ]
    untouched = P[:2].copy(), Q[0].copy()
    state = engine.RowwiseAdagrad.start(3, 2)
    error = engine.rating_step(
        u, i, target, (P, Q, bu, bi, g), state, learning_rate=lr, weight_decay=weight_decay,
        bias_weight_decay=bias_weight_decay,
    )  # fmt: skip
    assert error == pytest.approx(mse.item(), rel=1e-5)
    for got, want in zip((P[u], Q[i], bu[u], bi[i]), expected):
        np.testing.assert_allclose(got, want, rtol=1e-5, atol=1e-7)
    np.testing.assert_array_equal(P[:2], untouched[0])  # other rows are left alone
    np.testing.assert_array_equal(Q[0], untouched[1])
    assert state.user_vectors[u] == pytest.approx(engine.INITIAL_ACCUMULATOR + np.mean(p.grad.numpy() ** 2), rel=1e-5)


def test_blocks_share_no_row_within_a_stratum_and_hold_every_rating():
    data = planted(n_users=300, n_items=200, per_user=40)
    blocked = engine.block_ratings(
        data.users, data.items, data.ratings, rating_scale=(1.0, 5.0), n_users=300, n_items=200, seed=3, k=4
    )
    assert blocked.k == 4 and len(blocked) == data.n_ratings
    assert blocked.users.dtype == np.uint16 and blocked.codes.dtype == np.uint8
    # back to (user, item, rating): the same multiset of rows
    user_of_row, item_of_row = np.argsort(blocked.user_rank), np.argsort(blocked.item_rank)
    rows = []
    for c in range(16):
        b, j = divmod(c, 4)
        s = slice(blocked.ptr[c], blocked.ptr[c + 1])
        u = user_of_row[blocked.user_start[b] + blocked.users[s].astype(np.int64)]
        i = item_of_row[blocked.item_start[j] + blocked.items[s].astype(np.int64)]
        rows += list(zip(u, i, blocked.targets()[s] * 4 + 1))
        assert (blocked.user_start[b] <= blocked.user_start[b] + blocked.users[s]).all()
        assert (blocked.users[s] < blocked.user_start[b + 1] - blocked.user_start[b]).all()
    assert sorted(rows) == sorted(zip(data.users, data.items, data.ratings.astype(np.float32)))


def test_many_distinct_ratings_and_wide_blocks_take_the_wide_forms():
    rng = np.random.default_rng(0)
    n_users = 70_000  # one block of more than 65,536 users: rows need int32
    users = np.arange(n_users, dtype=np.int32)
    items = rng.integers(0, 10, n_users).astype(np.int32)
    ratings = rng.uniform(1, 5, n_users).astype(np.float32)  # thousands of distinct ratings
    wide = engine.block_ratings(users, items, ratings, rating_scale=(1.0, 5.0), n_users=n_users, n_items=10, k=1)
    assert wide.users.dtype == np.int32 and wide.codes.dtype == np.float32 and len(wide.values) == 0
    np.testing.assert_allclose(np.sort(wide.targets()), np.sort((ratings - 1) / 4), rtol=1e-6)


def test_coded_and_plain_ratings_train_the_same_model(tiny, monkeypatch):
    coded = EmbeddingRecommender(epochs=5, embedding_dim=8, engine="numba").fit(tiny)
    monkeypatch.setattr(engine, "_MAX_CODES", 0)  # every rating stored as float32 instead of a code
    plain = EmbeddingRecommender(epochs=5, embedding_dim=8, engine="numba").fit(tiny)
    np.testing.assert_array_equal(coded.score([100, 101]), plain.score([100, 101]))


def test_validation_mask_takes_the_share_asked_for_the_same_each_time():
    a = engine.validation_mask(10_001, 0.05, seed=42)
    assert a.sum() == round(0.05 * 10_001)
    np.testing.assert_array_equal(a, engine.validation_mask(10_001, 0.05, seed=42))
    assert not np.array_equal(a, engine.validation_mask(10_001, 0.05, seed=43))
    assert engine.validation_mask(3, 0.01, seed=0).sum() == 1


# ---------------------------------------------------------------------------- what the engines learn
def test_numba_learns_as_well_as_torch_on_planted_data():
    data = planted()
    rows = np.random.default_rng(5).permutation(data.n_ratings)
    train, test = data.take(np.sort(rows[400:])), data.take(np.sort(rows[:400]))
    fast = EmbeddingRecommender(embedding_dim=8, engine="numba").fit(train)
    slow = EmbeddingRecommender(embedding_dim=8, engine="torch").fit(train)
    assert fast.resolved_config_.engine == "numba" and slow.resolved_config_.engine == "torch"
    biases_only = float(np.sqrt(np.mean((test.ratings - train.ratings.mean()) ** 2)))
    fast_rmse, slow_rmse = rmse_of(fast, test), rmse_of(slow, test)
    assert fast_rmse < 0.8 * biases_only, (fast_rmse, biases_only)  # it learnt the planted factors
    assert fast_rmse <= slow_rmse + 0.02, (fast_rmse, slow_rmse)


def test_same_model_on_one_thread_and_two_and_for_the_same_seed(tiny):
    one = EmbeddingRecommender(epochs=6, engine="numba", threads=1, seed=7).fit(tiny)
    again = EmbeddingRecommender(epochs=6, engine="numba", threads=1, seed=7).fit(tiny)
    two = EmbeddingRecommender(epochs=6, engine="numba", threads=2, seed=7).fit(tiny)
    other = EmbeddingRecommender(epochs=6, engine="numba", threads=1, seed=8).fit(tiny)
    assert one.resolved_config_.engine == "numba" and two.resolved_config_.threads == 2
    np.testing.assert_array_equal(one.score([100, 105]), again.score([100, 105]))
    np.testing.assert_array_equal(one.score([100, 105]), two.score([100, 105]))
    assert one.history_ == [{**h, "seconds": o["seconds"]} for h, o in zip(two.history_, one.history_)]
    assert not np.allclose(one.score([100, 105]), other.score([100, 105]))


def test_same_model_on_one_thread_and_two_with_many_blocks():
    data = planted(n_users=400, n_items=300, per_user=60)  # 24,000 ratings: 2 x 2 blocks
    one = EmbeddingRecommender(epochs=3, embedding_dim=8, engine="numba", threads=1).fit(data)
    two = EmbeddingRecommender(epochs=3, embedding_dim=8, engine="numba", threads=2).fit(data)
    assert engine.n_blocks(data.n_ratings, 400, 300) == 2
    np.testing.assert_array_equal(one.user_vectors(), two.user_vectors())
    np.testing.assert_array_equal(one.item_vectors(), two.item_vectors())


def test_numba_threads_are_restored(tiny):
    import numba

    before = numba.get_num_threads()
    EmbeddingRecommender(epochs=2, engine="numba", threads=1).fit(tiny)
    assert numba.get_num_threads() == before


def test_early_stopping_history_and_progress():
    data = planted()
    seen: list[tuple[int, int, dict[str, float]]] = []
    settings = dict(embedding_dim=8, patience=2, learning_rate=0.2, engine="numba")
    model = EmbeddingRecommender(epochs=60, **settings).fit(
        data, progress=lambda e, total, record: seen.append((e, total, record))
    )
    hist = model.history_
    assert model.epochs_run_ < 60 and len(hist) == model.epochs_run_ == len(seen)
    assert [e for e, _, _ in seen] == list(range(1, len(hist) + 1)) and {t for _, t, _ in seen} == {60}
    assert {"epoch", "train_loss", "train_rmse", "val_loss", "val_rmse", "seconds"} <= set(hist[0])
    losses = [h["val_loss"] for h in hist]
    assert hist[model.best_epoch_ - 1]["val_loss"] == min(losses)
    assert model.epochs_run_ - model.best_epoch_ == 2
    # the weights kept are the best epoch's: a run that stops there ends with the same model
    short = EmbeddingRecommender(epochs=model.best_epoch_, **settings).fit(data)
    np.testing.assert_array_equal(model.user_vectors(), short.user_vectors())


def test_refit_trains_every_row_for_the_best_epoch_count(tiny):
    model = EmbeddingRecommender(embedding_dim=4, epochs=20, patience=2, refit=True, engine="numba").fit(tiny)
    assert model.resolved_config_.engine == "numba" and model.resolved_config_.refit
    assert np.isfinite(model.user_vectors()).all()


# ---------------------------------------------------------------------------- settings and run folders
def test_auto_picks_numba_for_ratings_on_the_cpu_and_torch_otherwise(tiny):
    def used(**settings):
        return EmbeddingConfig(**settings).resolve(n_users=30, n_items=20, device="cpu", n_ratings=240)

    assert (used().engine, used().optimizer, used().batch_size, used().learning_rate) == (
        "numba",
        "rowwise_adagrad",
        1,
        0.02,
    )
    assert used(objective="ranking").engine == "torch"
    assert used(optimizer="adam").engine == "torch" and used(batch_size=64).engine == "torch"
    assert used(decay_mode="decoupled").engine == "torch"
    assert EmbeddingConfig().resolve(n_users=30, n_items=20, device="cuda", n_ratings=240).engine == "torch"
    # a run of format 1 (no n_ratings when it is resolved again) trained with torch
    assert EmbeddingConfig().resolve(n_users=30, n_items=20, device="cpu").engine == "torch"
    assert EmbeddingRecommender.from_preset("notebook", epochs=1).fit(tiny).resolved_config_.engine == "torch"
    assert EmbeddingRecommender(objective="ranking", epochs=1).fit(tiny).resolved_config_.engine == "torch"
    big = EmbeddingConfig().resolve(n_users=30, n_items=20, device="cpu", n_ratings=2_000_000)
    assert big.threads >= 1 and used().threads == 1 and used(threads=2).threads == 2


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        (dict(engine="jax"), "engine='jax' is not allowed for the embedding model; use 'auto', 'torch' or 'numba'."),
        (dict(engine="numba", objective="ranking"), "engine='numba' cannot train with objective='ranking'"),
        (dict(engine="numba", optimizer="adam"), "engine='numba' cannot train with optimizer='adam'"),
        (dict(engine="numba", batch_size=64), "engine='numba' cannot train with batch_size=64"),
        (dict(engine="numba", decay_mode="decoupled"), "engine='numba' cannot train with decay_mode='decoupled'"),
        (dict(engine="numba", device="cuda"), "engine='numba' cannot train with device='cuda'"),
    ],
)
def test_bad_engine_settings_are_one_line_config_errors(settings, message):
    with pytest.raises(ConfigError) as caught:
        EmbeddingConfig(**settings)
    assert message in str(caught.value) and "\n" not in str(caught.value)


def test_numba_on_implicit_data_says_what_to_use():
    implicit = build_interactions([1, 1, 2], [5, 6, 5])
    with pytest.raises(ConfigError, match="engine='numba' trains the rating objective only.*use engine='auto'"):
        EmbeddingRecommender(engine="numba", epochs=1).fit(implicit)


def test_the_run_records_the_engine_and_reloads_identically(tiny, tmp_path):
    model = EmbeddingRecommender(epochs=4, embedding_dim=8, device="cpu").fit(tiny)  # auto: numba on the CPU
    run = model.save(tmp_path / "run")
    info = json.loads((run / "embrec.json").read_text())
    assert info["config"]["engine"] == "auto" and info["resolved"]["engine"] == "numba"
    assert info["resolved"]["optimizer"] == "rowwise_adagrad"
    again = load(run)
    assert again.resolved_config_ == model.resolved_config_
    users, items = tiny.user_ids[tiny.users], tiny.item_ids[tiny.items]
    np.testing.assert_array_equal(again.predict(users, items), model.predict(users, items))
    np.testing.assert_array_equal(again.score([100, 110]), model.score([100, 110]))


def test_a_run_saved_before_the_engine_setting_reads_as_torch(tiny, tmp_path):
    run = EmbeddingRecommender(epochs=2, embedding_dim=4, engine="torch").fit(tiny).save(tmp_path / "run")
    info = json.loads((run / "embrec.json").read_text())
    del info["config"]["engine"], info["resolved"]["engine"]
    (run / "embrec.json").write_text(json.dumps(info))
    again = load(run)
    assert again.config.engine == "auto" and again.resolved_config_.engine == "torch"


# ---------------------------------------------------------------------------- CUDA
@cuda
@pytest.mark.parametrize("objective", ["rating", "ranking"])
def test_both_objectives_train_on_cuda_and_reload_on_the_cpu(objective, tiny, tmp_path):
    model = EmbeddingRecommender(objective=objective, epochs=3, embedding_dim=8, device="cuda").fit(tiny)
    used = model.resolved_config_
    assert used.device == "cuda" and used.engine == "torch" and used.threads is None
    assert model.net_.user_embedding.weight.device.type == "cpu"  # kept on the CPU after training
    assert len(model.history_) == 3 and np.isfinite([h["train_loss"] for h in model.history_]).all()
    again = load(model.save(tmp_path / "run"))
    np.testing.assert_array_equal(again.score([100, 105]), model.score([100, 105]))


@cuda
def test_auto_trains_ratings_with_torch_on_cuda(tiny):
    model = EmbeddingRecommender(epochs=2, embedding_dim=8).fit(tiny)
    assert (model.resolved_config_.engine, model.resolved_config_.device) == ("torch", "cuda")


@cuda
def test_cuda_learns_like_the_cpu():
    data = planted()
    rows = np.random.default_rng(5).permutation(data.n_ratings)
    train, test = data.take(np.sort(rows[400:])), data.take(np.sort(rows[:400]))
    gpu = EmbeddingRecommender(embedding_dim=8, engine="torch", device="cuda").fit(train)
    cpu = EmbeddingRecommender(embedding_dim=8, engine="torch", device="cpu").fit(train)
    assert abs(rmse_of(gpu, test) - rmse_of(cpu, test)) < 0.03
    sampled = EmbeddingRecommender(objective="ranking", embedding_dim=8, n_negatives=20, device="cuda").fit(train)
    assert sampled.resolved_config_.n_negatives == 20 and np.isfinite(sampled.item_vectors()).all()
